//go:build arm64 && !purego

package eltwise

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasNEON {
		sets.Add(cpu.NEON, &neon)
	}
}

var neon = kernels{
	set: cpu.NEON,
	unary: [kindCount]func([]float32, float32){
		Relu: reluNEON, LeakyRelu: leakyReluNEON, Sigmoid: sigmoidNEON, Tanh: tanhNEON, Gelu: geluNEON, GeluTanh: geluTanhNEON,
		Elu: elu, Selu: selu, Silu: silu, HardSigmoid: hardSigmoid, HardSwish: hardSwish, Mish: mish,
		Softplus: softplus, Softsign: softsign, Exp: exp, Log: log, Sqrt: sqrt, Rsqrt: rsqrt, Abs: abs, Neg: neg,
		Pow: pow, Erf: erf,
	},
	vector:    [kindCount]func(v, o []float32){Load: load, Add: addNEON, Sub: subNEON, Mul: mulNEON, Div: divNEON, Minimum: minimum, Maximum: maximum},
	vectorRev: [kindCount]func(v, o []float32){Load: load, Add: addNEON, Sub: subRevNEON, Mul: mulNEON, Div: divRevNEON, Minimum: minimum, Maximum: maximum},
	scalar:    [kindCount]func([]float32, float32){Load: fill, Add: addScalarNEON, Sub: subScalarNEON, Mul: mulScalarNEON, Div: divScalarNEON, Minimum: minimumScalar, Maximum: maximumScalar},
	scalarRev: [kindCount]func([]float32, float32){Load: fill, Add: addScalarNEON, Sub: subRevScalarNEON, Mul: mulScalarNEON, Div: divRevScalarNEON, Minimum: minimumScalar, Maximum: maximumScalar},
	clip:      clip, powEven: pow, powOdd: pow,
}
