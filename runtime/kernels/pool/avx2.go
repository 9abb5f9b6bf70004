//go:build amd64 && !purego

package pool

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX2 {
		sets.Add(cpu.AVX2, &kernels{set: cpu.AVX2, maxCells: maxCellsAVX2, avgCells: avgCellsAVX2, addRows: addRowsAVX2, maxGrad: maxGrad2x2AVX2})
	}
}
