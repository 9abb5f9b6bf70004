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
	},
	vector:    [kindCount]func(v, o []float32){Load: load, Add: addAVX2, Sub: subAVX2, Mul: mulAVX2, Div: divAVX2},
	vectorRev: [kindCount]func(v, o []float32){Load: load, Add: addAVX2, Sub: subRevAVX2, Mul: mulAVX2, Div: divRevAVX2},
	scalar:    [kindCount]func([]float32, float32){Load: fill, Add: addScalarAVX2, Sub: subScalarAVX2, Mul: mulScalarAVX2, Div: divScalarAVX2},
	scalarRev: [kindCount]func([]float32, float32){Load: fill, Add: addScalarAVX2, Sub: subRevScalarAVX2, Mul: mulScalarAVX2, Div: divRevScalarAVX2},
}
