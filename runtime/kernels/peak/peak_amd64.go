//go:build !purego

package peak

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// fmaAVX2 is fmaGeneric in 12 YMM accumulators (VFMADD231PS), loaded from acc
// before the loop and stored back after it:
//
//	for range n {
//		for i := range acc {
//			acc[i] = a*b + acc[i] // fused: rounded once
//		}
//	}
//
//go:noescape
func fmaAVX2(acc *[Accs]float32, a, b float32, n int)

// fmaAVX512 is fmaGeneric in 24 ZMM accumulators (VFMADD231PS), loaded from
// acc before the loop and stored back after it:
//
//	for range n {
//		for i := range acc {
//			acc[i] = a*b + acc[i] // fused: rounded once
//		}
//	}
//
//go:noescape
func fmaAVX512(acc *[AccsAVX512]float32, a, b float32, n int)

var asm = []version{
	{cpu.AVX512, AccsAVX512, func(acc []float32, a, b float32, n int) { fmaAVX512((*[AccsAVX512]float32)(acc), a, b, n) }},
	{cpu.AVX2, Accs, func(acc []float32, a, b float32, n int) { fmaAVX2((*[Accs]float32)(acc), a, b, n) }},
}
