package sema

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/diag"
	"github.com/mdlc/mdlc/lang/syntax"
	"github.com/mdlc/mdlc/nn"
)

// Model is a checked model: its graph and the layer instances it was built
// from, in source order, for `mdlc summary`.
type Model struct {
	Graph  *ir.Graph
	Layers []Layer
	// Labels names the classes of the results declared with labels, by
	// result name: Labels["probs"][i] is the class of index i of the last axis.
	Labels map[string][]string
	// Train is the model's train block, nil without one.
	Train *TrainSpec
}

// Layer is one instance of a built-in layer.
type Layer struct {
	Name   string // hierarchical instance name: conv2d_1, res1.conv1
	Kind   string // the layer's name in the language
	Output *ir.Value
	Params int64
	Flops  int64
	Pos    ir.Pos
}

// Build checks the named model and lowers it to IR.
func (p *Program) Build(model string) (*Model, diag.List) {
	m, ds, _ := p.elaborate(model, 0)
	return m, ds
}

// elaborate is Build with spent of the node budget already used by other
// models; it returns the elaboration, nil if the model was not found, for
// what it used.
func (p *Program) elaborate(model string, spent int) (*Model, diag.List, *elab) {
	if p.Root == nil {
		return nil, diag.List{{Msg: "no program loaded"}}, nil
	}
	d, ok := p.Root.Decls[model]
	if !ok || d.Kind != "model" {
		return nil, diag.List{{Pos: diag.Pos{File: p.Root.Path, Line: 1, Col: 1},
			Msg:  fmt.Sprintf("%s has no model `%s`", p.Root.Path, model),
			Help: didYouMean(model, p.Models()) + " models here: " + strings.Join(p.Models(), ", ")}}, nil
	}
	e := newElab(p, ir.NewGraph(model))
	e.spentBefore = spent
	e.reportNameErrors(d)
	m := e.model(p.Root, d)
	if len(e.diags) > 0 {
		return nil, e.diags.Sorted(), e
	}
	if err := ir.Verify(m.Graph); err != nil {
		return nil, diag.List{{Pos: pos(d.Pos), End: pos(d.EndPos), Msg: "internal error: the IR of this model is invalid: " + err.Error(),
			Help: "this is a bug in mdlc; please report it with this file"}}, e
	}
	return m, nil, e
}

// Check builds every model of the root file and checks every block's names,
// reporting all diagnostics: errors, and warnings such as unused values.
func (p *Program) Check() diag.List {
	var all diag.List
	if p.Root == nil {
		return nil
	}
	// One budget for the whole file: a hundred models that each stop just
	// short of it would otherwise cost a hundred times as much.
	spent, exhausted := 0, false
	for _, d := range p.Root.order {
		all = append(all, checkNames(d)...)
		if d.Kind == "model" {
			if exhausted {
				continue
			}
			_, ds, e := p.elaborate(d.Name, spent)
			all = append(all, ds...)
			if e != nil {
				all = append(all, e.warnings...)
				spent += e.cost()
				exhausted = e.exhausted
			}
		} else {
			e := newElab(p, nil)
			e.resolveBlock(p.Root, d)
			all = append(all, e.diags...)
		}
	}
	all = all.Sorted()
	// An unused value next to an error is most often the error's doing (a
	// misspelt use), so warnings wait until the errors are fixed.
	if all.HasErrors() {
		all = all.Errors()
	}
	return all
}

// elab lowers one model. Blocks are instantiated at each call, with the
// caller's tensor types, so their shapes are checked where they are used.
type elab struct {
	prog  *Program
	g     *ir.Graph
	diags diag.List
	// warnings do not stop a model from being built; Check reports them.
	warnings diag.List
	seen     map[diagKey]bool // diagnostics already reported, see errorf
	scope    *scope
	layers   []Layer
	// active lists the declarations being instantiated, innermost last, and
	// calls the calls that instantiated them (one fewer: the model is not called).
	active []*syntax.Decl
	calls  []*syntax.Call
	// instances counts block instances, which the budget counts with the
	// graph's nodes: a block without layers still costs its expansion.
	instances   int
	spentBefore int  // the budget used by the models checked before this one
	exhausted   bool // the node budget is spent: nothing more is expanded
	// named holds the declarations whose names were checked, once each.
	named map[*syntax.Decl]bool
	// scalars are the constants numbers became as tensor operands, one per
	// value (by its bits).
	scalars map[uint32]*ir.Value
}

type diagKey struct {
	pos diag.Pos
	msg string
}

func newElab(p *Program, g *ir.Graph) *elab {
	return &elab{prog: p, g: g, seen: map[diagKey]bool{}, named: map[*syntax.Decl]bool{}, scalars: map[uint32]*ir.Value{}}
}

// reportNameErrors reports the name errors of a declaration being expanded, the
// first time only; its warnings are Check's to give.
func (e *elab) reportNameErrors(d *syntax.Decl) {
	if e.named[d] {
		return
	}
	e.named[d] = true
	e.diags = append(e.diags, checkNames(d).Errors()...)
}

// scope is one model body or one block instance.
type scope struct {
	unit     *Unit
	prefix   string // instance path, prefixes layer and parameter names
	vars     map[string]value
	counters map[string]int
	used     map[string]lexer.Position // instance names taken in this scope
	calledAt *callSite                 // the chain of block calls, for notes
	loops    int                       // the `for` bodies being unrolled
}

// callSite is one link of the chain of calls that instantiated a scope,
// innermost first; shared by the scopes within it, so an instance costs one link.
type callSite struct {
	outer *callSite
	note  diag.Note
}

func (c *callSite) notes() []diag.Note {
	var out []diag.Note
	for ; c != nil; c = c.outer {
		out = append(out, c.note)
	}
	slices.Reverse(out)
	return out
}

func (s *scope) names() []string {
	out := make([]string, 0, len(s.vars))
	for n := range s.vars {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// errorf reports a mistake once: a block expanded a million times that has
// one would otherwise hold a million copies of it, with their notes.
func (e *elab) errorf(start, end lexer.Position, help, format string, args ...any) {
	d := &diag.Diagnostic{Pos: pos(start), End: pos(end), Msg: fmt.Sprintf(format, args...), Help: help}
	k := diagKey{d.Pos, d.Msg}
	if e.seen[k] {
		return
	}
	e.seen[k] = true
	if e.scope != nil {
		d.Notes = e.scope.calledAt.notes()
	}
	e.diags = append(e.diags, d)
}

// warnf reports a warning at a call, once; Check shows warnings, and only
// when there is no error.
func (e *elab) warnf(c *syntax.Call, help, format string, args ...any) {
	d := &diag.Diagnostic{Severity: diag.Warning, Pos: pos(c.Pos), End: pos(c.EndPos), Msg: fmt.Sprintf(format, args...), Help: help}
	k := diagKey{d.Pos, d.Msg}
	if e.seen[k] {
		return
	}
	e.seen[k] = true
	if e.scope != nil {
		d.Notes = e.scope.calledAt.notes()
	}
	e.warnings = append(e.warnings, d)
}

// DefaultMaxNodes is the node budget of a model when the Loader sets none.
// Real models have thousands of nodes (a 96-layer transformer about 3,000); a
// block that calls another twice, 40 levels deep, has 2^40, and expansion
// stops at the budget with one diagnostic. Measured on the exponential
// program, a node and its block instance cost about 500 bytes and 5µs, so the
// default keeps such a check near 50 MB and half a second.
const DefaultMaxNodes = 100_000

// cost is the budget this elaboration used: its nodes and block instances.
func (e *elab) cost() int {
	n := e.instances
	if e.g != nil {
		n += len(e.g.Nodes)
	}
	return n
}

// spent reports whether expanding c would pass the node budget, reporting
// the first time it does, with the chain of block calls being expanded.
func (e *elab) spent(c *syntax.Call) bool { return e.spentAt(c.Pos, c.EndPos) }

// spentAt is spent for the construct between start and end.
func (e *elab) spentAt(start, end lexer.Position) bool {
	if e.exhausted {
		return true
	}
	n := e.spentBefore + e.cost()
	limit := e.prog.maxNodes
	if limit <= 0 {
		limit = DefaultMaxNodes
	}
	if n < limit {
		return false
	}
	e.exhausted = true
	if len(e.active) == 0 { // a block's default values, outside any model
		e.errorf(start, end, "", "expanding this creates more than %s nodes", diag.Thousands(limit))
		return true
	}
	model := e.active[0]
	what := "this " + model.Kind
	if e.spentBefore > 0 {
		what = "the models of this file up to this one"
	}
	d := &diag.Diagnostic{Pos: pos(model.Pos), End: endOfName(model),
		Msg:  fmt.Sprintf("expanding %s creates more than %s nodes", what, diag.Thousands(limit)),
		Help: "every call of a block expands its body again, so blocks that call blocks several times grow exponentially; call them fewer times"}
	for i := len(e.calls) - 1; i >= 0; i-- {
		callee, caller := e.active[i+1], e.active[i]
		d.Notes = append(d.Notes, diag.Note{Pos: pos(e.calls[i].Pos),
			Msg: fmt.Sprintf("in %s `%s` called from %s `%s`", callee.Kind, callee.Name, caller.Kind, caller.Name)})
	}
	// A chain is as long as the file has blocks: keep both of its ends.
	const keep = 25
	if n := len(d.Notes); n > 2*keep+1 {
		gap := diag.Note{Pos: d.Notes[keep].Pos, Msg: fmt.Sprintf("… %d more calls", n-2*keep)}
		d.Notes = append(append(d.Notes[:keep:keep], gap), d.Notes[n-keep:]...)
	}
	if len(d.Notes) == 0 {
		d.Notes = []diag.Note{{Pos: pos(start), Msg: "at this call"}}
	}
	e.diags = append(e.diags, d)
	return true
}

func (e *elab) model(u *Unit, d *syntax.Decl) *Model {
	e.scope = &scope{unit: u, vars: map[string]value{}, counters: map[string]int{}, used: map[string]lexer.Position{}}
	for _, prm := range d.Params {
		if prm.Type == nil || prm.Type.Dims == nil {
			e.errorf(prm.Pos, prm.EndPos, "declare it like `"+prm.Name+": f32[N, 32, 32, 3]`; configuration parameters belong to blocks",
				"model input `%s` needs a tensor type", prm.Name)
			e.scope.vars[prm.Name] = poison()
			continue
		}
		if prm.Default != nil {
			e.errorf(prm.Default.Pos, prm.Default.EndPos, "remove the default", "model inputs cannot have defaults")
		}
		t, ok := e.tensorType(prm.Type, nil)
		if !ok {
			e.scope.vars[prm.Name] = poison()
			continue
		}
		if isKeyword(prm.Name) {
			e.errorf(prm.Pos, prm.EndPos, "pick another name", "`%s` is a reserved word", prm.Name)
		}
		if _, dup := e.scope.vars[prm.Name]; dup {
			e.errorf(prm.Pos, prm.EndPos, "rename one of them", "input `%s` is declared twice", prm.Name)
			continue
		}
		v := e.g.AddInput(prm.Name, t)
		e.scope.vars[prm.Name] = value{kind: kTensor, t: v, start: prm.Pos, end: prm.EndPos}
	}
	// Active like a block's, so that a call of the model from its own body
	// (a model named like the layer it means to use) is caught as one.
	e.active = append(e.active, d)
	e.body(d)
	e.active = e.active[:len(e.active)-1]
	syms := map[string]ir.Dim{}
	m := &Model{Graph: e.g, Layers: e.layers, Labels: map[string][]string{}}
	for _, r := range d.Results {
		v, ok := e.result(r, syms)
		if !ok {
			continue
		}
		e.g.AddOutput(r.Name, v.t)
		if r.Labels != nil && e.checkLabels(r, v.t.Type) {
			m.Labels[r.Name] = r.Labels.Names
		}
	}
	spec, ds := trainSpec(d.Train, e.g.Outputs)
	m.Train = spec
	e.diags = append(e.diags, ds...)
	return m
}

// checkLabels checks that a result has one label per index of its last axis,
// each label different.
func (e *elab) checkLabels(r *syntax.Result, t ir.Type) bool {
	l := r.Labels
	if len(t.Shape) == 0 || !t.Shape[len(t.Shape)-1].Known() {
		e.errorf(l.Pos, l.EndPos, "labels name the classes along the last axis, which must have a fixed size such as f32[N, 10]",
			"result `%s` is %s: its last axis has no fixed size to label", r.Name, t)
		return false
	}
	if n := t.Shape[len(t.Shape)-1].Size; n != len(l.Names) {
		given := fmt.Sprintf("%d labels", len(l.Names))
		if len(l.Names) == 1 {
			given = "1 label"
		}
		e.errorf(l.Pos, l.EndPos, fmt.Sprintf("give one label per class, %d in all", n),
			"result `%s` has %d classes along its last axis (%s), but %s", r.Name, n, t, given)
		return false
	}
	seen := map[string]bool{}
	for _, name := range l.Names {
		if seen[name] {
			e.errorf(l.Pos, l.EndPos, "give each class its own label", "the label %q is given twice", name)
			return false
		}
		seen[name] = true
	}
	return true
}

func (e *elab) body(d *syntax.Decl) { e.stmts(d.Body) }

func (e *elab) stmts(ss []*syntax.Stmt) {
	for _, s := range ss {
		switch {
		case e.exhausted:
			return
		case s.If != nil:
			e.ifStmt(s.If)
		case s.For != nil:
			e.forStmt(s.For)
		default:
			e.assign(s)
		}
	}
}

func (e *elab) assign(s *syntax.Stmt) {
	vals := e.expr(s.Value, nil)
	if len(vals) != len(s.Targets) && !(len(vals) == 1 && vals[0].kind == kPoison) {
		e.errorf(s.Targets[0].Pos, s.Value.Pos, fmt.Sprintf("the right-hand side gives %d", len(vals)),
			"%d names on the left, %d values on the right", len(s.Targets), len(vals))
		vals = nil
	}
	switch {
	case len(vals) == 1 && isNone(vals[0]):
		v := vals[0]
		e.errorf(v.start, v.end, "none only leaves out an optional tensor argument, such as mask=", "none is not a tensor")
		vals[0] = poison()
	case len(vals) == 1 && vals[0].kind == kName:
		v := vals[0]
		e.errorf(v.start, v.end, didYouMean(v.s, e.scope.names()), "undefined name `%s`", v.s)
		vals[0] = poison()
	}
	for i, t := range s.Targets {
		if isKeyword(t.Name) {
			e.errorf(t.Pos, t.EndPos, "pick another name", "`%s` is a reserved word", t.Name)
		}
		v := poison()
		if i < len(vals) {
			v = vals[i]
		}
		if t.Name == Discard {
			continue
		}
		if v.kind == kTensor && v.t.Kind == ir.Result && v.t.Name == "" {
			v.t.Name = t.Name
		}
		e.scope.vars[t.Name] = v
	}

}

func isKeyword(s string) bool { return slices.Contains(Keywords, s) }

// Keywords are the reserved words, which cannot name values.
var Keywords = []string{"model", "block", "import", "as", "true", "false", "none", "if", "else", "for", "in", "and", "or", "not"}

// result looks up a declared result and checks its declared type, if any.
func (e *elab) result(r *syntax.Result, syms map[string]ir.Dim) (value, bool) {
	v, ok := e.scope.vars[r.Name]
	if !ok {
		e.errorf(r.Pos, r.EndPos, didYouMean(r.Name, e.scope.names()), "result `%s` is never assigned", r.Name)
		return v, false
	}
	if v.kind == kPoison {
		return v, false
	}
	if v.kind != kTensor {
		e.errorf(r.Pos, r.EndPos, "", "result `%s` must be a tensor, got %s", r.Name, v.describe())
		return v, false
	}
	if dt := v.t.Type.DType; dt != ir.F32 {
		e.errorf(r.Pos, r.EndPos, "token ids are inputs for `embedding` and `padding_mask`; a model's results are f32 tensors",
			"result `%s` is token ids (%s)", r.Name, v.t.Type)
		return v, false
	}
	if r.Type != nil {
		if !e.matchType(r.Type, v.t.Type, syms, fmt.Sprintf("result `%s`", r.Name)) {
			return v, false
		}
	}
	return v, true
}

// tensorType converts a written tensor type; syms, when non-nil, maps symbols
// to dims already fixed (within one block instance).
func (e *elab) tensorType(t *syntax.TypeExpr, syms map[string]ir.Dim) (ir.Type, bool) {
	dt, ok := ir.ParseDType(t.Name)
	if !ok {
		e.errorf(t.Pos, t.EndPos, didYouMean(t.Name, []string{"f32", "i32", "i64"}), "unknown element type `%s`", t.Name)
		return ir.Type{}, false
	}
	shape := make(ir.Shape, len(t.Dims))
	for i, d := range t.Dims {
		switch {
		case d.Size != nil && *d.Size < 1:
			e.errorf(d.Pos, d.EndPos, "dimensions are positive sizes or symbols such as N", "dimension %d must be positive", *d.Size)
			return ir.Type{}, false
		case d.Size != nil:
			shape[i] = ir.D(*d.Size)
		default:
			shape[i] = ir.S(d.Sym)
		}
	}
	// An input no layer reads is never an operand, whose size shape
	// inference checks: check the declared type itself.
	typ := ir.Type{DType: dt, Shape: shape}
	if err := ir.CheckTypeSize(typ); err != nil {
		var te *ir.TypeError
		if errors.As(err, &te) {
			e.errorf(t.Pos, t.EndPos, te.Help, "%s", te.Msg)
		} else {
			e.errorf(t.Pos, t.EndPos, "", "%s", err)
		}
		return ir.Type{}, false
	}
	return typ, true
}

// matchType checks an actual type against a written one. A symbol matches any
// dim the first time and must match the same dim after that.
func (e *elab) matchType(want *syntax.TypeExpr, got ir.Type, syms map[string]ir.Dim, what string) bool {
	if want.Dims == nil {
		e.errorf(want.Pos, want.EndPos, "write a tensor type such as f32[N, 10]", "%s is a tensor, declared as `%s`", what, want.Name)
		return false
	}
	w, ok := e.tensorType(want, nil)
	if !ok {
		return false
	}
	mismatch := w.DType != got.DType || len(w.Shape) != len(got.Shape)
	for i := 0; !mismatch && i < len(w.Shape); i++ {
		wd, gd := w.Shape[i], got.Shape[i]
		if wd.Known() {
			mismatch = wd != gd
			continue
		}
		if prev, bound := syms[wd.Sym]; bound {
			mismatch = prev != gd
		} else {
			syms[wd.Sym] = gd
		}
	}
	if mismatch {
		e.errorf(want.Pos, want.EndPos, "change the declared type or the layers that compute it",
			"%s is %s, declared %s", what, got, w)
		return false
	}
	return true
}

// expr evaluates a pipeline. piped, if set, is fed to the head (used for
// parenthesised stages).
func (e *elab) expr(x *syntax.Expr, piped *value) []value {
	var vals []value
	if len(x.Ops) == 0 {
		vals = e.term(x.Head, piped)
	} else {
		vals = []value{e.arith(x.Tree(), piped)}
	}
	for _, st := range x.Stages {
		if len(vals) != 1 {
			e.errorf(st.Pos, st.EndPos, "bind the results to names first: `a, b = ...`",
				"cannot pipe %d values into %s", len(vals), st.QualifiedName())
			return []value{poison()}
		}
		in := vals[0]
		vals = e.call(st, &in)
	}
	return vals
}

func (e *elab) term(t *syntax.Term, piped *value) []value {
	span := func(v value) []value {
		v.start, v.end = t.Pos, t.EndPos
		return []value{v}
	}
	switch {
	case t.Call != nil:
		return e.call(t.Call, piped)
	case t.Number != nil:
		v, msg := parseNumber(t.Number)
		if msg != "" {
			e.errorf(t.Pos, t.EndPos, "", "%s", msg)
			return []value{poison()}
		}
		return span(v)
	case t.String != nil:
		return span(value{kind: kString, s: *t.String})
	case t.List != nil:
		l := value{kind: kList}
		for _, it := range t.List.Items {
			vs := e.expr(it, nil)
			if len(vs) != 1 {
				e.errorf(it.Pos, it.EndPos, "", "a list item must be a single value")
				return []value{poison()}
			}
			l.list = append(l.list, vs[0])
		}
		return span(l)
	case t.Paren != nil:
		return e.expr(t.Paren, piped)
	case t.Neg != nil:
		v := e.single(t.Neg, piped)
		switch v.kind {
		case kInt:
			v.i = -v.i
		case kFloat:
			v.f = -v.f
		case kPoison:
			return []value{v}
		default:
			return []value{e.infix("-", "neg", t.Pos, t.EndPos, v)}
		}
		return span(v)
	}
	return []value{poison()}
}

// infixLayers are the layers the infix operators stand for.
var infixLayers = map[string]string{"+": "add", "-": "sub", "*": "mul", "/": "div"}

// arith evaluates infix operations: on two numbers, a number (an integer
// if both are and the operator is not `/`); otherwise the layer the operator
// stands for, so that broadcasting and token ids are checked as for
// add(a, b), with numbers becoming scalar constants. piped feeds the
// leftmost term.
func (e *elab) arith(a *syntax.Arith, piped *value) value {
	if a.Term != nil {
		return e.single(a.Term, piped)
	}
	l, r := e.arith(a.L, piped), e.arith(a.R, nil)
	if l.kind == kPoison || r.kind == kPoison {
		return poison()
	}
	if a.Op == "//" {
		return e.floorDiv(a, l, r)
	}
	if isNumber(l) && isNumber(r) {
		return e.foldNumbers(a, l, r)
	}
	return e.infix(a.Op, infixLayers[a.Op], a.Pos, a.EndPos, l, r)
}

func isNumber(v value) bool { return v.kind == kInt || v.kind == kFloat }

func (v value) float() float64 {
	if v.kind == kInt {
		return float64(v.i)
	}
	return v.f
}

// foldNumbers computes l op r for two numbers, in int when both are integers
// and the operator is not `/`, checked against the range of int32 and
// float32 as literals are.
func (e *elab) foldNumbers(a *syntax.Arith, l, r value) value {
	out := value{kind: kFloat, start: a.Pos, end: a.EndPos}
	if l.kind == kInt && r.kind == kInt && a.Op != "/" {
		i := map[string]int64{"+": int64(l.i) + int64(r.i), "-": int64(l.i) - int64(r.i), "*": int64(l.i) * int64(r.i)}[a.Op]
		if i > math.MaxInt32 || i < math.MinInt32 {
			e.errorf(a.Pos, a.EndPos, "", "integer %d is out of range", i)
			return poison()
		}
		out.kind, out.i = kInt, int(i)
		return out
	}
	x, y := l.float(), r.float()
	switch a.Op {
	case "+":
		out.f = x + y
	case "-":
		out.f = x - y
	case "*":
		out.f = x * y
	case "/":
		out.f = x / y
	}
	if math.IsInf(out.f, 0) || math.IsNaN(out.f) {
		e.errorf(a.Pos, a.EndPos, "", "%g %s %g is not a finite number", x, a.Op, y)
		return poison()
	}
	return out
}

// floorDiv computes l // r, Python's floor division, for integers only:
// it exists for channel arithmetic such as torchvision's make_divisible,
// `(v + 4) // 8 * 8`, where a fraction would be a mistake.
func (e *elab) floorDiv(a *syntax.Arith, l, r value) value {
	for _, v := range []value{l, r} {
		if v.kind != kInt {
			help := "`/` divides numbers and tensors"
			if v.kind == kFloat {
				help = "`/` divides numbers; `//` floors a quotient of integers, such as channel counts"
			}
			e.errorf(v.start, v.end, help, "`//` divides integers, got %s", v.describe())
			return poison()
		}
	}
	if r.i == 0 {
		e.errorf(r.start, r.end, "`//` needs a divisor other than 0", "integer division by zero")
		return poison()
	}
	q := l.i / r.i
	if (l.i%r.i != 0) && ((l.i < 0) != (r.i < 0)) {
		q-- // Go truncates toward zero; floor rounds toward minus infinity.
	}
	return value{kind: kInt, i: q, start: a.Pos, end: a.EndPos}
}

// infix applies the layer an operator stands for to its operands, which
// must be tensors or numbers.
func (e *elab) infix(op, layerName string, start, end lexer.Position, operands ...value) value {
	for _, v := range operands {
		switch {
		case v.kind == kTensor || isNumber(v):
			continue
		case v.kind == kName:
			help := didYouMean(v.s, e.scope.names())
			if _, ok := layerTable[v.s]; ok {
				help = "`" + v.s + "` is a layer: apply it, `" + v.s + "(x)`"
			}
			e.errorf(v.start, v.end, help, "undefined name `%s`", v.s)
		default:
			e.errorf(v.start, v.end, "operators compute with tensors and numbers", "`%s` needs a tensor or a number, got %s", op, v.describe())
		}
		return poison()
	}
	c := &syntax.Call{Pos: start, Name: []string{layerName}, EndPos: end}
	vals := e.applyLayer(layerTable[layerName], c, nil, operands, make([]*syntax.Ident, len(operands)))
	return vals[0]
}

// single evaluates a term that must give one value: an operand of an
// operator.
func (e *elab) single(t *syntax.Term, piped *value) value {
	vs := e.term(t, piped)
	if len(vs) != 1 {
		e.errorf(t.Pos, t.EndPos, "bind the results to names first: `a, b = ...`", "an operand must be a single value, got %d", len(vs))
		return poison()
	}
	return vs[0]
}

// scalar is the constant of shape [] a number becomes as a tensor operand.
func (e *elab) scalar(v value) value {
	f := float32(v.float())
	if math.IsInf(float64(f), 0) {
		e.errorf(v.start, v.end, "tensors hold float32 numbers, up to 3.4e38", "number %g is out of the range of float32", v.float())
		return poison()
	}
	c, ok := e.scalars[math.Float32bits(f)]
	if !ok {
		c = e.g.AddConst("scalar_"+strconv.Itoa(len(e.scalars)), ir.Type{DType: ir.F32, Shape: ir.Shape{}}, []float32{f})
		e.scalars[math.Float32bits(f)] = c
	}
	return value{kind: kTensor, t: c, start: v.start, end: v.end}
}

// call evaluates a name or an application. A bare name is a variable if one is
// bound, a layer or block if piped into, and otherwise a name constant (relu,
// same, true).
func (e *elab) call(c *syntax.Call, piped *value) []value {
	name := c.QualifiedName()
	if c.Args == nil && piped == nil && len(c.Name) == 1 {
		if c.As != nil {
			e.errorf(c.As.Pos, c.As.EndPos, "`as` names a layer call, e.g. `conv2d(32, 3) as conv1`", "`as` after a plain name")
		}
		if v, ok := e.scope.vars[name]; ok {
			if v.kind != kPoison {
				v.start, v.end = c.Pos, c.EndPos
			}
			return []value{v}
		}
		return []value{{kind: kName, s: name, start: c.Pos, end: c.EndPos}}
	}
	if e.spent(c) {
		return []value{poison()}
	}
	var args []value
	var kws []*syntax.Ident
	if c.Args != nil {
		for _, a := range c.Args.List {
			vs := e.expr(a.Value, nil)
			v := poison()
			if len(vs) == 1 {
				v = vs[0]
			} else {
				e.errorf(a.Pos, a.EndPos, "bind the results to names first", "an argument must be a single value")
			}
			args = append(args, v)
			kws = append(kws, a.Keyword)
		}
	}
	if d, u := e.lookupDecl(c); d != nil {
		return e.instantiate(u, d, c, piped, args, kws)
	}
	if v, ok := e.minMax(c, piped, args, kws); ok {
		return []value{v}
	}
	if l, ok := layerTable[name]; ok && len(c.Name) == 1 {
		return e.applyLayer(l, c, piped, args, kws)
	}
	if len(c.Name) == 1 {
		if v, ok := e.scope.vars[name]; ok && v.kind == kTensor {
			e.errorf(c.Pos, c.EndPos, "only layers and blocks can be called or piped into", "`%s` is a tensor, not a layer", name)
			return []value{poison()}
		}
	}
	e.errorf(c.Pos, c.EndPos, e.callableHelp(c), "unknown layer `%s`", name)
	return []value{poison()}
}

// minMax folds max(a, b) and min(a, b) of two numbers, so that
// configuration arithmetic such as `max(8, (v + 4) // 8 * 8)` reads as in
// Python; of tensors they remain the elementwise layers.
func (e *elab) minMax(c *syntax.Call, piped *value, args []value, kws []*syntax.Ident) (value, bool) {
	name := c.QualifiedName()
	if name != "max" && name != "min" || piped != nil || len(args) != 2 || !isNumber(args[0]) || !isNumber(args[1]) || kws[0] != nil || kws[1] != nil {
		return value{}, false
	}
	l, r := args[0], args[1]
	if l.float() < r.float() == (name == "max") {
		l = r
	}
	if args[0].kind == kFloat || args[1].kind == kFloat {
		l = value{kind: kFloat, f: l.float()}
	}
	l.start, l.end = c.Pos, c.EndPos
	return l, true
}

func (e *elab) callableHelp(c *syntax.Call) string {
	var names []string
	for n := range layerTable {
		names = append(names, n)
	}
	u := e.scope.unit
	for n := range u.Decls {
		names = append(names, n)
	}
	for ns, dep := range u.Imports {
		for n := range dep.Decls {
			names = append(names, ns+"."+n)
		}
	}
	if len(c.Name) == 2 && u.Imports[c.Name[0]] == nil {
		return "no import is named `" + c.Name[0] + "`; add `import \"" + c.Name[0] + "\"`"
	}
	if h := didYouMean(c.QualifiedName(), names); h != "" {
		return h
	}
	return "see `mdlc layers` for the built-in layers"
}

// lookupDecl finds a block or model called by c: local to the calling file, or
// namespace.name for an import.
func (e *elab) lookupDecl(c *syntax.Call) (*syntax.Decl, *Unit) {
	u := e.scope.unit
	switch len(c.Name) {
	case 1:
		if d, ok := u.Decls[c.Name[0]]; ok {
			return d, u
		}
	case 2:
		if dep, ok := u.Imports[c.Name[0]]; ok {
			if d, ok := dep.Decls[c.Name[1]]; ok {
				return d, dep
			}
		}
	}
	return nil, nil
}

// instanceName picks the name of a layer or block instance: the `as` name, or
// the kind with a Keras-style counter (conv2d, conv2d_1, ...).
func (e *elab) instanceName(kind string, c *syntax.Call) string {
	s := e.scope
	if c.As != nil {
		n := c.As.Name
		if c.AsIndex != nil {
			n += e.asIndex(c.AsIndex)
		}
		if prev, dup := s.used[n]; dup {
			help := "give each layer its own name"
			if s.loops > 0 && c.AsIndex == nil {
				help = "in a `for` body the name is the same at every iteration: add the loop variable, `as " + n + "{i}`"
			}
			e.errorf(c.As.Pos, c.As.EndPos, help, "layer name `%s` is already used at %s", n, pos(prev))
		}
		s.used[n] = c.As.Pos
		return ir.Qualified(s.prefix, n)
	}
	base := strings.ReplaceAll(kind, ".", "_")
	for {
		n := base
		if k := s.counters[base]; k > 0 {
			n = base + "_" + strconv.Itoa(k)
		}
		s.counters[base]++
		if _, taken := s.used[n]; !taken {
			s.used[n] = c.Pos
			return ir.Qualified(s.prefix, n)
		}
	}
}

func (e *elab) instantiate(u *Unit, d *syntax.Decl, c *syntax.Call, piped *value, args []value, kws []*syntax.Ident) []value {
	fail := func() []value {
		out := make([]value, max(len(d.Results), 1))
		for i := range out {
			out[i] = poison()
		}
		return out
	}
	if slices.Contains(e.active, d) {
		help := "blocks are expanded where they are called, so a block cannot call itself, directly or through others"
		if _, builtin := layerTable[d.Name]; builtin && len(c.Name) == 1 {
			help = fmt.Sprintf("in this file `%s` is the %s, which hides the built-in layer `%s`: rename the %s", d.Name, d.Kind, d.Name, d.Kind)
		}
		e.errorf(c.Pos, c.EndPos, help, "%s `%s` calls itself", d.Kind, d.Name)
		return fail()
	}
	specs, ok := e.blockSpecs(u, d)
	if !ok {
		return fail()
	}
	b, ok := e.bindArgs(c.QualifiedName(), specs, piped, c, args, kws)
	if !ok {
		return fail()
	}
	name := e.instanceName(d.Name, c)
	outer := e.scope
	e.instances++
	inner := &scope{unit: u, prefix: name, vars: map[string]value{}, counters: map[string]int{}, used: map[string]lexer.Position{},
		calledAt: &callSite{outer.calledAt, diag.Note{Pos: pos(c.Pos), Msg: "in " + d.Kind + " `" + d.Name + "` instantiated here"}}}
	syms := map[string]ir.Dim{}
	for _, prm := range d.Params {
		v := b.arg[prm.Name]
		if _, given := b.arg[prm.Name]; !given {
			v = fromGo(b.vals[prm.Name])
			if _, set := b.vals[prm.Name]; !set {
				v = value{kind: kName, s: "none", start: c.Pos, end: c.EndPos} // an optional tensor left out
			}
		}
		if v.kind == kTensor && prm.Type != nil {
			e.scope = inner
			ok := e.matchType(prm.Type, v.t.Type, syms, "input `"+prm.Name+"`")
			e.scope = outer
			if !ok {
				return fail()
			}
		}
		inner.vars[prm.Name] = v
	}
	e.reportNameErrors(d)
	e.scope = inner
	e.active = append(e.active, d)
	e.calls = append(e.calls, c)
	e.body(d)
	out := make([]value, len(d.Results))
	for i, r := range d.Results {
		v, ok := e.result(r, syms)
		if !ok {
			v = poison()
		}
		out[i] = v
	}
	e.active = e.active[:len(e.active)-1]
	e.calls = e.calls[:len(e.calls)-1]
	e.scope = outer
	return out
}

// fromGo turns a default value of a spec back into a value.
func fromGo(x any) value {
	switch v := x.(type) {
	case int:
		return value{kind: kInt, i: v}
	case float64:
		return value{kind: kFloat, f: v}
	case bool:
		return value{kind: kName, s: strconv.FormatBool(v)}
	case string:
		return value{kind: kString, s: v}
	case nn.Activation:
		return value{kind: kName, s: v.String()}
	case padArg:
		return v.value()
	case pad1D:
		return v.value()
	case [2]int:
		return value{kind: kList, list: []value{{kind: kInt, i: v[0]}, {kind: kInt, i: v[1]}}}
	case []int:
		l := value{kind: kList}
		for _, i := range v {
			l.list = append(l.list, value{kind: kInt, i: i})
		}
		return l
	}
	return poison()
}

var scalarKinds = map[string]argKind{
	"int": aInt, "float": aFloat, "bool": aBool, "string": aString,
	"activation": aActivation, "padding": aPadding, "ints": aInts, "pair": aPair,
}

// blockSpecs derives a block's argument specs from its declaration. Defaults
// are constant expressions evaluated in the block's own file.
func (e *elab) blockSpecs(u *Unit, d *syntax.Decl) ([]paramSpec, bool) {
	ok := true
	specs := make([]paramSpec, len(d.Params))
	outer := e.scope
	e.scope = &scope{unit: u, vars: map[string]value{}}
	defer func() { e.scope = outer }()
	for i, prm := range d.Params {
		if isKeyword(prm.Name) {
			e.errorf(prm.Pos, prm.EndPos, "pick another name", "`%s` is a reserved word", prm.Name)
			ok = false
		}
		k := aTensor
		if prm.Type != nil && prm.Type.Dims == nil {
			sk, known := scalarKinds[prm.Type.Name]
			if !known {
				names := []string{"f32"}
				for n := range scalarKinds {
					names = append(names, n)
				}
				help := didYouMean(prm.Type.Name, names)
				if help == "" {
					help = "parameter types are tensor types like f32[N, 10] or one of int, float, bool, string, activation, padding, ints, pair"
				}
				e.errorf(prm.Type.Pos, prm.Type.EndPos, help, "unknown parameter type `%s`", prm.Type.Name)
				ok = false
				continue
			}
			k = sk
		}
		specs[i] = paramSpec{name: prm.Name, kind: k}
		if prm.Default != nil {
			vs := e.expr(prm.Default, nil)
			if len(vs) != 1 || vs[0].kind == kPoison {
				ok = false
				continue
			}
			if k == aTensor && isNone(vs[0]) {
				specs[i].def = unset{} // optional: the block passes it on as none
				continue
			}
			conv, msg := convert(k, vs[0])
			if msg != "" {
				e.errorf(prm.Default.Pos, prm.Default.EndPos, "", "default of `%s` %s", prm.Name, msg)
				ok = false
				continue
			}
			specs[i].def = conv
		}
	}
	return specs, ok
}

// resolveBlock checks a block that no model in this file instantiates: its
// parameter types and that every name it uses is bound or callable.
func (e *elab) resolveBlock(u *Unit, d *syntax.Decl) {
	e.scope = &scope{unit: u, vars: map[string]value{}}
	if _, ok := e.blockSpecs(u, d); !ok {
		return
	}
	bound := map[string]bool{}
	for _, prm := range d.Params {
		bound[prm.Name] = true
	}
	var visitExpr func(x *syntax.Expr)
	visitCall := func(c *syntax.Call, callee bool) {
		name := c.QualifiedName()
		if callee || c.Args != nil {
			if dd, _ := e.lookupDecl(c); dd == nil {
				if _, ok := layerTable[name]; !ok || len(c.Name) != 1 {
					e.errorf(c.Pos, c.EndPos, e.callableHelp(c), "unknown layer `%s`", name)
				}
			}
		}
		if c.Args != nil {
			for _, a := range c.Args.List {
				visitExpr(a.Value)
			}
		}
	}
	visitExpr = func(x *syntax.Expr) {
		for _, t := range x.Terms() {
			switch {
			case t.Call != nil:
				visitCall(t.Call, false)
			case t.List != nil:
				for _, it := range t.List.Items {
					visitExpr(it)
				}
			case t.Paren != nil:
				visitExpr(t.Paren)
			}
		}
		for _, st := range x.Stages {
			visitCall(st, true)
		}
	}
	walkStmts(d.Body, visitExpr, func(t *syntax.Ident) { bound[t.Name] = true })
	walkLoopVars(d.Body, func(v *syntax.Ident) { bound[v.Name] = true })
	for _, r := range d.Results {
		if !bound[r.Name] {
			var names []string
			for n := range bound {
				names = append(names, n)
			}
			e.errorf(r.Pos, r.EndPos, didYouMean(r.Name, names), "result `%s` is never assigned", r.Name)
		}
	}
}
