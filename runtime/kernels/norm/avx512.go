//go:build amd64 && !purego

package norm

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The avx512 set runs these rather than AVX2's: measured faster on every
// shape (BenchmarkRun, AMD EPYC Zen 5, family 26 model 2, one thread, GB/s
// of input, 4-8 runs, AVX-512 against AVX2): layer 128×1024 22-28 against
// 15-18, 128×256 18-20 against 12-15; RMS 128×1024 38-44 against 19-33,
// 128×256 29-51 against 17-23.
func init() {
	if cpu.HasAVX512 {
		sets.Add(cpu.AVX512, &kernels{set: cpu.AVX512, layer: layerNormAVX512, rms: rmsNormAVX512})
	}
}
