package eltwise

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// kernels is one kernel set's implementation of every kind of step: unary[k]
// for the unary kinds; vector[k] and scalar[k] for the binary ones, v = v op
// o over a slice operand o or a broadcast scalar x, and the Rev ones for the
// swapped order v = o op v. Loads are the generic ones in every set.
//
// Clip, the one kind with two parameters, has a kernel of its own; so has
// Pow, for each kind of exponent (powFor): unary[Pow] is the general one.
type kernels struct {
	set               cpu.Set
	unary             [kindCount]func(v []float32, alpha float32)
	vector, vectorRev [kindCount]func(v, o []float32)
	scalar, scalarRev [kindCount]func(v []float32, x float32)
	// rows applies an operand that repeats along the rows to whole rows
	// of it (addRows), for Add and Mul; nil for the other kinds.
	rows [kindCount]func(v, o []float32)
	clip func(v []float32, lo, hi float32)
	// reluGrad is relu's gradient for package backward: v = v where o > 0,
	// else 0.
	reluGrad func(v, o []float32)
	// powEven and powOdd take integer exponents, even and odd: x^n of a
	// negative x is |x|^n and -|x|^n, where the general kernel gives NaN.
	powEven, powOdd func(v []float32, alpha float32)
}

// powFor is the pow kernel for exponent e: the general one unless e is an
// integer. Chosen once, when a chain is built.
func (k *kernels) powFor(e float32) func(v []float32, alpha float32) {
	// The exponents of one rounded operation are computed as that, exactly.
	switch {
	case e == 0: // x^0 is 1 for every x, where e^(0·ln x) is NaN at 0 and ±Inf
		return ones
	case e == 1:
		return func([]float32, float32) {}
	case e == 2:
		mul := k.vector[Mul]
		return func(v []float32, _ float32) { mul(v, v) }
	case e == -1:
		inv := k.scalarRev[Div]
		return func(v []float32, _ float32) { inv(v, 1) }
	case e != float32(math.Trunc(float64(e))):
		return k.unary[Pow]
	case math.Abs(float64(e)) >= 1<<24 || int64(e)%2 == 0: // float32 that large are even
		return k.powEven
	}
	return k.powOdd
}

func ones(v []float32, _ float32) { fill(v, 1) }

// powBlock is how many elements the pow passes run over at a time: they
// stay in L1, and odd powers keep a copy of them on the stack.
const powBlock = 256

// powOf composes x^alpha = e^(alpha·ln x) from a set's vector kernels, pass
// by pass over blocks of powBlock elements: ln, a multiplication, e^. With
// abs it is |x|^alpha, for even integer exponents. (Odd ones take x's sign
// after, in each set's powOdd: a copy of x passed to a function value
// would escape to the heap.)
func powOf(abs, log, exp, mulScalar func([]float32, float32)) func([]float32, float32) {
	return func(v []float32, alpha float32) {
		for len(v) > 0 {
			b := v[:min(len(v), powBlock)]
			if abs != nil {
				abs(b, 0)
			}
			log(b, 0)
			mulScalar(b, alpha)
			exp(b, 0)
			v = v[len(b):]
		}
	}
}

// sets are the kernel sets of this build (cpu.Family).
var sets = cpu.NewFamily("eltwise", &generic)

// generic is the reference the others are tested against: the binary
// operators are single float32 operations, and the functions are evaluated in
// float64 and rounded once.
var generic = kernels{
	set: cpu.Generic,
	unary: [kindCount]func([]float32, float32){
		Relu: relu, LeakyRelu: leakyRelu, Sigmoid: sigmoid, Tanh: tanh, Gelu: gelu, GeluTanh: geluTanh,
		Elu: elu, Selu: selu, Silu: silu, HardSigmoid: hardSigmoid, HardSwish: hardSwish, Mish: mish,
		Softplus: softplus, Softsign: softsign, Exp: exp, Log: log, Sqrt: sqrt, Rsqrt: rsqrt, Abs: abs, Neg: neg,
		Pow: pow, Erf: erf,
	},
	vector: [kindCount]func(v, o []float32){
		Load: load, Add: add, Sub: sub, Mul: mul, Div: div, Minimum: minimum, Maximum: maximum,
	},
	vectorRev: [kindCount]func(v, o []float32){
		Load: load, Add: add, Sub: subRev, Mul: mul, Div: divRev, Minimum: minimum, Maximum: maximum,
	},
	scalar: [kindCount]func([]float32, float32){
		Load: fill, Add: addScalar, Sub: subScalar, Mul: mulScalar, Div: divScalar, Minimum: minimumScalar, Maximum: maximumScalar,
	},
	scalarRev: [kindCount]func([]float32, float32){
		Load: fill, Add: addScalar, Sub: subRevScalar, Mul: mulScalar, Div: divRevScalar, Minimum: minimumScalar, Maximum: maximumScalar,
	},
	rows:     [kindCount]func(v, o []float32){Add: rowsOf(add), Mul: rowsOf(mul)},
	clip:     clip,
	reluGrad: reluGrad,
	powEven:  pow,
	powOdd:   pow,
}

// rowsOf is the rows kernel that runs the flat kernel f on each whole row
// of len(o) floats of v:
//
//	for i := range v[:len(v)/len(o)*len(o)] {
//		v[i] = v[i] op o[i%len(o)]
//	}
func rowsOf(f func(v, o []float32)) func(v, o []float32) {
	return func(v, o []float32) {
		for len(o) > 0 && len(v) >= len(o) {
			f(v[:len(o)], o)
			v = v[len(o):]
		}
	}
}

// load sets v to o, which may be v itself.
func load(v, o []float32) {
	if len(v) > 0 && &v[0] != &o[0] {
		copy(v, o[:len(v)])
	}
}

func fill(v []float32, x float32) {
	for i := range v {
		v[i] = x
	}
}

func add(v, o []float32) {
	for i, x := range o[:len(v)] {
		v[i] += x
	}
}

func sub(v, o []float32) {
	for i, x := range o[:len(v)] {
		v[i] -= x
	}
}

func subRev(v, o []float32) {
	for i, x := range o[:len(v)] {
		v[i] = x - v[i]
	}
}

func mul(v, o []float32) {
	for i, x := range o[:len(v)] {
		v[i] *= x
	}
}

func div(v, o []float32) {
	for i, x := range o[:len(v)] {
		v[i] /= x
	}
}

func divRev(v, o []float32) {
	for i, x := range o[:len(v)] {
		v[i] = x / v[i]
	}
}

func addScalar(v []float32, x float32) {
	for i := range v {
		v[i] += x
	}
}

func subScalar(v []float32, x float32) {
	for i := range v {
		v[i] -= x
	}
}

func subRevScalar(v []float32, x float32) {
	for i := range v {
		v[i] = x - v[i]
	}
}

func mulScalar(v []float32, x float32) {
	for i := range v {
		v[i] *= x
	}
}

func divScalar(v []float32, x float32) {
	for i := range v {
		v[i] /= x
	}
}

func divRevScalar(v []float32, x float32) {
	for i := range v {
		v[i] = x / v[i]
	}
}

// The unary functions take alpha, unused but by leakyRelu, so that all share
// one signature.

// relu keeps NaN and -0: x < 0 ? 0 : x.
func relu(v []float32, _ float32) {
	for i, x := range v {
		if x < 0 {
			v[i] = 0
		}
	}
}

// leakyRelu is x >= 0 ? x : alpha·x.
func leakyRelu(v []float32, alpha float32) {
	for i, x := range v {
		if !(x >= 0) {
			v[i] = alpha * x
		}
	}
}

func sigmoid(v []float32, _ float32) {
	for i, x := range v {
		v[i] = float32(1 / (1 + math.Exp(-float64(x))))
	}
}

func tanh(v []float32, _ float32) {
	for i, x := range v {
		v[i] = float32(math.Tanh(float64(x)))
	}
}

// gelu is exact: 0.5x(1+erf(x/√2)).
func gelu(v []float32, _ float32) {
	for i, x := range v {
		y := float64(x)
		v[i] = float32(0.5 * y * (1 + math.Erf(y/math.Sqrt2)))
	}
}

// geluTanh is the tanh approximation: 0.5x(1+tanh(√(2/π)(x+0.044715x³))).
func geluTanh(v []float32, _ float32) {
	c := math.Sqrt(2 / math.Pi)
	for i, x := range v {
		y := float64(x)
		v[i] = float32(0.5 * y * (1 + math.Tanh(c*(y+0.044715*y*y*y))))
	}
}

// minimum and maximum give NaN if either operand is NaN, so they commute.
func minimum(v, o []float32) {
	for i, x := range o[:len(v)] {
		v[i] = min(v[i], x)
	}
}

func maximum(v, o []float32) {
	for i, x := range o[:len(v)] {
		v[i] = max(v[i], x)
	}
}

func minimumScalar(v []float32, x float32) {
	for i := range v {
		v[i] = min(v[i], x)
	}
}

func maximumScalar(v []float32, x float32) {
	for i := range v {
		v[i] = max(v[i], x)
	}
}

// clip is min(max(x, lo), hi) with Go's min and max: NaN stays NaN, and
// -0 is below +0.
func clip(v []float32, lo, hi float32) {
	for i, x := range v {
		v[i] = min(max(x, lo), hi)
	}
}

// The functions below are evaluated in float64 and rounded once, like the
// reference (runtime/ref), whose formulas they repeat.

// each maps f over v.
func each(v []float32, f func(float64) float64) {
	for i, x := range v {
		v[i] = float32(f(float64(x)))
	}
}

func elu(v []float32, alpha float32) {
	a := float64(alpha)
	each(v, func(x float64) float64 {
		if x > 0 {
			return x
		}
		return a * math.Expm1(x)
	})
}

// SELU's constants (Klambauer et al. 2017).
const (
	seluAlpha = 1.6732632423543772848170429916717
	seluScale = 1.0507009873554804934193349852946
)

func selu(v []float32, _ float32) {
	each(v, func(x float64) float64 {
		if x > 0 {
			return seluScale * x
		}
		return seluScale * seluAlpha * math.Expm1(x)
	})
}

func silu(v []float32, _ float32) { each(v, func(x float64) float64 { return x / (1 + math.Exp(-x)) }) }

func hardSigmoidOf(alpha, x float64) float64 { return min(max(alpha*x+0.5, 0), 1) }

func hardSigmoid(v []float32, alpha float32) {
	a := float64(alpha)
	each(v, func(x float64) float64 { return hardSigmoidOf(a, x) })
}

func hardSwish(v []float32, _ float32) {
	each(v, func(x float64) float64 { return x * min(max(x+3, 0), 6) / 6 })
}

func softplusOf(x float64) float64 { return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

func softplus(v []float32, _ float32) { each(v, softplusOf) }

func mish(v []float32, _ float32) {
	each(v, func(x float64) float64 { return x * math.Tanh(softplusOf(x)) })
}

func softsign(v []float32, _ float32) {
	each(v, func(x float64) float64 { return x / (1 + math.Abs(x)) })
}

func exp(v []float32, _ float32)  { each(v, math.Exp) }
func log(v []float32, _ float32)  { each(v, math.Log) }
func sqrt(v []float32, _ float32) { each(v, math.Sqrt) }
func rsqrt(v []float32, _ float32) {
	each(v, func(x float64) float64 { return 1 / math.Sqrt(x) })
}
func erf(v []float32, _ float32) { each(v, math.Erf) }

// abs and neg are exact: they change the sign bit only.
func abs(v []float32, _ float32) {
	for i, x := range v {
		v[i] = float32(math.Abs(float64(x)))
	}
}

func neg(v []float32, _ float32) {
	for i, x := range v {
		v[i] = -x
	}
}

// pow is math.Pow, except that a negative x (-Inf too) to a non-integer
// power is NaN.
func pow(v []float32, alpha float32) {
	e := float64(alpha)
	each(v, func(x float64) float64 {
		if x < 0 && e != math.Trunc(e) {
			return math.NaN()
		}
		return math.Pow(x, e)
	})
}

// ReluGrad is set's kernel of relu's gradient, in place over dy: dy where
// x > 0, else +0 (NaN too):
//
//	for i := range dy {
//		if !(x[i] > 0) {
//			dy[i] = 0
//		}
//	}
func ReluGrad(set cpu.Set) func(dy, x []float32) { return sets.For(set).reluGrad }

// reluGrad is ReluGrad's loop.
func reluGrad(v, o []float32) {
	o = o[:len(v)]
	for i := range v {
		if !(o[i] > 0) {
			v[i] = 0
		}
	}
}

// Unary is set's kernel for a unary kind (Relu … GeluTanh), in place over v:
// for kernels that run a function over slices of their own (the gates of a
// recurrent cell) rather than a Chain.
func Unary(set cpu.Set, k Kind) func(v []float32, alpha float32) { return sets.For(set).unary[k] }

// Binary is set's kernel for a binary kind, v = v op o over a slice o.
func Binary(set cpu.Set, k Kind) func(v, o []float32) { return sets.For(set).vector[k] }

// ScalarRev is set's kernel for a binary kind with the scalar first,
// v = x op v.
func ScalarRev(set cpu.Set, k Kind) func(v []float32, x float32) { return sets.For(set).scalarRev[k] }
