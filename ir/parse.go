package ir

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Parse reads IR text as Print writes it and rebuilds the graph, so passes can
// be tested as IR text in, IR text out. It builds through the public builders:
// each node's result type is inferred again by its op and must equal the type
// written, and the graph is verified before it is returned.
//
// The text is read a line at a time, as Print writes it: the header, then one
// parameter, constant or node per line, then the return line and the closing
// brace. Hand-written text may be looser: declarations and nodes may come in
// any order as long as each value is defined before it is used, results may be
// numbered freely (Print renumbers them %0, %1, ...), attribute keys may come
// in any order, and blank lines and lines holding only a # comment are skipped.
// The attributes Print always writes are required; dilation and groups default
// to 1, and pads go with padding=explicit and only with it.
//
// Constants too large for Print to write inline are printed as a checksum,
// which cannot be parsed back: only inline constants parse.
func Parse(text string) (*Graph, error) {
	gp := &graphParser{values: map[string]*Value{}, defLines: map[string]int{}}
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		p, err := lex(i+1, line)
		if err != nil {
			return nil, err
		}
		if t := p.peek(); t.kind == tokEOL || t.kind == tokComment {
			continue
		}
		if err := gp.statement(p); err != nil {
			return nil, err
		}
	}
	switch {
	case gp.g == nil:
		return nil, errors.New("line 1: expected a graph header `graph NAME(%input: TYPE, ...) {`")
	case !gp.closed:
		return nil, fmt.Errorf("line %d: expected } to close graph %s", len(lines), gp.g.Name)
	}
	if err := Verify(gp.g); err != nil {
		return nil, fmt.Errorf("parsed graph does not verify: %w", err)
	}
	return gp.g, nil
}

// graphParser holds what the lines read so far have defined.
type graphParser struct {
	g *Graph
	// values and defLines map printed names (%image, @conv.kernel, %3) to their
	// value and the line defining it.
	values           map[string]*Value
	defLines         map[string]int
	returned, closed bool
}

func (gp *graphParser) statement(p *parser) error {
	t := p.peek()
	switch {
	case gp.g == nil:
		return gp.header(p)
	case gp.closed:
		return p.errorf("unexpected %s after the closing } of graph %s", t, gp.g.Name)
	case t.is('}'):
		if !gp.returned {
			return p.errorf("expected `return NAME=%%value, ...` before the closing }")
		}
		p.next()
		gp.closed = true
		return p.end()
	case gp.returned:
		return p.errorf("expected } after return, found %s", t)
	case t.kind == tokParam:
		return gp.decl(p)
	case t.kind == tokValue:
		return gp.node(p)
	case t.isWord("return"):
		return gp.ret(p)
	}
	return p.errorf("expected a parameter (@name: ...), a node (%%N: ...), return or }, found %s", t)
}

// define records a new value under its printed name; each name is defined once.
func (gp *graphParser) define(p *parser, name string, v *Value) error {
	if line, ok := gp.defLines[name]; ok {
		return p.errorf("%s is already defined on line %d", name, line)
	}
	gp.values[name] = v
	gp.defLines[name] = p.line
	return nil
}

// use reads an operand: a value defined on an earlier line.
func (gp *graphParser) use(p *parser) (*Value, error) {
	t := p.next()
	if t.kind != tokValue && t.kind != tokParam {
		return nil, p.errorf("expected a value (%%name, %%N or @name), found %s", t)
	}
	v, ok := gp.values[t.String()]
	if !ok {
		return nil, p.errorf("%s is not defined (values must be defined before they are used)", t)
	}
	return v, nil
}

// header reads `graph NAME(%input: TYPE, ...) {`.
func (gp *graphParser) header(p *parser) error {
	if t := p.next(); !t.isWord("graph") {
		return p.errorf("expected a graph header `graph NAME(%%input: TYPE, ...) {`, found %s", t)
	}
	name, err := p.name("a graph name")
	if err != nil {
		return err
	}
	gp.g = NewGraph(name)
	err = p.list('(', ')', func() error {
		t := p.next()
		if t.kind != tokValue || !validName(t.text) {
			return p.errorf("expected an input %%name (a letter or _ first), found %s", t)
		}
		if err := p.expect(':'); err != nil {
			return err
		}
		typ, err := p.typ()
		if err != nil {
			return err
		}
		return gp.define(p, t.String(), gp.g.AddInput(t.text, typ))
	})
	if err != nil {
		return err
	}
	if err := p.expect('{'); err != nil {
		return err
	}
	return p.end()
}

// decl reads a parameter `@name: TYPE = INIT [frozen]` or a constant
// `@name: TYPE = const [v, ...]`.
func (gp *graphParser) decl(p *parser) error {
	t := p.next()
	if !validName(t.text) {
		return p.errorf("expected a parameter @name, found %s", t)
	}
	if err := p.expect(':'); err != nil {
		return err
	}
	typ, err := p.typ()
	if err != nil {
		return err
	}
	if _, known := typ.Shape.KnownProduct(0); !known {
		return p.errorf("%s must have a shape of known sizes, got %s", t, typ)
	}
	if err := p.expect('='); err != nil {
		return err
	}
	kind, err := p.word("an initialiser (zeros, ones, glorot_uniform(...)) or const [...]")
	if err != nil {
		return err
	}
	var v *Value
	switch kind {
	case "const":
		if p.peek().is('(') {
			return p.errorf("constant %s was printed as a checksum, from which its data cannot be recovered: only inline constants (const [v, ...]) can be parsed", t)
		}
		var data []float32
		err := p.list('[', ']', func() error {
			f, err := p.float()
			data = append(data, f)
			return err
		})
		if err != nil {
			return err
		}
		if n, _ := typ.Shape.KnownProduct(0); n != len(data) {
			return p.errorf("constant %s has %d values, but %s holds %d", t, len(data), typ, n)
		}
		v = gp.g.AddConst(t.text, typ, data)
	default:
		init, err := p.initialiser(kind)
		if err != nil {
			return err
		}
		trainable := !p.peek().isWord("frozen")
		if !trainable {
			p.next()
		}
		v = gp.g.AddParam(t.text, typ, init, trainable)
	}
	if err := p.end(); err != nil {
		return err
	}
	return gp.define(p, t.String(), v)
}

// initialiser reads the rest of an initialiser named kind, as Init.String writes it.
func (p *parser) initialiser(kind string) (Init, error) {
	switch kind {
	case "zeros":
		return Init{Kind: InitZeros}, nil
	case "ones":
		return Init{Kind: InitOnes}, nil
	case "glorot_uniform":
		in := Init{Kind: InitGlorotUniform}
		err := p.args(req("fan_in", intVal(&in.FanIn)), req("fan_out", intVal(&in.FanOut)))
		if err == nil && (in.FanIn < 1 || in.FanOut < 1) {
			err = p.errorf("glorot_uniform needs fan_in and fan_out of at least 1, got %d and %d", in.FanIn, in.FanOut)
		}
		return in, err
	case "uniform":
		in := Init{Kind: InitUniform}
		err := p.args(req("limit", floatVal(&in.Limit)))
		if err == nil && !(in.Limit > 0) {
			err = p.errorf("uniform needs a positive limit, got %v", in.Limit)
		}
		return in, err
	}
	return Init{}, p.errorf("expected an initialiser (zeros, ones, glorot_uniform(...), uniform(...)) or const [...], found %q", kind)
}

// node reads `%N: TYPE = op(operands) {attrs}  # layer`.
func (gp *graphParser) node(p *parser) error {
	res := p.next()
	if !isDigits(res.text) {
		return p.errorf("expected a result %%N (a number), found %s", res)
	}
	if err := p.expect(':'); err != nil {
		return err
	}
	typ, err := p.typ()
	if err != nil {
		return err
	}
	if p.peek().is(',') {
		return p.errorf("a node has one result")
	}
	if err := p.expect('='); err != nil {
		return err
	}
	name, err := p.word("an op")
	if err != nil {
		return err
	}
	op, ok := OpByName(name)
	if !ok {
		return p.errorf("unknown op %q", name)
	}
	var args []*Value
	err = p.list('(', ')', func() error {
		v, err := gp.use(p)
		args = append(args, v)
		return err
	})
	if err != nil {
		return err
	}
	var attrs Attrs
	switch {
	case op.Info().Attrs != nil:
		if attrs, err = p.attrs(op); err != nil {
			return err
		}
	case p.peek().is('{'):
		return p.errorf("%s takes no attributes", op)
	}
	layer := ""
	if t := p.peek(); t.kind == tokComment {
		p.next()
		layer = t.text
	}
	if err := p.end(); err != nil {
		return err
	}
	v, err := gp.g.AddNode(op, attrs, args, layer, Pos{})
	if err != nil {
		return p.errorf("%s: %v", res, err)
	}
	if !v.Type.Equal(typ) {
		return p.errorf("%s is written as %s, but %s infers %s", res, typ, op, v.Type)
	}
	return gp.define(p, res.String(), v)
}

// ret reads `return NAME=%value, ...`.
func (gp *graphParser) ret(p *parser) error {
	p.next()
	seen := map[string]bool{}
	for {
		name, err := p.name("an output name")
		if err != nil {
			return err
		}
		if seen[name] {
			return p.errorf("output %s is returned twice", name)
		}
		seen[name] = true
		if err := p.expect('='); err != nil {
			return err
		}
		v, err := gp.use(p)
		if err != nil {
			return err
		}
		gp.g.AddOutput(name, v)
		if !p.accept(',') {
			break
		}
	}
	gp.returned = true
	return p.end()
}

// Tokens. A line splits into words (names, numbers, keywords), %values,
// @params, single punctuation characters, and a trailing # comment.

type tokKind uint8

const (
	tokEOL tokKind = iota
	tokWord
	tokValue // %name or %N
	tokParam // @name
	tokPunct
	tokComment // the text after #, trimmed
)

type token struct {
	kind tokKind
	text string
}

const punct = "()[]{},:="

// wordEnd holds the bytes that end a word.
const wordEnd = punct + " \t\r%@#"

func (t token) is(c byte) bool       { return t.kind == tokPunct && t.text[0] == c }
func (t token) isWord(w string) bool { return t.kind == tokWord && t.text == w }

// String is the token as written, for values their name as Print writes it.
func (t token) String() string {
	switch t.kind {
	case tokEOL:
		return "end of line"
	case tokValue:
		return "%" + t.text
	case tokParam:
		return "@" + t.text
	case tokComment:
		return "# comment"
	}
	return strconv.Quote(t.text)
}

func lex(line int, s string) (*parser, error) {
	p := &parser{line: line}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			p.toks = append(p.toks, token{tokComment, strings.TrimSpace(s[i+1:])})
			i = len(s)
		case strings.IndexByte(punct, c) >= 0:
			p.toks = append(p.toks, token{tokPunct, s[i : i+1]})
			i++
		default:
			kind := tokWord
			switch c {
			case '%':
				kind, i = tokValue, i+1
			case '@':
				kind, i = tokParam, i+1
			}
			start := i
			for i < len(s) && strings.IndexByte(wordEnd, s[i]) < 0 {
				i++
			}
			if start == i {
				return nil, p.errorf("expected a name right after %c", c)
			}
			p.toks = append(p.toks, token{kind, s[start:i]})
		}
	}
	return p, nil
}

// parser reads the tokens of one line; every error names the line.
type parser struct {
	line int
	toks []token
	pos  int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", p.line, fmt.Sprintf(format, args...))
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{kind: tokEOL}
}

func (p *parser) next() token {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	}
	return t
}

func (p *parser) accept(c byte) bool {
	if p.peek().is(c) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(c byte) error {
	if t := p.next(); !t.is(c) {
		return p.errorf("expected %q, found %s", string(c), t)
	}
	return nil
}

func (p *parser) end() error {
	if t := p.next(); t.kind != tokEOL {
		return p.errorf("expected end of line, found %s", t)
	}
	return nil
}

func (p *parser) word(what string) (string, error) {
	t := p.next()
	if t.kind != tokWord {
		return "", p.errorf("expected %s, found %s", what, t)
	}
	return t.text, nil
}

func (p *parser) name(what string) (string, error) {
	t := p.next()
	if t.kind != tokWord || !validName(t.text) {
		return "", p.errorf("expected %s, found %s", what, t)
	}
	return t.text, nil
}

// list reads open item, item, ... close; the list may be empty.
func (p *parser) list(open, close byte, item func() error) error {
	if err := p.expect(open); err != nil {
		return err
	}
	if p.accept(close) {
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		if p.accept(close) {
			return nil
		}
		if t := p.next(); !t.is(',') {
			return p.errorf("expected \",\" or %q, found %s", string(close), t)
		}
	}
}

func (p *parser) integer() (int, error) {
	t := p.next()
	n, err := strconv.Atoi(t.text)
	if t.kind != tokWord || err != nil {
		return 0, p.errorf("expected an integer, found %s", t)
	}
	return n, nil
}

func (p *parser) float() (float32, error) {
	t := p.next()
	f, err := strconv.ParseFloat(t.text, 32)
	if t.kind != tokWord || err != nil {
		return 0, p.errorf("expected a float32 number, found %s", t)
	}
	return float32(f), nil
}

// typ reads a tensor type such as f32[N,32,32,3].
func (p *parser) typ() (Type, error) {
	t := p.next()
	d, ok := ParseDType(t.text)
	if t.kind != tokWord || !ok {
		return Type{}, p.errorf("expected an element type (f32, i32, i64), found %s", t)
	}
	var s Shape
	if err := shapeVal(&s)(p); err != nil {
		return Type{}, err
	}
	typ := Type{DType: d, Shape: s}
	if err := CheckTypeSize(typ); err != nil {
		return Type{}, p.errorf("%v", err)
	}
	return typ, nil
}

// Names are what the language allows: identifiers, joined by dots in the
// hierarchical names of parameters and layers (res2.conv1.kernel).
func validName(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if !isIdent(part) {
			return false
		}
	}
	return true
}

func isIdent(s string) bool {
	for i, c := range []byte(s) {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// Attributes. Each attrs type parses itself with a parseAttrs method (below),
// found through the zero value in its op's table entry, so an attrs type
// without a parser shows up as an op whose text does not parse
// (TestParseEveryOp).

// attrsParser is implemented by every attrs type. It is called on the op
// table's zero value, reads `{key=value ...}` and returns new attributes.
type attrsParser interface {
	parseAttrs(p *parser) (Attrs, error)
}

func (p *parser) attrs(op Op) (Attrs, error) {
	ap, ok := op.Info().Attrs.(attrsParser)
	if !ok {
		return nil, p.errorf("%s's attributes %T have no parser", op, op.Info().Attrs)
	}
	return ap.parseAttrs(p)
}

// A field is one key=value attribute. read parses the value into its owner;
// an optional field left out keeps the default its owner set.
type field struct {
	key      string
	read     func(*parser) error
	optional bool
}

func req(key string, read func(*parser) error) field { return field{key: key, read: read} }
func opt(key string, read func(*parser) error) field {
	return field{key: key, read: read, optional: true}
}

// fields reads `{key=value key=value}` as Attrs.String writes it.
func (p *parser) fields(fs ...field) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	seen := map[string]bool{}
	for !p.accept('}') {
		if err := p.field(fs, seen); err != nil {
			return err
		}
	}
	return p.required(fs, seen)
}

// args reads `(key=value, key=value)` as Init.String writes it.
func (p *parser) args(fs ...field) error {
	seen := map[string]bool{}
	if err := p.list('(', ')', func() error { return p.field(fs, seen) }); err != nil {
		return err
	}
	return p.required(fs, seen)
}

func (p *parser) field(fs []field, seen map[string]bool) error {
	t := p.next()
	i := slices.IndexFunc(fs, func(f field) bool { return t.kind == tokWord && f.key == t.text })
	if i < 0 {
		keys := make([]string, len(fs))
		for j, f := range fs {
			keys[j] = f.key
		}
		return p.errorf("expected an attribute (%s), found %s", strings.Join(keys, ", "), t)
	}
	if seen[t.text] {
		return p.errorf("attribute %s is given twice", t.text)
	}
	seen[t.text] = true
	if err := p.expect('='); err != nil {
		return err
	}
	return fs[i].read(p)
}

func (p *parser) required(fs []field, seen map[string]bool) error {
	for _, f := range fs {
		if !f.optional && !seen[f.key] {
			return p.errorf("missing attribute %s=", f.key)
		}
	}
	return nil
}

// Value readers, one per kind of attribute value.

func intVal(dst *int) func(*parser) error {
	return func(p *parser) (err error) {
		*dst, err = p.integer()
		return err
	}
}

func intsVal(dst *[]int) func(*parser) error {
	return func(p *parser) error {
		*dst = []int{}
		return p.list('[', ']', func() error {
			n, err := p.integer()
			*dst = append(*dst, n)
			return err
		})
	}
}

// fixedInts reads a list of exactly len(dst) integers, for pairs and pads.
func fixedInts(dst []int) func(*parser) error {
	return func(p *parser) error {
		var v []int
		if err := intsVal(&v)(p); err != nil {
			return err
		}
		if len(v) != len(dst) {
			return p.errorf("expected %d integers, found %d", len(dst), len(v))
		}
		copy(dst, v)
		return nil
	}
}

func floatVal(dst *float32) func(*parser) error {
	return func(p *parser) (err error) {
		*dst, err = p.float()
		return err
	}
}

// boolVal reads one of two words: true/false, or gelu's tanh/none.
func boolVal(dst *bool, yes, no string) func(*parser) error {
	return func(p *parser) error {
		switch t := p.next(); {
		case t.isWord(yes):
			*dst = true
		case t.isWord(no):
			*dst = false
		default:
			return p.errorf("expected %s or %s, found %s", yes, no, t)
		}
		return nil
	}
}

func paddingVal(dst *Padding) func(*parser) error {
	return func(p *parser) error {
		t := p.next()
		i := slices.IndexFunc(paddingNames[:], t.isWord)
		if i < 0 {
			return p.errorf("expected a padding (%s), found %s", strings.Join(paddingNames[:], ", "), t)
		}
		*dst = Padding(i)
		return nil
	}
}

// shapeVal reads [d, ...], each d a positive size or a symbol such as N.
func shapeVal(dst *Shape) func(*parser) error {
	return func(p *parser) error {
		*dst = Shape{}
		return p.list('[', ']', func() error {
			t := p.next()
			n, err := strconv.Atoi(t.text)
			switch {
			case t.kind == tokWord && err == nil && n >= 1:
				*dst = append(*dst, D(n))
			case t.kind == tokWord && err != nil && isIdent(t.text):
				*dst = append(*dst, S(t.text))
			default:
				return p.errorf("expected a dimension (a size of 1 or more, or a symbol such as N), found %s", t)
			}
			return nil
		})
	}
}

// chainVal reads a chain as Chain.String writes it:
// [relu, add(v, in2), sub(in3, v), leaky_relu{alpha=0.3}].
func chainVal(dst *Chain) func(*parser) error {
	return func(p *parser) error {
		*dst = Chain{}
		return p.list('[', ']', func() error {
			s, err := p.step()
			*dst = append(*dst, s)
			return err
		})
	}
}

func (p *parser) step() (Step, error) {
	name, err := p.word("a chain step")
	if err != nil {
		return Step{}, err
	}
	op, ok := OpByName(name)
	if !ok {
		return Step{}, p.errorf("unknown op %q in chain", name)
	}
	if !Fusable(op) {
		return Step{}, p.errorf("%s cannot be a chain step: only elementwise ops of one or two operands fuse", op)
	}
	s := Step{Op: op}
	if op.Info().MinInputs == 2 {
		if s.Operand, s.Swapped, err = p.stepOperands(op); err != nil {
			return Step{}, err
		}
	}
	if op.Info().Attrs != nil {
		s.Attrs, err = p.attrs(op)
	}
	return s, err
}

// stepOperands reads a binary step's operands: (v, inN), or (inN, v) swapped.
func (p *parser) stepOperands(op Op) (operand int, swapped bool, err error) {
	var w []string
	err = p.list('(', ')', func() error {
		s, err := p.word("v or inN")
		w = append(w, s)
		return err
	})
	if err != nil {
		return 0, false, err
	}
	bad := p.errorf("expected %s(v, inN) or %s(inN, v), N the index of an operand of the fused node", op, op)
	if len(w) != 2 {
		return 0, false, bad
	}
	swapped = w[1] == "v"
	v, in := w[0], w[1]
	if swapped {
		v, in = in, v
	}
	digits, ok := strings.CutPrefix(in, "in")
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || !isDigits(digits) || v != "v" {
		return 0, false, bad
	}
	return n, swapped, nil
}

// Window2D's keys, as Window2D.fields writes them, followed by the owner's extra
// keys. size is read for pools only: a convolution's window is its kernel.
func (w *Window2D) parseWindow(p *parser, size bool, extra ...field) error {
	w.Dilation = [2]int{1, 1}
	pads := false
	fs := []field{
		req("stride", fixedInts(w.Stride[:])),
		opt("dilation", fixedInts(w.Dilation[:])),
		req("padding", paddingVal(&w.Padding)),
		opt("pads", func(p *parser) error {
			pads = true
			return fixedInts(w.Pads[:])(p)
		}),
	}
	if size {
		fs = append([]field{req("size", fixedInts(w.Size[:]))}, fs...)
	}
	if err := p.fields(slices.Concat(fs, extra)...); err != nil {
		return err
	}
	// Print writes pads exactly when padding is explicit.
	if pads != (w.Padding == Explicit) {
		return p.errorf("pads=[top,bottom,left,right] must be given with padding=explicit, and only then")
	}
	return nil
}

func (a *ConvAttrs) parse(p *parser, extra ...field) error {
	a.Groups = 1
	return a.Window2D.parseWindow(p, false, slices.Concat(extra, []field{opt("groups", intVal(&a.Groups))})...)
}

func (*ConvAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &ConvAttrs{}
	return a, a.parse(p)
}

func (*PoolAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &PoolAttrs{}
	return a, a.Window2D.parseWindow(p, true, opt("count_pad", boolVal(&a.CountPad, "true", "false")))
}

func (*AxisAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &AxisAttrs{}
	return a, p.fields(req("axis", intVal(&a.Axis)))
}

func (*LeakyReluAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &LeakyReluAttrs{}
	return a, p.fields(req("alpha", floatVal(&a.Alpha)))
}

func (*ClipAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &ClipAttrs{}
	return a, p.fields(req("min", floatVal(&a.Min)), req("max", floatVal(&a.Max)))
}

func (*EluAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &EluAttrs{}
	return a, p.fields(req("alpha", floatVal(&a.Alpha)))
}

func (*HardSigmoidAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &HardSigmoidAttrs{}
	return a, p.fields(req("alpha", floatVal(&a.Alpha)))
}

func (*PowAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &PowAttrs{}
	return a, p.fields(req("exponent", floatVal(&a.Exponent)))
}

func (*GeluAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &GeluAttrs{}
	return a, p.fields(req("approximate", boolVal(&a.Approximate, "tanh", "none")))
}

func (*TransposeAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &TransposeAttrs{}
	return a, p.fields(req("perm", intsVal(&a.Perm)))
}

func (a *MatMulAttrs) attrFields() []field {
	return []field{
		req("trans_a", boolVal(&a.TransA, "true", "false")),
		req("trans_b", boolVal(&a.TransB, "true", "false")),
	}
}

func (*MatMulAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &MatMulAttrs{}
	return a, p.fields(a.attrFields()...)
}

func (*BatchNormAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &BatchNormAttrs{}
	return a, p.fields(req("epsilon", floatVal(&a.Epsilon)))
}

func (*AttentionAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &AttentionAttrs{}
	return a, p.fields(req("causal", boolVal(&a.Causal, "true", "false")), req("scale", floatVal(&a.Scale)))
}

func (*RecurrentAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &RecurrentAttrs{}
	cell := func(p *parser) error {
		w, err := p.word("a cell")
		if err != nil {
			return err
		}
		for c, name := range cellNames {
			if name != "" && name == w {
				a.Cell = Cell(c)
				return nil
			}
		}
		return p.errorf("unknown cell %q: want rnn, lstm or gru", w)
	}
	return a, p.fields(req("cell", cell), opt("activation", boolVal(&a.Relu, "relu", "tanh")),
		req("reverse", boolVal(&a.Reverse, "true", "false")), req("sequences", boolVal(&a.Sequences, "true", "false")))
}

func (*SliceAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &SliceAttrs{}
	return a, p.fields(req("axis", intVal(&a.Axis)), req("start", intVal(&a.Start)), req("end", intVal(&a.End)))
}

func (*PaddingMaskAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &PaddingMaskAttrs{}
	return a, p.fields(req("pad", intVal(&a.Pad)))
}

func (*NormAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &NormAttrs{}
	return a, p.fields(req("epsilon", floatVal(&a.Epsilon)))
}

func (*DropoutAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &DropoutAttrs{}
	return a, p.fields(req("rate", floatVal(&a.Rate)))
}

func (*DropoutTrainAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &DropoutTrainAttrs{}
	return a, p.fields(req("rate", floatVal(&a.Rate)), req("seed", intVal(&a.Seed)))
}

func (*ReshapeAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &ReshapeAttrs{}
	return a, p.fields(req("shape", shapeVal(&a.Shape)))
}

func (*FusedConvAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &FusedConvAttrs{}
	return a, a.Conv.parse(p,
		req("epilogue", chainVal(&a.Epilogue)),
		opt("maxpool", func(p *parser) error {
			a.Pool = &Window2D{}
			return a.Pool.parseWindow(p, true)
		}))
}

func (*FusedMatMulAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &FusedMatMulAttrs{}
	return a, p.fields(append(a.MatMul.attrFields(), req("epilogue", chainVal(&a.Epilogue)))...)
}

func (*ElementwiseAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &ElementwiseAttrs{}
	return a, p.fields(req("chain", chainVal(&a.Chain)))
}
