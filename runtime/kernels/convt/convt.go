// Package convt computes transposed convolutions (conv2d_transpose) over
// NHWC images as a matrix product and a scatter, the way Caffe's and
// PyTorch's CPU back ends do ("col2im"):
//
//	cols[m][(i·KW + j)·CO + o] = Σ_c x[m][c] · kernel[i][j][o][c]
//	out[n][y·sy - top + i·dy][x·sx - left + j·dx][o] += cols[(n, y, x)][(i, j, o)]
//
// m running over the N·H·W input cells. The product is the packed GEMM of
// package gemm, B the kernel (KH·KW·CO rows of C, Keras's (kh, kw, out, in)
// layout) transposed and packed once; the scatter adds a band of cols at a
// time into the output, which starts as the bias. Each output sums its
// taps in input order (y, x, then i, j), so the result does not depend on
// the blocking. Single-threaded: the decoders it serves (U-Net, GAN
// generators) spend their time in the convolutions around it.
package convt

import (
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
)

// Shape is a transposed convolution of N images H×W×C into OH×OW×CO with a
// KH×KW kernel; Crop (top, bottom, left, right) are the cells cut from the
// full output, which OH and OW include along with any output padding.
type Shape struct {
	N, H, W, C, KH, KW, CO int
	Stride, Dilation       [2]int
	Crop                   [4]int
	OH, OW                 int
}

// ConvT is a transposed convolution compiled for one kernel set.
type ConvT struct {
	Shape
	g *gemm.MatMul
}

// New compiles s for the kernels of set.
func New(set cpu.Set, s Shape) *ConvT {
	cols := s.KH * s.KW * s.CO
	kn := gemm.ForWidth(set, cols)
	return &ConvT{Shape: s, g: gemm.NewMatMul(kn, s.N*s.H*s.W, cols, s.C, s.C, false)}
}

// PackedSize is the length of the packed kernel.
func (c *ConvT) PackedSize() int { return c.g.Kernel.PackedSize(c.C, c.KH*c.KW*c.CO) }

// PackWeights packs kernel (KH, KW, CO, C), read as a (KH·KW·CO)×C matrix,
// transposed into dst.
func (c *ConvT) PackWeights(dst, kernel []float32) {
	c.g.Kernel.PackB(dst, kernel, c.C, c.KH*c.KW*c.CO, c.C, true)
}

// ScratchSize is a band of cols and the product's own scratch.
func (c *ConvT) ScratchSize() int { return c.g.MC*c.KH*c.KW*c.CO + c.g.ScratchSize() }

// Flops is the work of the product and the scatter.
func (c *ConvT) Flops() float64 {
	return 2 * float64(c.N*c.H*c.W) * float64(c.C) * float64(c.KH*c.KW*c.CO)
}

// Run computes out (N, OH, OW, CO) from x (N, H, W, C), the packed kernel
// and bias (CO, or nil).
func (c *ConvT) Run(x, packed, bias, out, scratch []float32) {
	ncols := c.KH * c.KW * c.CO
	cols, gs := scratch[:c.g.MC*ncols], scratch[c.g.MC*ncols:c.ScratchSize()]
	if bias == nil {
		clear(out[:c.N*c.OH*c.OW*c.CO])
	} else {
		for p := range c.N * c.OH * c.OW {
			copy(out[p*c.CO:(p+1)*c.CO], bias[:c.CO])
		}
	}
	m := c.N * c.H * c.W
	for i0 := 0; i0 < m; i0 += c.g.MC {
		rows := min(c.g.MC, m-i0)
		c.g.Rows(x[i0*c.C:], packed, cols, ncols, 0, rows, gs, gemm.Epilogue{})
		for r := range rows {
			c.scatter(i0+r, cols[r*ncols:(r+1)*ncols], out)
		}
	}
}

// scatter adds the taps of input cell m into the output cells they reach.
func (c *ConvT) scatter(m int, taps, out []float32) {
	n, y, x := m/(c.H*c.W), m/c.W%c.H, m%c.W
	for i := range c.KH {
		oy := y*c.Stride[0] - c.Crop[0] + i*c.Dilation[0]
		if oy < 0 || oy >= c.OH {
			continue
		}
		row := out[(n*c.OH+oy)*c.OW*c.CO:]
		for j := range c.KW {
			ox := x*c.Stride[1] - c.Crop[2] + j*c.Dilation[1]
			if ox < 0 || ox >= c.OW {
				continue
			}
			dst := row[ox*c.CO : (ox+1)*c.CO]
			src := taps[(i*c.KW+j)*c.CO : (i*c.KW+j+1)*c.CO]
			for o, v := range src {
				dst[o] += v
			}
		}
	}
}
