// Package pool holds the pooling kernels over NHWC tensors: max and average
// pooling over a sliding 2D window, and global average pooling.
//
// Padded cells are skipped, as in Keras and the reference runtime: a max pool
// never sees them and an average pool does not count them; a window wholly in
// the padding (a dilated window can straddle a small input) yields -Inf
// (max), NaN (average, 0/0), or 0 with CountPad (0/(KH·KW), PyTorch's).
//
// Kernel sets (package cpu): generic, plain Go compiled on every platform and
// the oracle of the others; AVX2 on amd64 (generated with avo by
// runtime/kernels/_asm/pool); NEON on arm64 (the same program's emitter). A
// Window or Global is built for one set, once, when a plan is built. The
// kernels pool a whole run of output cells per call (a row's interior,
// where every tap of the window lies inside the image); the few cells at the
// left and right edges, whose windows the padding clips, run the generic
// per-cell loop in every set.
//
// Numerics: every set combines the cells of a window in the same order (rows,
// then columns of the window), one channel per lane, so for input without NaN
// all sets give the same result bit for bit. Max pooling is exact. The
// generic and NEON max are Go's max; AVX2's VMAXPS differs from it only in
// keeping the later of two equal zeros (+0, −0) and in dropping a NaN an
// earlier cell held (a NaN in the last cell is kept). Averages are summed in
// float32 and divided by the count: over n cells of magnitude ~1 they are
// within about n·2⁻²⁴ (relative) of the reference's float64 sums. GlobalAvg
// sums in two levels (see globalBlock).
//
// Nothing here allocates except the constructors.
package pool

// The assembly and its declarations are generated; CI regenerates them and
// fails on a difference.
//go:generate go -C ../_asm run ./pool -out ../pool/pool_amd64.s -stubs ../pool/pool_amd64.go -pkg pool -neon ../pool/pool_arm64
//go:generate go -C ../_asm run ./pool -avx512 -out ../pool/pool_avx512_amd64.s -stubs ../pool/pool_avx512_amd64.go -pkg pool

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// kernels is one set's implementation; the doc comments of the generic
// functions are the loops every set's functions compute.
type kernels struct {
	set      cpu.Set
	maxCells func(out, x []float32, taps []int, cells, c, stride int)
	avgCells func(out, x []float32, taps []int, cells, c, stride int, div float32)
	addRows  func(acc, x []float32, rows, c int)
	maxGrad  func(x, dy, dx []float32, windows, c, row int)
}

var generic = kernels{set: cpu.Generic, maxCells: maxCellsGeneric, avgCells: avgCellsGeneric, addRows: addRowsGeneric, maxGrad: maxGrad2x2Generic}

// sets lists the sets this process can run, best first, generic last; the
// files of each assembly set add theirs when the CPU has it.
var sets = cpu.NewFamily("pool", &generic)

// Window is a pooling window over one image of H×W×C, fixed when a plan is
// built. Top and Left are the padding before the first row and column; the
// output is OH×OW×C.
type Window struct {
	H, W, C int
	KH, KW  int
	SH, SW  int
	DH, DW  int
	Top     int
	Left    int
	OH, OW  int
	// CountPad makes an average divide by KH·KW, padded cells included
	// (PyTorch's count_include_pad), rather than by the cells inside.
	CountPad bool

	// taps[ky*KW+kx] is the offset in bytes of tap (ky, kx) from tap (0, 0).
	// Being linear in ky, its first r·KW entries are also the offsets of taps
	// ky0..ky0+r-1 from tap (ky0, 0).
	taps []int
	// Output columns oxLo..oxHi-1 have every column tap inside the image.
	oxLo, oxHi int
	k          *kernels
}

// NewWindow describes a kh×kw window with the given strides, dilations and
// pads (top, bottom, left, right) over an h×w×c image, pooled by the kernels
// of set.
func NewWindow(set cpu.Set, h, w, c, kh, kw int, stride, dilation [2]int, pads [4]int) Window {
	p := Window{
		H: h, W: w, C: c, KH: kh, KW: kw,
		SH: stride[0], SW: stride[1], DH: dilation[0], DW: dilation[1],
		Top: pads[0], Left: pads[2],
		OH: (h+pads[0]+pads[1]-((kh-1)*dilation[0]+1))/stride[0] + 1,
		OW: (w+pads[2]+pads[3]-((kw-1)*dilation[1]+1))/stride[1] + 1,
		k:  sets.For(set),
	}
	p.taps = make([]int, kh*kw)
	for ky := range kh {
		for kx := range kw {
			p.taps[ky*kw+kx] = 4 * (ky*p.DH*w + kx*p.DW) * c
		}
	}
	p.oxLo = min((p.Left+p.SW-1)/p.SW, p.OW)
	if last := w - 1 - (kw-1)*p.DW + p.Left; last >= 0 {
		p.oxHi = min(last/p.SW+1, p.OW)
	}
	p.oxHi = max(p.oxHi, p.oxLo)
	return p
}

// InputRows is the range [lo, hi) of input rows that output rows oy0..oy1-1
// read, clipped to the image.
func (p *Window) InputRows(oy0, oy1 int) (lo, hi int) {
	lo = max(oy0*p.SH-p.Top, 0)
	hi = min((oy1-1)*p.SH-p.Top+(p.KH-1)*p.DH+1, p.H)
	return lo, max(hi, lo)
}

// Max pools a batch of n images:
//
//	out[b,oy,ox,c] = max over ky<KH, kx<KW of x[b, oy*SH-Top+ky*DH, ox*SW-Left+kx*DW, c],
//
// cells outside the image skipped; -Inf if none is inside.
func (p *Window) Max(x, out []float32, n int) {
	in, o := p.H*p.W*p.C, p.OH*p.OW*p.C
	for b := range n {
		p.MaxRows(x[b*in:(b+1)*in], 0, out[b*o:(b+1)*o], 0, p.OH)
	}
}

// Avg pools a batch of n images: the mean of the cells Max would compare
// (NaN if there are none).
func (p *Window) Avg(x, out []float32, n int) {
	in, o := p.H*p.W*p.C, p.OH*p.OW*p.C
	for b := range n {
		p.rows(x[b*in:(b+1)*in], 0, out[b*o:(b+1)*o], 0, p.OH, false)
	}
}

// MaxRows computes output rows oy0..oy1-1 of one image, out holding the whole
// image's output, from x holding input rows xRow0.. of the image: at least
// those InputRows(oy0, oy1) names. A fused conv calls it on each band of conv
// output rows as the band is finished.
func (p *Window) MaxRows(x []float32, xRow0 int, out []float32, oy0, oy1 int) {
	p.rows(x, xRow0, out, oy0, oy1, true)
}

func (p *Window) rows(x []float32, xRow0 int, out []float32, oy0, oy1 int, isMax bool) {
	c, rowLen := p.C, p.W*p.C
	for oy := oy0; oy < oy1; oy++ {
		y0 := oy*p.SH - p.Top
		kyLo, kyHi := ValidTaps(y0, p.DH, p.KH, p.H)
		dst := out[oy*p.OW*c : (oy+1)*p.OW*c]
		if kyHi <= kyLo {
			p.fill(dst, isMax)
			continue
		}
		// The window's rows kyLo..kyHi-1 start at row y0+kyLo*DH of x.
		top := x[(y0+kyLo*p.DH-xRow0)*rowLen:]
		for ox := range p.OW {
			if ox == p.oxLo && p.oxHi > p.oxLo {
				p.interior(top, dst, kyHi-kyLo, isMax)
				continue
			}
			if ox < p.oxLo || ox >= p.oxHi {
				p.cell(top, dst[ox*c:(ox+1)*c], kyHi-kyLo, ox, isMax)
			}
		}
	}
}

// interior pools output columns oxLo..oxHi-1 of a row with one kernel call:
// rows window rows, every column tap inside the image, from top, the first
// of those rows.
func (p *Window) interior(top, dst []float32, rows int, isMax bool) {
	c, cells := p.C, p.oxHi-p.oxLo
	taps := p.taps[:rows*p.KW]
	start := (p.oxLo*p.SW - p.Left) * c
	// x as far as the last cell's last tap: the kernels do not check bounds,
	// so slicing here does.
	x := top[start : start+(cells-1)*p.SW*c+taps[len(taps)-1]/4+c]
	o := dst[p.oxLo*c : p.oxHi*c]
	if isMax {
		p.k.maxCells(o, x, taps, cells, c, p.SW*c)
	} else {
		p.k.avgCells(o, x, taps, cells, c, p.SW*c, p.divisor(len(taps)))
	}
}

// cell pools the cell at column ox, whose window the padding may clip, one
// tap at a time in the kernels' order.
func (p *Window) cell(top, acc []float32, rows, ox int, isMax bool) {
	c, rowLen := p.C, p.W*p.C
	x0 := ox*p.SW - p.Left
	kxLo, kxHi := ValidTaps(x0, p.DW, p.KW, p.W)
	cells := rows * (kxHi - kxLo)
	if cells <= 0 {
		p.fill(acc, isMax)
		return
	}
	first := true
	for ky := range rows {
		row := top[ky*p.DH*rowLen:]
		for kx := kxLo; kx < kxHi; kx++ {
			cell := row[(x0+kx*p.DW)*c : (x0+kx*p.DW+1)*c]
			switch {
			case first:
				copy(acc, cell)
				first = false
			case isMax:
				for i, v := range cell {
					acc[i] = max(acc[i], v)
				}
			default:
				for i, v := range cell {
					acc[i] += v
				}
			}
		}
	}
	if !isMax {
		div := p.divisor(cells)
		for i := range acc {
			acc[i] /= div
		}
	}
}

// divisor is what an average of cells cells inside the image divides by.
func (p *Window) divisor(cells int) float32 {
	if p.CountPad {
		return float32(p.KH * p.KW)
	}
	return float32(cells)
}

// ValidTaps is the range [lo, hi) of taps t with 0 <= start+t*dil < size.
func ValidTaps(start, dil, taps, size int) (lo, hi int) {
	for lo < taps && start+lo*dil < 0 {
		lo++
	}
	hi = taps
	for hi > lo && start+(hi-1)*dil >= size {
		hi--
	}
	return lo, hi
}

// fill sets a window with no cells: -Inf for max, NaN (0/0) for average,
// and 0 (0/(KH·KW)) for an average counting padded cells. Same padding with
// a dilation can leave such windows.
func (p *Window) fill(acc []float32, isMax bool) {
	v := float32(math.NaN())
	switch {
	case isMax:
		v = float32(math.Inf(-1))
	case p.CountPad:
		v = 0
	}
	for i := range acc {
		acc[i] = v
	}
}

// maxCellsGeneric pools cells cells of c channels, stride floats apart in x,
// over the taps whose offsets (in bytes) taps lists, in the order listed:
//
//	for i := range cells {
//		for ch := range c {
//			acc[ch] = x[i*stride+taps[0]/4+ch]
//			for _, t := range taps[1:] {
//				off := i*stride + t/4
//				acc[ch] = max(acc[ch], x[off+ch])
//			}
//			out[i*c+ch] = acc[ch]
//		}
//	}
//
// taps must not be empty.
func maxCellsGeneric(out, x []float32, taps []int, cells, c, stride int) {
	for i := range cells {
		acc := out[i*c : (i+1)*c]
		copy(acc, x[i*stride+taps[0]/4:])
		for _, t := range taps[1:] {
			for ch, v := range x[i*stride+t/4 : i*stride+t/4+c] {
				acc[ch] = max(acc[ch], v)
			}
		}
	}
}

// avgCellsGeneric is maxCellsGeneric summing instead, then dividing by div:
//
//	acc[ch] += x[off+ch]   (for each tap after the first)
//	out[i*c+ch] = acc[ch] / div
func avgCellsGeneric(out, x []float32, taps []int, cells, c, stride int, div float32) {
	for i := range cells {
		acc := out[i*c : (i+1)*c]
		copy(acc, x[i*stride+taps[0]/4:])
		for _, t := range taps[1:] {
			for ch, v := range x[i*stride+t/4 : i*stride+t/4+c] {
				acc[ch] += v
			}
		}
		for ch := range acc {
			acc[ch] /= div
		}
	}
}

// addRowsGeneric adds rows rows of c floats, c apart in x, to acc, in row
// order:
//
//	for r := range rows {
//		for ch := range c {
//			acc[ch] += x[r*c+ch]
//		}
//	}
func addRowsGeneric(acc, x []float32, rows, c int) {
	acc = acc[:c]
	for r := range rows {
		for ch, v := range x[r*c : (r+1)*c] {
			acc[ch] += v
		}
	}
}

// AddRows is set's kernel that adds rows rows of c floats, c apart in x, to
// acc, in row order (addRowsGeneric's loop): for kernels that sum rows of
// their own, as a bias's gradient does.
func AddRows(set cpu.Set) func(acc, x []float32, rows, c int) { return sets.For(set).addRows }

// MaxGrad2x2 is set's kernel of the gradient of a max pool of 2×2 windows
// with stride 2 (maxGrad2x2Generic's loop), for package backward: windows
// side by side along a row, each cell written once.
func MaxGrad2x2(set cpu.Set) func(x, dy, dx []float32, windows, c, row int) {
	return sets.For(set).maxGrad
}

// maxGrad2x2Generic writes the max pool gradient of windows 2×2 windows,
// side by side along a row: window w's taps are the c channels at
// x[w*2*c:], x[w*2*c+c:], x[w*2*c+row:] and x[w*2*c+row+c:]; each channel's
// dy goes to its first maximal tap (a NaN counting as the maximum), +0 to
// the others. The caller checks that x and dx hold every tap.
func maxGrad2x2Generic(x, dy, dx []float32, windows, c, row int) {
	for w := range windows {
		for ch := range c {
			taps := [4]int{w*2*c + ch, w*2*c + c + ch, w*2*c + row + ch, w*2*c + row + c + ch}
			best, arg := x[taps[0]], 0
			for k := 1; k < 4; k++ {
				if v := x[taps[k]]; v > best || v != v && best == best {
					best, arg = v, k
				}
			}
			for k, t := range taps {
				dx[t] = 0
				if k == arg {
					dx[t] = dy[w*c+ch] + 0 // -0 becomes +0
				}
			}
		}
	}
}

// globalBlock is how many positions GlobalAvg sums before adding the partial
// sum to the total: two levels of float32 sums keep the error near
// (globalBlock + hw/globalBlock)·2⁻²⁴ rather than hw·2⁻²⁴.
const globalBlock = 64

// Global is global average pooling over n images of HW positions and C
// channels, fixed when a plan is built.
type Global struct {
	N, HW, C int
	k        *kernels
}

// NewGlobal describes global average pooling, run by the kernels of set.
func NewGlobal(set cpu.Set, n, hw, c int) Global {
	return Global{N: n, HW: hw, C: c, k: sets.For(set)}
}

// ScratchSize is the scratch Avg needs.
func (g *Global) ScratchSize() int { return g.C }

// Avg averages each channel over the positions of each image:
//
//	out[b,ch] = Σ_{p<HW} x[(b*HW+p)*C+ch] / HW
//
// summed in blocks of globalBlock positions, in order, each block's sum then
// added to the total. scratch holds ScratchSize floats.
func (g *Global) Avg(x, out, scratch []float32) {
	c, hw := g.C, g.HW
	part := scratch[:c]
	for b := range g.N {
		acc := out[b*c : (b+1)*c]
		clear(acc)
		for p0 := 0; p0 < hw; p0 += globalBlock {
			p1 := min(p0+globalBlock, hw)
			clear(part)
			g.k.addRows(part, x[(b*hw+p0)*c:(b*hw+p1)*c], p1-p0, c)
			g.k.addRows(acc, part, 1, c)
		}
		div := float32(hw)
		for i := range acc {
			acc[i] /= div
		}
	}
}
