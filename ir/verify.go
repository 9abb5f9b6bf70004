package ir

import (
	"errors"
	"fmt"
	"slices"
)

// Verify checks the graph's invariants: every op is valid with the right arity
// and attribute type; every operand is an input, a parameter, or the result of
// an earlier node of this graph; every result's type is what its op infers; names
// of inputs, parameters and outputs are unique. It reports all violations.
func Verify(g *Graph) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	defined := map[*Value]bool{}
	seen := map[string]bool{}
	for _, v := range g.Inputs {
		if v.Kind != Input {
			fail("input %s has kind %d", v.Name, v.Kind)
		}
		if seen["%"+v.Name] {
			fail("input %s declared twice", v.Name)
		}
		seen["%"+v.Name] = true
		defined[v] = true
		if !slices.Contains([]DType{F32, I32, I64}, v.Type.DType) {
			fail("input %s has element type %s", v.Name, v.Type.DType)
		}
		if err := CheckTypeSize(v.Type); err != nil {
			fail("input %s: %v", v.Name, err)
		}
	}
	for _, p := range g.Params {
		if p.Kind != Param {
			fail("parameter %s has kind %d", p.Name, p.Kind)
		}
		if seen["@"+p.Name] {
			fail("parameter %s declared twice", p.Name)
		}
		seen["@"+p.Name] = true
		defined[p] = true
		if err := CheckTypeSize(p.Type); err != nil {
			fail("parameter %s: %v", p.Name, err)
		} else if _, known := p.Type.Shape.KnownProduct(0); !known {
			fail("parameter %s has symbolic shape %s", p.Name, p.Type.Shape)
		}
		if p.Type.DType != F32 {
			fail("parameter %s is %s: weights are f32", p.Name, p.Type)
		}
		if p.Init.Kind < InitZeros || p.Init.Kind > InitUniform ||
			(p.Init.Kind == InitGlorotUniform && (p.Init.FanIn < 1 || p.Init.FanOut < 1)) ||
			(p.Init.Kind == InitUniform && !(p.Init.Limit > 0)) {
			fail("parameter %s has no valid initialiser: %s", p.Name, p.Init)
		}
	}
	for _, c := range g.Consts {
		if c.Kind != Const {
			fail("constant %s has kind %d", c.Name, c.Kind)
		}
		if seen["@"+c.Name] {
			fail("constant %s declared twice", c.Name)
		}
		seen["@"+c.Name] = true
		defined[c] = true
		if n, known := c.Type.Shape.KnownProduct(0); !known || n != len(c.Data) {
			fail("constant %s: %d values for %s", c.Name, len(c.Data), c.Type)
		}
	}
	for i, n := range g.Nodes {
		where := fmt.Sprintf("node %d (%s)", i, n.Op)
		if !n.Op.Valid() {
			fail("%s: invalid op", where)
			continue
		}
		info := n.Op.Info()
		if len(n.Inputs) < info.MinInputs || (info.MaxInputs >= 0 && len(n.Inputs) > info.MaxInputs) {
			fail("%s: %d operands, want %s", where, len(n.Inputs), arity(info))
			continue
		}
		if !n.Op.attrsMatch(n.Attrs) {
			fail("%s: attributes of type %T, want %T", where, n.Attrs, info.Attrs)
			continue
		}
		types := make([]Type, len(n.Inputs))
		ok := true
		for j, v := range n.Inputs {
			if !defined[v] {
				fail("%s: operand %d is used before it is defined", where, j)
				ok = false
			}
			types[j] = v.Type
		}
		if len(n.Outputs) != 1 {
			fail("%s: %d results, want 1", where, len(n.Outputs))
			continue
		}
		out := n.Outputs[0]
		if out.Kind != Result || out.Def != n {
			fail("%s: result is not owned by the node", where)
		}
		if defined[out] {
			fail("%s: result defined twice", where)
		}
		defined[out] = true
		if !ok {
			continue
		}
		t, err := n.Op.infer(n.Attrs, types)
		if err != nil {
			fail("%s: %v", where, err)
		} else if !t.Equal(out.Type) {
			fail("%s: result type %s, but the op infers %s", where, out.Type, t)
		}
	}
	values := slices.Concat(g.Inputs, g.Params, g.Consts)
	for _, n := range g.Nodes {
		values = append(values, n.Outputs...)
	}
	for _, v := range values {
		for _, d := range v.Type.Shape {
			if d.Known() && d.Size < 1 {
				fail("value %s has type %s: known dimensions must be at least 1", v.Name, v.Type)
				break
			}
		}
	}
	outs := map[string]bool{}
	for _, o := range g.Outputs {
		if outs[o.Name] {
			fail("output %s named twice", o.Name)
		}
		outs[o.Name] = true
		if !defined[o.Value] {
			fail("output %s is not defined in the graph", o.Name)
		}
		if o.Value.Type.DType != F32 {
			fail("output %s is %s: outputs are f32", o.Name, o.Value.Type)
		}
	}
	if len(g.Outputs) == 0 {
		fail("graph %s has no outputs", g.Name)
	}
	return errors.Join(errs...)
}
