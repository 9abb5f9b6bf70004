package ref

import (
	"math"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// binary applies f with NumPy broadcasting. A single float32 operation is
// correctly rounded, so it needs no float64.
func binary(f func(a, b float32) float32) kernel {
	return func(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
		a, b := in[0], in[1]
		sa, sb := tensor.BroadcastStrides(a.Shape, out.Shape), tensor.BroadcastStrides(b.Shape, out.Shape)
		for i := range out.Data {
			out.Data[i] = f(a.Data[offset(i, out.Shape, sa)], b.Data[offset(i, out.Shape, sb)])
		}
	}
}

// unary applies f, in float64, to each element.
func unary(f func(n *ir.Node, x float64) float64) kernel {
	return func(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
		for i, v := range in[0].Data {
			out.Data[i] = float32(f(n, float64(v)))
		}
	}
}

// relu keeps NaN, as max(x, 0) does in NumPy.
func relu(_ *ir.Node, x float64) float64 {
	if x < 0 {
		return 0
	}
	return x
}

func leakyRelu(n *ir.Node, x float64) float64 {
	if x >= 0 {
		return x
	}
	return float64(n.Attrs.(*ir.LeakyReluAttrs).Alpha) * x
}

// gelu is x·Φ(x) = 0.5x(1+erf(x/√2)), or with Approximate the tanh form
// 0.5x(1+tanh(√(2/π)(x+0.044715x³))).
func gelu(n *ir.Node, x float64) float64 {
	if n.Attrs.(*ir.GeluAttrs).Approximate {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
}

// softmax over the attribute's axis: exp(x-max)/Σexp(x-max), or with log
// (x-max) - log Σexp(x-max). Subtracting the max keeps exp from overflowing.
func softmax(log bool) kernel {
	return func(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
		axis := n.Attrs.(*ir.AxisAttrs).Axis
		x := in[0]
		dim, inner := x.Shape[axis], tensor.Numel(x.Shape[axis+1:])
		for o := range tensor.Numel(x.Shape[:axis]) {
			for i := range inner {
				at := func(j int) int { return (o*dim+j)*inner + i }
				m := math.Inf(-1)
				for j := range dim {
					m = max(m, float64(x.Data[at(j)]))
				}
				var sum float64
				for j := range dim {
					sum += math.Exp(float64(x.Data[at(j)]) - m)
				}
				for j := range dim {
					d := float64(x.Data[at(j)]) - m
					if log {
						out.Data[at(j)] = float32(d - math.Log(sum))
					} else {
						out.Data[at(j)] = float32(math.Exp(d) / sum)
					}
				}
			}
		}
	}
}
