//go:build amd64 && !purego

package conv

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The avx512 set runs these rather than AVX2's: the whole Winograd
// convolution (BenchmarkAlgorithms, AMD EPYC Zen 5, family 26 model 2, one
// thread, the avx512 GEMM either way, best of 7 runs twice, then median) is
// faster with them: 3x3_64 0.67 ms (0.68-0.76) against 0.68 (0.75),
// cnn224_2 1.45-1.52 (1.66-1.72) against 1.63 (1.75), cnn32_2 0.77-0.79
// (0.88-0.96) against 0.81 (1.00). Bit for bit the same results.
//
// Depthwise convolution runs AVX2's kernel: it came after the avx512 set and
// has no AVX-512 version yet (its 8-channel vectors and masked tails are
// correct at any width; a 16-channel one is issue 15's to measure).
func init() {
	dwSets.Uses(cpu.AVX512, cpu.AVX2)
	if cpu.HasAVX512 {
		transformSets.Add(cpu.AVX512, &transforms{set: cpu.AVX512, in: inputAVX512, out: outputAVX512, pool: poolAVX512})
	}
}
