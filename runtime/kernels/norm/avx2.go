//go:build amd64 && !purego

package norm

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX2 {
		sets.Add(cpu.AVX2, &kernels{set: cpu.AVX2, layer: layerNormAVX2, rms: rmsNormAVX2})
	}
}
