//go:build amd64 && !purego

package recurrent

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The avx512 set prefetches as AVX2's does: PREFETCHT0 fetches a cache line
// whatever the vector width, so an AVX-512 prefetch would be the same code.
// Its loop runs the avx512 GEMM (the 12×32 tile, whose 8-row tiles are 16
// chains of FMAs, enough for two FMA units: no narrow tile of its own; a
// thread's group of 4 sequences runs its 4×64 pair tiles, 16 chains too) and
// eltwise kernels (New takes them from the set). BenchmarkLSTM, the stdlib
// LSTM, batch 8, H 256, avx512 against avx2: AMD EPYC Zen 5 1.80-2.22 ms
// against 3.47-4.34 (wall time); Intel Xeon, family 6 model 207 (Emerald
// Rapids), 3.37 ms against 5.63 (the thread's CPU time, medians of 5
// alternating runs, load 11-12 on 2 cores).
func init() { prefetches.Uses(cpu.AVX512, cpu.AVX2) }
