package autodiff

import (
	"fmt"
	"slices"

	"github.com/mdlc/mdlc/ir"
)

// The gradients of ops that read some input cells more than once or not at
// all (resize, gather, reflected and repeated padding) scatter dy back
// onto the cells read. A resize is linear along each axis, out = R·x with R
// the constant interpolation matrix, so dx = Rᵀ·dy, two matrix products; a
// gather's indices are known only at run time, so its gradient is its own
// op, gather_grad, a scatter-add; a padded border is a slice of dy, summed
// onto the edge cell or reversed onto the cells it reflects.

// byMatrix contracts axis of g with the constant matrix w [size(axis), k]:
// the result has k cells on that axis, out[.., j, ..] = Σ_i g[.., i, ..]·w[i, j].
func (b *builder) byMatrix(g *ir.Value, axis int, w []float32, k int) *ir.Value {
	if b.err != nil {
		return nil
	}
	r := g.Type.Shape.Rank()
	n := g.Type.Shape[axis].Size
	m := b.g.AddConst(fmt.Sprintf("%s.const%d", b.constPrefix(), len(b.g.Consts)), ir.T(n, k), w)
	if axis == r-1 {
		return b.node(ir.OpMatMul, &ir.MatMulAttrs{}, g, m)
	}
	toLast := make([]int, 0, r)
	for a := range r {
		if a != axis {
			toLast = append(toLast, a)
		}
	}
	toLast = append(toLast, axis)
	back := make([]int, r)
	for i, a := range toLast {
		back[a] = i
	}
	t := b.node(ir.OpTranspose, &ir.TransposeAttrs{Perm: toLast}, g)
	return b.node(ir.OpTranspose, &ir.TransposeAttrs{Perm: back}, b.node(ir.OpMatMul, &ir.MatMulAttrs{}, t, m))
}

func (b *builder) constPrefix() string {
	if b.prefix == "" {
		return "grad"
	}
	return b.prefix
}

// resizeGrad: out = R_h·x·R_wᵀ on the height and width axes, R the
// interpolation matrices (R[o, i] the weight of input cell i in output cell
// o), so dx = R_hᵀ·dy·R_w: dy contracted over each output axis with R.
func resizeGrad(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
	a, s := n.Attrs.(*ir.ResizeAttrs), n.Inputs[0].Type.Shape
	if !s[1].Known() || !s[2].Known() {
		return nil, errUnknown(s)
	}
	g := dy
	for k, axis := range []int{1, 2} {
		in, out := s[axis].Size, a.Size[k]
		if int64(in)*int64(out) > ir.MaxElements {
			return nil, fmt.Errorf("resize from %d to %d cells: the gradient's interpolation matrix would hold %d weights", in, out, int64(in)*int64(out))
		}
		w := make([]float32, out*in) // [out, in]: dy's axis contracts with it
		for o := range out {
			if a.Mode == ir.Nearest {
				w[o*in+a.Coordinates.NearestIndex(o, in, out)] = 1
				continue
			}
			i0, i1, f := a.Coordinates.Linear(o, in, out)
			w[o*in+i0] += float32(1 - f)
			w[o*in+i1] += float32(f)
		}
		g = b.byMatrix(g, axis, w, in)
	}
	return []*ir.Value{g}, nil
}

// gatherGrad: with x viewed as [B, P, S, R] (B the batch axes, S the
// gathered one) and the indices as [B, I], out[b, p, i, r] = x[b, p,
// idx[b, i], r], so dx[b, p, s, r] = Σ_i [idx[b, i] = s]·dy[b, p, i, r] (an
// index may count from the end): gather_grad scatters each slice of dy back
// onto the cell it was read from, |dy| additions. The indices get no
// gradient.
func gatherGrad(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
	a := n.Attrs.(*ir.GatherAttrs)
	x, idx := n.Inputs[0].Type.Shape, n.Inputs[1].Type.Shape
	size := func(s ir.Shape) (int, error) {
		p, ok := s.KnownProduct(0)
		if !ok {
			return 0, errUnknown(s)
		}
		return p, nil
	}
	var dims [4]int
	for k, s := range []ir.Shape{x[:a.BatchDims], x[a.BatchDims:a.Axis], idx[a.BatchDims:], x[a.Axis+1:]} {
		p, err := size(s)
		if err != nil {
			return nil, err
		}
		dims[k] = p
	}
	bs, ps, is, rs := dims[0], dims[1], dims[2], dims[3]
	if !x[a.Axis].Known() {
		return nil, errUnknown(x)
	}
	s := x[a.Axis].Size
	ids := b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{ir.D(bs), ir.D(is)}}, n.Inputs[1])
	g := b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{ir.D(bs), ir.D(ps), ir.D(is), ir.D(rs)}}, dy)
	dx := b.node(ir.OpGatherGrad, &ir.ReshapeAttrs{Shape: ir.Shape{ir.D(bs), ir.D(ps), ir.D(s), ir.D(rs)}}, ids, g)
	return []*ir.Value{b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: slices.Clone(x)}, dx), nil}, nil
}

// padFold is the gradient of reflected or repeated padding along one axis
// of x's size size with pads p: the middle of g, plus each border folded
// back onto the cells it copies. A repeated border copies the edge cell
// p times: its sum lands there. A reflected border copies cells 1..p[0]
// (and size-1-p[1]..size-2) in reverse: reversed, it lands there.
func (b *builder) padFold(g *ir.Value, axis, size int, p [2]int, mode ir.PadMode) *ir.Value {
	slice := func(start, end int) *ir.Value {
		return b.node(ir.OpSlice, &ir.SliceAttrs{Axis: axis, Start: start, End: end}, g)
	}
	place := func(v *ir.Value, before, after int) *ir.Value {
		pads := make([][2]int, g.Type.Shape.Rank())
		pads[axis] = [2]int{before, after}
		return b.node(ir.OpPad, &ir.PadAttrs{Mode: ir.PadConstant, Pads: pads}, v)
	}
	reverse := func(v *ir.Value, k int) *ir.Value {
		order := make([]float32, k)
		for i := range order {
			order[i] = float32(k - 1 - i)
		}
		c := b.g.AddConst(fmt.Sprintf("%s.const%d", b.constPrefix(), len(b.g.Consts)), ir.T(k), order)
		return b.node(ir.OpGather, &ir.GatherAttrs{Axis: axis}, v, c)
	}
	out := slice(p[0], p[0]+size)
	if p[0] > 0 {
		head := slice(0, p[0])
		if mode == ir.PadEdge {
			out = b.add(out, place(b.sumTo(head, keep(head.Type.Shape, axis)), 0, size-1))
		} else {
			out = b.add(out, place(reverse(head, p[0]), 1, size-1-p[0]))
		}
	}
	if p[1] > 0 {
		tail := slice(p[0]+size, p[0]+size+p[1])
		if mode == ir.PadEdge {
			out = b.add(out, place(b.sumTo(tail, keep(tail.Type.Shape, axis)), size-1, 0))
		} else {
			out = b.add(out, place(reverse(tail, p[1]), size-1-p[1], 1))
		}
	}
	return out
}
