package conv

import (
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/pool"
)

// winograd is the state of a conv computed with F(2×2, 3×3): each 2×2 tile
// of output is Aᵀ [Σ_i U_i ⊙ V_i] A over input channels i, with U = G g Gᵀ
// the transformed 3×3 kernel (packed at build) and V = Bᵀ d B the
// transformed 4×4 input tile. Per block of tiles, the 16 positions ξ of the
// 4×4 transformed tile are 16 independent GEMMs, M_ξ[tile][o] =
// Σ_i V_ξ[tile][i]·U_ξ[i][o], and the output transform reads M back.
//
// Units are rows of tiles of one image. The output transform applies the
// epilogue's head (bias, relu); with a 2×2, stride-2 unpadded floor-mode
// pool and nothing else after it, tiles are pool windows and it pools too;
// any other pool, or an epilogue with more after the head, goes through a
// band of conv rows as the im2col path does.
type winograd struct {
	tr   *transforms
	bias int // operand of the bias; -1 for zero
	zero []float32
	relu bool
	rest *eltwise.Chain
	// fused: the pool is computed by the output transform; band: conv rows
	// go through a band buffer for rest and the pool.
	fused, band bool

	th, tw int // tiles per image: down, across
	block  int // tiles per block, as V and M are sized
	vs, ms int // floats from one position to the next in V and M
	kc     int // channels per K block of the GEMMs
	ps     int // packed U per position
	rows   int // tile rows per unit, or pooled rows per unit with band
	units  int
	// Scratch: V, M, the GEMM's edge tile, a gathered input tile and an
	// output tile, then the band.
	vOff, mOff, tmpOff, inOff, outOff, bandOff, scratch int
}

// l2Budget bounds the V and M of a block: half of a 512 KiB L2, leaving room
// for the packed U, which every block reads whole. But a block has at least
// minBlock micro-tiles of rows, so that each U_ξ, fetched from L2 or L3 when
// there are many channels, serves enough tiles: with 256 channels in and out
// a block is 48 tiles, and each GEMM (V_ξ, U_ξ, M_ξ: 48 + 256 + 48 KiB)
// still fits L2. Between 24 and 192 tiles the time of the seed's convs and
// of 3×3 convs of 64 and 256 channels hardly changes (Zen 3).
const (
	l2Budget = 256 << 10
	minBlock = 8
)

// winogradApplies reports whether F(2×2, 3×3) computes s.
func winogradApplies(s Shape) bool {
	one := [2]int{1, 1}
	return s.KH == 3 && s.KW == 3 && s.Stride == one && s.Dilation == one && s.Groups == 1
}

// winogradPools reports whether the output transform of a conv computed by
// Winograd would compute the max pool mp too: a 2×2, stride-2, unpadded,
// floor-mode pool after an epilogue that is at most bias and relu.
func winogradPools(s Shape, steps []eltwise.Step, mp *pool.Window) bool {
	oh, ow := s.H+s.Pads[0]+s.Pads[1]-2, s.W+s.Pads[2]+s.Pads[3]-2
	return mp != nil && len(winogradHead(steps, s.CO).Rest) == 0 &&
		mp.KH == 2 && mp.KW == 2 && mp.SH == 2 && mp.SW == 2 && mp.DH == 1 && mp.DW == 1 &&
		mp.Top == 0 && mp.Left == 0 && mp.OH == oh/2 && mp.OW == ow/2
}

// winogradHead is the head of steps that the output transforms apply: the
// tile epilogue's bias and relu. A relu6 stays in Rest, as its clip step.
func winogradHead(steps []eltwise.Step, co int) eltwise.TileEpilogue {
	head := eltwise.SplitTile(steps, co)
	if head.Relu6 {
		head.Relu6, head.Rest = false, steps[len(steps)-len(head.Rest)-1:]
	}
	return head
}

// newWinograd sets up c (shape, OH, OW, gemm set) for Winograd: head is the
// epilogue split for the output transform.
func newWinograd(c *Conv, steps []eltwise.Step, mp *pool.Window) *winograd {
	head := winogradHead(steps, c.CO)
	wg := &winograd{tr: transformSets.For(c.gemm.Set), bias: head.Bias, relu: head.Relu}
	if len(head.Rest) > 0 {
		wg.rest = eltwise.NewChain(c.gemm.Set, []int{c.N, c.OH, c.OW, c.CO}, head.Rest)
	}
	if wg.bias < 0 {
		wg.zero = make([]float32, c.CO)
	}
	wg.fused = winogradPools(c.Shape, steps, mp)
	wg.band = mp != nil && !wg.fused
	if wg.fused {
		wg.th, wg.tw = mp.OH, mp.OW
	} else {
		wg.th, wg.tw = (c.OH+1)/2, (c.OW+1)/2
	}

	mr := c.gemm.MR
	wg.block = max(l2Budget/(64*(c.C+c.CO)), minBlock*mr) / mr * mr
	perImage := wg.th * wg.tw
	if wg.band {
		wg.rows, wg.units = c.poolRows, c.N*((mp.OH+c.poolRows-1)/c.poolRows)
	} else {
		wg.rows = min(max(1, (wg.block+wg.tw/2)/wg.tw), wg.th)
		wg.units = c.N * ((wg.th + wg.rows - 1) / wg.rows)
	}
	wg.block = min(wg.block, perImage)
	blk := c.gemm.Block(wg.block, c.CO, c.C)
	wg.kc = blk.KC
	wg.ps = c.gemm.PackedSize(c.C, c.CO)

	wg.vOff = 0
	wg.vs, wg.ms = spread(wg.block*c.C), spread(wg.block*c.CO)
	wg.mOff = 16 * wg.vs
	wg.tmpOff = wg.mOff + 16*wg.ms
	wg.inOff = wg.tmpOff + blk.Tile
	wg.outOff = wg.inOff + 16*wg.kc
	wg.bandOff = wg.outOff + 4*c.CO
	wg.scratch = wg.bandOff
	if wg.band {
		wg.scratch += c.bandBuf
	}
	return wg
}

// spread rounds the floats of a position's block of V or M up to an odd
// number of 64-byte lines: the transforms read and write the 16 positions
// together, and 16 streams a multiple of 4 KiB apart would share one L1 set
// (measured on the seed's second conv: the output transform took 19% of
// the conv with blocks 12 KiB apart).
func spread(n int) int {
	lines := (n + 15) / 16
	return (lines | 1) * 16
}

// packedSize: U for the 16 positions, each packed as the GEMM's B.
func (wg *winograd) packedSize(c *Conv) int { return 16 * wg.ps }

// G is F(2×2, 3×3)'s kernel transform.
var wgG = [4][3]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}

// packWeights computes U_ξ[i][o] = (G g Gᵀ)[ξ/4][ξ%4] for g = k[:, :, i, o],
// in float64 rounded once, straight into each position's packed B (PackB's
// layout: column o of row i at panel o/NR, row i, lane o%NR; zero past CO).
// G g Gᵀ is taken as G·g, then ·Gᵀ, for all 16 positions of one (i, o) at
// once: 84 products where each position's own sum of 9 took 288. A training
// step packs its weights every run: fashion_cnn's second layer (32→64)
// spent 0.75 ms of a 7.8 ms step (batch 32, one thread, Zen 5 shared) in
// the 9-term sums, under 0.05 ms now (CPU profile of 200 steps: 0.11 s,
// then below the 0.01 s sampling).
func (wg *winograd) packWeights(c *Conv, dst, k []float32) {
	for u := range wg.packUnits(c) {
		wg.packUnit(c, dst, k, u)
	}
}

// packChannels is how many input channels a unit of packWeights transforms.
const packChannels = 8

// packUnits is the number of units packWeights is cut into: runs of input
// channels.
func (wg *winograd) packUnits(c *Conv) int { return (c.C + packChannels - 1) / packChannels }

// packUnit computes unit u of packWeights: input channels
// u·packChannels.. of every U_ξ, and clears the padding lanes of their rows.
// Units write disjoint parts of dst.
func (wg *winograd) packUnit(c *Conv, dst, k []float32, u int) {
	cin, co, nr := c.C, c.CO, c.gemm.NR
	i0, i1 := u*packChannels, min((u+1)*packChannels, cin)
	for xi := range 16 {
		for p := range (co + nr - 1) / nr {
			clear(dst[xi*wg.ps+p*cin*nr+i0*nr : xi*wg.ps+p*cin*nr+i1*nr])
		}
	}
	for i := i0; i < i1; i++ {
		for o := range co {
			var g [3][3]float64
			for ky := range 3 {
				for kx := range 3 {
					g[ky][kx] = float64(k[((ky*3+kx)*cin+i)*co+o])
				}
			}
			var t [4][3]float64 // G·g
			for a := range 4 {
				for kx := range 3 {
					t[a][kx] = wgG[a][0]*g[0][kx] + wgG[a][1]*g[1][kx] + wgG[a][2]*g[2][kx]
				}
			}
			at := o/nr*cin*nr + i*nr + o%nr
			for a := range 4 {
				for b := range 4 {
					u := t[a][0]*wgG[b][0] + t[a][1]*wgG[b][1] + t[a][2]*wgG[b][2]
					dst[(a*4+b)*wg.ps+at] = float32(u)
				}
			}
		}
	}
}

// runUnit computes unit u: tile rows of one image, or with band, pooled rows
// of one image through a band of conv rows.
func (wg *winograd) runUnit(c *Conv, x, w, out, scratch []float32, operands [][]float32, u int) {
	bias := wg.zero
	if wg.bias >= 0 {
		bias = operands[wg.bias]
	}
	rowFloats := c.OW * c.CO
	if wg.band {
		per := (c.pool.OH + wg.rows - 1) / wg.rows
		b, py0 := u/per, u%per*wg.rows
		py1 := min(py0+wg.rows, c.pool.OH)
		lo, hi := c.pool.InputRows(py0, py1)
		band := scratch[wg.bandOff : wg.bandOff+(hi-lo)*rowFloats]
		wg.tileRows(c, x, w, band, scratch, bias, b, lo/2, (hi+1)/2, lo, hi)
		if wg.rest != nil {
			wg.rest.Apply(band, (b*c.OH+lo)*rowFloats, operands)
		}
		pooled := c.pool.OH * c.pool.OW * c.CO
		c.pool.MaxRows(band, lo, out[b*pooled:(b+1)*pooled], py0, py1)
		return
	}
	per := (wg.th + wg.rows - 1) / wg.rows
	b, ty0 := u/per, u%per*wg.rows
	ty1 := min(ty0+wg.rows, wg.th)
	if wg.fused {
		pooled := wg.th * wg.tw * c.CO
		wg.tileRows(c, x, w, out[b*pooled:(b+1)*pooled], scratch, bias, b, ty0, ty1, 0, 0)
		return
	}
	lo, hi := 2*ty0, min(2*ty1, c.OH)
	img := out[b*c.OH*rowFloats : (b+1)*c.OH*rowFloats]
	wg.tileRows(c, x, w, img, scratch, bias, b, ty0, ty1, 0, c.OH)
	if wg.rest != nil {
		wg.rest.Apply(img[lo*rowFloats:hi*rowFloats], (b*c.OH+lo)*rowFloats, operands)
	}
}

// tileRows computes tile rows ty0..ty1-1 of image b, in blocks of at most
// wg.block tiles of near-equal size, a multiple of the GEMM's MR but the
// last (a block of 27 tiles ran 4 full micro-tiles and one of 3 rows). Without fused pooling it writes conv
// rows lo..hi-1 of them into dst, which holds rows from lo; with it, the
// pooled rows ty0..ty1-1 into dst, which holds the image's pooled output.
func (wg *winograd) tileRows(c *Conv, x, w, dst, scratch, bias []float32, b, ty0, ty1, lo, hi int) {
	tiles := (ty1 - ty0) * wg.tw
	blocks := (tiles + wg.block - 1) / wg.block
	size := (tiles + blocks - 1) / blocks
	if r := (size + c.gemm.MR - 1) / c.gemm.MR * c.gemm.MR; r <= wg.block {
		size = r
	}
	for t0 := 0; t0 < tiles; t0 += size {
		n := min(size, tiles-t0)
		first := ty0*wg.tw + t0
		wg.inputBlock(c, x, scratch, b, first, n)
		wg.multiply(c, w, scratch, n)
		wg.outputBlock(c, dst, scratch, bias, first, n, lo, hi)
	}
}

// inputBlock transforms tiles first..first+n-1 of image b (numbered across
// rows) into V: position ξ, K block p0, tile t at
// V[ξ*block*C + p0*n + t*kc]. Runs of tiles whose 4×4 inputs lie inside x
// are transformed in place; the others are gathered, zero-padded, first.
func (wg *winograd) inputBlock(c *Conv, x, scratch []float32, b, first, n int) {
	v, buf := scratch[wg.vOff:wg.mOff], scratch[wg.inOff:wg.outOff]
	vs := wg.vs
	img := x[b*c.H*c.W*c.C : (b+1)*c.H*c.W*c.C]
	sy := c.W * c.C
	// Tiles tx in [txLo, txHi) read columns inside x.
	txLo, txHi := (c.Pads[2]+1)/2, 0
	if c.W+c.Pads[2] >= 4 {
		txHi = (c.W-4+c.Pads[2])/2 + 1
	}
	for t := 0; t < n; {
		ty, tx := (first+t)/wg.tw, (first+t)%wg.tw
		run := min(n-t, wg.tw-tx) // tiles left in this tile row
		y0 := 2*ty - c.Pads[0]
		inside := y0 >= 0 && y0+4 <= c.H
		for p0 := 0; p0 < c.C; p0 += wg.kc {
			kc := min(wg.kc, c.C-p0)
			for r := 0; r < run; {
				tx0, at := tx+r, p0*n+(t+r)*kc
				if inside && tx0 >= txLo && tx0 < txHi {
					k := min(run-r, txHi-tx0)
					x0 := 2*tx0 - c.Pads[2]
					wg.tr.in(k, kc, img[y0*sy+x0*c.C+p0:], c.C, sy, v[at:], kc, vs)
					r += k
					continue
				}
				wg.gather(c, buf[:16*kc], img, y0, 2*tx0-c.Pads[2], p0)
				wg.tr.in(1, kc, buf, kc, 4*kc, v[at:], kc, vs)
				r++
			}
		}
		t += run
	}
}

// gather copies channels p0..p0+len(buf)/16-1 of the 4×4 cells from (y0, x0)
// of img into buf, [4][4][kc], zero outside img.
func (wg *winograd) gather(c *Conv, buf, img []float32, y0, x0, p0 int) {
	kc := len(buf) / 16
	for i := range 4 {
		for j := range 4 {
			cell := buf[(4*i+j)*kc : (4*i+j+1)*kc]
			y, x := y0+i, x0+j
			if y < 0 || y >= c.H || x < 0 || x >= c.W {
				clear(cell)
				continue
			}
			copy(cell, img[(y*c.W+x)*c.C+p0:])
		}
	}
}

// multiply computes M_ξ = V_ξ·U_ξ for the 16 positions, n tiles: M_ξ is
// row-major, n×CO, at M[ξ*block*CO].
func (wg *winograd) multiply(c *Conv, w, scratch []float32, n int) {
	v, m, tmp := scratch[wg.vOff:wg.mOff], scratch[wg.mOff:wg.tmpOff], scratch[wg.tmpOff:wg.inOff]
	vs, ms := wg.vs, wg.ms
	for xi := range 16 {
		pb := w[xi*wg.ps : (xi+1)*wg.ps]
		for p0 := 0; p0 < c.C; p0 += wg.kc {
			kc := min(wg.kc, c.C-p0)
			a := v[xi*vs+p0*n : xi*vs+p0*n+n*kc]
			c.gemm.Multiply(n, c.CO, kc, a, pb, c.C, p0, m[xi*ms:], c.CO, p0 > 0, gemm.Epilogue{}, tmp)
		}
	}
}

// outputBlock transforms tiles first..first+n-1 from M into dst (see
// tileRows). Tiles wholly inside rows lo..hi-1 and the output's columns are
// stored in runs; the others go through a 2×2 buffer, of which only what
// lies inside is kept.
func (wg *winograd) outputBlock(c *Conv, dst, scratch, bias []float32, first, n, lo, hi int) {
	m, buf := scratch[wg.mOff:wg.tmpOff], scratch[wg.outOff:wg.bandOff]
	ms, co := wg.ms, c.CO
	for t := 0; t < n; {
		ty, tx := (first+t)/wg.tw, (first+t)%wg.tw
		run := min(n-t, wg.tw-tx)
		if wg.fused {
			wg.tr.pool(run, co, m[t*co:], ms, dst[(ty*wg.tw+tx)*co:], bias, wg.relu)
			t += run
			continue
		}
		y0, sy := 2*ty, c.OW*co
		full := 0
		if y0 >= lo && y0+2 <= hi {
			full = max(min(run, c.OW/2-tx), 0)
		}
		if full > 0 {
			wg.tr.out(full, co, m[t*co:], ms, dst[(y0-lo)*sy+2*tx*co:], co, sy, bias, wg.relu)
		}
		for r := full; r < run; r++ {
			wg.tr.out(1, co, m[(t+r)*co:], ms, buf, co, 2*co, bias, wg.relu)
			for i := range 2 {
				for j := range 2 {
					y, x := y0+i, 2*(tx+r)+j
					if y >= lo && y < hi && x < c.OW {
						copy(dst[(y-lo)*sy+x*co:(y-lo)*sy+(x+1)*co], buf[(2*i+j)*co:])
					}
				}
			}
		}
		t += run
	}
}
