//go:build arm64 && !purego

package gemm

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasNEON {
		kernels.Add(cpu.NEON, asmKernel(cpu.NEON, []tileFunc{tile1x12, tile2x12, tile3x12, tile4x12, tile5x12, tile6x12}, nil))
	}
}
