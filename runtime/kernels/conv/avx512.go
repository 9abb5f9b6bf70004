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
// Depthwise convolution has its own kernel, 16 channels a vector: AVX2's
// generator at AVX-512's width. BenchmarkMobileNetV2 (the depthwise layers
// of MobileNetV2, bias and relu in the store; AMD EPYC Zen 5, family 26
// model 2, one thread, load 5-8 on 2 CPUs; 5 runs of 300 iterations, each
// layer AVX-512 then AVX2 in the same process; medians, µs):
//
//	layer            AVX2    AVX-512
//	112×112×96 s2    134.5   124.0
//	56×56×144        163.1   115.4
//	28×28×192        57.9    37.0
//	14×14×384        25.5    18.1
//	7×7×960          21.0    23.0
//	all five         402     318
//
// At 7×7 most pixels are edge pixels, a call each of one pixel, where the
// wider vector halves the passes but not the latency of each one's chain.
func init() {
	if cpu.HasAVX512 {
		dwSets.Add(cpu.AVX512, &dwKernel{set: cpu.AVX512, cells: dwCellsAVX512, direct: directCellsAVX512,
			cellsSilu: dwCellsSiluAVX512, directSilu: directCellsSiluAVX512})
		transformSets.Add(cpu.AVX512, &transforms{set: cpu.AVX512, in: inputAVX512, out: outputAVX512, pool: poolAVX512})
	}
}
