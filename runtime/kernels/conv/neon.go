//go:build arm64 && !purego

package conv

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasNEON {
		transformSets.Add(cpu.NEON, &transforms{set: cpu.NEON, in: inputNEON, out: outputNEON, pool: poolNEON})
		dwSets.Add(cpu.NEON, &dwKernel{set: cpu.NEON, cells: dwCellsNEON, direct: directCellsNEON})
	}
}
