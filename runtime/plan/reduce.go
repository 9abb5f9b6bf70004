package plan

import (
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/layout"
	"github.com/mdlc/mdlc/runtime/kernels/mask"
	"github.com/mdlc/mdlc/runtime/kernels/reduce"
	"github.com/mdlc/mdlc/tensor"
)

// buildReduce: the reduced axes in passes over runs of adjacent axes
// (reduce.Plan); a mean is a sum scaled by 1/count.
func buildReduce(kind reduce.Kind, mean bool) func(*builder, *ir.Node) exec.Spec {
	return func(b *builder, n *ir.Node) exec.Spec {
		x := n.Inputs[0]
		shape := b.shapes[x]
		red := n.Attrs.(*ir.ReduceAttrs).Reduced(len(shape))
		r := reduce.Reduce{Kind: kind, Passes: reduce.Plan(shape, red)}
		if mean {
			r.Scale = float32(float64(tensor.Numel(b.shapes[n.Outputs[0]])) / float64(tensor.Numel(shape)))
		}
		b.info[b.step].Kernel = "reduce"
		return exec.Reduce{X: b.slot(x), Out: b.out(n), Scratch: b.scratch(r.ScratchSize(), "partial results"), Reduce: r}
	}
}

// buildArgMax: the axis as the middle of [outer, R, inner].
func buildArgMax(b *builder, n *ir.Node) exec.Spec {
	x := n.Inputs[0]
	shape, axis := b.shapes[x], n.Attrs.(*ir.ArgAttrs).Axis
	a := reduce.ArgMax{Outer: tensor.Numel(shape[:axis]), R: shape[axis], Inner: tensor.Numel(shape[axis+1:])}
	b.info[b.step].Kernel = "reduce"
	return exec.ArgMax{X: b.slot(x), Out: b.out(n), Scratch: b.scratch(a.ScratchSize(), "row maxima"), ArgMax: a}
}

// maskShape is the output's shape and each operand's broadcast strides,
// with a leading axis of 1 so that even a scalar has a last axis.
func (b *builder) maskShape(n *ir.Node) mask.Shape {
	out := append([]int{1}, b.shapes[n.Outputs[0]]...)
	s := mask.Shape{Out: out}
	for _, v := range n.Inputs {
		s.Strides = append(s.Strides, tensor.BroadcastStrides(b.shapes[v], out))
	}
	b.info[b.step].Kernel = "mask"
	return s
}

func buildCompare(kind mask.Kind) func(*builder, *ir.Node) exec.Spec {
	return func(b *builder, n *ir.Node) exec.Spec {
		return exec.Compare{A: b.slot(n.Inputs[0]), B: b.slot(n.Inputs[1]), Out: b.out(n), Compare: mask.Compare{Kind: kind, Shape: b.maskShape(n)}}
	}
}

func buildFloor(b *builder, n *ir.Node) exec.Spec {
	b.inPlace(n, 0)
	return exec.Floor{X: b.slot(n.Inputs[0]), Out: b.out(n)}
}

func buildWhere(b *builder, n *ir.Node) exec.Spec {
	return exec.Where{Cond: b.slot(n.Inputs[0]), A: b.slot(n.Inputs[1]), B: b.slot(n.Inputs[2]), Out: b.out(n), Where: mask.Where{Shape: b.maskShape(n)}}
}

// buildGather views x as [B, P, A, R] and the indices as [B, I].
func buildGather(b *builder, n *ir.Node) exec.Spec {
	x, idx, a := n.Inputs[0], n.Inputs[1], n.Attrs.(*ir.GatherAttrs)
	xs, is := b.shapes[x], b.shapes[idx]
	g := layout.GatherAxis{B: tensor.Numel(xs[:a.BatchDims]), P: tensor.Numel(xs[a.BatchDims:a.Axis]), A: xs[a.Axis],
		I: tensor.Numel(is[a.BatchDims:]), R: tensor.Numel(xs[a.Axis+1:])}
	b.info[b.step].Kernel = "layout"
	return exec.Gather{X: b.slot(x), Indices: b.slot(idx), Out: b.out(n), Gather: g, Name: n.Layer, Shape: is}
}
