package sema

import (
	"github.com/mdlc/mdlc/lang/diag"
	"github.com/mdlc/mdlc/lang/syntax"
)

// Discard is the name that binds nothing: `h, _ = lstm(...)` keeps one result.
const Discard = "_"

// checkNames finds, in one declaration as written, the results declared
// twice or labelled in a block, the names bound twice (errors: a later
// statement would silently see another value) and the values computed and
// never used (warnings). It reads the syntax only, so a block gets its
// diagnostics once however often it is instantiated.
func checkNames(d *syntax.Decl) diag.List {
	var ds diag.List
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
	bound := map[string]diag.Pos{}
	for _, prm := range d.Params {
		bound[prm.Name] = pos(prm.Pos)
	}
	var targets []*syntax.Ident
	for _, s := range d.Body {
		for _, t := range s.Targets {
			if t.Name == Discard {
				continue
			}
			if prev, dup := bound[t.Name]; dup {
				ds = append(ds, &diag.Diagnostic{Pos: pos(t.Pos), End: pos(t.EndPos),
					Msg:   "`" + t.Name + "` is bound twice",
					Notes: []diag.Note{{Pos: prev, Msg: "`" + t.Name + "` is first bound here"}},
					Help:  "a name is bound once in a body: give the new value its own name"})
				continue
			}
			bound[t.Name] = pos(t.Pos)
			targets = append(targets, t)
		}
	}
	used := map[string]bool{}
	for _, r := range d.Results {
		used[r.Name] = true
	}
	for _, s := range d.Body {
		usedNames(s.Value, used)
	}
	for _, t := range targets {
		if !used[t.Name] {
			ds = append(ds, &diag.Diagnostic{Severity: diag.Warning, Pos: pos(t.Pos), End: pos(t.EndPos),
				Msg:  "`" + t.Name + "` is computed but never used",
				Help: "use it, remove it, or bind the result to `_`"})
		}
	}
	return ds
}

// usedNames adds the plain names an expression reads: every name not called
// with arguments and not a pipeline stage. Names of layers and constants
// such as `relu` are included; they only matter if a statement binds them.
func usedNames(x *syntax.Expr, used map[string]bool) {
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
					used[t.Call.Name[0]] = true
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
