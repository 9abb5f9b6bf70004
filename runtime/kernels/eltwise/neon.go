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
	},
	vector:    [kindCount]func(v, o []float32){Load: load, Add: addNEON, Sub: subNEON, Mul: mulNEON, Div: divNEON},
	vectorRev: [kindCount]func(v, o []float32){Load: load, Add: addNEON, Sub: subRevNEON, Mul: mulNEON, Div: divRevNEON},
	scalar:    [kindCount]func([]float32, float32){Load: fill, Add: addScalarNEON, Sub: subScalarNEON, Mul: mulScalarNEON, Div: divScalarNEON},
	scalarRev: [kindCount]func([]float32, float32){Load: fill, Add: addScalarNEON, Sub: subRevScalarNEON, Mul: mulScalarNEON, Div: divRevScalarNEON},
}
