package ref

import (
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// copyData serves the ops that keep the row-major element order: dropout at
// inference, flatten and reshape (out already has the result's shape).
func copyData(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	copy(out.Data, in[0].Data)
}

// transpose: output axis d is input axis Perm[d].
func transpose(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	perm := n.Attrs.(*ir.TransposeAttrs).Perm
	x := in[0]
	sx := tensor.BroadcastStrides(x.Shape, x.Shape)
	st := make([]int, len(perm))
	for d, p := range perm {
		st[d] = sx[p]
	}
	for i := range out.Data {
		out.Data[i] = x.Data[offset(i, out.Shape, st)]
	}
}

// concat joins the operands along the attribute's axis: for each position of
// the axes before it, one contiguous block from each operand in turn.
func concat(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	axis := n.Attrs.(*ir.AxisAttrs).Axis
	inner := tensor.Numel(out.Shape[axis+1:])
	pos := 0
	for o := range tensor.Numel(out.Shape[:axis]) {
		for _, t := range in {
			block := t.Shape[axis] * inner
			pos += copy(out.Data[pos:], t.Data[o*block:(o+1)*block])
		}
	}
}
