//go:build amd64 && !purego

package gemv

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX512 {
		sets.Add(cpu.AVX512, &kernels{set: cpu.AVX512, pairs: []pairFunc{
			dot1AVX512, dot2AVX512, dot3AVX512, dot4AVX512, dot5AVX512, dot6AVX512, dot7AVX512, dot8AVX512}})
	}
}
