package passes

import (
	"fmt"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// uses counts, for every value, the node operands and graph outputs reading it.
func uses(g *ir.Graph) map[*ir.Value]int {
	u := map[*ir.Value]int{}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			u[v]++
		}
	}
	for _, o := range g.Outputs {
		u[o.Value]++
	}
	return u
}

// users maps each value to the nodes reading it, in schedule order.
func users(g *ir.Graph) map[*ir.Value][]*ir.Node {
	u := map[*ir.Value][]*ir.Node{}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			if len(u[v]) == 0 || u[v][len(u[v])-1] != n {
				u[v] = append(u[v], n)
			}
		}
	}
	return u
}

// isOutput reports whether v is a graph result.
func isOutput(g *ir.Graph, v *ir.Value) bool {
	for _, o := range g.Outputs {
		if o.Value == v {
			return true
		}
	}
	return false
}

// removeNodes drops the marked nodes from the schedule.
func removeNodes(g *ir.Graph, dead map[*ir.Node]bool) {
	keep := g.Nodes[:0]
	for _, n := range g.Nodes {
		if !dead[n] {
			keep = append(keep, n)
		}
	}
	for i := len(keep); i < len(g.Nodes); i++ {
		g.Nodes[i] = nil
	}
	g.Nodes = keep
}

// constOf returns v's data if v is a constant.
func constOf(v *ir.Value) ([]float32, bool) {
	if v.Kind != ir.Const {
		return nil, false
	}
	return v.Data, true
}

// uniqueName returns base, or base with a numeric suffix, unused by any
// parameter or constant of g.
func uniqueName(g *ir.Graph, base string) string {
	taken := map[string]bool{}
	for _, p := range g.Params {
		taken[p.Name] = true
	}
	for _, c := range g.Consts {
		taken[c.Name] = true
	}
	name := base
	for i := 1; taken[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	return name
}

// addConst adds a constant of type t under a name derived from base.
func addConst(g *ir.Graph, base string, t ir.Type, data []float32) *ir.Value {
	return g.AddConst(uniqueName(g, base), t, data)
}

// BindWeights turns every parameter into a constant holding its weights, the
// prelude to optimising for inference: folding needs the values.
func BindWeights(g *ir.Graph, ws map[string]*tensor.Tensor) error {
	for _, p := range g.Params {
		t, ok := ws[p.Name]
		if !ok {
			return fmt.Errorf("no weights for parameter %s", p.Name)
		}
		want, err := p.Type.Shape.Bind(nil)
		if err != nil || tensor.ShapeString(want) != tensor.ShapeString(t.Shape) || len(t.Data) != tensor.Numel(want) {
			return fmt.Errorf("weights for %s have shape %s, want %s", p.Name, tensor.ShapeString(t.Shape), p.Type)
		}
		p.Kind = ir.Const
		p.Data = t.Data
		g.Consts = append(g.Consts, p)
	}
	g.Params = nil
	return nil
}
