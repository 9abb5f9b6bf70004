package syntax

import (
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// lineWidth is where the printer breaks a pipeline into one stage per line.
const lineWidth = 80

// Format prints a file in canonical form: two-space indentation, one blank
// line between declarations, `name(a, b, key=value)` argument spacing, and
// pipelines on one line when they fit in 80 columns, else one stage per line.
// Comments are kept, each before the code it preceded or at the end of its
// line. Formatting a formatted file changes nothing.
func Format(f *File) string {
	p := &printer{comments: f.Comments}
	for _, im := range f.Imports {
		p.flushBefore(im.Pos.Line, "")
		p.write("import " + strconv.Quote(im.Path))
		if im.Alias != "" {
			p.write(" as " + im.Alias)
		}
		p.endLine(im.EndPos.Line)
	}
	for i, d := range f.Decls {
		if i > 0 || len(f.Imports) > 0 {
			p.blankLine()
		}
		p.decl(d)
	}
	p.flushBefore(int(^uint(0)>>1), "")
	return p.b.String()
}

type printer struct {
	b        strings.Builder
	comments []lexer.Token
	lastLine int // source line of the last code printed, for blank-line keeping
}

func (p *printer) write(s string) { p.b.WriteString(s) }

func (p *printer) blankLine() {
	if !strings.HasSuffix(p.b.String(), "\n\n") && p.b.Len() > 0 {
		p.write("\n")
	}
}

// flushBefore prints, as lines of their own, the comments that come before
// source line `line`.
func (p *printer) flushBefore(line int, indent string) {
	for len(p.comments) > 0 && p.comments[0].Pos.Line < line {
		c := p.comments[0]
		if p.lastLine > 0 && c.Pos.Line > p.lastLine+1 {
			p.blankLine()
		}
		p.write(indent + strings.TrimRight(c.Value, " \t") + "\n")
		p.lastLine = c.Pos.Line
		p.comments = p.comments[1:]
	}
}

// endLine finishes an output line, attaching comments that sat at the end of
// source line `line`.
func (p *printer) endLine(line int) {
	for len(p.comments) > 0 && p.comments[0].Pos.Line <= line {
		p.write("  " + strings.TrimRight(p.comments[0].Value, " \t"))
		p.comments = p.comments[1:]
	}
	p.write("\n")
	p.lastLine = line
}

func (p *printer) hasCommentBetween(from, to int) bool {
	for _, c := range p.comments {
		if c.Pos.Line >= from && c.Pos.Line < to {
			return true
		}
	}
	return false
}

func (p *printer) decl(d *Decl) {
	p.flushBefore(d.Pos.Line, "")
	params := make([]string, len(d.Params))
	for i, prm := range d.Params {
		params[i] = param(prm)
	}
	results := make([]string, len(d.Results))
	labelled := false
	for i, r := range d.Results {
		results[i] = r.Name
		if r.Type != nil {
			results[i] += ": " + typeExpr(r.Type)
		}
		if r.Labels != nil {
			results[i] += " " + labels(r.Labels)
			labelled = true
		}
	}
	head := d.Kind + " " + d.Name + "(" + strings.Join(params, ", ") + ") -> ("
	// Class names make a long header: then each result gets a line of its own.
	if one := head + strings.Join(results, ", ") + ") {"; !labelled || len(one) <= lineWidth {
		p.write(one)
		p.endLine(d.Pos.Line)
	} else {
		p.write(head)
		p.endLine(d.Pos.Line)
		for _, r := range results {
			p.write("  " + r + ",\n")
		}
		p.write(") {\n")
		// Where `) {` stands once formatted, so that the blank lines kept
		// before the body's first comment are the same on every pass.
		p.lastLine = d.Results[len(d.Results)-1].EndPos.Line + 1
	}
	p.body(d)
	p.flushBefore(d.EndPos.Line, "  ")
	p.write("}")
	p.endLine(d.EndPos.Line)
}

func param(prm *Param) string {
	s := prm.Name
	if prm.Type != nil {
		s += ": " + typeExpr(prm.Type)
	}
	if prm.Default != nil {
		s += " = " + inline(prm.Default)
	}
	return s
}

func labels(l *Labels) string {
	names := make([]string, len(l.Names))
	for i, n := range l.Names {
		names[i] = strconv.Quote(n)
	}
	return "labels [" + strings.Join(names, ", ") + "]"
}

func typeExpr(t *TypeExpr) string {
	if t.Dims == nil {
		return t.Name
	}
	dims := make([]string, len(t.Dims))
	for i, d := range t.Dims {
		if d.Size != nil {
			dims[i] = strconv.Itoa(*d.Size)
		} else {
			dims[i] = d.Sym
		}
	}
	return t.Name + "[" + strings.Join(dims, ", ") + "]"
}

// stmts prints a body at one indentation, keeping single blank lines
// between statements.
func (p *printer) stmts(ss []*Stmt, indent string) {
	for i, s := range ss {
		p.gap(i, s.Pos.Line)
		p.stmt(s, indent)
	}
}

// gap keeps one blank line before the i-th item of a body, starting on
// source line line, where the source had one or more.
func (p *printer) gap(i, line int) {
	if i > 0 && line > p.lastLine+1 && !p.hasCommentBetween(p.lastLine+1, line) {
		p.blankLine()
	}
}

// body prints a declaration's statements and train blocks, merged back in
// source order.
func (p *printer) body(d *Decl) {
	ss, ts := d.Body, d.Train
	for i := 0; len(ss) > 0 || len(ts) > 0; i++ {
		if len(ts) > 0 && (len(ss) == 0 || ts[0].Pos.Offset < ss[0].Pos.Offset) {
			p.gap(i, ts[0].Pos.Line)
			p.train(ts[0], "  ")
			ts = ts[1:]
			continue
		}
		p.gap(i, ss[0].Pos.Line)
		p.stmt(ss[0], "  ")
		ss = ss[1:]
	}
}

// train prints a train block, one setting per line.
func (p *printer) train(t *Train, indent string) {
	p.flushBefore(t.Pos.Line, indent)
	p.write(indent + "train {")
	// A comment at the end of a line goes with the last item on it, so that
	// `train { epochs = 6 }  # c` keeps it after the brace.
	next := func(i int) int {
		if i < len(t.Settings) {
			return t.Settings[i].Pos.Line
		}
		return t.EndPos.Line
	}
	endOf := func(line, i int) int {
		if next(i) == line {
			return line - 1
		}
		return line
	}
	p.endLine(endOf(t.Pos.Line, 0))
	for i, s := range t.Settings {
		p.gap(i, s.Pos.Line)
		p.flushBefore(s.Pos.Line, indent+"  ")
		p.write(indent + "  " + s.Key.Name + " = " + inline(s.Value))
		p.endLine(endOf(s.EndPos.Line, i+1))
	}
	p.flushBefore(t.EndPos.Line, indent+"  ")
	p.write(indent + "}")
	p.endLine(t.EndPos.Line)
}

func (p *printer) stmt(s *Stmt, indent string) {
	p.flushBefore(s.Pos.Line, indent)
	switch {
	case s.If != nil:
		p.write(indent)
		p.ifStmt(s.If, indent)
		return
	case s.For != nil:
		f := s.For
		p.write(indent + "for " + f.Var.Name + " in " + inline(f.From) + ".." + inline(f.To) + " {")
		p.block(f.Body, f.Pos.Line, f.EndPos.Line, indent)
		p.endLine(f.EndPos.Line)
		return
	}
	names := make([]string, len(s.Targets))
	for i, t := range s.Targets {
		names[i] = t.Name
	}
	lead := indent + strings.Join(names, ", ") + " = "
	e := s.Value
	one := lead + inline(e)
	if len(one) <= lineWidth && !p.hasCommentBetween(s.Pos.Line, s.EndPos.Line) || len(e.Stages) == 0 {
		p.write(one)
		p.endLine(s.EndPos.Line)
		return
	}
	p.write(lead + head(e))
	p.endLine(e.Head.EndPos.Line)
	for _, st := range e.Stages {
		p.flushBefore(st.Pos.Line, indent+"  ")
		p.write(indent + "  | " + call(st))
		p.endLine(st.EndPos.Line)
	}
}

// ifStmt prints an `if` from its keyword on, its `else if`s on the line of
// the closing brace before them.
func (p *printer) ifStmt(f *If, indent string) {
	p.write("if " + cond(f.Cond) + " {")
	end := f.EndPos.Line
	if f.Else != nil {
		end = f.Else.Pos.Line
	}
	p.block(f.Then, f.Pos.Line, end, indent)
	switch {
	case f.Else == nil:
		p.endLine(f.EndPos.Line)
	case f.Else.If != nil:
		p.write(" else ")
		p.ifStmt(f.Else.If, indent)
	default:
		p.write(" else {")
		p.block(f.Else.Body, f.Else.Pos.Line, f.Else.EndPos.Line, indent)
		p.endLine(f.Else.EndPos.Line)
	}
}

// block prints the statements between an opening brace already written,
// on source line open, and the closing one on line close, which it writes
// without ending its line.
func (p *printer) block(ss []*Stmt, open, close int, indent string) {
	p.endLine(open)
	p.stmts(ss, indent+"  ")
	p.flushBefore(close, indent+"  ")
	p.write(indent + "}")
}

// Where a condition stands, for printing only the parentheses it needs: an
// `or` needs them inside an `and` or after `not`, an `and` after `not`.
const (
	inOr = iota
	inAnd
	inNot
)

func cond(c *Cond) string {
	ors := make([]string, len(c.Or))
	for i, conj := range c.Or {
		ctx := inOr
		if len(conj.And) > 1 {
			ctx = inAnd
		}
		ands := make([]string, len(conj.And))
		for j, cmp := range conj.And {
			ands[j] = compare(cmp, ctx)
		}
		ors[i] = strings.Join(ands, " and ")
	}
	return strings.Join(ors, " or ")
}

func compare(c *Cmp, ctx int) string {
	switch {
	case c.Not != nil:
		return "not " + compare(c.Not, inNot)
	case c.Group != nil:
		g := c.Group
		if len(g.Or) == 1 && len(g.Or[0].And) == 1 {
			return compare(g.Or[0].And[0], ctx)
		}
		need := inAnd
		if len(g.Or) == 1 {
			need = inNot
		}
		if ctx >= need {
			return "(" + cond(g) + ")"
		}
		return cond(g)
	case c.Op != "":
		return inline(c.L) + " " + c.Op + " " + inline(c.R)
	}
	return inline(c.L)
}

func inline(e *Expr) string {
	parts := []string{head(e)}
	for _, st := range e.Stages {
		parts = append(parts, call(st))
	}
	return strings.Join(parts, " | ")
}

// Binding strengths of what a parenthesis may hold, loosest first, for
// printing only the parentheses the grouping needs.
const (
	bindPipe = iota
	bindSum
	bindProduct
	bindTerm
)

// head prints an expression's head with its infix operations, as a whole
// expression (anything but a pipeline needs no parentheses there).
func head(e *Expr) string {
	need := bindSum
	if len(e.Stages) == 0 {
		need = bindPipe
	}
	return arith(e.Tree(), need)
}

// arith prints a where it must bind at least need tightly.
func arith(a *Arith, need int) string {
	if a.Term != nil {
		return operand(a.Term, need)
	}
	p := Precedence(a.Op)
	s := arith(a.L, p) + " " + a.Op + " " + arith(a.R, p+1)
	if p < need {
		return "(" + s + ")"
	}
	return s
}

// operand prints t where it must bind at least need tightly: a parenthesis
// is kept only if what it holds binds looser than that.
func operand(t *Term, need int) string {
	if t.Paren == nil {
		return term(t)
	}
	e := t.Paren
	switch {
	case len(e.Stages) > 0:
		if need > bindPipe {
			return "(" + inline(e) + ")"
		}
		return inline(e)
	case len(e.Ops) > 0:
		// The operation keeps its own parentheses if it needs them.
		return arith(e.Tree(), need)
	}
	return operand(e.Head, need)
}

func term(t *Term) string {
	switch {
	case t.Neg != nil:
		return "-" + operand(t.Neg, bindTerm)
	case t.Call != nil:
		return call(t.Call)
	case t.Number != nil:
		if t.Number.Neg {
			return "-" + t.Number.Text
		}
		return t.Number.Text
	case t.String != nil:
		return strconv.Quote(*t.String)
	case t.List != nil:
		items := make([]string, len(t.List.Items))
		for i, it := range t.List.Items {
			items[i] = inline(it)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case t.Paren != nil:
		return operand(t, bindTerm)
	}
	return ""
}

func call(c *Call) string {
	s := c.QualifiedName()
	if c.Args != nil {
		args := make([]string, len(c.Args.List))
		for i, a := range c.Args.List {
			args[i] = inline(a.Value)
			if a.Keyword != nil {
				args[i] = a.Keyword.Name + "=" + args[i]
			}
		}
		s += "(" + strings.Join(args, ", ") + ")"
	}
	if c.As != nil {
		s += " as " + c.As.Name
		if c.AsIndex != nil {
			s += "{" + c.AsIndex.Name + "}"
		}
	}
	return s
}
