package syntax

import (
	"bytes"
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/mdlc/mdlc/lang/diag"
)

// lexRules are the tokens of .mdl. Whitespace and comments are real tokens
// that the parser elides, so every node's EndPos is exactly where it ends and
// comments can be recovered for the printer.
var lexRules = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Comment", Pattern: `#[^\n]*`},
	{Name: "String", Pattern: `"(\\.|[^"\\\n])*"`},
	// A float has digits after its point, so that `0..n` is a range.
	{Name: "Float", Pattern: `\d+\.\d+([eE][-+]?\d+)?|\d+[eE][-+]?\d+`},
	{Name: "Int", Pattern: `\d+`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_]*`},
	{Name: "Arrow", Pattern: `->`},
	{Name: "Compare", Pattern: `==|!=|<=|>=|<|>`},
	{Name: "Range", Pattern: `\.\.`},
	// `//` is integer floor division, before `/` so that it is one token.
	{Name: "Punct", Pattern: `//|[-+*/()\[\]{}|,:=.]`},
	{Name: "Whitespace", Pattern: `\s+`},
})

var parser = participle.MustBuild[File](
	participle.Lexer(lexRules),
	participle.Elide("Whitespace", "Comment"),
	participle.Unquote("String"),
	participle.UseLookahead(4),
)

// Grammar returns the grammar in EBNF, golden-tested so that every change to
// the language shows up in review.
func Grammar() string { return parser.String() }

// MaxNesting is how deep parentheses, brackets and braces may nest. The
// parser recurses once per level, so without a limit a file of nested calls
// overflows the stack; real programs nest a handful of levels.
const MaxNesting = 200

// Parse parses one file. On a syntax error it returns a diagnostic pointing at
// the offending token.
func Parse(filename string, src []byte) (*File, diag.List) {
	if d := checkNesting(filename, src); d != nil {
		return nil, diag.List{d}
	}
	f, err := parser.ParseBytes(filename, src)
	if err != nil {
		return nil, diag.List{parseDiagnostic(filename, src, err)}
	}
	f.Comments = comments(filename, src)
	listTuples(reflect.ValueOf(f))
	return f, nil
}

// listTuples rewrites every tuple term below v, `(3, 3)`, as the list
// `[3, 3]` it means, so that the checker and `mdlc fmt` see lists only. It
// walks the AST by reflection so that new node kinds need no case here.
func listTuples(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		if t, ok := v.Interface().(*Term); ok && t.Tuple != nil {
			t.List = &List{Pos: t.Pos, Items: append([]*Expr{t.Paren}, t.Tuple...), EndPos: t.EndPos}
			t.Paren, t.Tuple = nil, nil
		}
		listTuples(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				listTuples(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			listTuples(v.Index(i))
		}
	}
}

// checkNesting finds the first bracket, or minus sign of a run (each a
// level of negation, -(-(x))), that opens a level past MaxNesting, before
// the parser recurses that deep. It scans bytes rather than tokens:
// lexing first would double the cost of every parse. Strings and comments
// are skipped as the lexer skips them; anything the lexer rejects is left
// for the parser to report.
func checkNesting(filename string, src []byte) *diag.Diagnostic {
	depth, minuses, line, col := 0, 0, 1, 1
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '-' && c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			minuses = 0
		}
		switch c {
		case '\n':
			line, col = line+1, 1
			continue
		case '#':
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case '"':
			for i+1 < len(src) && src[i+1] != '"' && src[i+1] != '\n' {
				i++
				if src[i] == '\\' && i+1 < len(src) && src[i+1] != '\n' {
					i++
					col++
				}
				if utf8.RuneStart(src[i]) {
					col++
				}
			}
			if i+1 < len(src) && src[i+1] == '"' {
				i++
				col++
			}
		case '(', '[', '{':
			depth++
			if depth > MaxNesting {
				p := diag.Pos{File: filename, Line: line, Col: col}
				return &diag.Diagnostic{Pos: p, End: diag.Pos{File: filename, Line: line, Col: col + 1},
					Msg:  "nesting deeper than " + strconv.Itoa(MaxNesting) + " levels",
					Help: "use a pipeline, `x | relu | relu`, or name intermediate values: `h = relu(x)`"}
			}
		case ')', ']', '}':
			depth = max(depth-1, 0)
		case '-':
			if minuses++; depth+minuses > MaxNesting {
				p := diag.Pos{File: filename, Line: line, Col: col}
				return &diag.Diagnostic{Pos: p, End: diag.Pos{File: filename, Line: line, Col: col + 1},
					Msg:  "more than " + strconv.Itoa(MaxNesting) + " levels of negation and nesting",
					Help: "two minus signs cancel: write `x` for `--x`"}
			}
		}
		if c < utf8.RuneSelf || utf8.RuneStart(c) {
			col++ // columns count runes, as the lexer's positions do
		}
	}
	return nil
}

func comments(filename string, src []byte) []lexer.Token {
	lx, err := lexRules.Lex(filename, bytes.NewReader(src))
	if err != nil {
		return nil
	}
	toks, err := lexer.ConsumeAll(lx)
	if err != nil {
		return nil
	}
	comment := lexRules.Symbols()["Comment"]
	var out []lexer.Token
	for _, t := range toks {
		if t.Type == comment {
			out = append(out, t)
		}
	}
	return out
}

// parseDiagnostic turns participle's error into one that names the token the
// parser stopped at and what it wanted there, in the language's own words.
func parseDiagnostic(filename string, src []byte, err error) *diag.Diagnostic {
	pos := lexer.Position{Filename: filename, Line: 1, Column: 1}
	var perr participle.Error
	if errors.As(err, &perr) {
		pos = perr.Position()
	}
	msg := err.Error()
	if perr != nil {
		msg = perr.Message()
	}
	d := &diag.Diagnostic{Pos: toDiagPos(pos), Msg: "syntax error: " + rephrase(msg)}
	d.End = d.Pos
	d.End.Col += tokenWidth(src, pos.Offset)
	d.Help = parseHelp(msg)
	// A dangling operator, or one after a pipeline stage, makes the parser
	// back off to before it.
	for _, op := range []string{"+", "-", "*", "//", "/"} {
		if strings.HasPrefix(msg, `unexpected token "`+op+`"`) {
			d.Msg = "syntax error: `" + op + "` needs an operand on each side, and cannot follow a pipeline stage"
			d.Help = "`|` binds loosest: `x * 2 | relu` is relu(x * 2); to compute with a pipeline's result, parenthesise it: `(x | relu) + 1`"
		}
	}
	// A dangling pipe makes the parser back off to before the `|`.
	if strings.HasPrefix(msg, `unexpected token "|"`) {
		d.Msg = "syntax error: `|` must be followed by a layer or block"
		d.Help = "a pipeline reads `x | conv2d(32, kernel=3) | relu`"
	}
	if perr != nil {
		dottedName(d, src, pos)
	}
	return d
}

var (
	// dottedAs is a layer name with a dot, up to the dot the parser stopped at.
	dottedAs = regexp.MustCompile(`\bas\s+([A-Za-z_][A-Za-z0-9_]*)$`)
	// dottedTarget is a statement binding a dotted name, from its start.
	dottedTarget = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+\s*[,=]`)
)

// dottedName rewrites d when the parser stopped at a dotted name where one
// name belongs, `as head.out` or `x.y = ...`, a habit from Keras's and
// PyTorch's attribute paths, which the grammar would otherwise report as
// an unclosed brace.
func dottedName(d *diag.Diagnostic, src []byte, pos lexer.Position) {
	if pos.Offset < 0 || pos.Offset >= len(src) {
		return
	}
	lineStart := bytes.LastIndexByte(src[:pos.Offset], '\n') + 1
	before, rest := string(src[lineStart:pos.Offset]), src[pos.Offset:]
	if end := bytes.IndexByte(rest, '\n'); end >= 0 {
		rest = rest[:end]
	}
	nameAt := func(b []byte) string {
		n := 0
		for n < len(b) && (b[n] == '_' || b[n] == '.' || b[n] >= 'a' && b[n] <= 'z' || b[n] >= 'A' && b[n] <= 'Z' || b[n] >= '0' && b[n] <= '9') {
			n++
		}
		return string(b[:n])
	}
	const nesting = "names nest by themselves: in a block instance `res2`, `as conv1` owns `res2.conv1.kernel`"
	switch {
	case len(rest) > 0 && rest[0] == '.' && dottedAs.MatchString(before):
		head := dottedAs.FindStringSubmatch(before)[1]
		full := head + nameAt(rest)
		d.Pos.Col -= utf8.RuneCountInString(head)
		d.End = d.Pos
		d.End.Col += utf8.RuneCountInString(full)
		d.Msg = "syntax error: a layer name is one name, without dots: `" + full + "`"
		d.Help = "write `as " + strings.ReplaceAll(full, ".", "_") + "`; " + nesting
	case strings.TrimSpace(before) == "" && dottedTarget.Match(rest):
		full := nameAt(rest)
		d.End = d.Pos
		d.End.Col += utf8.RuneCountInString(full)
		d.Msg = "syntax error: a value's name is one name, without dots: `" + full + "`"
		d.Help = "write `" + strings.ReplaceAll(full, ".", "_") + " = ...`; dots reach into imports (`blocks.residual`) and name parameters (`head.kernel`)"
	}
}

// rephrase maps participle's messages onto wording that reads naturally: the
// first expected token only, not the grammar that follows it.
func rephrase(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "invalid quoted string "); ok {
		lit := rest
		if i := strings.LastIndex(rest, ": "); i >= 0 {
			lit = rest[:i]
		}
		if u, err := strconv.Unquote(lit); err == nil {
			lit = u
		}
		return "invalid escape in the string " + lit
	}
	if rest, ok := strings.CutPrefix(msg, "lexer: invalid input text "); ok {
		r, _ := strconv.Unquote(rest)
		if r == "" {
			r = rest
		}
		return "unexpected character " + strconv.Quote(firstRune(r))
	}
	if i := strings.Index(msg, " (expected "); i >= 0 {
		exp := msg[i+len(" (expected "):]
		if j := strings.Index(exp[1:], `"`); exp != "" && exp[0] == '"' && j >= 0 {
			exp = exp[:j+2]
		} else {
			exp = strings.TrimSuffix(exp, ")")
		}
		msg = msg[:i] + "; expected " + exp
	}
	msg = strings.ReplaceAll(msg, "<ident>", "a name")
	msg = strings.ReplaceAll(msg, "<int>", "an integer")
	msg = strings.ReplaceAll(msg, "<float>", "a number")
	msg = strings.ReplaceAll(msg, "<string>", "a string")
	msg = strings.ReplaceAll(msg, "<eof>", "end of file")
	return msg
}

func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return s
}

func parseHelp(msg string) string {
	switch {
	case strings.HasPrefix(msg, `unexpected token "train"`):
		return "a train block stands at the top level of a model's body, not inside `if` or `for`"
	case strings.Contains(msg, `expected "}"`) || strings.Contains(msg, "<eof>"):
		return "every `{` needs a matching `}`; each statement is `name = expression`"
	case strings.Contains(msg, `"->"`):
		return "a declaration reads `model name(input: f32[N, ...]) -> (output) { ... }`"
	case strings.Contains(msg, `"="`):
		return "a statement binds names: `name = expression` or `a, b = expression`"
	case strings.HasPrefix(msg, "invalid quoted string"):
		return `strings take Go's escapes: \" \\ \n \t \x1b \u00e9`
	case strings.HasPrefix(msg, `unexpected token "labels"`):
		return "class labels are strings after the result's type: `probs: f32[N, 10] labels [\"cat\", \"dog\", ...]`"
	case strings.Contains(msg, "invalid input text"):
		return "comments start with `#`; names are letters, digits and `_`"
	}
	return "see the language tour in README.md"
}

// tokenWidth is the length of the token starting at offset, for the caret.
func tokenWidth(src []byte, off int) int {
	if off < 0 || off >= len(src) {
		return 1
	}
	n := 0
	for i := off; i < len(src) && src[i] != '\n' && src[i] != ' ' && src[i] != '\t'; i++ {
		n++
		if i > off && strings.ContainsRune("()[]{},|:=", rune(src[i])) {
			break
		}
	}
	return max(n, 1)
}

func toDiagPos(p lexer.Position) diag.Pos {
	return diag.Pos{File: p.Filename, Line: p.Line, Col: p.Column}
}

// Span converts a node's start and end to a diagnostic span.
func Span(start, end lexer.Position) (diag.Pos, diag.Pos) {
	s, e := toDiagPos(start), toDiagPos(end)
	if e.Line != s.Line || e.Col <= s.Col {
		e = diag.Pos{File: s.File, Line: s.Line, Col: s.Col + 1}
	}
	return s, e
}
