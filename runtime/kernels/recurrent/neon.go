//go:build arm64 && !purego

package recurrent

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasNEON {
		prefetches.Add(cpu.NEON, prefetcher{set: cpu.NEON, fn: prefetchNEON})
	}
}
