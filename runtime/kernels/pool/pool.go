// Package pool holds the pooling kernels over NHWC tensors: max and average
// pooling over a sliding 2D window, and global average pooling.
//
// Padded cells are skipped, as in Keras and the reference runtime: a max pool
// never sees them and an average pool does not count them; a window wholly in
// the padding yields -Inf (max) or NaN (average, 0/0). Max pooling is exact.
// Averages are summed in float32: over n cells of magnitude ~1 they are within
// about n·2⁻²⁴ (relative) of the reference's float64 sums.
//
// Nothing here allocates.
package pool

import "math"

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
}

// NewWindow describes a kh×kw window with the given strides, dilations and
// pads (top, bottom, left, right) over an h×w×c image.
func NewWindow(h, w, c, kh, kw int, stride, dilation [2]int, pads [4]int) Window {
	return Window{
		H: h, W: w, C: c, KH: kh, KW: kw,
		SH: stride[0], SW: stride[1], DH: dilation[0], DW: dilation[1],
		Top: pads[0], Left: pads[2],
		OH: (h+pads[0]+pads[1]-((kh-1)*dilation[0]+1))/stride[0] + 1,
		OW: (w+pads[2]+pads[3]-((kw-1)*dilation[1]+1))/stride[1] + 1,
	}
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
		for ox := range p.OW {
			x0 := ox*p.SW - p.Left
			kxLo, kxHi := ValidTaps(x0, p.DW, p.KW, p.W)
			acc := out[(oy*p.OW+ox)*c : (oy*p.OW+ox+1)*c]
			cells := (kyHi - kyLo) * (kxHi - kxLo)
			if cells <= 0 {
				fill(acc, isMax)
				continue
			}
			first := true
			for ky := kyLo; ky < kyHi; ky++ {
				row := x[(y0+ky*p.DH-xRow0)*rowLen:]
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
				inv := float32(cells)
				for i := range acc {
					acc[i] /= inv
				}
			}
		}
	}
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

// fill sets a window with no cells: -Inf for max, NaN (0/0) for average.
func fill(acc []float32, isMax bool) {
	v := float32(math.NaN())
	if isMax {
		v = float32(math.Inf(-1))
	}
	for i := range acc {
		acc[i] = v
	}
}

// globalBlock is how many positions GlobalAvg sums before adding the partial
// sum to the total: two levels of float32 sums keep the error near
// (globalBlock + hw/globalBlock)·2⁻²⁴ rather than hw·2⁻²⁴.
const globalBlock = 64

// GlobalAvg averages each channel over the hw positions of each of n images:
//
//	out[b,ch] = Σ_{p<hw} x[(b*hw+p)*c+ch] / hw
//
// scratch holds c floats.
func GlobalAvg(x, out []float32, n, hw, c int, scratch []float32) {
	part := scratch[:c]
	for b := range n {
		acc := out[b*c : (b+1)*c]
		clear(acc)
		for p0 := 0; p0 < hw; p0 += globalBlock {
			clear(part)
			for p := p0; p < min(p0+globalBlock, hw); p++ {
				for i, v := range x[(b*hw+p)*c : (b*hw+p+1)*c] {
					part[i] += v
				}
			}
			for i, v := range part {
				acc[i] += v
			}
		}
		inv := float32(hw)
		for i := range acc {
			acc[i] /= inv
		}
	}
}
