//go:build amd64 && !purego

package recurrent

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX2 {
		prefetches.Add(cpu.AVX2, prefetcher{set: cpu.AVX2, fn: prefetchAVX2})
	}
}
