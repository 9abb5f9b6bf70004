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

// minimum and maximum give NaN if either operand is NaN, as NumPy and
// PyTorch do (Go's min and max on float32 agree).
func minimum(a, b float32) float32 { return min(a, b) }
func maximum(a, b float32) float32 { return max(a, b) }

// clip is min(max(x, lo), hi) with Go's min and max: NaN stays NaN.
func clip(n *ir.Node, x float64) float64 {
	a := n.Attrs.(*ir.ClipAttrs)
	return min(max(x, float64(a.Min)), float64(a.Max))
}

func elu(n *ir.Node, x float64) float64 {
	if x > 0 {
		return x
	}
	return float64(n.Attrs.(*ir.EluAttrs).Alpha) * math.Expm1(x)
}

// SELU's constants (Klambauer et al. 2017), as PyTorch and Keras write them.
const (
	seluAlpha = 1.6732632423543772848170429916717
	seluScale = 1.0507009873554804934193349852946
)

func selu(_ *ir.Node, x float64) float64 {
	if x > 0 {
		return seluScale * x
	}
	return seluScale * seluAlpha * math.Expm1(x)
}

func silu(_ *ir.Node, x float64) float64 { return x / (1 + math.Exp(-x)) }

func hardSigmoid(n *ir.Node, x float64) float64 {
	return hardSigmoidOf(float64(n.Attrs.(*ir.HardSigmoidAttrs).Alpha), x)
}

func hardSigmoidOf(alpha, x float64) float64 { return min(max(alpha*x+0.5, 0), 1) }

// hardSwish is PyTorch's x·relu6(x+3)/6.
func hardSwish(_ *ir.Node, x float64) float64 { return x * hardSigmoidOf(1.0/6, x) }

// softplus is ln(1+e^x), as max(x, 0) + ln(1+e^-|x|) so that it neither
// overflows nor loses the small values of the tail below zero.
func softplus(_ *ir.Node, x float64) float64 { return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

func mish(n *ir.Node, x float64) float64 { return x * math.Tanh(softplus(n, x)) }

func softsign(_ *ir.Node, x float64) float64 { return x / (1 + math.Abs(x)) }

// pow is math.Pow, except that a negative x (-Inf too) to a non-integer
// power is NaN.
func pow(n *ir.Node, x float64) float64 {
	e := float64(n.Attrs.(*ir.PowAttrs).Exponent)
	if x < 0 && e != math.Trunc(e) {
		return math.NaN()
	}
	return math.Pow(x, e)
}

// fn adapts a function of x alone.
func fn(f func(float64) float64) func(*ir.Node, float64) float64 {
	return func(_ *ir.Node, x float64) float64 { return f(x) }
}
