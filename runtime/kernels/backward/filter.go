package backward

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The direct filter gradient, for convolutions of few input channels (the
// first layer of an image model: 1 or 3), where the GEMM's packing costs
// more than its products: K = KH·KW·C taps, each the gradient of one row of
// dk (K×CO, HWIO), is a sum over every output pixel of the tap's input
// value times the pixel's row of dy:
//
//	dk[t][o] = Σ_pixels x[pixel's window start + off_t] · dy[pixel][o]
//
// A kernel takes a block of up to 8 taps by up to a few vectors of output
// channels and keeps their sums in registers over an image's grid of
// output pixels: each pixel loads its vectors of dy once for the block, and
// each tap's input value is a broadcast from its offset (held in a general
// register) — no im2col, no transpose, no packing. With padding the image
// is first copied into a zero-bordered scratch image, so every offset is
// inside it.
//
// The images are cut into up to targetUnits ranges, each summed into
// partial sums of its own in image order, then added in range order (the
// second phase GradFilter shares with the GEMM path): the result does not
// depend on the thread count. The kernels fuse each product into its sum,
// the generic one does not; they agree to about pixels·2⁻²⁴ relative to
// Σ|x·dy|.
//
// Measured on the first layers of the stdlib models (Intel Xeon, Emerald
// Rapids, AVX-512, one thread, loaded machine; `mdlc bench --train
// --profile`): see directFilter's rule in NewConvGrad.
//
//go:generate go -C ../_asm run ./filtergrad -out ../backward/filtergrad_amd64.s -stubs ../backward/filtergrad_amd64.go -pkg backward -neon ../backward/filtergrad_arm64
//go:generate go -C ../_asm run ./filtergrad -avx512 -out ../backward/filtergrad_avx512_amd64.s -stubs ../backward/filtergrad_avx512_amd64.go -pkg backward

// tapsFunc adds a grid's products to a block of taps' gradients; see
// filterTapsGeneric.
type tapsFunc func(acc []float32, ld int, x, dy []float32, taps []int, c, cells, rows, stride, xrows, dystride, dyrows int)

// filterKernel is one set's direct filter-gradient kernels.
type filterKernel struct {
	set   cpu.Set
	lanes int // floats a vector
	// taps[v-1][tb-1] handles tb taps by v vectors of channels; the rows
	// may be shorter for more vectors (fewer registers left for taps).
	taps [][]tapsFunc
	// whole: the kernels take whole vectors only (NEON's, without masked
	// loads); the last channels of a panel that fill none go to the
	// generic loop.
	whole bool
}

// filterSets are the direct filter-gradient kernels of this build's sets.
var filterSets = cpu.NewFamily("filtergrad", &filterGeneric)

// filterGeneric: the generic loop takes any block; 8 taps by one vector
// of 8 channels is as good a block as any for it.
var filterGeneric = filterKernel{set: cpu.Generic, lanes: 8, taps: [][]tapsFunc{{
	filterTapsGeneric, filterTapsGeneric, filterTapsGeneric, filterTapsGeneric,
	filterTapsGeneric, filterTapsGeneric, filterTapsGeneric, filterTapsGeneric}}}

// filterTapsGeneric adds to len(taps) taps' gradients in acc (rows ld
// floats apart), c output channels each, the products over a grid of rows
// by cells output pixels of each tap's input value, at the byte offset
// taps[k] from the pixel's start in x, with the pixel's c values of dy,
// pixels in row order.
func filterTapsGeneric(acc []float32, ld int, x, dy []float32, taps []int, c, cells, rows, stride, xrows, dystride, dyrows int) {
	for k, off := range taps {
		off /= 4
		for ch := range c {
			s := acc[k*ld+ch]
			for r := range rows {
				xr, dr := x[r*xrows+off:], dy[r*dyrows+ch:]
				for t := range cells {
					s += xr[t*stride] * dr[t*dystride]
				}
			}
			acc[k*ld+ch] = s
		}
	}
}

// directFilter is a ConvGrad's plan for the direct filter gradient.
type directFilter struct {
	kern *filterKernel
	// taps: each tap's byte offset from a pixel's window start in the
	// (padded) image, in dk's row order.
	taps []int
	// blocks of taps and panels of output channels, each panel's kernels
	// (fns[b] for block b).
	blocks []span
	panels []panel
	// The image the kernels read: x's own (w = W, h = H), or with padding
	// a zero-bordered copy of h×w pixels in scratch, the image at (top,
	// left).
	padded         bool
	h, w, top, lft int
	// images per unit; rows of output pixels a kernel call covers.
	images, band int
}

type span struct{ at, n int }

type panel struct {
	span
	fns []tapsFunc
}

// maxTapsBlock is the most taps a kernel of any set takes.
const maxTapsBlock = 8

// bandFloats bounds the floats of dy a kernel call reads, 32 KiB (L1), so
// that it reads them from cache again for each block of taps.
const bandFloats = 1 << 13

// newDirectFilter plans g's direct filter gradient (Groups 1).
func newDirectFilter(set cpu.Set, g *ConvGrad) *directFilter {
	f := &directFilter{kern: filterSets.For(set)}
	// A few output channels fill more of AVX2's 8 lanes than of AVX-512's
	// 16, at the same FMAs a cycle (LeNet's first layer has 6).
	if f.kern.lanes > 8 && g.CO <= 8 && filterSets.Runs(cpu.AVX2) == cpu.AVX2 {
		f.kern = filterSets.For(cpu.AVX2)
	}
	f.h, f.w = g.H, g.W
	if g.Pads != [4]int{} {
		f.padded = true
		f.h = (g.OH-1)*g.Stride[0] + (g.KH-1)*g.Dilation[0] + 1
		f.w = (g.OW-1)*g.Stride[1] + (g.KW-1)*g.Dilation[1] + 1
		f.top, f.lft = g.Pads[0], g.Pads[2]
	}
	for ky := range g.KH {
		for kx := range g.KW {
			for c := range g.C {
				f.taps = append(f.taps, 4*((ky*g.Dilation[0]*f.w+kx*g.Dilation[1])*g.C+c))
			}
		}
	}
	// Panels of as many vectors as the set has kernels for, the last
	// narrower; each panel's blocks of taps as large as its vectors allow,
	// the taps shared out evenly (25 taps: 7, 6, 6, 6), so that no block
	// is a lone chain of FMAs waiting on its latency.
	lanes, maxVecs := f.kern.lanes, len(f.kern.taps)
	width := maxVecs * lanes
	for c0 := 0; c0 < g.CO; c0 += width {
		f.panels = append(f.panels, panel{span: span{c0, min(width, g.CO-c0)}})
	}
	// One block layout for all panels: the shortest of their rows.
	maxTaps := maxTapsBlock
	for _, p := range f.panels {
		maxTaps = min(maxTaps, len(f.kern.taps[(p.n+lanes-1)/lanes-1]))
	}
	nb := (g.k + maxTaps - 1) / maxTaps
	for b, t0 := 0, 0; b < nb; b++ {
		n := (g.k - t0) / (nb - b)
		f.blocks = append(f.blocks, span{t0, n})
		t0 += n
	}
	if f.kern.whole {
		var split []panel
		for _, p := range f.panels {
			if n := p.n - p.n%lanes; n > 0 {
				split = append(split, panel{span: span{p.at, n}})
			}
			if r := p.n % lanes; r > 0 {
				split = append(split, panel{span: span{p.at + p.n - r, r}, fns: make([]tapsFunc, len(f.blocks))})
			}
		}
		f.panels = split
	}
	for i := range f.panels {
		p := &f.panels[i]
		if p.fns != nil { // a whole set's last channels
			for b := range p.fns {
				p.fns[b] = filterTapsGeneric
			}
			continue
		}
		row := f.kern.taps[(p.n+lanes-1)/lanes-1]
		for _, b := range f.blocks {
			p.fns = append(p.fns, row[b.n-1])
		}
	}
	f.images = (g.N + targetUnits - 1) / targetUnits
	f.band = max(1, bandFloats/(g.OW*g.CO))
	return f
}

// scratch is the floats of the padded image.
func (f *directFilter) scratch(c int) int {
	if !f.padded {
		return 0
	}
	return f.h * f.w * c
}

// units is the number of ranges of images.
func (f *directFilter) units(n int) int { return (n + f.images - 1) / f.images }

// run sums range r of the images into part (K×CO, zeroed first).
func (f *directFilter) run(g *ConvGrad, x, dy, part, scratch []float32, r int) {
	clear(part)
	img := g.H * g.W * g.C
	stride, xrows := g.Stride[1]*g.C, g.Stride[0]*f.w*g.C
	var pad []float32
	if f.padded {
		pad = scratch[:f.h*f.w*g.C]
		clear(pad)
	}
	for b := r * f.images; b < min((r+1)*f.images, g.N); b++ {
		xi := x[b*img : (b+1)*img]
		if f.padded {
			f.pad(g, xi, pad)
			xi = pad
		}
		for y0 := 0; y0 < g.OH; y0 += f.band {
			rows := min(f.band, g.OH-y0)
			xb, dyb := xi[y0*xrows:], dy[(b*g.pixels+y0*g.OW)*g.CO:]
			for _, p := range f.panels {
				for i, bl := range f.blocks {
					p.fns[i](part[bl.at*g.CO+p.at:], g.CO, xb, dyb[p.at:], f.taps[bl.at:bl.at+bl.n], p.n,
						g.OW, rows, stride, xrows, g.CO, g.OW*g.CO)
				}
			}
		}
	}
}

// pad copies image xi into pad's window at (top, left); the border stays
// as it was (zero: run clears it once, and every image writes the same
// cells).
func (f *directFilter) pad(g *ConvGrad, xi, pad []float32) {
	x0, x1 := max(0, -f.lft), min(g.W, f.w-f.lft) // the columns inside pad
	if x0 >= x1 {
		return
	}
	for iy := max(0, -f.top); iy < min(g.H, f.h-f.top); iy++ {
		copy(pad[((iy+f.top)*f.w+x0+f.lft)*g.C:((iy+f.top)*f.w+x1+f.lft)*g.C], xi[(iy*g.W+x0)*g.C:(iy*g.W+x1)*g.C])
	}
}
