package conv

// A convolution's input gradient is itself a convolution, of the result's
// gradient with the kernel turned round: for stride 1,
//
//	dx[b,i,j,c] = Σ_{ky,kx,o} dy[b, i+top−ky·DH, j+left−kx·DW, o] · k[ky,kx,c,o]
//	            = Σ_{ky,kx,o} dy[b, i−top'+ky·DH, j−left'+kx·DW, o] · k'[ky,kx,o,c]
//
// with k'[ky,kx,o,c] = k[KH−1−ky, KW−1−kx, c, o] (flipped along both spatial
// axes, its channel axes swapped) and pads top' = (KH−1)·DH − top and so on:
// the "full" correlation, whose output is the input's size. InputGrad gives
// that convolution's shape, so that a plan can run it with this package's
// algorithms (Winograd, for a 3×3 kernel over many channels) rather than as
// a product and col2im.

// InputGrad is the shape of the convolution over the result's gradient
// that computes the input gradient of s, a stride-1, ungrouped convolution
// whose pads are at most its kernel's reach; ok is false for any other.
func InputGrad(s Shape) (g Shape, ok bool) {
	if s.Stride != [2]int{1, 1} || s.Groups != 1 {
		return Shape{}, false
	}
	rh, rw := (s.KH-1)*s.Dilation[0], (s.KW-1)*s.Dilation[1]
	pads := [4]int{rh - s.Pads[0], rh - s.Pads[1], rw - s.Pads[2], rw - s.Pads[3]}
	if min(pads[0], pads[1], pads[2], pads[3]) < 0 {
		return Shape{}, false
	}
	oh, ow := s.H+s.Pads[0]+s.Pads[1]-rh, s.W+s.Pads[2]+s.Pads[3]-rw
	if oh < 1 || ow < 1 {
		return Shape{}, false
	}
	return Shape{N: s.N, H: oh, W: ow, C: s.CO, KH: s.KH, KW: s.KW, CO: s.C, Stride: s.Stride, Dilation: s.Dilation, Pads: pads, Groups: 1}, true
}

// FlipKernel writes into dst the kernel of g, an InputGrad shape, from k,
// the HWIO kernel [KH, KW, g.CO, g.C] of the convolution it differentiates:
//
//	dst[ky,kx,o,c] = k[KH−1−ky, KW−1−kx, c, o]   (o < g.C, c < g.CO)
func FlipKernel(dst, k []float32, g Shape) {
	ci, co := g.C, g.CO
	for ky := range g.KH {
		for kx := range g.KW {
			src := k[((g.KH-1-ky)*g.KW+g.KW-1-kx)*ci*co:][:ci*co]
			out := dst[(ky*g.KW+kx)*ci*co:][:ci*co]
			for o := range ci {
				for c := range co {
					out[o*co+c] = src[c*ci+o]
				}
			}
		}
	}
}
