//go:build amd64 && !purego

package gemm

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX512 {
		kernels.Add(cpu.AVX512, maskedKernel(cpu.AVX512, []maskTileFunc{
			maskTile1x32, maskTile2x32, maskTile3x32, maskTile4x32, maskTile5x32, maskTile6x32,
			maskTile7x32, maskTile8x32, maskTile9x32, maskTile10x32, maskTile11x32, maskTile12x32}, panel12x32,
			[]pairTileFunc{pairTile1x64, pairTile2x64, pairTile3x64, pairTile4x64}))
	}
}
