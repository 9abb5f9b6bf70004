package backward

import (
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
)

// Conv is a convolution's geometry: input N×H×W×C, kernel KH×KW×(C/Groups)×CO
// (HWIO), output N×OH×OW×CO.
type Conv struct {
	N, H, W, C, KH, KW, CO, OH, OW int
	Stride, Dilation               [2]int
	Pads                           [4]int // top, bottom, left, right
	Groups                         int
}

// ConvGrad computes a convolution's gradients as matrix products on the
// packed GEMM, as the forward convolution does. With M = N·OH·OW output
// pixels, K = KH·KW·cpg taps per group and col the im2col matrix [M, K] of
// a group's input (row m: the cells output pixel m reads, zero in the
// padding), per group g:
//
//	dk_g [K, opg] = colᵀ · dy_g          (GradFilter)
//	dcol [M, K]   = dy_g · k_gᵀ, then col2im adds each row back into the
//	                cells it was gathered from              (GradInput)
//
// M is taken in chunks of Chunk rows, so col never holds more than
// Chunk·K floats: the full matrix would be the input times KH·KW.
type ConvGrad struct {
	Conv
	cpg, opg, k, chunk, m int
	kn                    *gemm.Kernel
	// The products of a full chunk and of the last, shorter one.
	filter, filterLast, input, inputLast *gemm.MatMul
	// Offsets of the parts of the scratch.
	packed, col, tmp, gemmScratch int
}

// chunkFloats bounds a chunk of col: 64 Ki floats, 256 KiB, about L2.
const chunkFloats = 1 << 16

// NewConvGrad compiles the gradients of c for the kernels of set.
func NewConvGrad(set cpu.Set, c Conv) *ConvGrad {
	g := &ConvGrad{Conv: c, cpg: c.C / c.Groups, opg: c.CO / c.Groups}
	g.k = c.KH * c.KW * g.cpg
	g.m = c.N * c.OH * c.OW
	g.chunk = min(max(chunkFloats/g.k, 16), g.m)
	g.kn = gemm.For(set)
	last := g.m - (g.m-1)/g.chunk*g.chunk
	g.filter = gemm.NewMatMul(g.kn, g.k, g.opg, g.chunk, g.k, true)
	g.filterLast = gemm.NewMatMul(g.kn, g.k, g.opg, last, g.k, true)
	g.input = gemm.NewMatMul(g.kn, g.chunk, g.k, g.opg, c.CO, false)
	g.inputLast = gemm.NewMatMul(g.kn, last, g.k, g.opg, c.CO, false)
	packed := max(g.kn.PackedSize(g.chunk, g.opg), g.kn.PackedSize(g.opg, g.k))
	g.col = packed
	g.tmp = g.col + g.chunk*g.k
	g.gemmScratch = g.tmp + g.k*g.opg
	return g
}

// ScratchSize is the scratch GradInput and GradFilter take.
func (g *ConvGrad) ScratchSize() int {
	return g.gemmScratch + max(g.filter.ScratchSize(), g.filterLast.ScratchSize(), g.input.ScratchSize(), g.inputLast.ScratchSize())
}

// pixel is output pixel m's image and position.
func (g *ConvGrad) pixel(m int) (b, oy, ox int) {
	return m / (g.OH * g.OW), m / g.OW % g.OH, m % g.OW
}

// eachCell calls f with the K-offset of every tap of output pixel m that
// lands inside the image and the offset of the cell's channel 0 of group gr.
func (g *ConvGrad) eachCell(m, gr int, f func(kOff, xOff int)) {
	b, oy, ox := g.pixel(m)
	for ky := range g.KH {
		iy := oy*g.Stride[0] - g.Pads[0] + ky*g.Dilation[0]
		if iy < 0 || iy >= g.H {
			continue
		}
		for kx := range g.KW {
			ix := ox*g.Stride[1] - g.Pads[2] + kx*g.Dilation[1]
			if ix < 0 || ix >= g.W {
				continue
			}
			f((ky*g.KW+kx)*g.cpg, ((b*g.H+iy)*g.W+ix)*g.C+gr*g.cpg)
		}
	}
}

// GradFilter writes dk = the kernel's gradient from the input x and dy.
func (g *ConvGrad) GradFilter(x, dy, dk, scratch []float32) {
	clear(dk)
	pb, col, tmp, gs := scratch[:g.col], scratch[g.col:g.tmp], scratch[g.tmp:g.gemmScratch], scratch[g.gemmScratch:]
	for gr := range g.Groups {
		for m0 := 0; m0 < g.m; m0 += g.chunk {
			mc, mm := g.chunk, g.filter
			if m0+mc > g.m {
				mc, mm = g.m-m0, g.filterLast
			}
			c := col[:mc*g.k]
			clear(c)
			for r := range mc {
				row := c[r*g.k : (r+1)*g.k]
				g.eachCell(m0+r, gr, func(kOff, xOff int) { copy(row[kOff:kOff+g.cpg], x[xOff:]) })
			}
			g.kn.PackB(pb, dy[m0*g.CO+gr*g.opg:], mc, g.opg, g.CO, false)
			mm.Run(c, pb, tmp, g.opg, gs, gemm.Epilogue{})
			for p := range g.k {
				row := dk[p*g.CO+gr*g.opg : p*g.CO+(gr+1)*g.opg]
				for o, v := range tmp[p*g.opg : (p+1)*g.opg] {
					row[o] += v
				}
			}
		}
	}
}

// GradInput writes dx = the input's gradient from dy and the kernel k.
func (g *ConvGrad) GradInput(dy, k, dx, scratch []float32) {
	clear(dx)
	pb, col, gs := scratch[:g.col], scratch[g.col:g.tmp], scratch[g.gemmScratch:]
	for gr := range g.Groups {
		// op(B) = k_gᵀ [opg, K]: k holds k_g as K rows of CO, at column gr·opg.
		g.kn.PackB(pb, k[gr*g.opg:], g.opg, g.k, g.CO, true)
		for m0 := 0; m0 < g.m; m0 += g.chunk {
			mc, mm := g.chunk, g.input
			if m0+mc > g.m {
				mc, mm = g.m-m0, g.inputLast
			}
			c := col[:mc*g.k]
			mm.Run(dy[m0*g.CO+gr*g.opg:], pb, c, g.k, gs, gemm.Epilogue{})
			for r := range mc {
				row := c[r*g.k : (r+1)*g.k]
				g.eachCell(m0+r, gr, func(kOff, xOff int) {
					d := dx[xOff : xOff+g.cpg]
					for i, v := range row[kOff : kOff+g.cpg] {
						d[i] += v
					}
				})
			}
		}
	}
}
