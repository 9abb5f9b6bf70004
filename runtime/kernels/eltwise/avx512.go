//go:build amd64 && !purego

package eltwise

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The avx512 set runs these rather than AVX2's: measured faster on every
// kernel (BenchmarkUnary and BenchmarkBinary, AMD EPYC Zen 5, family 26 model
// 2, one thread, a 4 KB chunk in L1, 3 runs each, Gelem/s AVX-512 against
// AVX2): sigmoid 3.7-4.3 against 2.0, tanh 3.0 against 1.6, gelu 1.3-1.4
// against 0.84-0.90, gelu_tanh 1.5-1.6 against 1.1, relu 37 against 25,
// leaky_relu 22 against 19, add and mul 31 against 18, div 19-20 against 10,
// the scalar forms 36 against 24-29 (div 20 against 10).
func init() {
	if cpu.HasAVX512 {
		sets.Add(cpu.AVX512, &avx512)
	}
}

var avx512 = kernels{
	set: cpu.AVX512,
	unary: [kindCount]func([]float32, float32){
		Relu: reluAVX512, LeakyRelu: leakyReluAVX512, Sigmoid: sigmoidAVX512, Tanh: tanhAVX512, Gelu: geluAVX512, GeluTanh: geluTanhAVX512,
	},
	vector:    [kindCount]func(v, o []float32){Load: load, Add: addAVX512, Sub: subAVX512, Mul: mulAVX512, Div: divAVX512},
	vectorRev: [kindCount]func(v, o []float32){Load: load, Add: addAVX512, Sub: subRevAVX512, Mul: mulAVX512, Div: divRevAVX512},
	scalar:    [kindCount]func([]float32, float32){Load: fill, Add: addScalarAVX512, Sub: subScalarAVX512, Mul: mulScalarAVX512, Div: divScalarAVX512},
	scalarRev: [kindCount]func([]float32, float32){Load: fill, Add: addScalarAVX512, Sub: subRevScalarAVX512, Mul: mulScalarAVX512, Div: divRevScalarAVX512},
}
