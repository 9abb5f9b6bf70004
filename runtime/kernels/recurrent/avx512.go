//go:build amd64 && !purego

package recurrent

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The avx512 set prefetches as AVX2's does: PREFETCHT0 fetches a cache line
// whatever the vector width. Its loop runs the avx512 GEMM and eltwise
// kernels (New takes them from the set), 1.9x the avx2 set's speed on the
// stdlib LSTM (BenchmarkLSTM, AMD EPYC Zen 5: 1.80-2.22 ms against
// 3.47-4.34).
func init() { prefetches.Uses(cpu.AVX512, cpu.AVX2) }
