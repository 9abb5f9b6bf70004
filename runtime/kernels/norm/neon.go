//go:build arm64 && !purego

package norm

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasNEON {
		sets.Add(cpu.NEON, &kernels{set: cpu.NEON, layer: layerNormNEON, rms: rmsNormNEON})
	}
}
