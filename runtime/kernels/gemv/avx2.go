//go:build amd64 && !purego

package gemv

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX2 {
		sets.Add(cpu.AVX2, &kernels{set: cpu.AVX2, dots: [cols]dotFunc{dot1AVX2, dot2AVX2, dot3AVX2, dot4AVX2}})
	}
}
