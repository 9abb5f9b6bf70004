package sema

import (
	"fmt"
	"maps"
	"strconv"

	"github.com/mdlc/mdlc/lang/diag"
	"github.com/mdlc/mdlc/lang/syntax"
	"github.com/mdlc/mdlc/nn"
)

// ifStmt elaborates the branch its condition chooses. Names first bound in
// it that not every branch binds are hidden after it (checkNames reports
// their uses), so that what follows does not depend on the branch taken.
func (e *elab) ifStmt(f *syntax.If) {
	before := maps.Clone(e.scope.vars)
	for b := f; b != nil; {
		taken, ok := e.cond(b.Cond)
		if !ok {
			e.poisonTargets([]*syntax.Stmt{{If: f}})
			return
		}
		if taken {
			e.stmts(b.Then)
			break
		}
		switch {
		case b.Else == nil:
			b = nil
		case b.Else.If != nil:
			b = b.Else.If
		default:
			e.stmts(b.Else.Body)
			b = nil
		}
	}
	every := boundByEveryBranch(f)
	for n := range e.scope.vars {
		if _, was := before[n]; !was && !every[n] {
			e.scope.vars[n] = poison()
		}
	}
}

// forStmt unrolls a loop, each iteration costing one node of the budget so
// that an empty body cannot spin; the loop variable and the names first
// bound in the body are gone after it.
func (e *elab) forStmt(f *syntax.For) {
	from, ok1 := e.loopBound(f.From)
	to, ok2 := e.loopBound(f.To)
	if !ok1 || !ok2 {
		e.poisonTargets(f.Body)
		return
	}
	if limit := e.limit(); to-from > limit {
		e.errorf(f.From.Pos, f.To.EndPos, "each iteration unrolls the body again and costs at least one node of the elaboration budget; loop fewer times",
			"this loop runs %s times, more than the budget of %s nodes", diag.Thousands(to-from), diag.Thousands(limit))
		e.poisonTargets(f.Body)
		return
	}
	s := e.scope
	before := maps.Clone(s.vars)
	outer := s.calledAt
	s.loops++
	for i := from; i < to; i++ {
		if e.spentAt(f.Pos, f.Var.EndPos) {
			break
		}
		e.instances++
		s.calledAt = &callSite{outer, diag.Note{Pos: pos(f.Pos), Msg: fmt.Sprintf("at iteration %s = %d of this loop", f.Var.Name, i)}}
		s.vars[f.Var.Name] = value{kind: kInt, i: i, start: f.Var.Pos, end: f.Var.EndPos}
		e.stmts(f.Body)
	}
	s.loops--
	s.calledAt = outer
	for n := range s.vars {
		if _, was := before[n]; !was {
			s.vars[n] = poison()
		}
	}
	if v, was := before[f.Var.Name]; was {
		s.vars[f.Var.Name] = v
	}
}

func (e *elab) limit() int {
	if e.prog.maxNodes > 0 {
		return e.prog.maxNodes
	}
	return DefaultMaxNodes
}

// loopBound evaluates one end of a loop's range: an integer known when the
// model is elaborated.
func (e *elab) loopBound(x *syntax.Expr) (int, bool) {
	vs := e.expr(x, nil)
	if len(vs) != 1 {
		e.errorf(x.Pos, x.EndPos, "", "a loop bound must be a single integer")
		return 0, false
	}
	v := vs[0]
	switch v.kind {
	case kInt:
		return v.i, true
	case kPoison:
	case kTensor:
		e.errorf(x.Pos, x.EndPos, "loops are unrolled when the model is compiled, and shapes are static: pass the count as a block parameter, `n: int`",
			"a loop bound must be an integer known when the model is compiled, not a tensor (%s)", v.t.Type)
	case kName:
		if !isConstantName(v.s) {
			e.errorf(v.start, v.end, didYouMean(v.s, e.scope.names()), "undefined name `%s`", v.s)
			break
		}
		fallthrough
	default:
		e.errorf(x.Pos, x.EndPos, "", "a loop bound must be an integer, got %s", v.describe())
	}
	return 0, false
}

// asIndex is the text an integer in braces adds to an `as` name.
func (e *elab) asIndex(id *syntax.Ident) string {
	v, ok := e.scope.vars[id.Name]
	switch {
	case !ok:
		e.errorf(id.Pos, id.EndPos, didYouMean(id.Name, e.scope.names()), "undefined name `%s`", id.Name)
	case v.kind == kInt && v.i >= 0:
		return strconv.Itoa(v.i)
	case v.kind != kPoison:
		e.errorf(id.Pos, id.EndPos, "a loop variable such as `i` numbers the layers of a loop: `as res{i}`",
			"the index of a layer name must be a non-negative integer, got %s", v.describe())
	}
	return ""
}

// cond evaluates a condition, every part of it so that each mistake is
// reported; ok is false if one was.
func (e *elab) cond(c *syntax.Cond) (taken, ok bool) {
	ok = true
	for _, conj := range c.Or {
		all := true
		for _, cmp := range conj.And {
			v, good := e.compare(cmp)
			ok = ok && good
			all = all && v
		}
		taken = taken || all
	}
	return taken, ok
}

func (e *elab) compare(c *syntax.Cmp) (bool, bool) {
	switch {
	case c.Not != nil:
		v, ok := e.compare(c.Not)
		return !v, ok
	case c.Group != nil:
		return e.cond(c.Group)
	}
	l, ok := e.condValue(c.L)
	if c.Op == "" {
		if !ok {
			return false, false
		}
		if l.kind == kName && (l.s == "true" || l.s == "false") {
			return l.s == "true", true
		}
		e.errorf(c.L.Pos, c.L.EndPos, "compare it, e.g. `stride == 2`", "a condition must be true or false, got %s", l.describe())
		return false, false
	}
	r, rok := e.condValue(c.R)
	if !ok || !rok {
		return false, false
	}
	if isNumber(l) && isNumber(r) {
		x, y := l.float(), r.float()
		return map[string]bool{"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[c.Op], true
	}
	textual := func(v value) bool { return v.kind == kName || v.kind == kString }
	if textual(l) && textual(r) {
		if c.Op != "==" && c.Op != "!=" {
			e.errorf(c.Pos, c.EndPos, "strings and names compare with == and != only", "`%s` orders numbers, not %s", c.Op, l.describe())
			return false, false
		}
		return (l.s == r.s) == (c.Op == "=="), true
	}
	e.errorf(c.Pos, c.EndPos, "compare numbers with numbers, and names or strings with names or strings",
		"cannot compare %s with %s", l.describe(), r.describe())
	return false, false
}

// condValue evaluates an operand of a condition: a configuration value,
// never a tensor.
func (e *elab) condValue(x *syntax.Expr) (value, bool) {
	vs := e.expr(x, nil)
	if len(vs) != 1 {
		e.errorf(x.Pos, x.EndPos, "", "an operand of a condition must be a single value")
		return poison(), false
	}
	v := vs[0]
	switch v.kind {
	case kPoison:
		return v, false
	case kTensor:
		e.errorf(x.Pos, x.EndPos, "shapes are static and conditions are decided when the model is compiled: test a configuration parameter (int, float, bool, string, activation), such as `stride: int`",
			"a condition cannot depend on a tensor: this is %s", v.describe())
		return poison(), false
	case kName:
		if !isConstantName(v.s) {
			e.errorf(v.start, v.end, didYouMean(v.s, e.scope.names()), "undefined name `%s`", v.s)
			return poison(), false
		}
	case kList:
		e.errorf(x.Pos, x.EndPos, "compare the items one by one", "a condition cannot compare lists")
		return poison(), false
	}
	return v, true
}

// isConstantName reports whether a bare name is a constant of the language.
func isConstantName(s string) bool {
	switch s {
	case "true", "false", "none", "same", "valid":
		return true
	}
	_, ok := nn.ParseActivation(s)
	return ok
}

// poisonTargets marks every name ss bind, at any depth, as failed: their
// values are unknown, and their uses report nothing more.
func (e *elab) poisonTargets(ss []*syntax.Stmt) {
	walkStmts(ss, nil, func(t *syntax.Ident) {
		if t.Name != Discard {
			e.scope.vars[t.Name] = poison()
		}
	})
}

// walkStmts calls expr with every expression of ss, conditions and loop
// bounds included, and target with every name they bind, at any depth.
func walkStmts(ss []*syntax.Stmt, expr func(*syntax.Expr), target func(*syntax.Ident)) {
	var cond func(c *syntax.Cond)
	cond = func(c *syntax.Cond) {
		for _, conj := range c.Or {
			for _, cmp := range conj.And {
				for cmp.Not != nil {
					cmp = cmp.Not
				}
				switch {
				case cmp.Group != nil:
					cond(cmp.Group)
				case expr != nil:
					expr(cmp.L)
					if cmp.R != nil {
						expr(cmp.R)
					}
				}
			}
		}
	}
	for _, s := range ss {
		switch {
		case s.If != nil:
			for b := s.If; b != nil; {
				cond(b.Cond)
				walkStmts(b.Then, expr, target)
				var next *syntax.If
				if b.Else != nil {
					next = b.Else.If
					walkStmts(b.Else.Body, expr, target)
				}
				b = next
			}
		case s.For != nil:
			if expr != nil {
				expr(s.For.From)
				expr(s.For.To)
			}
			walkStmts(s.For.Body, expr, target)
		default:
			if expr != nil {
				expr(s.Value)
			}
			if target != nil {
				for _, t := range s.Targets {
					target(t)
				}
			}
		}
	}
}

// boundIn are the names bound by ss and visible after them.
func boundIn(ss []*syntax.Stmt) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		switch {
		case s.If != nil:
			maps.Copy(m, boundByEveryBranch(s.If))
		case s.For != nil:
		default:
			for _, t := range s.Targets {
				m[t.Name] = true
			}
		}
	}
	return m
}

// boundByEveryBranch are the names every branch of an `if` binds.
func boundByEveryBranch(f *syntax.If) map[string]bool {
	var other map[string]bool
	switch {
	case f.Else == nil:
		return map[string]bool{}
	case f.Else.If != nil:
		other = boundByEveryBranch(f.Else.If)
	default:
		other = boundIn(f.Else.Body)
	}
	m := boundIn(f.Then)
	for n := range m {
		if !other[n] {
			delete(m, n)
		}
	}
	return m
}

// walkLoopVars calls fn with the variable of every loop of ss, at any depth.
func walkLoopVars(ss []*syntax.Stmt, fn func(*syntax.Ident)) {
	for _, s := range ss {
		switch {
		case s.If != nil:
			for b := s.If; b != nil; {
				walkLoopVars(b.Then, fn)
				var next *syntax.If
				if b.Else != nil {
					next = b.Else.If
					walkLoopVars(b.Else.Body, fn)
				}
				b = next
			}
		case s.For != nil:
			fn(s.For.Var)
			walkLoopVars(s.For.Body, fn)
		}
	}
}
