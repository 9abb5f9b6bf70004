//go:build amd64 && !purego

package update

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The avx512 set runs its own kernels: never slower than AVX2's beyond the
// noise, and SGD, which has no square root or division, faster where the
// operands are in cache. BenchmarkSets (Intel Xeon, family 6 model 207,
// Emerald Rapids, one thread; the thread's CPU time, medians of 7
// alternating runs, load 11-13 on 2 cores), AVX-512 against AVX2, µs:
// n = 4096 (L1) Adam 2.26 against 2.44, SGD 0.66 against 1.12, RMSprop with
// momentum 2.35 against 2.30; n = 65536 (L2) 36.1 against 36.5, 14.2
// against 16.5, 36.2 against 36.4. From memory (n = 1<<22, one process a
// set, the order swapped each round, 10 rounds, load 9-11) they tie: Adam
// 6241 against 6198, RMSprop 6044 against 6090. Adam's and RMSprop's
// square roots and divisions take as long per float in either width on
// this core.
func init() {
	if cpu.HasAVX512 {
		sets.Add(cpu.AVX512, &Kernels{set: cpu.AVX512, adam: adamAVX512, sgd: sgdAVX512, rms: rmsAVX512, rmsMomentum: rmsMomentumAVX512})
	}
}
