//go:build arm64 && !purego

package pool

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasNEON {
		sets.Add(cpu.NEON, &kernels{set: cpu.NEON, maxCells: maxCellsNEON, avgCells: avgCellsNEON, addRows: addRowsNEON, maxGrad: maxGrad2x2NEON})
	}
}
