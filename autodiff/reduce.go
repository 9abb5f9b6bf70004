package autodiff

import (
	"slices"

	"github.com/mdlc/mdlc/ir"
)

// The rules of the reductions and of selection (entries of rules' table).
// A reduction's dy has the kept shape (axes set to 1) or the shape without
// the axes; either is first reshaped to the kept shape so it broadcasts back
// against x.

// keptShape is x's shape with the reduced axes set to 1, and spread the
// shape with every other axis set to 1: a constant of spread's shape
// broadcasts a kept dy back over the reduced axes.
func keptShape(s ir.Shape, axes []int) (kept, spread ir.Shape) {
	kept, spread = slices.Clone(s), make(ir.Shape, len(s))
	for i := range spread {
		spread[i] = ir.D(1)
	}
	for _, a := range axes {
		kept[a], spread[a] = ir.D(1), s[a]
	}
	return kept, spread
}

// reduce_sum over A: dx = dy broadcast back over A (dy ⊙ ones of A's sizes);
// reduce_mean: the same times 1/|A|.
func reduceSumRule(mean bool) rule {
	return func(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
		x, axes := n.Inputs[0], n.Attrs.(*ir.ReduceAttrs).Axes
		kept, spread := keptShape(x.Type.Shape, axes)
		c := float32(1)
		if mean {
			count, ok := spread.KnownProduct(0)
			if !ok {
				return nil, errUnknown(x.Type.Shape)
			}
			c = 1 / float32(count)
		}
		ones, err := b.filled(spread, c)
		if err != nil {
			return nil, err
		}
		return []*ir.Value{b.mul(b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: kept}, dy), ones)}, nil
	}
}

// reduce_max (min) y over A: dy goes to the elements equal to the extreme,
// shared equally among ties as TensorFlow and PyTorch's amax do:
// m = [x == y], dx = m ⊙ dy / Σ_A m.
func reduceExtremeRule(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
	x, y, axes := n.Inputs[0], n.Outputs[0], n.Attrs.(*ir.ReduceAttrs).Axes
	kept, _ := keptShape(x.Type.Shape, axes)
	reshape := func(v *ir.Value) *ir.Value {
		return b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: slices.Clone(kept)}, v)
	}
	m := b.node(ir.OpEqual, nil, x, reshape(y))
	ties := b.node(ir.OpReduceSum, &ir.ReduceAttrs{Axes: slices.Clone(axes), KeepDims: true}, m)
	return []*ir.Value{b.mul(m, b.div(reshape(dy), ties))}, nil
}

// where(c, a, b'): the condition gets none; da = Σ→a where(c, dy, 0),
// db' = Σ→b' where(c, 0, dy).
func whereRule(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
	c, zero := n.Inputs[0], b.scalar(0)
	g := make([]*ir.Value, 3)
	if need[1] {
		g[1] = b.sumTo(b.node(ir.OpWhere, nil, c, dy, zero), n.Inputs[1].Type.Shape)
	}
	if need[2] {
		g[2] = b.sumTo(b.node(ir.OpWhere, nil, c, zero, dy), n.Inputs[2].Type.Shape)
	}
	return g, nil
}
