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
// packed GEMM, as the forward convolution does. With K = KH·KW·cpg taps per
// group and col the im2col matrix of a group's input (row m: the cells
// output pixel m reads, zero in the padding), per group g:
//
//	dk_g [K, opg] = colᵀ · dy_g          (GradFilter)
//	dcol [M, K]   = dy_g · k_gᵀ, then col2im adds each row back into the
//	                cells it was gathered from              (GradInput)
//
// The rows of col are taken in chunks, so it never holds more than about
// chunkFloats: the whole matrix would be the input times KH·KW.
//
// The work is cut into units that write disjoint parts of the result, each
// computed the same way whatever goroutine runs it, so the result does not
// depend on the thread count: for GradInput an image of a group (col2im
// writes only that image's cells of the group's channels), for GradFilter a
// block of a group's output channels (each unit sums over every pixel, in
// the same chunks, and gathers its own col).
type ConvGrad struct {
	Conv
	cpg, opg, k, m, pixels int
	kn                     *gemm.Kernel
	// GradFilter: chunks of all M rows; column blocks of width cols.
	chunk, cols int
	filter      [2][2]*gemm.MatMul // [last chunk][last column block]
	// GradInput: chunks of an image's rows.
	imageChunk int
	input      [2]*gemm.MatMul // [last chunk]
	// Offsets of the parts of a unit's scratch.
	col, tmp, gemmScratch, scratch int
}

// chunkFloats bounds a chunk of col: 64 Ki floats, 256 KiB, about L2.
const chunkFloats = 1 << 16

// filterCols is the width of GradFilter's column blocks: wide enough for
// the GEMM's panels, narrow enough to give threads several units.
const filterCols = 32

// NewConvGrad compiles the gradients of c for the kernels of set.
func NewConvGrad(set cpu.Set, c Conv) *ConvGrad {
	g := &ConvGrad{Conv: c, cpg: c.C / c.Groups, opg: c.CO / c.Groups}
	g.k = c.KH * c.KW * g.cpg
	g.pixels = c.OH * c.OW
	g.m = c.N * g.pixels
	g.kn = gemm.For(set)
	rows := max(chunkFloats/g.k, 16)
	g.chunk, g.imageChunk = min(rows, g.m), min(rows, g.pixels)
	g.cols = min(filterCols, g.opg)
	lastChunk, lastCols := g.m-(g.m-1)/g.chunk*g.chunk, g.opg-(g.opg-1)/g.cols*g.cols
	var gemmScratch int
	for i, mc := range [2]int{g.chunk, lastChunk} {
		for j, w := range [2]int{g.cols, lastCols} {
			g.filter[i][j] = gemm.NewMatMul(g.kn, g.k, w, mc, g.k, true)
			gemmScratch = max(gemmScratch, g.filter[i][j].ScratchSize())
		}
	}
	for i, mc := range [2]int{g.imageChunk, g.pixels - (g.pixels-1)/g.imageChunk*g.imageChunk} {
		g.input[i] = gemm.NewMatMul(g.kn, mc, g.k, g.opg, c.CO, false)
		gemmScratch = max(gemmScratch, g.input[i].ScratchSize())
	}
	g.col = max(g.kn.PackedSize(g.chunk, g.cols), g.kn.PackedSize(g.opg, g.k))
	g.tmp = g.col + max(g.chunk, g.imageChunk)*g.k
	g.gemmScratch = g.tmp + g.k*g.cols
	g.scratch = g.gemmScratch + gemmScratch
	return g
}

// ScratchSize is the scratch a unit takes.
func (g *ConvGrad) ScratchSize() int { return g.scratch }

// FilterUnits and InputUnits count the units of GradFilter and GradInput.
func (g *ConvGrad) FilterUnits() int { return g.Groups * ((g.opg + g.cols - 1) / g.cols) }
func (g *ConvGrad) InputUnits() int  { return g.N * g.Groups }

// eachCell calls f with the K-offset of every tap of output pixel m that
// lands inside the image and the offset of the cell's channel 0 of group gr.
func (g *ConvGrad) eachCell(m, gr int, f func(kOff, xOff int)) {
	b, oy, ox := m/g.pixels, m/g.OW%g.OH, m%g.OW
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

// GradFilter computes unit u of dk, the kernel's gradient from the input x
// and dy: the column block u of the output channels (blocks of a group in
// turn), summed over every output pixel.
func (g *ConvGrad) GradFilter(x, dy, dk, scratch []float32, u int) {
	blocks := (g.opg + g.cols - 1) / g.cols
	gr, o0 := u/blocks, u%blocks*g.cols
	w, last := g.cols, 0
	if o0+w > g.opg {
		w, last = g.opg-o0, 1
	}
	c0 := gr*g.opg + o0 // the block's first column of dk and dy
	for p := range g.k {
		clear(dk[p*g.CO+c0 : p*g.CO+c0+w])
	}
	pb, col, tmp, gs := scratch[:g.col], scratch[g.col:g.tmp], scratch[g.tmp:g.gemmScratch], scratch[g.gemmScratch:g.scratch]
	for m0 := 0; m0 < g.m; m0 += g.chunk {
		mc, mm := g.chunk, g.filter[0][last]
		if m0+mc > g.m {
			mc, mm = g.m-m0, g.filter[1][last]
		}
		c := col[:mc*g.k]
		clear(c)
		for r := range mc {
			row := c[r*g.k : (r+1)*g.k]
			g.eachCell(m0+r, gr, func(kOff, xOff int) { copy(row[kOff:kOff+g.cpg], x[xOff:]) })
		}
		g.kn.PackB(pb, dy[m0*g.CO+c0:], mc, w, g.CO, false)
		mm.Run(c, pb, tmp, w, gs, gemm.Epilogue{})
		for p := range g.k {
			row := dk[p*g.CO+c0 : p*g.CO+c0+w]
			for o, v := range tmp[p*w : (p+1)*w] {
				row[o] += v
			}
		}
	}
}

// GradInput computes unit u of dx, the input's gradient from dy and the
// kernel k: image u/Groups's cells of group u%Groups's channels.
func (g *ConvGrad) GradInput(dy, k, dx, scratch []float32, u int) {
	b, gr := u/g.Groups, u%g.Groups
	for pix := range g.H * g.W {
		off := (b*g.H*g.W+pix)*g.C + gr*g.cpg
		clear(dx[off : off+g.cpg])
	}
	pb, col, gs := scratch[:g.col], scratch[g.col:g.tmp], scratch[g.gemmScratch:g.scratch]
	// op(B) = k_gᵀ [opg, K]: k holds k_g as K rows of CO, at column gr·opg.
	g.kn.PackB(pb, k[gr*g.opg:], g.opg, g.k, g.CO, true)
	for p0 := 0; p0 < g.pixels; p0 += g.imageChunk {
		mc, mm := g.imageChunk, g.input[0]
		if p0+mc > g.pixels {
			mc, mm = g.pixels-p0, g.input[1]
		}
		m0 := b*g.pixels + p0
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
