// Package conv is 2D convolution over NHWC images with HWIO kernels, with an
// optional epilogue chain (bias, activation, residual add, ...) applied to each
// band of output rows while it is in cache, and an optional max pool computed
// band by band so that the full convolution output is never stored.
//
// Two algorithms, chosen per shape when a plan is built:
//
//   - im2col + GEMM: the rows of the im2col matrix (one per output pixel, one
//     column per kernel tap and input channel) are gathered straight into the
//     GEMM's packed A panels, a block at a time, so the matrix never exists
//     whole; the weights are packed once as the GEMM's B. A 1×1, stride-1,
//     unpadded conv reads the image itself as A: a plain GEMM.
//   - direct: a loop over output pixels and taps on the HWIO weights, for
//     grouped convs whose per-group products are too narrow for the GEMM
//     (depthwise convs).
//
// Sums are accumulated in float32 (see package gemm for the bound); the
// direct loop sums in tap order, within about K·2⁻²⁴ of Σ|x·w| for K = taps ×
// channels per group.
//
// Nothing here allocates.
package conv

import (
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/pool"
)

// Shape is a convolution's geometry, fixed when a plan is built.
type Shape struct {
	N, H, W, C int // input
	KH, KW     int
	CO         int // output channels
	Stride     [2]int
	Dilation   [2]int
	Pads       [4]int // top, bottom, left, right
	Groups     int
}

// Conv is a compiled convolution.
type Conv struct {
	Shape
	OH, OW   int
	cpg, opg int // input and output channels per group
	k        int // GEMM inner dimension: KH·KW·cpg
	direct   bool
	plain    bool // a 1×1 stride-1 unpadded conv: A is the image
	blk      gemm.Blocking
	packed   int // packed weights per group
	band     int // output pixels computed before the epilogue runs

	epilogue *eltwise.Chain
	pool     *pool.Window
	poolRows int // pooled rows per band
	bandBuf  int // floats of the conv rows a pooled band needs
}

// bandBytes bounds a band of output rows: small enough to stay in L2 while
// the epilogue and the pool read it back.
const bandBytes = 64 << 10

// New compiles a convolution. epilogue, if not nil, runs on each output
// element (its shape is the conv output's, [N, OH, OW, CO]); pool, if not
// nil, is a max pool over the conv output, which is then what Run writes.
func New(s Shape, epilogue *eltwise.Chain, mp *pool.Window) *Conv {
	c := &Conv{Shape: s, epilogue: epilogue, pool: mp}
	c.OH = (s.H+s.Pads[0]+s.Pads[1]-((s.KH-1)*s.Dilation[0]+1))/s.Stride[0] + 1
	c.OW = (s.W+s.Pads[2]+s.Pads[3]-((s.KW-1)*s.Dilation[1]+1))/s.Stride[1] + 1
	c.cpg, c.opg = s.C/s.Groups, s.CO/s.Groups
	c.k = s.KH * s.KW * c.cpg
	c.direct = s.Groups > 1 && min(c.cpg, c.opg) < 4
	c.plain = s.KH == 1 && s.KW == 1 && s.Stride == [2]int{1, 1} && s.Pads == [4]int{} && c.OH == s.H && c.OW == s.W
	m := s.N * c.OH * c.OW
	c.blk = gemm.Block(m, c.opg, c.k)
	c.band = c.blk.MC
	if c.direct {
		c.band = max(1, bandBytes/4/max(s.CO, 1))
	}
	c.packed = gemm.PackedSize(c.k, c.opg)
	if mp != nil {
		rowFloats := c.OW * s.CO
		span := func(rows int) int { return (rows-1)*mp.SH + (mp.KH-1)*mp.DH + 1 }
		c.poolRows = 1
		for c.poolRows < mp.OH && span(c.poolRows+1)*rowFloats*4 <= bandBytes {
			c.poolRows++
		}
		c.bandBuf = min(span(c.poolRows), c.OH) * rowFloats
	}
	return c
}

// Algorithm names the algorithm New chose: "gemm" (a 1×1 conv read as a
// matrix), "im2col+gemm" or "direct".
func (c *Conv) Algorithm() string {
	switch {
	case c.direct:
		return "direct"
	case c.plain:
		return "gemm"
	}
	return "im2col+gemm"
}

// OutSize is the number of floats Run writes: the pooled output if there is
// a pool, else the conv output.
func (c *Conv) OutSize() int {
	if c.pool != nil {
		return c.N * c.pool.OH * c.pool.OW * c.CO
	}
	return c.N * c.OH * c.OW * c.CO
}

// PackedSize is the length of the weights packed by PackWeights.
func (c *Conv) PackedSize() int {
	if c.direct {
		return c.KH * c.KW * c.cpg * c.CO
	}
	return c.Groups * c.packed
}

// PackWeights lays out HWIO weights k for Run: as the GEMM's packed B, one
// matrix of [KH·KW·cpg, opg] per group, or unchanged for the direct loop.
func (c *Conv) PackWeights(dst, k []float32) {
	if c.direct {
		copy(dst, k)
		return
	}
	for g := range c.Groups {
		gemm.PackB(dst[g*c.packed:(g+1)*c.packed], k[g*c.opg:], c.k, c.opg, c.CO, false)
	}
}

// ScratchSize is the scratch Run needs: packed A panels, and a band of conv
// rows when pooling.
func (c *Conv) ScratchSize() int {
	n := c.bandBuf
	if !c.direct {
		n += c.blk.ScratchSize()
	}
	return n
}

// Run convolves x with weights w packed by PackWeights:
//
//	conv[b,oy,ox,o] = Σ_{ky,kx,i<cpg} x[b, oy*SH-top+ky*DH, ox*SW-left+kx*DW, g*cpg+i] · k[ky,kx,i,o]
//
// g = o/opg, cells outside x being zero; then conv = epilogue(conv) element by
// element; out = conv, or max-pooled conv when there is a pool. operands are
// the epilogue's.
func (c *Conv) Run(x, w, out, scratch []float32, operands [][]float32) {
	pa := scratch[:c.ScratchSize()-c.bandBuf]
	if c.pool == nil {
		m := c.N * c.OH * c.OW
		for r0 := 0; r0 < m; r0 += c.band {
			rows := min(c.band, m-r0)
			c.finish(x, w, out[r0*c.CO:(r0+rows)*c.CO], r0, pa, operands)
		}
		return
	}
	buf := scratch[len(pa):]
	per := c.pool.OH * c.pool.OW * c.CO
	for b := range c.N {
		for py0 := 0; py0 < c.pool.OH; py0 += c.poolRows {
			py1 := min(py0+c.poolRows, c.pool.OH)
			lo, hi := c.pool.InputRows(py0, py1)
			r0, rows := (b*c.OH+lo)*c.OW, (hi-lo)*c.OW
			band := buf[:rows*c.CO]
			for s := 0; s < rows; s += c.band {
				n := min(c.band, rows-s)
				c.finish(x, w, band[s*c.CO:(s+n)*c.CO], r0+s, pa, operands)
			}
			c.pool.MaxRows(band, lo, out[b*per:(b+1)*per], py0, py1)
		}
	}
}

// finish computes output pixels r0.. into dst, len(dst)/CO of them, and runs
// the epilogue over them.
func (c *Conv) finish(x, w, dst []float32, r0 int, pa []float32, operands [][]float32) {
	rows := len(dst) / c.CO
	if c.direct {
		c.directRows(x, w, dst, r0, rows)
	} else {
		c.gemmRows(x, w, dst, r0, rows, pa)
	}
	if c.epilogue != nil {
		c.epilogue.Apply(dst, r0*c.CO, operands)
	}
}

// gemmRows computes pixels r0..r0+rows-1 (rows ≤ MC) as a GEMM per group.
func (c *Conv) gemmRows(x, w, dst []float32, r0, rows int, pa []float32) {
	for g := range c.Groups {
		pb := w[g*c.packed : (g+1)*c.packed]
		for p0 := 0; p0 < c.k; p0 += c.blk.KC {
			kc := min(c.blk.KC, c.k-p0)
			if c.plain {
				gemm.PackA(pa, x[g*c.cpg:], c.C, false, r0, rows, p0, kc)
			} else {
				c.packA(pa, x, g, r0, rows, p0, kc)
			}
			gemm.Multiply(rows, c.opg, kc, pa, pb, c.k, p0, dst[g*c.opg:], c.CO, p0 > 0)
		}
	}
}

// packA gathers rows r0..r0+rows-1, columns p0..p0+kc-1 of group g's im2col
// matrix into packed A panels laid out as gemm.PackA lays them:
//
//	A[r][(ky*KW+kx)*cpg+i] = x[b, oy*SH-top+ky*DH, ox*SW-left+kx*DW, g*cpg+i],
//
// r the pixel (b, oy, ox), zero outside x.
func (c *Conv) packA(dst, x []float32, g, r0, rows, p0, kc int) {
	const mr = gemm.MR
	for r := 0; r < rows; r += mr {
		panel := dst[r*kc : (r+mr)*kc]
		for t := range min(mr, rows-r) {
			pix := r0 + r + t
			b, oy, ox := pix/(c.OH*c.OW), pix/c.OW%c.OH, pix%c.OW
			y0, x0 := oy*c.Stride[0]-c.Pads[0], ox*c.Stride[1]-c.Pads[2]
			img := x[b*c.H*c.W*c.C:]
			tap, i := p0/c.cpg, p0%c.cpg
			for p := 0; p < kc; tap, i = tap+1, 0 {
				n := min(c.cpg-i, kc-p)
				iy, ix := y0+tap/c.KW*c.Dilation[0], x0+tap%c.KW*c.Dilation[1]
				if iy < 0 || iy >= c.H || ix < 0 || ix >= c.W {
					for q := range n {
						panel[(p+q)*mr+t] = 0
					}
				} else {
					at := (iy*c.W+ix)*c.C + g*c.cpg + i
					for q, v := range img[at : at+n] {
						panel[(p+q)*mr+t] = v
					}
				}
				p += n
			}
		}
	}
}

// directRows computes pixels r0..r0+rows-1 by looping over taps:
//
//	dst[r][g*opg+m] = Σ_{taps inside x} Σ_{i<cpg} x[pixel's cell, g*cpg+i] · k[tap, i, g*opg+m]
func (c *Conv) directRows(x, w, dst []float32, r0, rows int) {
	co := c.CO
	for r := range rows {
		pix := r0 + r
		b, oy, ox := pix/(c.OH*c.OW), pix/c.OW%c.OH, pix%c.OW
		y0, x0 := oy*c.Stride[0]-c.Pads[0], ox*c.Stride[1]-c.Pads[2]
		kyLo, kyHi := pool.ValidTaps(y0, c.Dilation[0], c.KH, c.H)
		kxLo, kxHi := pool.ValidTaps(x0, c.Dilation[1], c.KW, c.W)
		acc := dst[r*co : (r+1)*co]
		clear(acc)
		for ky := kyLo; ky < kyHi; ky++ {
			for kx := kxLo; kx < kxHi; kx++ {
				at := ((b*c.H+y0+ky*c.Dilation[0])*c.W + x0 + kx*c.Dilation[1]) * c.C
				cell := x[at : at+c.C]
				taps := w[(ky*c.KW+kx)*c.cpg*co:]
				if c.cpg == 1 && c.opg == 1 { // depthwise: channel o reads channel o
					for o, wv := range taps[:co] {
						acc[o] += cell[o] * wv
					}
					continue
				}
				for g := range c.Groups {
					out := acc[g*c.opg : (g+1)*c.opg]
					for i := range c.cpg {
						xv := cell[g*c.cpg+i]
						for m, wv := range taps[i*co+g*c.opg : i*co+(g+1)*c.opg] {
							out[m] += xv * wv
						}
					}
				}
			}
		}
	}
}
