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
// dkᵀ. (Computed as colᵀ · dy_g, the transpose would be col's, K = 9·cpg
// floats a pixel for a 3×3 kernel, and col would be gathered into a matrix
// first.) Over 100 training steps each of lenet (batch 64) and fashion_cnn
// (batch 32), one thread, Zen 5 shared with other jobs, that took
// GradFilter's CPU time from 1.40 s to 0.49 s. With one input channel a
// group (tapRows: the first layer of LeNet and fashion_cnn) it is colᵀ ·
// dy_g after all: col's transpose is then a copy of runs of x (gatherA),
// where dy_gᵀ transposes opg floats a pixel; fashion_cnn's first layer's
// filter gradient went from 1.8 ms a step to about 0.9.
//
// GradInput takes the rows of col in chunks of an image's pixels, so that
// the matrix never holds more than about chunkFloats: the whole would be
// the input times KH·KW.
//
// The work is cut into units computed the same way whatever goroutine runs
// them, so the result does not depend on the thread count: for GradInput a
// block of images of a group (col2im writes only those images' cells of the
// group's channels); for GradFilter a range of a group's pixels, summed
// into partial sums of its own, then a slice of dk, the ranges' sums added
// in order (see GradFilter).
type ConvGrad struct {
	Conv
	cpg, opg, k, m, pixels int
	kn                     *gemm.Kernel
	// GradFilter: parts ranges of partLen output pixels a group, each
	// summed into partial sums of its own, in chunks of fChunk; segs are
	// the runs of channels of col's columns (see filterSegs). With tapRows
	// (one input channel a group) the product is colᵀ·dy_g.
	tapRows                bool
	parts, partLen, fChunk int
	// direct, if set, computes phase 0 instead (filter.go), its units
	// ranges of images.
	direct *directFilter
	segs   []seg
	// GradInput: units of imageBlock images; chunks of an image's rows;
	// add is the set's vector add.
	imageBlock, imageChunk int
	add                    func(v, o []float32)
	input                  [2]*gemm.MatMul // [last chunk]
	// Offsets of the parts of a unit's scratch: GradInput's packed kernel,
	// col chunk and GEMM scratch; GradFilter's block of A, panels of B and
	// edge tile.
	col, gemmScratch, inputScratch int
	fA, fB, filterScratch          int
}

// seg is a run of a tap's channels (or of a kernel row's taps, see
// filterSegs) within one panel of GradFilter's B: the group's channels c0..c0+n-1 of tap (ky, kx) go to columns lane..
// of panel.
type seg struct{ ky, kx, c0, n, panel, lane int }

// chunkFloats bounds a chunk of GradInput's col: 64 Ki floats, 256 KiB,
// about L2.
const chunkFloats = 1 << 16

// directMaxC is the most input channels the direct filter gradient
// (filter.go) takes: BenchmarkConvGradFilter's layers (Xeon, Emerald
// Rapids, avx512 set, one thread; the machine at a load of 12 on 2 CPUs,
// so the thread's CPU time, µs per gradient, two runs each) have it ahead
// at every stdlib layer up to 32 channels:
//
//	layer                           direct      GEMM
//	lenet 5×5×1×6, batch 64         369-415     2330-2373
//	lenet 5×5×6×16                  463-481     1226-1265
//	fashion_cnn 3×3×1×32, batch 32  157-184     447-516
//	fashion_cnn 3×3×32×64           1291-1556   2455-2706
//	cnn 3×3×3×32, batch 32          805-851     3546-3550
//	cnn 3×3×32×64                   2278-2911   3350-3613
const directMaxC = 32

// targetUnits is how many units NewConvGrad aims to cut a group's
// gradients into: enough for two threads to share unevenly sized units.
const targetUnits = 4

// NewConvGrad compiles the gradients of c for the kernels of set.
func NewConvGrad(set cpu.Set, c Conv) *ConvGrad {
	return newConvGrad(set, c, c.Groups == 1 && c.C <= directMaxC)
}

// newConvGrad is NewConvGrad with the filter gradient direct (filter.go)
// or on the GEMM.
func newConvGrad(set cpu.Set, c Conv, direct bool) *ConvGrad {
	g := &ConvGrad{Conv: c, cpg: c.C / c.Groups, opg: c.CO / c.Groups}
	g.k = c.KH * c.KW * g.cpg
	g.pixels = c.OH * c.OW
	g.m = c.N * g.pixels
	g.kn = gemm.For(set)
	mr, nr := g.kn.MR, g.kn.NR

	// GradFilter. With one channel a group, col's transpose is a copy of
	// runs of x (tapRows), so the taps are the GEMM's rows; otherwise dy's
	// transpose is the smaller, and the output channels are. The pixels
	// are cut into up to targetUnits ranges of whole chunks.
	g.tapRows = g.cpg == 1
	rows, cols := g.opg, g.k
	if g.tapRows {
		rows, cols = g.k, g.opg
	}
	g.fChunk = g.kn.Block(rows, cols, g.m).KC
	chunks := (g.m + g.fChunk - 1) / g.fChunk
	perPart := (chunks + targetUnits - 1) / targetUnits
	g.parts, g.partLen = (chunks+perPart-1)/perPart, perPart*g.fChunk
	if !g.tapRows {
		g.segs = g.filterSegs()
	}
	g.fA = rows * g.fChunk
	g.fB = g.fA + g.kn.PackedSize(g.fChunk, cols)
	g.filterScratch = g.fB + mr*nr
	if direct {
		g.direct = newDirectFilter(set, g)
		g.tapRows, g.parts = true, g.direct.units(c.N)
		g.filterScratch = g.direct.scratch(c.C)
	}

	g.imageChunk = min(max(chunkFloats/g.k, 16), g.pixels)
	g.imageBlock = (c.N + targetUnits - 1) / targetUnits
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

// filterSegs are the runs of channels of the taps in col's K columns,
// split where they cross a panel of B. Without groups, horizontal dilation
// or horizontal padding, a kernel row's taps are contiguous in x and every
// one lies inside the image whenever the first does, so a run spans the
// taps of a kernel row up to a panel's end (LeNet's second layer: 5 taps
// of 6 channels, 30 floats, where a run per tap was 6; lenet/64's step
// spent 0.12 s of CPU in gatherB over 300 steps, 0.05 s with the longer
// runs).
func (g *ConvGrad) filterSegs() []seg {
	nr := g.kn.NR
	merge := g.Groups == 1 && g.Dilation[1] == 1 && g.Pads[2] == 0 && g.Pads[3] == 0
	var segs []seg
	for j := 0; j < g.k; {
		t, c := j/g.cpg, j%g.cpg
		n := min(g.cpg-c, g.k-j, nr-j%nr)
		if l := len(segs) - 1; merge && l >= 0 && segs[l].ky == t/g.KW && segs[l].panel == j/nr {
			segs[l].n += n
		} else {
			segs = append(segs, seg{ky: t / g.KW, kx: t % g.KW, c0: c, n: n, panel: j / nr, lane: j % nr})
		}
		j += n
	}
	return segs
}

// PartialSize is the floats of GradFilter's partial sums: a K×opg matrix
// for each range of pixels of each group.
func (g *ConvGrad) PartialSize() int { return g.Groups * g.parts * g.k * g.opg }

// ScratchSize is the scratch a unit takes.
func (g *ConvGrad) ScratchSize() int { return max(g.inputScratch, g.filterScratch) }

// DirectFilter says whether GradFilter is the direct one (filter.go)
// rather than the GEMM's.
func (g *ConvGrad) DirectFilter() bool { return g.direct != nil }

// FilterUnits and InputUnits count the units of GradFilter and GradInput.
func (g *ConvGrad) FilterUnits() int { return g.Groups * g.parts }
func (g *ConvGrad) InputUnits() int  { return g.Groups * ((g.N + g.imageBlock - 1) / g.imageBlock) }

// GradFilter computes phase p's unit u of dk, the kernel's gradient from
// the input x and dy, in two phases of FilterUnits units each. Phase 0:
// unit u sums range u%parts of group u/parts's pixels into its partial
// sums (partial). Phase 1: unit u adds the ranges' partial sums, in range
// order, for a slice of group u/parts's elements of dk. The ranges are
// fixed by the shapes, so the result does not depend on the thread count.
// (Units that each took a block of dk over every pixel had to transpose
// all of dy each, or gather all of col.)
func (g *ConvGrad) GradFilter(x, dy, dk, partial, scratch []float32, p, u int) {
	size := g.k * g.opg
	gr, r := u/g.parts, u%g.parts
	if p == 1 {
		e0, e1 := r*size/g.parts, (r+1)*size/g.parts
		parts := partial[gr*g.parts*size : (gr+1)*g.parts*size]
		for e := e0; e < e1; e++ {
			s := parts[e]
			for q := 1; q < g.parts; q++ {
				s += parts[q*size+e]
			}
			// dkᵀ's element (o, t), or with tapRows dk_g's (t, o).
			o, t := e/g.k, e%g.k
			if g.tapRows {
				t, o = e/g.opg, e%g.opg
			}
			dk[t*g.CO+gr*g.opg+o] = s
		}
		return
	}
	part := partial[u*size : (u+1)*size]
	if g.direct != nil {
		g.direct.run(g, x, dy, part, scratch, r)
		return
	}
	m0, m1 := r*g.partLen, min((r+1)*g.partLen, g.m)
	a, pb, tmp := scratch[:g.fA], scratch[g.fA:g.fB], scratch[g.fB:g.filterScratch]
	for c0 := m0; c0 < m1; c0 += g.fChunk {
		kc := min(g.fChunk, m1-c0)
		if g.tapRows {
			// A: col's transpose, K rows; B: dy_g's block.
			ab := a[:g.k*kc]
			clear(ab)
			g.gatherA(x, ab, gr, c0, kc)
			g.kn.PackB(pb, dy[c0*g.CO+gr*g.opg:], kc, g.opg, g.CO, false)
			g.kn.Multiply(g.k, g.opg, kc, ab, pb, kc, 0, part, g.opg, c0 > m0, gemm.Epilogue{}, tmp)
			continue
		}
		// A: dy_g's transpose, opg rows; B: col's K columns, packed in
		// panels of kc rows (zero in the padding).
		gemm.PackA(a, dy, g.CO, true, gr*g.opg, g.opg, c0, kc)
		b := pb[:g.kn.PackedSize(kc, g.k)]
		clear(b)
		g.gatherB(x, b, g.segs, gr*g.cpg, c0, kc)
		g.kn.Multiply(g.opg, g.k, kc, a, b, kc, 0, part, g.k, c0 > m0, gemm.Epilogue{}, tmp)
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
// channels they were gathered from. Without groups or horizontal dilation
// the taps of a kernel row are one run in both dcol's row and dx (KW·C
// floats, fewer at the border), added at once; otherwise a tap's cpg
// channels are. Runs of 16 or more floats go to the set's vector add, where
// they pay for a call. LeNet's second layer (5×5 over 6 channels, batch 64,
// Zen 5, one thread, CPU profile of 300 steps, same session): 0.22 s tap
// by tap, 0.07 s by kernel rows.
func (g *ConvGrad) col2im(c, dx []float32, gr, m0, mc int) {
	cpg := g.cpg
	add := func(d, v []float32) {
		if len(v) >= 16 {
			g.add(d, v)
			return
		}
		d = d[:len(v)]
		for i, e := range v {
			d[i] += e
		}
	}
	runs := g.Groups == 1 && g.Dilation[1] == 1
	for r := range mc {
		m := m0 + r
		b, oy, ox := m/g.pixels, m/g.OW%g.OH, m%g.OW
		y0, x0 := oy*g.Stride[0]-g.Pads[0], ox*g.Stride[1]-g.Pads[2]
		row := c[r*g.k : (r+1)*g.k]
		lo, hi := max(0, -x0), min(g.KW, g.W-x0) // the taps inside along x
		for ky := range g.KH {
			iy := y0 + ky*g.Dilation[0]
			if uint(iy) >= uint(g.H) {
				continue
			}
			if runs {
				if lo < hi {
					at := ((b*g.H+iy)*g.W + x0 + lo) * g.C
					add(dx[at:at+(hi-lo)*cpg], row[(ky*g.KW+lo)*cpg:(ky*g.KW+hi)*cpg])
				}
				continue
			}
			for kx := range g.KW {
				ix := x0 + kx*g.Dilation[1]
				if uint(ix) >= uint(g.W) {
					continue
				}
				at := ((b*g.H+iy)*g.W+ix)*g.C + gr*cpg
				add(dx[at:at+cpg], row[(ky*g.KW+kx)*cpg:(ky*g.KW+kx+1)*cpg])
			}
		}
	}
}
