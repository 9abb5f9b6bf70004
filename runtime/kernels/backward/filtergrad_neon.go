//go:build arm64 && !purego

package backward

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasNEON {
		filterSets.Add(cpu.NEON, &filterKernel{set: cpu.NEON, lanes: 4, whole: true, taps: [][]tapsFunc{
			{filterTaps1x1NEON, filterTaps2x1NEON, filterTaps3x1NEON, filterTaps4x1NEON, filterTaps5x1NEON, filterTaps6x1NEON, filterTaps7x1NEON, filterTaps8x1NEON},
			{filterTaps1x2NEON, filterTaps2x2NEON, filterTaps3x2NEON, filterTaps4x2NEON, filterTaps5x2NEON, filterTaps6x2NEON, filterTaps7x2NEON, filterTaps8x2NEON},
		}})
	}
}
