//go:build amd64 && !purego

package gemv

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The avx512 set runs its own kernels: as fast as AVX2's where W streams
// from memory, faster where it sits in L2, where the 8 columns a pass and
// half the instructions tell. BenchmarkCrossover at m = 1 (Intel Xeon,
// family 6 model 207, Emerald Rapids, one thread; the thread's CPU time,
// medians of 9 alternating runs, load 12-14 on 2 cores), AVX-512 against
// AVX2: k = 186624, n = 10 (7.4 MB) 333 µs against 341; k = 1024,
// n = 1000 (4 MB) 176 against 177; k = 4096, n = 64 (1 MB) 10.4 against
// 13.5; k = 2304, n = 10 0.96 against 1.21. Not measured on AMD Zen 5,
// where AVX2's kernels streamed W at 45-59 GB/s (k = 186624).
func init() {
	if cpu.HasAVX512 {
		sets.Add(cpu.AVX512, &kernels{set: cpu.AVX512, pairs: []pairFunc{
			dot1AVX512, dot2AVX512, dot3AVX512, dot4AVX512, dot5AVX512, dot6AVX512, dot7AVX512, dot8AVX512}})
	}
}
