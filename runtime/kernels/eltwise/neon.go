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
		Elu: eluNEON, Selu: seluNEON, Silu: siluNEON, HardSigmoid: hardSigmoidNEON, HardSwish: hardSwishNEON, Mish: mishNEON,
		Softplus: softplusNEON, Softsign: softsignNEON, Exp: expNEON, Log: logNEON, Sqrt: sqrtNEON, Rsqrt: rsqrtNEON, Abs: absNEON, Neg: negNEON,
		Pow: powOf(nil, logNEON, expNEON, mulScalarNEON), Erf: erfNEON,
	},
	vector:    [kindCount]func(v, o []float32){Load: load, Add: addNEON, Sub: subNEON, Mul: mulNEON, Div: divNEON, Minimum: minimumNEON, Maximum: maximumNEON},
	vectorRev: [kindCount]func(v, o []float32){Load: load, Add: addNEON, Sub: subRevNEON, Mul: mulNEON, Div: divRevNEON, Minimum: minimumNEON, Maximum: maximumNEON},
	scalar:    [kindCount]func([]float32, float32){Load: fill, Add: addScalarNEON, Sub: subScalarNEON, Mul: mulScalarNEON, Div: divScalarNEON, Minimum: minimumScalarNEON, Maximum: maximumScalarNEON},
	scalarRev: [kindCount]func([]float32, float32){Load: fill, Add: addScalarNEON, Sub: subRevScalarNEON, Mul: mulScalarNEON, Div: divRevScalarNEON, Minimum: minimumScalarNEON, Maximum: maximumScalarNEON},
	rows:      [kindCount]func(v, o []float32){Add: addRowsNEON, Mul: mulRowsNEON},
	clip:      clipNEON,
	reluGrad:  reluGradNEON,
	powEven:   powEvenNEON,
	powOdd:    powOddNEON,
}

var powEvenNEON = powOf(absNEON, logNEON, expNEON, mulScalarNEON)

// powOddNEON is |x|^alpha with x's sign, for odd integer exponents.
func powOddNEON(v []float32, alpha float32) {
	var keep [powBlock]float32
	for len(v) > 0 {
		b := v[:min(len(v), powBlock)]
		copy(keep[:], b)
		powEvenNEON(b, alpha)
		orSignNEON(b, keep[:len(b)])
		v = v[len(b):]
	}
}
