//go:build amd64 && !purego

package eltwise

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX2 {
		sets.Add(cpu.AVX2, &avx2)
	}
}

var avx2 = kernels{
	set: cpu.AVX2,
	unary: [kindCount]func([]float32, float32){
		Relu: reluAVX2, LeakyRelu: leakyReluAVX2, Sigmoid: sigmoidAVX2, Tanh: tanhAVX2, Gelu: geluAVX2, GeluTanh: geluTanhAVX2,
		Elu: elu, Selu: selu, Silu: silu, HardSigmoid: hardSigmoid, HardSwish: hardSwish, Mish: mish,
		Softplus: softplus, Softsign: softsign, Exp: exp, Log: log, Sqrt: sqrt, Rsqrt: rsqrt, Abs: abs, Neg: neg,
		Pow: pow, Erf: erf,
	},
	vector:    [kindCount]func(v, o []float32){Load: load, Add: addAVX2, Sub: subAVX2, Mul: mulAVX2, Div: divAVX2, Minimum: minimum, Maximum: maximum},
	vectorRev: [kindCount]func(v, o []float32){Load: load, Add: addAVX2, Sub: subRevAVX2, Mul: mulAVX2, Div: divRevAVX2, Minimum: minimum, Maximum: maximum},
	scalar:    [kindCount]func([]float32, float32){Load: fill, Add: addScalarAVX2, Sub: subScalarAVX2, Mul: mulScalarAVX2, Div: divScalarAVX2, Minimum: minimumScalar, Maximum: maximumScalar},
	scalarRev: [kindCount]func([]float32, float32){Load: fill, Add: addScalarAVX2, Sub: subRevScalarAVX2, Mul: mulScalarAVX2, Div: divRevScalarAVX2, Minimum: minimumScalar, Maximum: maximumScalar},
	clip:      clip, powEven: pow, powOdd: pow,
}
