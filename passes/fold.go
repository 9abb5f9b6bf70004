package passes

// fold evaluates, in schedule order, every node whose operands are all
// constants, with the reference kernel, and replaces its result by a
// constant. Folding in order lets a folded result feed the next fold.
//
// Invariant: no node has only constant operands.

import (
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
)

func fold(g *ir.Graph) error {
	dead := map[*ir.Node]bool{}
	for _, n := range g.Nodes {
		out, ok, err := evalConstNode(n)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		c := addConst(g, ir.Qualified(n.Layer, n.Op.String()), n.Outputs[0].Type, out.Data)
		g.ReplaceUses(n.Outputs[0], c)
		dead[n] = true
	}
	removeNodes(g, dead)
	return nil
}

// evalConstNode computes n if all its operands are constants.
func evalConstNode(n *ir.Node) (*tensor.Tensor, bool, error) {
	ins := make([]*tensor.Tensor, len(n.Inputs))
	for i, v := range n.Inputs {
		d, ok := constOf(v)
		if !ok {
			return nil, false, nil
		}
		shape, err := v.Type.Shape.Bind(nil)
		if err != nil {
			return nil, false, nil
		}
		ins[i] = &tensor.Tensor{Shape: shape, Data: d}
	}
	out, err := ref.Eval(n, ins)
	return out, err == nil, err
}
