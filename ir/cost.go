package ir

import (
	"math"

	"github.com/mdlc/mdlc/internal/size"
)

// count is a FLOP count carried through a cost formula with every product and
// sum overflow-checked: once a step overflows, ok stays false. A type can hold
// up to MaxElements elements, and a dense layer multiplies two such counts, so
// the formulas overflow int64 on hostile shapes.
type count struct {
	n  int64
	ok bool
}

func of(n int64) count { return count{n, n >= 0} }

// elems is the per-example element count of s (symbols taken as 1).
func elems(s Shape) count {
	n, ok := perExample(s)
	return count{n, ok}
}

func (c count) times(d count) count {
	if !c.ok || !d.ok {
		return count{}
	}
	n, ok := size.Mul(c.n, d.n)
	return count{n, ok}
}

func (c count) plus(d count) count {
	if !c.ok || !d.ok {
		return count{}
	}
	n, ok := size.Add(c.n, d.n)
	return count{n, ok}
}

func flopsPerOutput(k int64) func(*Node) count {
	return func(n *Node) count { return of(k).times(elems(n.Outputs[0].Type.Shape)) }
}

func flopsPerInput(k int64) func(*Node) count {
	return func(n *Node) count { return of(k).times(elems(n.Inputs[0].Type.Shape)) }
}

// flopsGatherGrad counts an addition per cell of dy, which gather_grad adds
// onto the cells gather read.
func flopsGatherGrad(n *Node) count { return of(1).times(elems(n.Inputs[1].Type.Shape)) }

func flopsConv2D(n *Node) count {
	out := elems(n.Outputs[0].Type.Shape)
	f := of(2).times(out).times(elems(n.Inputs[1].Type.Shape[:3]))
	if len(n.Inputs) == 3 {
		f = f.plus(out)
	}
	return f
}

func flopsDense(n *Node) count {
	out := elems(n.Outputs[0].Type.Shape)
	f := of(2).times(out).times(elems(n.Inputs[1].Type.Shape[:1]))
	if len(n.Inputs) == 3 {
		f = f.plus(out)
	}
	return f
}

func flopsMatMul(n *Node) count {
	a := n.Inputs[0].Type.Shape
	k := a[len(a)-1]
	if n.Attrs.(*MatMulAttrs).TransA {
		k = a[len(a)-2]
	}
	return of(2).times(elems(n.Outputs[0].Type.Shape)).times(elems(Shape{k}))
}

// flopsAttention: q·kᵀ and the product with v, 2·Tq·Tk·(dk+dv), and about
// 5 per score for the scale, mask and softmax.
func flopsAttention(n *Node) count {
	q, v := n.Inputs[0].Type.Shape, n.Inputs[2].Type.Shape
	r := q.Rank()
	perScore := of(2).times(elems(q[r-1:]).plus(elems(v[r-1:]))).plus(of(5))
	return elems(q[:r-1]).times(elems(v[r-2 : r-1])).times(perScore)
}

// flopsRecurrent: per step h·U, 2·H·G·H, and about 8 per gate element.
func flopsRecurrent(n *Node) count {
	xw, u := n.Inputs[0].Type.Shape, n.Inputs[1].Type.Shape
	perStep := of(2).times(elems(u)).plus(of(8).times(elems(u[1:])))
	return elems(xw[:2]).times(perStep)
}

func flopsPool(n *Node) count {
	w := n.Attrs.(*PoolAttrs).Size
	return elems(n.Outputs[0].Type.Shape).times(of(int64(w[0]))).times(of(int64(w[1])))
}

// Flops is the node's floating point operation count per example, or
// math.MaxInt64 when the count overflows: a figure to show. FlopsBound is
// the checked count of a run.
func (n *Node) Flops() int64 {
	if f := n.Op.Info().Flops(n); f.ok {
		return f.n
	}
	return math.MaxInt64
}
