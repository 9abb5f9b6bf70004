package conv

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/pool"
)

// Depthwise convolution (Groups = C: each input channel its own group, with
// any number of output channels, the multiplier), NHWC with the output
// channels in vector lanes. The set's kernel computes a run of pixels along
// a row from a list of taps, each an offset into the input and one into the
// weights, and never checks a bound: the list leaves out the taps that fall
// in the padding. A row's interior, where every column tap lies inside the
// image, is one call with the window's taps; each pixel at the left and
// right edges is a call with the taps of its columns inside the image,
// listed when the conv is compiled; window rows in the padding are cut off
// the end of either list (both are in row order, and linear in the row).
// Bias and activation (the tile epilogue's head) are applied as each
// pixel is stored, as a clamp to [lo, hi]: relu is lo = 0, relu6 lo = 0 and
// hi = 6, the identity ±Inf. A silu right after them (EfficientNet's
// depthwise and stem convs) is applied in the store too, by the sets that
// have silu kernels, rather than in a pass of its own over each row.
//
// The direct kernel runs ungrouped convs of a few input channels
// (Algorithm Direct) on the image's own rows: it is the same loop with each
// tap one input channel of a window position, its value broadcast to every
// lane, so the taps list each window position C times, the input offsets
// one float apart. With padding it runs on a copy of the rows a band reads
// with their zero border (pad), so that every pixel is interior: a row is
// one call of whole blocks of pixels, where the edge pixels were a call
// each, one chain of FMAs waiting on its latency. BenchmarkAlgorithms
// (Intel Xeon, avx512, one thread, a load of 16 on 2 CPUs, CPU time of 4
// runs alternating, µs; image rows / padded copy): lenet64_1 (28²×1 → 6,
// 5×5, same, batch 64) 825-901 / 696-806, c4_64 (56²×4 → 64, 3×3, same)
// 160-189 / 127-150, stem_32 (stride 2) 225-279 / 233-277.
//
// Grouped convs with a few input channels per group (Algorithm Grouped),
// and depthwise ones with a multiplier m > 1, are run by the same kernels
// on input rows expanded into scratch so that lane o reads what output
// channel o needs: for cpg input channels per group, opg output channels,
// each pixel becomes cpg runs of CO floats, run i holding for each o the
// channel (o/opg)·cpg+i, and the taps list each window position cpg times,
// once per run. A band of output rows expands the input rows it reads once.
//
// Sums run in tap order from zero, then the bias is added; the AVX2,
// AVX-512 (avx512.go) and NEON kernels fuse each multiply into its add (one
// rounding), the generic one does not, so they agree to about taps·2⁻²⁴
// relative to Σ|x·w|.
//
// BenchmarkMobileNetV2 (AMD EPYC family 26 model 2, one thread, bias and
// relu in the store; medians of 3 runs alternating with the direct loop
// this replaced, on a shared machine at a load average of 7-9 on 2 CPUs):
//
//	layer            direct loop (before)   generic    AVX2
//	112×112×96 s2    8.87 ms                5.35 ms    0.230 ms
//	56×56×144        10.4                   21.4       0.478
//	28×28×192        3.62                   3.24       0.104
//	14×14×384        1.32                   1.91       0.038
//	7×7×960          0.631                  0.863      0.025
//
//go:generate go -C ../_asm run ./depthwise -out ../conv/depthwise_amd64.s -stubs ../conv/depthwise_amd64.go -pkg conv -neon ../conv/depthwise_arm64
//go:generate go -C ../_asm run ./depthwise -avx512 -out ../conv/depthwise_avx512_amd64.s -stubs ../conv/depthwise_avx512_amd64.go -pkg conv

// dwKernel is one set's depthwise kernels.
type dwKernel struct {
	set cpu.Set
	// cells computes cells output pixels along a row, c channels each, every
	// tap inside x; see dwCellsGeneric.
	cells cellsFunc
	// direct is cells with each tap's one input value broadcast to every
	// channel: the direct conv's kernel; see directCellsGeneric.
	direct cellsFunc
	// cellsSilu and directSilu are cells and direct with silu applied to
	// each value after the clamp, to the bits package eltwise's silu of the
	// same set gives; nil where the set has none (generic, NEON), and the
	// conv then runs silu over each row after.
	cellsSilu, directSilu cellsFunc
}

// cellsFunc is a kernel that computes a run of output pixels of a row.
type cellsFunc func(out, x, w []float32, taps []int, cells, c, stride int, bias []float32, lo, hi float32)

// dwSets are the depthwise kernels of this build's sets (cpu.Family).
var dwSets = cpu.NewFamily("depthwise", &dwGeneric)

var dwGeneric = dwKernel{set: cpu.Generic, cells: dwCellsGeneric, direct: directCellsGeneric}

// dwCellsGeneric computes cells output pixels stride floats apart in x, c
// channels each, from the taps listed in taps as pairs of offsets in bytes,
// of the input from the pixel's start in x and of the weights in w, in the
// order listed:
//
//	for t := range cells {
//		for ch := range c {
//			acc := 0
//			for k := 0; k < len(taps); k += 2 {
//				acc += x[t*stride+taps[k]/4+ch] * w[taps[k+1]/4+ch]
//			}
//			out[t*c+ch] = clamp(acc+bias[ch], lo, hi)
//		}
//	}
//
// clamp(v, lo, hi) is lo if lo > v, hi if hi < v, else v: a NaN stays, and
// with lo = 0 a -0 stays, as eltwise's Relu leaves it.
func dwCellsGeneric(out, x, w []float32, taps []int, cells, c, stride int, bias []float32, lo, hi float32) {
	bias = bias[:c]
	for t := range cells {
		acc := out[t*c : (t+1)*c]
		clear(acc)
		for k := 0; k < len(taps); k += 2 {
			// Sliced to acc's length: the loop has no bounds checks.
			xs, ws := x[t*stride+taps[k]/4:][:len(acc)], w[taps[k+1]/4:][:len(acc)]
			for ch := range acc {
				// float32(): one rounding per product, never fused.
				acc[ch] += float32(xs[ch] * ws[ch])
			}
		}
		for ch, b := range bias {
			acc[ch] = clamp(acc[ch]+b, lo, hi)
		}
	}
}

// directCellsGeneric is dwCellsGeneric with x's value at each tap
// broadcast to every channel:
//
//	for t := range cells {
//		for ch := range c {
//			acc := 0
//			for k := 0; k < len(taps); k += 2 {
//				acc += x[t*stride+taps[k]/4] * w[taps[k+1]/4+ch]
//			}
//			out[t*c+ch] = clamp(acc+bias[ch], lo, hi)
//		}
//	}
func directCellsGeneric(out, x, w []float32, taps []int, cells, c, stride int, bias []float32, lo, hi float32) {
	bias = bias[:c]
	for t := range cells {
		acc := out[t*c : (t+1)*c]
		clear(acc)
		for k := 0; k < len(taps); k += 2 {
			xv, ws := x[t*stride+taps[k]/4], w[taps[k+1]/4:][:len(acc)]
			for ch := range acc {
				acc[ch] += float32(xv * ws[ch])
			}
		}
		for ch, b := range bias {
			acc[ch] = clamp(acc[ch]+b, lo, hi)
		}
	}
}

func clamp(v, lo, hi float32) float32 {
	if lo > v {
		v = lo
	}
	if hi < v {
		v = hi
	}
	return v
}

// depthwise is the state of a conv the depthwise kernels run, fixed when it
// is compiled.
type depthwise struct {
	// cells is the kernel: the set's cells, or direct for Algorithm Direct,
	// or their silu forms once fuseSilu has taken a silu off the epilogue.
	cells cellsFunc
	// silu is the silu form of cells, nil if the set has none.
	silu cellsFunc
	// siluPad is the set's eltwise silu once cells applies silu: the
	// pixels whose every tap is padding, which no kernel computes, take it.
	siluPad func(v []float32, alpha float32)
	// reach is the floats a tap reads from its input offset: CO, or 1 for
	// the direct kernel.
	reach int
	// expand is whether the kernels read expanded rows (see above); pad
	// whether they read the rows with their zero border, width floats
	// wide (a direct conv with padding).
	expand bool
	pad    bool
	width  int
	// pixel is the floats per pixel of the rows the kernel reads (C, or
	// cpg·CO expanded), rowStep the floats from one window row to the next
	// in them.
	pixel, rowStep int
	// taps lists the window's taps for the kernel, row by row: (ky, kx, i)'s
	// input offset from tap (0, 0, 0) and its weights' offset in a row of
	// weights from row 0. Being linear in ky, its first r·KW·cpg pairs are
	// also the taps of rows ky0..ky0+r-1 from tap (ky0, 0, 0) and row ky0.
	taps []int
	// Output columns oxLo..oxHi-1 have every column tap inside the image;
	// edges[ox] lists the others' taps, as taps does but only the columns
	// inside the image, and from the first of them.
	oxLo, oxHi int
	edges      []edge
	// noBias is CO zeros for a conv without a bias, negative ones: adding
	// -0 changes no float, +0 would turn a -0 into +0.
	noBias []float32
	// scratchRows is how many expanded input rows scratch holds: those a
	// band of output rows reads.
	scratchRows int
}

// edge is the taps of an output column whose window the padding clips.
type edge struct {
	taps   []int
	perRow int // taps a row, 0 if every column is padding
	x0     int // the input column of its first tap
}

// newDepthwise prepares c, a conv with cpg·opg < 4·4 channels per group, or
// an ungrouped one run by the direct kernel.
func newDepthwise(c *Conv) *depthwise {
	k := dwSets.For(c.gemm.Set)
	d := &depthwise{cells: k.cells, silu: k.cellsSilu, reach: c.CO, expand: c.cpg > 1 || c.opg > 1, pixel: c.C}
	// in is the floats from a pixel's input channel i to channel i+1 in the
	// rows the kernel reads: runs of CO floats when expanded.
	in := c.CO
	if c.algo == Direct {
		d.cells, d.silu, d.reach, d.expand, in = k.direct, k.directSilu, 1, false, 1
		d.pad = c.Pads != [4]int{}
	}
	span := (c.KH-1)*c.Dilation[0] + 1
	outRows := (c.band+c.OW-1)/c.OW + 1
	d.width = c.W
	if d.expand {
		d.pixel = c.cpg * c.CO
		d.scratchRows = min(c.H, (outRows-1)*c.Stride[0]+span)
	}
	if d.pad {
		d.width = c.W + c.Pads[2] + c.Pads[3]
		d.scratchRows = min(c.H+c.Pads[0]+c.Pads[1], (outRows-1)*c.Stride[0]+span)
	}
	d.rowStep = c.Dilation[0] * d.width * d.pixel
	left, sw, dw := c.Pads[2], c.Stride[1], c.Dilation[1]
	list := func(kxLo, kxHi int) []int {
		var taps []int
		for ky := range c.KH {
			for kx := kxLo; kx < kxHi; kx++ {
				for i := range c.cpg {
					x := ky*d.rowStep + (kx-kxLo)*dw*d.pixel + i*in
					taps = append(taps, 4*x, 4*((ky*c.KW+kx)*c.cpg+i)*c.CO)
				}
			}
		}
		return taps
	}
	d.taps = list(0, c.KW)
	if d.pad {
		// Every column interior, from the padded row's start.
		d.oxLo, d.oxHi = 0, c.OW
		d.noBias = make([]float32, c.CO)
		for i := range d.noBias {
			d.noBias[i] = float32(math.Copysign(0, -1))
		}
		return d
	}
	d.oxLo = min((left+sw-1)/sw, c.OW)
	if last := c.W - 1 - (c.KW-1)*dw + left; last >= 0 {
		d.oxHi = min(last/sw+1, c.OW)
	}
	d.oxHi = max(d.oxHi, d.oxLo)
	d.edges = make([]edge, c.OW)
	for ox := range c.OW {
		if ox >= d.oxLo && ox < d.oxHi {
			continue
		}
		x0 := ox*sw - left
		kxLo, kxHi := pool.ValidTaps(x0, dw, c.KW, c.W)
		d.edges[ox] = edge{taps: list(kxLo, kxHi), perRow: (kxHi - kxLo) * c.cpg, x0: x0 + kxLo*dw}
	}
	d.noBias = make([]float32, c.CO)
	for i := range d.noBias {
		d.noBias[i] = float32(math.Copysign(0, -1))
	}
	return d
}

// fuseSilu switches to the silu kernel if the set has one and epilogue,
// what is left after the tile head, starts with a silu: it returns the
// steps left after that.
//
// The silu's arithmetic stays, so the store saves only the pass over rows
// still in L1. BenchmarkEfficientNetSilu (Intel Xeon, family 6 model 207,
// one thread, load 6-10 on 2 CPUs; medians of 10 runs alternating store
// and pass): store/pass 0.98 summed over EfficientNet-B0's 11 silu convs on
// AVX-512, 0.90 on AVX2; single layers 0.74-1.40 as the load swung.
func (d *depthwise) fuseSilu(set cpu.Set, epilogue []eltwise.Step) []eltwise.Step {
	if d.silu == nil || len(epilogue) == 0 || epilogue[0].Kind != eltwise.Silu {
		return epilogue
	}
	d.cells, d.silu, d.siluPad = d.silu, nil, eltwise.Unary(set, eltwise.Silu)
	return epilogue[1:]
}

// scratch is the floats of expanded or padded rows a unit needs.
func (d *depthwise) scratch(c *Conv) int { return d.scratchRows * d.width * d.pixel }

// expanded is the image and the input rows [lo, hi) of it that scratch
// holds expanded.
type expanded struct{ b, lo, hi int }

// depthwiseRows computes pixels r0..r0+rows-1 into dst with the epilogue
// applied, its head (tile) in the kernel's store and the rest a row at a
// time; scratch holds the expanded rows.
func (c *Conv) depthwiseRows(x, w, dst []float32, r0, rows int, scratch []float32, operands [][]float32) {
	bias, lo, hi := c.dw.noBias, float32(math.Inf(-1)), float32(math.Inf(1))
	if c.tile != nil {
		if c.tile.Bias >= 0 {
			bias = operands[c.tile.Bias][:c.CO]
		}
		if c.tile.Relu || c.tile.Relu6 {
			lo = 0
		}
		if c.tile.Relu6 {
			hi = 6
		}
	}
	held := expanded{b: -1}
	for done := 0; done < rows; {
		pix := r0 + done
		b, oy, ox0 := pix/(c.OH*c.OW), pix/c.OW%c.OH, pix%c.OW
		ox1 := min(c.OW, ox0+rows-done)
		img := x[b*c.H*c.W*c.C:][:c.H*c.W*c.C]
		row := dst[done*c.CO : (done+ox1-ox0)*c.CO]
		c.depthwiseRow(img, b, w, row, oy, ox0, ox1, bias, lo, hi, scratch, &held)
		if c.epilogue != nil {
			// The rest of the epilogue (silu, a residual add, ...) runs on
			// the row just stored, while it is in L1, rather than on the
			// band from L2 after.
			c.epilogue.Apply(row, pix*c.CO, operands)
		}
		done += ox1 - ox0
	}
}

// depthwiseRow computes columns ox0..ox1-1 of output row oy of image b, img,
// into dst.
func (c *Conv) depthwiseRow(img []float32, b int, w, dst []float32, oy, ox0, ox1 int, bias []float32, lo, hi float32, scratch []float32, held *expanded) {
	d, co := c.dw, c.CO
	y0 := oy*c.Stride[0] - c.Pads[0]
	kyLo, kyHi := pool.ValidTaps(y0, c.Dilation[0], c.KH, c.H)
	left := c.Pads[2]
	if d.pad {
		// Rows and columns of the padded image, every tap inside it.
		y0, kyLo, kyHi, left = oy*c.Stride[0], 0, c.KH, 0
	}
	rows := kyHi - kyLo
	// src: window row kyLo's input row, the others rowStep apart.
	var src []float32
	if rows > 0 {
		first, last := y0+kyLo*c.Dilation[0], y0+(kyHi-1)*c.Dilation[0]
		switch {
		case d.pad:
			if held.b != b || first < held.lo || last >= held.hi {
				*held = expanded{b: b, lo: first, hi: min(c.H+c.Pads[0]+c.Pads[1], first+d.scratchRows)}
				c.padRows(scratch, img, held.lo, held.hi)
			}
			src = scratch[(first-held.lo)*d.width*c.C:]
		case !d.expand:
			src = img[first*c.W*c.C:]
		default:
			if held.b != b || first < held.lo || last >= held.hi {
				*held = expanded{b: b, lo: first, hi: min(c.H, first+d.scratchRows)}
				c.expandRows(scratch, img, held.lo, held.hi)
			}
			src = scratch[(first-held.lo)*c.W*d.pixel:]
		}
	}
	w = w[kyLo*c.KW*c.cpg*co:]
	for ox := ox0; ox < ox1; {
		out := dst[(ox-ox0)*co:]
		cells, x0, taps := 1, 0, []int(nil)
		if ox >= d.oxLo && ox < d.oxHi {
			cells, x0, taps = min(ox1, d.oxHi)-ox, ox*c.Stride[1]-left, d.taps[:2*rows*c.KW*c.cpg]
		} else if e := d.edges[ox]; rows > 0 {
			x0, taps = e.x0, e.taps[:2*rows*e.perRow]
		}
		if len(taps) == 0 { // every tap in the padding
			for ch, b := range bias {
				out[ch] = clamp(0+b, lo, hi)
			}
			if d.siluPad != nil {
				d.siluPad(out[:co], 0)
			}
			ox++
			continue
		}
		stride := c.Stride[1] * d.pixel
		start := x0 * d.pixel
		// x as far as the last pixel's last tap, w as far as the last
		// tap's weights: the kernels do not check bounds, so slicing here
		// does.
		x := src[start : start+(cells-1)*stride+taps[len(taps)-2]/4+d.reach]
		d.cells(out[:cells*co], x, w[:taps[len(taps)-1]/4+co], taps, cells, co, stride, bias, lo, hi)
		ox += cells
	}
}

// padRows writes rows lo..hi-1 of img with its zero border (rows of the
// padded image, width floats wide) into dst.
func (c *Conv) padRows(dst, img []float32, lo, hi int) {
	row, left := c.dw.width*c.C, c.Pads[2]*c.C
	for r := lo; r < hi; r++ {
		out := dst[(r-lo)*row : (r-lo+1)*row]
		iy := r - c.Pads[0]
		if iy < 0 || iy >= c.H {
			clear(out)
			continue
		}
		clear(out[:left])
		n := copy(out[left:], img[iy*c.W*c.C:(iy+1)*c.W*c.C])
		clear(out[left+n:])
	}
}

// expandRows writes input rows lo..hi-1 of img into dst expanded: pixel p's
// run i holds, for each output channel o, channel (o/opg)·cpg+i.
func (c *Conv) expandRows(dst, img []float32, lo, hi int) {
	cpg, opg, co := c.cpg, c.opg, c.CO
	for p := range (hi - lo) * c.W {
		in := img[(lo*c.W+p)*c.C:][:c.C]
		out := dst[p*cpg*co:][:cpg*co]
		for i := range cpg {
			run := out[i*co : (i+1)*co]
			for g := range c.Groups {
				v := in[g*cpg+i]
				for m := range opg {
					run[g*opg+m] = v
				}
			}
		}
	}
}
