//go:build arm64 && !purego

package gemv

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasNEON {
		sets.Add(cpu.NEON, &kernels{set: cpu.NEON, dots: [cols]dotFunc{dot1NEON, dot2NEON, dot3NEON, dot4NEON}})
	}
}
