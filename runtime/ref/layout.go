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

// resize reads each output cell from the input position its coordinate
// rule maps it to: the nearest cell, or the four around it blended in
// float64.
func resize(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := n.Attrs.(*ir.ResizeAttrs)
	x := in[0]
	h, w, c := x.Shape[1], x.Shape[2], x.Shape[3]
	nb, oh, ow := out.Shape[0], out.Shape[1], out.Shape[2]
	at := func(b, y, xx, ch int) float64 { return float64(x.Data[((b*h+y)*w+xx)*c+ch]) }
	for b := range nb {
		for oy := range oh {
			for ox := range ow {
				for ch := range c {
					var v float64
					if a.Mode == ir.Nearest {
						v = at(b, a.Coordinates.NearestIndex(oy, h, oh), a.Coordinates.NearestIndex(ox, w, ow), ch)
					} else {
						y0, y1, fy := a.Coordinates.Linear(oy, h, oh)
						x0, x1, fx := a.Coordinates.Linear(ox, w, ow)
						top := at(b, y0, x0, ch)*(1-fx) + at(b, y0, x1, ch)*fx
						bottom := at(b, y1, x0, ch)*(1-fx) + at(b, y1, x1, ch)*fx
						v = top*(1-fy) + bottom*fy
					}
					out.Data[((b*oh+oy)*ow+ox)*c+ch] = float32(v)
				}
			}
		}
	}
}
