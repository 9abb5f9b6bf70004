//go:build arm64 && !purego

package update

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasNEON {
		sets.Add(cpu.NEON, &Kernels{set: cpu.NEON, adam: adamNEON, sgd: sgdNEON, rms: rmsNEON, rmsMomentum: rmsMomentumNEON})
	}
}
