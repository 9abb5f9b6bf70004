package backward

import (
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
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
//	dk_gᵀ [opg, K] = dy_gᵀ · col        (GradFilter)
//	dcol  [M, K]   = dy_g · k_gᵀ, then col2im adds each row back into the
//	                 cells it was gathered from              (GradInput)
//
// GradFilter runs over the output pixels in chunks of the GEMM's KC: per
// chunk it packs dy_gᵀ's rows as the GEMM's block of A (a transpose, of
// opg floats a pixel) and gathers col's rows straight into the packed
// panels of B (runs of channels, copied), and the product accumulates into
// the unit's block of dkᵀ, transposed into dk at the end. (Computed as
// colᵀ · dy_g, the transpose would be col's, K = 9·cpg floats a pixel for
// a 3×3 kernel, and col would be gathered into a matrix first.) Over 100
// training steps each of lenet (batch 64) and fashion_cnn (batch 32), one
// thread, Zen 5 shared with other jobs, that took GradFilter's CPU time
// from 1.40 s to 0.49 s (gatherB's strided copy for a single channel: 0.95
// s before it).
//
// GradInput takes the rows of col in chunks of an image's pixels, so that
// the matrix never holds more than about chunkFloats: the whole would be
// the input times KH·KW.
//
// The work is cut into units that write disjoint parts of the result, each
// computed the same way whatever goroutine runs it, so the result does not
// depend on the thread count: for GradInput a block of images of a group
// (col2im writes only those images' cells of the group's channels); for GradFilter a
// block of a group's dk, some of its output channels by some of its taps
// (each unit sums over every pixel in the same chunks).
type ConvGrad struct {
	Conv
	cpg, opg, k, m, pixels int
	kn                     *gemm.Kernel
	// GradFilter: units of fRows output channels by fCols taps, a grid
	// rowBlocks×colBlocks per group; chunks of fChunk pixels. segs are the
	// runs of channels of each column block (see filterSegs). With
	// tapRows (one input channel per group) the product is colᵀ·dy_g
	// instead, fRows = K taps by fCols output channels.
	tapRows                                    bool
	fRows, fCols, fChunk, rowBlocks, colBlocks int
	segs                                       [][]seg
	// GradInput: units of imageBlock images; chunks of an image's rows;
	// add is the set's vector add.
	imageBlock, imageChunk int
	add                    func(v, o []float32)
	input                  [2]*gemm.MatMul // [last chunk]
	// Offsets of the parts of a unit's scratch: GradInput's packed kernel,
	// col chunk and GEMM scratch; GradFilter's block of A, panels of B,
	// block of dkᵀ and edge tile.
	col, gemmScratch, inputScratch int
	fA, fB, fAcc, filterScratch    int
}

// seg is a run of a tap's channels within one panel of a GradFilter unit's
// B: the group's channels c0..c0+n-1 of tap (ky, kx) go to columns lane..
// of panel.
type seg struct{ ky, kx, c0, n, panel, lane int }

// chunkFloats bounds a chunk of GradInput's col: 64 Ki floats, 256 KiB,
// about L2.
const chunkFloats = 1 << 16

// filterUnits is how many units NewConvGrad aims to cut a group's filter
// gradient into: enough for two threads to share unevenly sized units.
const filterUnits = 4

// NewConvGrad compiles the gradients of c for the kernels of set.
func NewConvGrad(set cpu.Set, c Conv) *ConvGrad {
	g := &ConvGrad{Conv: c, cpg: c.C / c.Groups, opg: c.CO / c.Groups}
	g.k = c.KH * c.KW * g.cpg
	g.pixels = c.OH * c.OW
	g.m = c.N * g.pixels
	g.kn = gemm.For(set)
	mr, nr := g.kn.MR, g.kn.NR

	// GradFilter. With one channel a group, col's transpose is a copy of
	// runs of x (tapRows): the taps are the rows, the output channels are
	// split into blocks of whole panels. Otherwise dy's transpose is the
	// smaller: split the taps into blocks of whole panels if there are at
	// least two, else the output channels into blocks of whole tiles.
	g.tapRows = g.cpg == 1
	panels := func(n int) int { return (n + nr - 1) / nr }
	split := func(n, size int) int { return (n + filterUnits - 1) / filterUnits * size }
	g.fRows, g.fCols = g.opg, g.k
	switch {
	case g.tapRows:
		g.fRows, g.fCols = g.k, min(split(panels(g.opg), nr), g.opg)
	case panels(g.k) >= 2:
		g.fCols = min(split(panels(g.k), nr), g.k)
	case (g.opg+mr-1)/mr >= 2:
		g.fRows = min(split((g.opg+mr-1)/mr, mr), g.opg)
	}
	rowsOf, colsOf := g.opg, g.k
	if g.tapRows {
		rowsOf, colsOf = g.k, g.opg
	}
	g.rowBlocks, g.colBlocks = (rowsOf+g.fRows-1)/g.fRows, (colsOf+g.fCols-1)/g.fCols
	g.fChunk = g.kn.Block(g.fRows, g.fCols, g.m).KC
	if !g.tapRows {
		for j0 := 0; j0 < g.k; j0 += g.fCols {
			g.segs = append(g.segs, g.filterSegs(j0, min(g.fCols, g.k-j0)))
		}
	}
	g.fA = g.fRows * g.fChunk
	g.fB = g.fA + g.kn.PackedSize(g.fChunk, g.fCols)
	g.fAcc = g.fB
	if !g.tapRows {
		g.fAcc += g.fRows * g.fCols
	}
	g.filterScratch = g.fAcc + mr*nr

	rows := max(chunkFloats/g.k, 16)
	g.imageChunk = min(rows, g.pixels)
	g.imageBlock = (c.N + filterUnits - 1) / filterUnits
	g.add = eltwise.Binary(set, eltwise.Add)
	var gemmScratch int
	for i, mc := range [2]int{g.imageChunk, g.pixels - (g.pixels-1)/g.imageChunk*g.imageChunk} {
		g.input[i] = gemm.NewMatMul(g.kn, mc, g.k, g.opg, c.CO, false)
		gemmScratch = max(gemmScratch, g.input[i].ScratchSize())
	}
	g.col = g.kn.PackedSize(g.opg, g.k)
	g.gemmScratch = g.col + g.imageChunk*g.k
	g.inputScratch = g.gemmScratch + gemmScratch
	return g
}

// filterSegs are the runs of channels of the taps in columns j0..j0+w-1 of
// a group's col, split where they cross a panel.
func (g *ConvGrad) filterSegs(j0, w int) []seg {
	nr := g.kn.NR
	var segs []seg
	for j := j0; j < j0+w; {
		t, c := j/g.cpg, j%g.cpg
		n := min(g.cpg-c, j0+w-j, nr-(j-j0)%nr)
		jj := j - j0
		segs = append(segs, seg{ky: t / g.KW, kx: t % g.KW, c0: c, n: n, panel: jj / nr, lane: jj % nr})
		j += n
	}
	return segs
}

// ScratchSize is the scratch a unit takes.
func (g *ConvGrad) ScratchSize() int { return max(g.inputScratch, g.filterScratch) }

// FilterUnits and InputUnits count the units of GradFilter and GradInput.
func (g *ConvGrad) FilterUnits() int { return g.Groups * g.rowBlocks * g.colBlocks }
func (g *ConvGrad) InputUnits() int  { return g.Groups * ((g.N + g.imageBlock - 1) / g.imageBlock) }

// GradFilter computes unit u of dk, the kernel's gradient from the input x
// and dy: a block of a group's output channels by a block of its taps,
// summed over every output pixel.
func (g *ConvGrad) GradFilter(x, dy, dk, scratch []float32, u int) {
	if g.tapRows {
		g.gradFilterTaps(x, dy, dk, scratch, u)
		return
	}
	perGroup := g.rowBlocks * g.colBlocks
	gr, rb, cb := u/perGroup, u%perGroup/g.colBlocks, u%g.colBlocks
	r0, j0 := rb*g.fRows, cb*g.fCols
	rows, w := min(g.fRows, g.opg-r0), min(g.fCols, g.k-j0)
	a, pb, acc, tmp := scratch[:g.fA], scratch[g.fA:g.fB], scratch[g.fB:g.fAcc], scratch[g.fAcc:g.filterScratch]
	acc = acc[:rows*w]
	segs := g.segs[cb]
	cIn := gr * g.cpg // the group's first channel of x
	for m0 := 0; m0 < g.m; m0 += g.fChunk {
		kc := min(g.fChunk, g.m-m0)
		// A: dy_gᵀ's rows r0.. over the chunk's pixels.
		gemm.PackA(a, dy, g.CO, true, gr*g.opg+r0, rows, m0, kc)
		// B: col's columns j0..j0+w-1 over the chunk's pixels, packed in
		// panels of kc rows (zero in the padding).
		b := pb[:g.kn.PackedSize(kc, w)]
		clear(b)
		g.gatherB(x, b, segs, cIn, m0, kc)
		g.kn.Multiply(rows, w, kc, a, b, kc, 0, acc, w, m0 > 0, gemm.Epilogue{}, tmp)
	}
	for i := range rows {
		col := gr*g.opg + r0 + i
		for jj, v := range acc[i*w : (i+1)*w] {
			dk[(j0+jj)*g.CO+col] = v
		}
	}
}

// gradFilterTaps is GradFilter as dk_g = colᵀ·dy_g for one channel a
// group: per chunk of pixels, the block of A is col's transpose, each tap's
// row a copy of runs of x (gatherA), B is dy_g's block of output channels
// packed, and the product accumulates straight into dk. Step times in
// fashion_cnn's training step (batch 32, Zen 5 shared, one thread, 100
// steps): its first layer's (K = 9 taps, 32 output channels) went from
// about the second layer's (1.8 against 1.8 ms; dy_gᵀ·col transposes 32
// floats a pixel) to a quarter of it (0.9 against 4.0 in a slower run).
func (g *ConvGrad) gradFilterTaps(x, dy, dk, scratch []float32, u int) {
	gr, cb := u/g.colBlocks, u%g.colBlocks
	c0 := cb * g.fCols
	w := min(g.fCols, g.opg-c0)
	col := gr*g.opg + c0 // the block's first column of dk and dy
	a, pb, tmp := scratch[:g.fA], scratch[g.fA:g.fB], scratch[g.fAcc:g.filterScratch]
	for m0 := 0; m0 < g.m; m0 += g.fChunk {
		kc := min(g.fChunk, g.m-m0)
		ab := a[:g.k*kc]
		clear(ab)
		g.gatherA(x, ab, gr, m0, kc)
		g.kn.PackB(pb, dy[m0*g.CO+col:], kc, w, g.CO, false)
		g.kn.Multiply(g.k, w, kc, ab, pb, kc, 0, dk[col:], g.CO, m0 > 0, gemm.Epilogue{}, tmp)
	}
}

// span is the pixels lo..hi-1 of a run of n output pixels from column ox0
// whose tap at column offset off (kx·dilation − left padding) lies inside
// the image: 0 ≤ ox·stride + off < W.
func (g *ConvGrad) span(ox0, n, off int) (lo, hi int) {
	sx := g.Stride[1]
	lo, hi = 0, n
	if v := -off - ox0*sx; v > 0 {
		lo = (v + sx - 1) / sx
	}
	if v := g.W - 1 - off - ox0*sx; v < 0 {
		hi = 0
	} else {
		hi = min(hi, v/sx+1)
	}
	return lo, hi
}

// gatherA writes col's transpose for group gr (one channel) over pixels
// m0..m0+kc-1 into a, K rows of kc, zero in the padding: a run along an
// output row at a time, each tap's part a copy of a row of x (or, with a
// stride, a strided one).
func (g *ConvGrad) gatherA(x, a []float32, gr, m0, kc int) {
	step := g.Stride[1] * g.C
	for p := 0; p < kc; {
		m := m0 + p
		bi, oy, ox0 := m/g.pixels, m/g.OW%g.OH, m%g.OW
		run := min(g.OW-ox0, kc-p)
		y0 := oy*g.Stride[0] - g.Pads[0]
		for ky := range g.KH {
			iy := y0 + ky*g.Dilation[0]
			if uint(iy) >= uint(g.H) {
				continue
			}
			for kx := range g.KW {
				off := kx*g.Dilation[1] - g.Pads[2]
				lo, hi := g.span(ox0, run, off)
				if lo >= hi {
					continue
				}
				src := x[((bi*g.H+iy)*g.W+(ox0+lo)*g.Stride[1]+off)*g.C+gr:]
				dst := a[(ky*g.KW+kx)*kc+p+lo : (ky*g.KW+kx)*kc+p+hi]
				if step == 1 {
					copy(dst, src)
					continue
				}
				for i := range dst {
					dst[i] = src[i*step]
				}
			}
		}
		p += run
	}
}

// gatherB copies the cells of col's rows m0..m0+kc-1 in segs' columns into
// b, panels of kc rows. The pixels go a run along an output row at a time,
// and each seg over the run: a row of the image read with a constant step,
// so a single channel (the first layer's) is a strided copy rather than an
// element with its own index arithmetic.
func (g *ConvGrad) gatherB(x, b []float32, segs []seg, cIn, m0, kc int) {
	nr, sx := g.kn.NR, g.Stride[1]
	step := sx * g.C
	for p := 0; p < kc; {
		m := m0 + p
		bi, oy, ox0 := m/g.pixels, m/g.OW%g.OH, m%g.OW
		run := min(g.OW-ox0, kc-p)
		y0 := oy*g.Stride[0] - g.Pads[0]
		for _, s := range segs {
			iy := y0 + s.ky*g.Dilation[0]
			if uint(iy) >= uint(g.H) {
				continue
			}
			off := s.kx*g.Dilation[1] - g.Pads[2]
			lo, hi := g.span(ox0, run, off)
			if lo >= hi {
				continue
			}
			src := x[((bi*g.H+iy)*g.W+(ox0+lo)*sx+off)*g.C+cIn+s.c0:]
			dst := b[s.panel*kc*nr+s.lane+(p+lo)*nr:]
			if s.n == 1 {
				for i := range hi - lo {
					dst[i*nr] = src[i*step]
				}
				continue
			}
			if s.n > 16 {
				for i := range hi - lo {
					copy(dst[i*nr:i*nr+s.n], src[i*step:])
				}
				continue
			}
			// Short runs (LeNet's second layer has 6 channels) by a loop:
			// a call to memmove costs more than the copy.
			for i := range hi - lo {
				d, v := dst[i*nr:i*nr+s.n], src[i*step:i*step+s.n]
				for j, e := range v {
					d[j] = e
				}
			}
		}
		p += run
	}
}

// GradInput computes unit u of dx, the input's gradient from dy and the
// kernel k: a block of imageBlock images' cells of one group's channels.
// The kernel is packed once a unit, not once an image, and the cells are
// added back with the set's vector add rather than through a closure per
// cell: fashion_cnn's second layer (288×64, batch 32, Zen 5 shared, one
// thread) took 2.2 ms a step before, 1.6 after.
func (g *ConvGrad) GradInput(dy, k, dx, scratch []float32, u int) {
	blocks := (g.N + g.imageBlock - 1) / g.imageBlock
	gr, b0 := u/blocks, u%blocks*g.imageBlock
	pb, col, gs := scratch[:g.col], scratch[g.col:g.gemmScratch], scratch[g.gemmScratch:g.inputScratch]
	// op(B) = k_gᵀ [opg, K]: k holds k_g as K rows of CO, at column gr·opg.
	g.kn.PackB(pb, k[gr*g.opg:], g.opg, g.k, g.CO, true)
	for b := b0; b < min(b0+g.imageBlock, g.N); b++ {
		for pix := range g.H * g.W {
			off := (b*g.H*g.W+pix)*g.C + gr*g.cpg
			clear(dx[off : off+g.cpg])
		}
		for p0 := 0; p0 < g.pixels; p0 += g.imageChunk {
			mc, mm := g.imageChunk, g.input[0]
			if p0+mc > g.pixels {
				mc, mm = g.pixels-p0, g.input[1]
			}
			m0 := b*g.pixels + p0
			c := col[:mc*g.k]
			mm.Run(dy[m0*g.CO+gr*g.opg:], pb, c, g.k, gs, gemm.Epilogue{})
			g.col2im(c, dx, gr, m0, mc)
		}
	}
}

// col2im adds rows m0..m0+mc-1 of dcol (c) into the cells of group gr's
// channels they were gathered from: runs of cpg channels, added with the
// set's vector add where they are long enough to pay for a call.
func (g *ConvGrad) col2im(c, dx []float32, gr, m0, mc int) {
	cpg := g.cpg
	for r := range mc {
		m := m0 + r
		b, oy, ox := m/g.pixels, m/g.OW%g.OH, m%g.OW
		y0, x0 := oy*g.Stride[0]-g.Pads[0], ox*g.Stride[1]-g.Pads[2]
		row := c[r*g.k : (r+1)*g.k]
		for ky := range g.KH {
			iy := y0 + ky*g.Dilation[0]
			if uint(iy) >= uint(g.H) {
				continue
			}
			for kx := range g.KW {
				ix := x0 + kx*g.Dilation[1]
				if uint(ix) >= uint(g.W) {
					continue
				}
				d := dx[((b*g.H+iy)*g.W+ix)*g.C+gr*cpg:][:cpg]
				v := row[(ky*g.KW+kx)*cpg:][:cpg]
				if cpg >= 16 {
					g.add(d, v)
					continue
				}
				for i, e := range v {
					d[i] += e
				}
			}
		}
	}
}
