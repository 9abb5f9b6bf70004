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
		Elu: eluAVX2, Selu: seluAVX2, Silu: siluAVX2, HardSigmoid: hardSigmoidAVX2, HardSwish: hardSwishAVX2, Mish: mishAVX2,
		Softplus: softplusAVX2, Softsign: softsignAVX2, Exp: expAVX2, Log: logAVX2, Sqrt: sqrtAVX2, Rsqrt: rsqrtAVX2, Abs: absAVX2, Neg: negAVX2,
		Pow: powOf(nil, logAVX2, expAVX2, mulScalarAVX2), Erf: erfAVX2,
	},
	vector:    [kindCount]func(v, o []float32){Load: load, Add: addAVX2, Sub: subAVX2, Mul: mulAVX2, Div: divAVX2, Minimum: minimumAVX2, Maximum: maximumAVX2},
	vectorRev: [kindCount]func(v, o []float32){Load: load, Add: addAVX2, Sub: subRevAVX2, Mul: mulAVX2, Div: divRevAVX2, Minimum: minimumAVX2, Maximum: maximumAVX2},
	scalar:    [kindCount]func([]float32, float32){Load: fill, Add: addScalarAVX2, Sub: subScalarAVX2, Mul: mulScalarAVX2, Div: divScalarAVX2, Minimum: minimumScalarAVX2, Maximum: maximumScalarAVX2},
	scalarRev: [kindCount]func([]float32, float32){Load: fill, Add: addScalarAVX2, Sub: subRevScalarAVX2, Mul: mulScalarAVX2, Div: divRevScalarAVX2, Minimum: minimumScalarAVX2, Maximum: maximumScalarAVX2},
	rows:      [kindCount]func(v, o []float32){Add: addRowsAVX2, Mul: mulRowsAVX2},
	clip:      clipAVX2,
	reluGrad:  reluGradAVX2,
	powEven:   powEvenAVX2,
	powOdd:    powOddAVX2,
}

var powEvenAVX2 = powOf(absAVX2, logAVX2, expAVX2, mulScalarAVX2)

// powOddAVX2 is |x|^alpha with x's sign, for odd integer exponents.
func powOddAVX2(v []float32, alpha float32) {
	var keep [powBlock]float32
	for len(v) > 0 {
		b := v[:min(len(v), powBlock)]
		copy(keep[:], b)
		powEvenAVX2(b, alpha)
		orSignAVX2(b, keep[:len(b)])
		v = v[len(b):]
	}
}
