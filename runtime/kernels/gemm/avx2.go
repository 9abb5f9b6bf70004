//go:build amd64 && !purego

package gemm

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX2 {
		kernels.Add(cpu.AVX2, asmKernel(cpu.AVX2, []tileFunc{tile1x16, tile2x16, tile3x16, tile4x16, tile5x16, tile6x16}, panel6x16))
		narrow = append(narrow, layoutKernel(cpu.AVX2, narrowLayouts[cpu.AVX2], []tileFunc{tile1x24, tile2x24, tile3x24, tile4x24}, nil))
	}
}
