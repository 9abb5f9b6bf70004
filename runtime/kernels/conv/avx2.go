//go:build amd64 && !purego

package conv

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX2 {
		transformSets.Add(cpu.AVX2, &transforms{set: cpu.AVX2, in: inputAVX2, out: outputAVX2, pool: poolAVX2})
		dwSets.Add(cpu.AVX2, &dwKernel{set: cpu.AVX2, cells: dwCellsAVX2, direct: directCellsAVX2, cellsSilu: dwCellsSiluAVX2, directSilu: directCellsSiluAVX2})
	}
}
