//go:build !purego

package peak

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// fmaNEON is fmaGeneric in 24 Q-register accumulators (FMLA .4S), loaded from
// acc before the loop and stored back after it:
//
//	for range n {
//		for i := range acc {
//			acc[i] = a*b + acc[i] // fused: rounded once
//		}
//	}
//
//go:noescape
func fmaNEON(acc *[Accs]float32, a, b float32, n int)

var asm = []version{{cpu.NEON, Accs, func(acc []float32, a, b float32, n int) { fmaNEON((*[Accs]float32)(acc), a, b, n) }}}
