//go:build amd64 && !purego

package pool

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The avx512 set runs these rather than AVX2's: measured faster or equal
// (BenchmarkMaxRows and BenchmarkGlobalAvg, AMD EPYC Zen 5, family 26 model
// 2, one thread, 10 runs on a shared machine, median and best µs, AVX-512
// against AVX2): max 2×2/2 over 112×112×64 56 (51) against 100 (76), over
// 224×224×32 131 (114) against 143 (126), 3×3/1 over 56×56×3 60 (43)
// against 81 (67); global average over 3136×64 5.8 (4.7) against 8.9 (7.9),
// over 49×512 2.6 (2.6) against 2.9 (1.9).
func init() {
	if cpu.HasAVX512 {
		sets.Add(cpu.AVX512, &kernels{set: cpu.AVX512, maxCells: maxCellsAVX512, avgCells: avgCellsAVX512, addRows: addRowsAVX512, maxGrad: maxGrad2x2AVX512})
	}
}
