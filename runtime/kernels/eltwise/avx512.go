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
//
// The functions added after the set (elu, selu, silu, the hard ones, mish,
// softplus, softsign, exp, log, sqrt, rsqrt, abs, neg, pow, erf, clip,
// minimum and maximum) have no AVX-512 kernels yet and run AVX2's, which
// every CPU with AVX-512 runs: borrow fills them in, kind by kind.
func init() {
	if cpu.HasAVX512 {
		avx512.borrow(&avx2)
		sets.Add(cpu.AVX512, &avx512)
	}
}

// borrow fills in every kernel k lacks from from's.
func (k *kernels) borrow(from *kernels) {
	fill := func(dst, src *[kindCount]func([]float32, float32)) {
		for i := range dst {
			if dst[i] == nil {
				dst[i] = src[i]
			}
		}
	}
	fillVec := func(dst, src *[kindCount]func(v, o []float32)) {
		for i := range dst {
			if dst[i] == nil {
				dst[i] = src[i]
			}
		}
	}
	fill(&k.unary, &from.unary)
	fill(&k.scalar, &from.scalar)
	fill(&k.scalarRev, &from.scalarRev)
	fillVec(&k.vector, &from.vector)
	fillVec(&k.vectorRev, &from.vectorRev)
	if k.clip == nil {
		k.clip = from.clip
	}
	if k.powEven == nil {
		k.powEven, k.powOdd = from.powEven, from.powOdd
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
