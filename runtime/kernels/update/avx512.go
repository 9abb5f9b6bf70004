//go:build amd64 && !purego

package update

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX512 {
		sets.Add(cpu.AVX512, &Kernels{set: cpu.AVX512, adam: adamAVX512, sgd: sgdAVX512, rms: rmsAVX512, rmsMomentum: rmsMomentumAVX512})
	}
}
