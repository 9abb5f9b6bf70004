package eltwise

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// kernels is one kernel set's implementation of every kind of step: unary[k]
// for the unary kinds; vector[k] and scalar[k] for the binary ones, v = v op
// o over a slice operand o or a broadcast scalar x, and the Rev ones for the
// swapped order v = o op v. Loads are the generic ones in every set.
type kernels struct {
	set               cpu.Set
	unary             [kindCount]func(v []float32, alpha float32)
	vector, vectorRev [kindCount]func(v, o []float32)
	scalar, scalarRev [kindCount]func(v []float32, x float32)
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
	},
	vector:    [kindCount]func(v, o []float32){Load: load, Add: add, Sub: sub, Mul: mul, Div: div},
	vectorRev: [kindCount]func(v, o []float32){Load: load, Add: add, Sub: subRev, Mul: mul, Div: divRev},
	scalar:    [kindCount]func([]float32, float32){Load: fill, Add: addScalar, Sub: subScalar, Mul: mulScalar, Div: divScalar},
	scalarRev: [kindCount]func([]float32, float32){Load: fill, Add: addScalar, Sub: subRevScalar, Mul: mulScalar, Div: divRevScalar},
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

// Unary is set's kernel for a unary kind (Relu … GeluTanh), in place over v:
// for kernels that run a function over slices of their own (the gates of a
// recurrent cell) rather than a Chain.
func Unary(set cpu.Set, k Kind) func(v []float32, alpha float32) { return sets.For(set).unary[k] }

// Binary is set's kernel for a binary kind, v = v op o over a slice o.
func Binary(set cpu.Set, k Kind) func(v, o []float32) { return sets.For(set).vector[k] }
