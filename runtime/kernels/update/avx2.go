//go:build amd64 && !purego

package update

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX2 {
		sets.Add(cpu.AVX2, &Kernels{set: cpu.AVX2, adam: adamAVX2, sgd: sgdAVX2, rms: rmsAVX2, rmsMomentum: rmsMomentumAVX2})
	}
}
