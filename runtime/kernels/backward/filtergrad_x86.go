//go:build amd64 && !purego

package backward

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX2 {
		filterSets.Add(cpu.AVX2, &filterKernel{set: cpu.AVX2, lanes: 8, taps: [][]tapsFunc{
			{filterTaps1x1AVX2, filterTaps2x1AVX2, filterTaps3x1AVX2, filterTaps4x1AVX2, filterTaps5x1AVX2, filterTaps6x1AVX2, filterTaps7x1AVX2, filterTaps8x1AVX2},
			{filterTaps1x2AVX2, filterTaps2x2AVX2, filterTaps3x2AVX2, filterTaps4x2AVX2, filterTaps5x2AVX2, filterTaps6x2AVX2},
		}})
	}
	if cpu.HasAVX512 {
		filterSets.Add(cpu.AVX512, &filterKernel{set: cpu.AVX512, lanes: 16, taps: [][]tapsFunc{
			{filterTaps1x1AVX512, filterTaps2x1AVX512, filterTaps3x1AVX512, filterTaps4x1AVX512, filterTaps5x1AVX512, filterTaps6x1AVX512, filterTaps7x1AVX512, filterTaps8x1AVX512},
			{filterTaps1x2AVX512, filterTaps2x2AVX512, filterTaps3x2AVX512, filterTaps4x2AVX512, filterTaps5x2AVX512, filterTaps6x2AVX512, filterTaps7x2AVX512, filterTaps8x2AVX512},
			{filterTaps1x3AVX512, filterTaps2x3AVX512, filterTaps3x3AVX512, filterTaps4x3AVX512, filterTaps5x3AVX512, filterTaps6x3AVX512, filterTaps7x3AVX512, filterTaps8x3AVX512},
			{filterTaps1x4AVX512, filterTaps2x4AVX512, filterTaps3x4AVX512, filterTaps4x4AVX512, filterTaps5x4AVX512, filterTaps6x4AVX512},
		}})
	}
}
