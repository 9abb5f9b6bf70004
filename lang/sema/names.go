package sema

import (
	"maps"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/mdlc/mdlc/lang/diag"
	"github.com/mdlc/mdlc/lang/syntax"
)

// Discard is the name that binds nothing: `h, _ = lstm(...)` keeps one result.
const Discard = "_"

// checkNames finds, in one declaration as written, the train blocks out of
// place, the results declared twice or labelled in a block, the names bound twice (errors: a later
// statement would silently see another value) and the values computed and
// never used (warnings). It reads the syntax only, so a block gets its
// diagnostics once however often it is instantiated.
func checkNames(d *syntax.Decl) diag.List {
	ds := checkTrainPlacement(d)
	results := map[string]*syntax.Result{}
	for _, r := range d.Results {
		if r.Labels != nil && d.Kind != "model" {
			ds = append(ds, &diag.Diagnostic{Pos: pos(r.Labels.Pos), End: pos(r.Labels.EndPos),
				Msg:  "only a model's results have labels",
				Help: "put the labels on the result of the model that returns this one"})
		}
		if prev, dup := results[r.Name]; dup {
			ds = append(ds, &diag.Diagnostic{Pos: pos(r.Pos), End: pos(r.EndPos),
				Msg:   "result `" + r.Name + "` is declared twice",
				Notes: []diag.Note{{Pos: pos(prev.Pos), Msg: "first declared here"}},
				Help:  "give each result its own name"})
			continue
		}
		results[r.Name] = r
	}
	w := &nameWalk{used: map[string]bool{}, hidden: map[string]hiddenName{}, loopVars: map[string]bool{}}
	bound := map[string]diag.Pos{}
	for _, prm := range d.Params {
		bound[prm.Name] = pos(prm.Pos)
	}
	w.stmts(d.Body, bound, nil)
	for _, r := range d.Results {
		w.used[r.Name] = true
		if _, ok := bound[r.Name]; !ok {
			w.hiddenUse(r.Name, r.Pos, r.EndPos, "result ")
		}
	}
	ds = append(ds, w.ds...)
	for _, t := range w.targets {
		if !w.used[t.Name] {
			ds = append(ds, &diag.Diagnostic{Severity: diag.Warning, Pos: pos(t.Pos), End: pos(t.EndPos),
				Msg:  "`" + t.Name + "` is computed but never used",
				Help: "use it, remove it, or bind the result to `_`"})
		}
	}
	return ds
}

// nameWalk follows the names bound along a body, into its `if` branches and
// `for` bodies.
type nameWalk struct {
	ds       diag.List
	targets  []*syntax.Ident // first bindings, for the unused-value warnings
	used     map[string]bool
	hidden   map[string]hiddenName // bound inside an `if` or `for`, not visible after it
	loopVars map[string]bool
}

type hiddenName struct {
	at   lexer.Position // the `if` or `for`
	loop bool
}

// stmts walks a body, adding the names it binds to bound. mutable are the
// names that may be rebound here: those bound before the enclosing `if` or
// `for`. It returns the names it bound first, in order.
func (w *nameWalk) stmts(ss []*syntax.Stmt, bound map[string]diag.Pos, mutable map[string]bool) []string {
	var fresh []string
	for _, s := range ss {
		switch {
		case s.If != nil:
			fresh = append(fresh, w.ifStmt(s.If, bound)...)
		case s.For != nil:
			w.forStmt(s.For, bound)
		default:
			w.uses(s.Value, bound)
			for _, t := range s.Targets {
				if t.Name == Discard {
					continue
				}
				if w.loopVars[t.Name] {
					w.ds = append(w.ds, &diag.Diagnostic{Pos: pos(t.Pos), End: pos(t.EndPos),
						Msg:  "`" + t.Name + "` is a loop variable, which cannot be bound",
						Help: "the loop gives it each index in turn: bind the value to another name"})
					continue
				}
				if prev, dup := bound[t.Name]; dup {
					if mutable[t.Name] {
						continue
					}
					w.ds = append(w.ds, &diag.Diagnostic{Pos: pos(t.Pos), End: pos(t.EndPos),
						Msg:   "`" + t.Name + "` is bound twice",
						Notes: []diag.Note{{Pos: prev, Msg: "`" + t.Name + "` is first bound here"}},
						Help:  "a name is bound once in a body: give the new value its own name (only inside an `if` or `for` may a name bound before it be bound again)"})
					continue
				}
				bound[t.Name] = pos(t.Pos)
				delete(w.hidden, t.Name)
				w.targets = append(w.targets, t)
				fresh = append(fresh, t.Name)
			}
		}
	}
	return fresh
}

// rebindable are the names bound so far that a nested body may bind again.
func (w *nameWalk) rebindable(bound map[string]diag.Pos) map[string]bool {
	m := make(map[string]bool, len(bound))
	for n := range bound {
		if !w.loopVars[n] {
			m[n] = true
		}
	}
	return m
}

// ifStmt walks each branch on its own copy of bound; the names every branch
// binds are bound after it, the others hidden.
func (w *nameWalk) ifStmt(f *syntax.If, bound map[string]diag.Pos) []string {
	w.cond(f.Cond, bound)
	mutable := w.rebindable(bound)
	count := map[string]int{}
	var order []string
	branches := 0
	for b := f; b != nil; {
		branches++
		inner := maps.Clone(bound)
		var next *syntax.If
		for _, n := range w.stmts(b.Then, inner, mutable) {
			if count[n] == 0 {
				order = append(order, n)
			}
			count[n]++
		}
		switch {
		case b.Else == nil:
			branches++ // no else: an empty branch binds nothing
		case b.Else.If != nil:
			next = b.Else.If
			w.cond(next.Cond, bound)
		default:
			branches++
			for _, n := range w.stmts(b.Else.Body, maps.Clone(bound), mutable) {
				if count[n] == 0 {
					order = append(order, n)
				}
				count[n]++
			}
		}
		b = next
	}
	var fresh []string
	for _, n := range order {
		if count[n] == branches {
			bound[n] = diag.Pos{}
			delete(w.hidden, n)
			fresh = append(fresh, n)
		} else {
			w.hidden[n] = hiddenName{at: f.Pos}
		}
	}
	return fresh
}

func (w *nameWalk) forStmt(f *syntax.For, bound map[string]diag.Pos) {
	w.uses(f.From, bound)
	w.uses(f.To, bound)
	v := f.Var.Name
	if prev, dup := bound[v]; dup {
		w.ds = append(w.ds, &diag.Diagnostic{Pos: pos(f.Var.Pos), End: pos(f.Var.EndPos),
			Msg:   "the loop variable `" + v + "` hides a name already bound",
			Notes: []diag.Note{{Pos: prev, Msg: "`" + v + "` is bound here"}},
			Help:  "give the loop variable a name of its own, such as `i`"})
	}
	mutable := w.rebindable(bound)
	inner := maps.Clone(bound)
	inner[v] = pos(f.Var.Pos)
	wasLoopVar := w.loopVars[v]
	w.loopVars[v] = true
	fresh := w.stmts(f.Body, inner, mutable)
	w.loopVars[v] = wasLoopVar
	for _, n := range fresh {
		w.hidden[n] = hiddenName{at: f.Pos, loop: true}
	}
}

func (w *nameWalk) cond(c *syntax.Cond, bound map[string]diag.Pos) {
	for _, conj := range c.Or {
		for _, cmp := range conj.And {
			for cmp.Not != nil {
				cmp = cmp.Not
			}
			if cmp.Group != nil {
				w.cond(cmp.Group, bound)
				continue
			}
			w.uses(cmp.L, bound)
			if cmp.R != nil {
				w.uses(cmp.R, bound)
			}
		}
	}
}

// uses marks the names x reads, reporting those read where they are hidden.
func (w *nameWalk) uses(x *syntax.Expr, bound map[string]diag.Pos) {
	plainNames(x, func(c *syntax.Call) {
		w.used[c.Name[0]] = true
		if _, ok := bound[c.Name[0]]; !ok {
			w.hiddenUse(c.Name[0], c.Pos, c.EndPos, "")
		}
	})
}

// hiddenUse reports the use of a name bound only inside an `if` branch or a
// `for` body, if it is one.
func (w *nameWalk) hiddenUse(name string, start, end lexer.Position, what string) {
	h, ok := w.hidden[name]
	if !ok {
		return
	}
	d := &diag.Diagnostic{Pos: pos(start), End: pos(end)}
	if h.loop {
		d.Msg = what + "`" + name + "` is bound inside a `for` body, so it is not visible after the loop"
		d.Notes = []diag.Note{{Pos: pos(h.at), Msg: "the loop"}}
		d.Help = "bind `" + name + "` before the loop; the body may then rebind it, `" + name + " = " + name + " | ...`, and the last iteration's value is seen after the loop"
	} else {
		d.Msg = what + "`" + name + "` is bound in some branches of this `if` but not in all, so it is not visible after it"
		d.Notes = []diag.Note{{Pos: pos(h.at), Msg: "the `if`"}}
		d.Help = "bind `" + name + "` in every branch (add an `else` if there is none), or bind it before the `if`"
	}
	w.ds = append(w.ds, d)
}

// plainNames calls fn with every plain name an expression reads: every name
// not called with arguments and not a pipeline stage. Names of layers and
// constants such as `relu` are included; they only matter if a statement
// binds them.
func plainNames(x *syntax.Expr, fn func(*syntax.Call)) {
	// An explicit stack: a pipeline is flat, but arguments nest.
	stack := []*syntax.Expr{x}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		var calls []*syntax.Call
		for _, t := range x.Terms() {
			switch {
			case t.Call != nil:
				if t.Call.Args == nil && len(t.Call.Name) == 1 {
					fn(t.Call)
				}
				calls = append(calls, t.Call)
			case t.List != nil:
				stack = append(stack, t.List.Items...)
			case t.Paren != nil:
				stack = append(stack, t.Paren)
			}
		}
		for _, c := range append(calls, x.Stages...) {
			if c.Args != nil {
				for _, a := range c.Args.List {
					stack = append(stack, a.Value)
				}
			}
		}
	}
}
