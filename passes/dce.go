package passes

// dce marks the nodes the outputs depend on, walking the schedule backwards
// from the outputs, then drops every other node and every parameter or
// constant no remaining node or output reads.
//
// Invariant: every node, parameter and constant contributes to an output.
// Inputs stay, even unused: they are the model's signature.
//
// dceKeepParams, the training pipeline's form, keeps every parameter: in a
// training step they are state, which updates appended after the passes may
// read though no output does (batch norm's running statistics).

import "github.com/mdlc/mdlc/ir"

func dce(g *ir.Graph) error { return deadCode(g, false) }

func dceKeepParams(g *ir.Graph) error { return deadCode(g, true) }

func deadCode(g *ir.Graph, keepParams bool) error {
	live := map[*ir.Value]bool{}
	for _, o := range g.Outputs {
		live[o.Value] = true
	}
	dead := map[*ir.Node]bool{}
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		if !live[n.Outputs[0]] {
			dead[n] = true
			continue
		}
		for _, v := range n.Inputs {
			live[v] = true
		}
	}
	removeNodes(g, dead)
	keep := func(vs []*ir.Value) []*ir.Value {
		out := vs[:0]
		for _, v := range vs {
			if live[v] {
				out = append(out, v)
			}
		}
		return out
	}
	if !keepParams {
		g.Params = keep(g.Params)
	}
	g.Consts = keep(g.Consts)
	return nil
}
