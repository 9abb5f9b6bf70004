// Package conv is 2D convolution over NHWC images with HWIO kernels, with an
// optional epilogue chain (bias, activation, residual add, ...) applied to each
// band of output rows while it is in cache, and an optional max pool computed
// band by band so that the full convolution output is never stored.
//
// The algorithms, chosen per shape when a plan is built (see Choose):
//
//   - im2col + GEMM: the rows of the im2col matrix (one per output pixel, one
//     column per kernel tap and input channel) are gathered straight into the
//     GEMM's block of A, a block at a time, so the matrix never exists whole;
//     the weights are packed once as the GEMM's B. In NHWC a pixel's taps
//     along a kernel row are contiguous, so a row of im2col is a few copies.
//     A 1×1, stride-1, unpadded conv reads the image itself as A: a plain
//     GEMM. The GEMM kernel (generic, AVX2, NEON) is the plan's.
//   - depthwise: one input channel per group (depthwise.go): the output
//     channels in vector lanes, generic Go, AVX2 or NEON, the bias and
//     activation applied in the store.
//   - grouped: the depthwise kernels on expanded input rows, for grouped
//     convs whose per-group products are too narrow for the GEMM.
//   - direct: the depthwise kernels' direct form, each input value
//     broadcast to the output channels' lanes, for ungrouped convs of a few
//     input channels (an image's stem), whose im2col rows are too short
//     for the GEMM.
//   - Winograd F(2×2, 3×3), for 3×3, stride-1, undilated, ungrouped convs
//     (winograd.go): 16 multiplies per 2×2 output tile and channel pair
//     where the GEMM does 36. The kernels are transformed and packed once;
//     per block of tiles the input tiles are transformed into 16 matrices
//     [tiles × C], multiplied by the GEMM kernel, and transformed back. The
//     output transform applies the epilogue's bias and relu and, for a 2×2
//     stride-2 pool, pools: each output tile is one pool window. The
//     transforms are generic Go, AVX2 or NEON (transforms.go), the same bits
//     in each.
//
// Run's work is cut into units (bands of output rows) that RunUnit computes
// independently, each with its own scratch, so a plan can spread them over
// threads; a unit's results do not depend on which thread computes it or on
// what the others do.
//
// Sums are accumulated in float32 (see package gemm for the bound); the
// depthwise kernels sum in tap order, within about K·2⁻²⁴ of Σ|x·w| for K =
// taps × channels per group. Winograd sums other terms: the transformed kernels
// (rounded once from float64), times the transformed inputs (a few float32
// additions each), summed over C by the GEMM, then combined by the output
// transform; F(2×2, 3×3)'s coefficients are 0, ±1/2 and ±1, so this loses
// little. TestWinogradAccuracy, on normal random data against the
// reference's float64, error as kerneltest.Err (|got-want| / (|want| + rms
// of want)), im2col / Winograd, AVX2:
//
//	cnn32_2   15×15×32 → 64, batch 32   1.4e-6 / 1.0e-6
//	cnn224_2  111×111×32 → 64           1.3e-6 / 1.3e-6
//	3x3_64    56×56×64 → 64, same       1.4e-6 / 1.5e-6
//	3x3_256   14×14×256 → 256, same     1.4e-6 / 2.1e-6
//
// (the generic kernel within 15% of these); the test holds Winograd to
// 4e-6, the plan tests to 1e-5.
//
// Nothing here allocates.
package conv

import (
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
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
	algo     Algorithm
	gemm     *gemm.Kernel
	blk      gemm.Blocking
	packed   int // packed weights per group
	band     int // output pixels computed before the epilogue runs

	epilogue *eltwise.Chain
	tile     *eltwise.TileEpilogue // applied by the GEMM's store, before epilogue
	silu     bool                  // the GEMM's store applies a silu after tile
	pool     *pool.Window
	poolRows int // pooled rows per band
	bandBuf  int // floats of the conv rows a pooled band needs
	units    int
	wino     *winograd  // the Winograd state, if algo is Winograd
	dw       *depthwise // the depthwise state, if algo is Depthwise
}

// bandBytes bounds a band of output rows: small enough to stay in L2 while
// the epilogue and the pool read it back.
const bandBytes = 64 << 10

// Algorithm is how a convolution is computed.
type Algorithm uint8

const (
	// Im2col gathers im2col rows into the GEMM's blocks of A.
	Im2col Algorithm = iota
	// Plain reads the image as A: a 1×1, stride-1, unpadded conv.
	Plain
	// Winograd computes F(2×2, 3×3) tiles with 16 GEMMs per block of tiles.
	Winograd
	// Depthwise runs the depthwise kernels: one input channel per group.
	Depthwise
	// Grouped runs the depthwise kernels on expanded input rows: a few
	// input channels per group.
	Grouped
	// Direct runs the depthwise kernels' direct form, which broadcasts each
	// input value to the output channels' lanes: an ungrouped conv of a few
	// input channels.
	Direct
)

var algorithmNames = [...]string{Im2col: "im2col+gemm", Plain: "gemm", Winograd: "winograd", Depthwise: "depthwise", Grouped: "grouped", Direct: "direct"}

func (a Algorithm) String() string { return algorithmNames[a] }

// GEMM reports whether a runs the GEMM kernel New is given (im2col, plain,
// Winograd) rather than the depthwise kernels of its set, which are then
// all it takes from the kernel: gemm.ForWidth's rule for narrow products,
// about the GEMM's panels of B, is for these only. The depthwise kernels at
// AVX-512's width against AVX2's on an Intel Xeon (Emerald Rapids, one
// thread, a load of 4-6 on 2 CPUs; CPU time of the thread, µs, 4 runs; the
// plan's bias and tanh after): LeNet's second conv (14²×6 → 16, 5×5, batch
// 64, direct) 797-824 against 1420-1435, its first (28²×1 → 6, same, batch
// 64, direct) 963-1279 against 923-1307; the depthwise layers of
// BenchmarkMobileNetV2 are as in avx512.go, AVX-512 ahead or level
// (7×7×960).
func (a Algorithm) GEMM() bool { return !a.rows() }

// rows reports whether the depthwise kernels (depthwise.go) run a: a row of
// output pixels at a time, the output channels in lanes.
func (a Algorithm) rows() bool { return a == Depthwise || a == Grouped || a == Direct }

// Choose picks the algorithm for a conv with its epilogue and pool (see
// New): Depthwise for grouped convs with one input channel per group,
// Plain where it applies, Grouped for other grouped convs with fewer than 4
// input or output channels per group, Winograd for 3×3, stride-1,
// undilated, ungrouped convs of at least winogradMinC input channels or
// whose pool the output transform computes, Im2col otherwise.
//
// Each group's GEMM is a sliver of a micro-tile and a call per group and
// band. BenchmarkAlgorithms (AMD EPYC family 26, a shared machine, medians
// of 3; 28×28×128 → 128, 3×3, AVX2): at 2 channels per group Grouped takes
// 1.25 ms, the GEMM per group 6.5 (the direct loop Grouped replaced, plain
// Go, 7.3); at 4 the GEMM wins, 1.5 ms to 2.3, and at 8, 0.93 to 1.37. On
// a depthwise conv (56×56×64) the depthwise kernel takes 0.16 ms, the GEMM
// per group 18.
//
// Winograd does 2.25× fewer multiplies than the GEMM, in 16 GEMMs of K = C.
// BenchmarkAlgorithms (no epilogue, no pool; AVX2, medians of 5 on a shared
// machine): 3x3_64 3.6 → 1.7 ms, cnn224_2 8.3 → 4.6 ms, cnn32_2 (batch 32)
// 3.5 → 2.7 ms, cnn224_1 (C = 3) 4.4 → 3.4 ms; at C = 4 and 8 (56×56,
// CO 8 to 64) the two are within noise of each other, from C = 16 Winograd
// is 1.5-2× faster, with the generic kernel too. With the seed CNNs' bias,
// relu and 2×2 pool, which Winograd computes in its output transform while
// im2col writes the conv rows and pools them after, Winograd is 2.3-2.7×
// faster on all four of their convs, C = 3 included (interleaved runs:
// cnn224_1 9.1 → 3.4 ms, cnn224_2 9.4 → 4.2, cnn32_1 5.4 → 2.1, cnn32_2
// 4.1 → 1.7). Below 16 channels without that pool, im2col keeps them: the
// GEMMs of K = C are mostly call and tile overhead there.
//
// Direct takes the ungrouped convs of at most directMaxC input channels
// that are not Plain. Their im2col rows are K = KH·KW·C long (27 for a 3×3
// stem on RGB): packing them costs as much as the GEMM's few FMAs per
// element, and a narrow CO fills no micro-tile, where the direct kernel
// reads each input value once per tap from L1 with no copy.
// BenchmarkAlgorithms (AMD EPYC Zen 5, family 26 model 2, one thread, a
// shared machine, best of 2-3 runs of 40-50; im2col / Winograd / direct, ms,
// AVX-512 then AVX2):
//
//	stem_16  224²×3 → 16, 3×3 s2     0.38 / -    / 0.090    0.37 / -    / 0.12
//	stem_32  224²×3 → 32, 3×3 s2     1.20 / -    / 0.142    0.97 / -    / 0.23
//	cnn224_1 224²×3 → 32, 3×3        2.57 / 1.23 / 0.45     1.92 / 1.30 / 0.89
//	lenet64_1 28²×1 → 6, 5×5, N 64   1.76 / -    / 0.57     3.12 / -    / 0.52
//	c4_64    56²×4 → 64, 3×3         0.31 / 0.14 / 0.100    0.35 / 0.24 / 0.21
//	7x7 s2   224²×3 → 64             1.70 / -    / 1.31     2.90 / -    / 2.72
//	c8_64    56²×8 → 64, 3×3         0.24 / 0.26 / 0.26     0.39 / 0.30 / 0.38
//	1x1_3_64 112²×3 → 64, plain      0.050 (gemm) / 0.051   0.064 / 0.080
//
// so it stopped at 4 channels, where Winograd and the GEMM catch up, and
// leaves 1×1 convs to Plain. It now stops at 8: on an Intel Xeon (Emerald
// Rapids, avx512 set, one thread, CPU time of the thread on a machine at a
// load of 7-10, µs, two runs each; im2col / direct):
//
//	lenet64_2 14²×6 → 16, 5×5, N 64   1165-1171 / 732-736
//	c8_64     56²×8 → 64, 3×3         438-496   / 357-367
//	c8_16     56²×8 → 16, 3×3         288-319   / 87-94
//	c6_32     56²×6 → 32, 5×5         415-421   / 240-273
//
// with Zen 5's c8_64 above level; LeNet's second conv runs forward in its
// training step and its evaluation. With a 2×2 pool after (the seed CNN's
// cnn224_1) Winograd pools in its output transform, the direct kernel from
// a band of rows in cache; the model's A/B in conv/direct is in the
// commit that made this rule.
func Choose(s Shape, epilogue []eltwise.Step, mp *pool.Window) Algorithm {
	cpg, opg := s.C/s.Groups, s.CO/s.Groups
	switch {
	case s.Groups > 1 && cpg == 1:
		return Depthwise
	case s.Groups > 1 && min(cpg, opg) < 4:
		return Grouped
	case s.KH == 1 && s.KW == 1 && s.Stride == [2]int{1, 1} && s.Pads == [4]int{}:
		return Plain
	case s.Groups == 1 && s.C <= directMaxC:
		return Direct
	case winogradApplies(s) && (s.C >= winogradMinC || winogradPools(s, epilogue, mp)):
		return Winograd
	}
	return Im2col
}

// directMaxC is the most input channels for which Choose picks Direct.
const directMaxC = 8

// winogradMinC is the fewest input channels for which Choose picks Winograd
// when its output transform does not pool.
const winogradMinC = 16

// New compiles a convolution computed by algorithm Choose(s, epilogue, mp)
// with the GEMM kernel kn. epilogue, if not empty, runs on each output
// element (its shape is the conv output's, [N, OH, OW, CO]), with kn's
// kernel set; pool, if not nil, is a max pool over the conv output, which is
// then what Run writes.
func New(kn *gemm.Kernel, s Shape, epilogue []eltwise.Step, mp *pool.Window) *Conv {
	return NewWith(Choose(s, epilogue, mp), kn, s, epilogue, mp)
}

// NewWith is New with the algorithm given, which must apply to s (Plain only
// to 1×1, stride-1, unpadded convs; Winograd only to 3×3, stride-1,
// undilated, ungrouped ones; Depthwise only to one input channel per group;
// Direct only to ungrouped ones).
func NewWith(algo Algorithm, kn *gemm.Kernel, s Shape, epilogue []eltwise.Step, mp *pool.Window) *Conv {
	return newWith(algo, kn, s, epilogue, mp, true)
}

// newWith is NewWith; with tile, the GEMM's store applies the epilogue's
// head (bias, relu: eltwise.SplitTile), for the algorithms that run a GEMM,
// so that a conv+bias+relu makes no pass of its own over its output. The
// result is the same bit for bit either way.
func newWith(algo Algorithm, kn *gemm.Kernel, s Shape, epilogue []eltwise.Step, mp *pool.Window, tile bool) *Conv {
	c := &Conv{Shape: s, algo: algo, gemm: kn, pool: mp}
	c.OH = (s.H+s.Pads[0]+s.Pads[1]-((s.KH-1)*s.Dilation[0]+1))/s.Stride[0] + 1
	c.OW = (s.W+s.Pads[2]+s.Pads[3]-((s.KW-1)*s.Dilation[1]+1))/s.Stride[1] + 1
	c.cpg, c.opg = s.C/s.Groups, s.CO/s.Groups
	c.k = s.KH * s.KW * c.cpg
	m := s.N * c.OH * c.OW
	c.blk = kn.Block(m, c.opg, c.k)
	c.band = c.blk.MC
	if algo.rows() {
		c.band = max(1, bandBytes/4/max(s.CO, 1))
	}
	c.packed = kn.PackedSize(c.k, c.opg)
	c.units = (m + c.band - 1) / c.band
	if mp != nil {
		rowFloats := c.OW * s.CO
		span := func(rows int) int { return (rows-1)*mp.SH + (mp.KH-1)*mp.DH + 1 }
		c.poolRows = 1
		for c.poolRows < mp.OH && span(c.poolRows+1)*rowFloats*4 <= bandBytes {
			c.poolRows++
		}
		c.bandBuf = min(span(c.poolRows), c.OH) * rowFloats
		c.units = s.N * ((mp.OH + c.poolRows - 1) / c.poolRows)
	}
	if algo == Winograd {
		c.wino = newWinograd(c, epilogue, mp)
		c.units = c.wino.units
		return c
	}
	if algo.rows() {
		c.dw = newDepthwise(c)
	}
	if t := eltwise.SplitTile(epilogue, s.CO); tile && (t.Bias >= 0 || t.Relu || t.Relu6) {
		c.tile, epilogue = &t, t.Rest
	}
	switch {
	case tile && c.dw != nil:
		epilogue = c.dw.fuseSilu(kn.Set, epilogue)
	case tile && kn.SiluInTiles() && len(epilogue) > 0 && epilogue[0].Kind == eltwise.Silu:
		// The GEMM's store applies the silu after the head too.
		c.silu, epilogue = true, epilogue[1:]
	}
	if len(epilogue) > 0 {
		c.epilogue = eltwise.NewChain(kn.Set, []int{s.N, c.OH, c.OW, s.CO}, epilogue)
	}
	return c
}

// Algorithm is the algorithm the conv runs.
func (c *Conv) Algorithm() Algorithm { return c.algo }

// Set is the kernel set the conv runs: its GEMM kernel's, whose set's
// depthwise kernels, transforms and epilogue it takes too.
func (c *Conv) Set() cpu.Set { return c.gemm.Set }

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
	if c.algo == Winograd {
		return c.wino.packedSize(c)
	}
	if c.algo.rows() {
		return c.KH * c.KW * c.cpg * c.CO
	}
	return c.Groups * c.packed
}

// PackUnits is the number of units PackWeights is cut into: Winograd's
// kernel transforms, a run of input channels each; one for the others.
func (c *Conv) PackUnits() int {
	if c.algo == Winograd {
		return c.wino.packUnits(c)
	}
	return 1
}

// PackUnit computes unit u of PackWeights. Units write disjoint parts of
// dst, and may run at once: a plan that packs computed weights by every
// run spreads the transforms over its threads.
func (c *Conv) PackUnit(dst, k []float32, u int) {
	if c.algo == Winograd {
		c.wino.packUnit(c, dst, k, u)
		return
	}
	c.PackWeights(dst, k)
}

// PackWeights lays out HWIO weights k for Run: as the GEMM's packed B, one
// matrix of [KH·KW·cpg, opg] per group, or unchanged for the depthwise
// kernels.
func (c *Conv) PackWeights(dst, k []float32) {
	if c.algo == Winograd {
		c.wino.packWeights(c, dst, k)
		return
	}
	if c.algo.rows() {
		copy(dst, k)
		return
	}
	for g := range c.Groups {
		c.gemm.PackB(dst[g*c.packed:(g+1)*c.packed], k[g*c.opg:], c.k, c.opg, c.CO, false)
	}
}

// ScratchSize is the scratch Run and RunUnit need: a block of A (or the
// depthwise loop's expanded rows), and a band of conv rows when pooling.
func (c *Conv) ScratchSize() int {
	if c.algo == Winograd {
		return c.wino.scratch
	}
	n := c.bandBuf
	if c.algo.rows() {
		n += c.dw.scratch(c)
	} else {
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
// the epilogue's. Run is RunUnit over every unit in turn.
func (c *Conv) Run(x, w, out, scratch []float32, operands [][]float32) {
	for u := range c.units {
		c.RunUnit(x, w, out, scratch, operands, u)
	}
}

// Units is the number of units Run's work is cut into.
func (c *Conv) Units() int { return c.units }

// RunUnit computes unit u of Run: a band of output pixels, or of pooled rows
// of one image when there is a pool. Units write disjoint parts of out, and
// may run at once if each has its own scratch (ScratchSize floats).
func (c *Conv) RunUnit(x, w, out, scratch []float32, operands [][]float32, u int) {
	if c.algo == Winograd {
		c.wino.runUnit(c, x, w, out, scratch, operands, u)
		return
	}
	pa := scratch[:c.ScratchSize()-c.bandBuf]
	if c.pool == nil {
		r0 := u * c.band
		rows := min(c.band, c.N*c.OH*c.OW-r0)
		c.finish(x, w, out[r0*c.CO:(r0+rows)*c.CO], r0, pa, operands)
		return
	}
	per := (c.pool.OH + c.poolRows - 1) / c.poolRows
	b, py0 := u/per, u%per*c.poolRows
	py1 := min(py0+c.poolRows, c.pool.OH)
	lo, hi := c.pool.InputRows(py0, py1)
	r0, rows := (b*c.OH+lo)*c.OW, (hi-lo)*c.OW
	band := scratch[len(pa):][:rows*c.CO]
	for s := 0; s < rows; s += c.band {
		n := min(c.band, rows-s)
		c.finish(x, w, band[s*c.CO:(s+n)*c.CO], r0+s, pa, operands)
	}
	pooled := c.pool.OH * c.pool.OW * c.CO
	c.pool.MaxRows(band, lo, out[b*pooled:(b+1)*pooled], py0, py1)
}

// finish computes output pixels r0.. into dst, len(dst)/CO of them, and runs
// the epilogue over them (the depthwise kernels' row by row).
func (c *Conv) finish(x, w, dst []float32, r0 int, pa []float32, operands [][]float32) {
	rows := len(dst) / c.CO
	if c.algo.rows() {
		c.depthwiseRows(x, w, dst, r0, rows, pa, operands)
		return
	}
	c.gemmRows(x, w, dst, r0, rows, pa, operands)
	if c.epilogue != nil {
		c.epilogue.Apply(dst, r0*c.CO, operands)
	}
}

// gemmRows computes pixels r0..r0+rows-1 (rows ≤ MC) as a GEMM per group,
// the tile epilogue applied by the last block of K.
func (c *Conv) gemmRows(x, w, dst []float32, r0, rows int, scratch []float32, operands [][]float32) {
	pa, tmp := scratch[:c.blk.MC*c.blk.KC], scratch[c.blk.MC*c.blk.KC:c.blk.ScratchSize()]
	var bias []float32
	if c.tile != nil && c.tile.Bias >= 0 {
		bias = operands[c.tile.Bias][:c.CO]
	}
	for g := range c.Groups {
		epi := gemm.Epilogue{Silu: c.silu}
		if c.tile != nil {
			epi.Relu, epi.Relu6 = c.tile.Relu, c.tile.Relu6
			if bias != nil {
				epi.Bias = bias[g*c.opg : (g+1)*c.opg]
			}
		}
		pb := w[g*c.packed : (g+1)*c.packed]
		for p0 := 0; p0 < c.k; p0 += c.blk.KC {
			kc := min(c.blk.KC, c.k-p0)
			a := pa
			switch {
			case c.algo == Plain && kc == c.C:
				// The pixels' channels are the rows of A, already a block.
				a = x[r0*c.C : (r0+rows)*c.C]
			case c.algo == Plain:
				gemm.PackA(pa, x[g*c.cpg:], c.C, false, r0, rows, p0, kc)
			default:
				c.packA(pa, x, g, r0, rows, p0, kc)
			}
			last := gemm.Epilogue{}
			if p0+kc == c.k {
				last = epi
			}
			c.gemm.Multiply(rows, c.opg, kc, a, pb, c.k, p0, dst[g*c.opg:], c.CO, p0 > 0, last, tmp)
		}
	}
}

// packA gathers rows r0..r0+rows-1, columns p0..p0+kc-1 of group g's im2col
// matrix into dst as gemm.PackA lays out a block of A (row-major, leading
// dimension kc):
//
//	A[r][(ky*KW+kx)*cpg+i] = x[b, oy*SH-top+ky*DH, ox*SW-left+kx*DW, g*cpg+i],
//
// r the pixel (b, oy, ox), zero outside x. Without groups or horizontal
// dilation, the taps of a kernel row are one run of memory. A pixel whose
// taps all lie inside x copies the same runs from its own corner of x, so
// they are worked out once per block (segments) and each such row is a few
// copies; rows at the border go tap by tap. Pixels are stepped through, not
// divided out: a division costs more than copying a short run.
func (c *Conv) packA(dst, x []float32, g, r0, rows, p0, kc int) {
	// Locals, not fields: the compiler keeps them in registers.
	h, w, ch, kh, kw := c.H, c.W, c.C, c.KH, c.KW
	oh, ow, sh, sw, dh, dw := c.OH, c.OW, c.Stride[0], c.Stride[1], c.Dilation[0], c.Dilation[1]
	var segs [16]segment
	n := c.segments(segs[:], g, p0, kc)
	// A whole row whose kernel rows are runs takes gatherRuns at the border.
	whole := p0 == 0 && kc == c.k && c.Groups == 1 && dw == 1
	b, oy, ox := r0/(oh*ow), r0/ow%oh, r0%ow
	for t := range rows {
		y0, x0 := oy*sh-c.Pads[0], ox*sw-c.Pads[2]
		img := x[b*h*w*ch:]
		row := dst[t*kc : (t+1)*kc]
		if n > 0 && y0 >= 0 && y0+(kh-1)*dh < h && x0 >= 0 && x0+(kw-1)*dw < w {
			corner := img[(y0*w+x0)*ch:]
			for _, s := range segs[:n] {
				copyRun(row[s.to:s.to+s.n], corner[s.from:])
			}
		} else if whole {
			c.gatherRuns(row, img, y0, x0)
		} else {
			c.gatherRow(row, img, g, y0, x0, p0)
		}
		if ox++; ox == ow {
			if ox, oy = 0, oy+1; oy == oh {
				oy, b = 0, b+1
			}
		}
	}
}

// segment is a run of an im2col row within a block: n floats to row[to:]
// from the pixel's corner of x (its top left tap, channel 0) plus from.
type segment struct{ to, from, n int }

// segments fills segs with the runs of columns p0..p0+kc-1 of group g's
// im2col rows for a pixel whose taps all lie inside x, and returns how many,
// or 0 if they do not fit.
func (c *Conv) segments(segs []segment, g, p0, kc int) int {
	runs := c.Groups == 1 && c.Dilation[1] == 1
	tap, i := p0/c.cpg, p0%c.cpg
	n := 0
	for p := 0; p < kc; n++ {
		if n == len(segs) {
			return 0
		}
		ky, kx := tap/c.KW, tap%c.KW
		taps := 1
		if runs {
			taps = c.KW - kx
		}
		m := min(taps*c.cpg-i, kc-p)
		segs[n] = segment{to: p, from: (ky*c.Dilation[0]*c.W+kx*c.Dilation[1])*c.C + g*c.cpg + i, n: m}
		p, tap, i = p+m, tap+taps, 0
	}
	return n
}

// copyRun is copy(dst, src) for one run of an im2col row: an element loop
// for short runs, where a call to memmove costs more than the copy (LeNet's
// first layer copies runs of 5 floats, one channel by 5 taps).
func copyRun(dst, src []float32) {
	if len(dst) > 16 {
		copy(dst, src)
		return
	}
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = v
	}
}

// gatherRuns fills a whole im2col row (no groups, no horizontal dilation:
// each kernel row's taps are one run of x) for the pixel whose top left tap
// is (y0, x0), by kernel rows: zeros outside img, one copy inside. At the
// border of a padded layer it replaces gatherRow's tap-by-tap walk: LeNet's
// first layer (5×5, padding 2, 28×28, batch 64, BenchmarkAlgorithms
// lenet64_1, AVX-512, Zen 5 shared) went from 3.3-3.6 ms to 1.6-1.9 ms
// with copyRun.
func (c *Conv) gatherRuns(row, img []float32, y0, x0 int) {
	ch := c.C
	span := c.KW * ch
	lo, hi := max(0, -x0), min(c.KW, c.W-x0) // the taps inside along x
	for ky := range c.KH {
		r := row[ky*span : (ky+1)*span]
		iy := y0 + ky*c.Dilation[0]
		if iy < 0 || iy >= c.H || lo >= hi {
			clear(r)
			continue
		}
		clear(r[:lo*ch])
		copyRun(r[lo*ch:hi*ch], img[(iy*c.W+x0+lo)*ch:])
		clear(r[hi*ch:])
	}
}

// gatherRow fills row, columns p0.. of group g's im2col row for the pixel
// whose top left tap is (y0, x0), tap by tap, zero outside img.
func (c *Conv) gatherRow(row, img []float32, g, y0, x0, p0 int) {
	runs := c.Groups == 1 && c.Dilation[1] == 1
	tap, i := p0/c.cpg, p0%c.cpg
	for p := 0; p < len(row); {
		ky, kx := tap/c.KW, tap%c.KW
		iy, ix := y0+ky*c.Dilation[0], x0+kx*c.Dilation[1]
		taps := 1
		if iy < 0 || iy >= c.H || ix < 0 || ix >= c.W {
			n := min(c.cpg-i, len(row)-p)
			clear(row[p : p+n])
			p += n
		} else {
			if runs {
				taps = min(c.KW-kx, c.W-ix)
			}
			n := min(taps*c.cpg-i, len(row)-p)
			at := (iy*c.W+ix)*c.C + g*c.cpg + i
			copy(row[p:p+n], img[at:at+n])
			p += n
		}
		tap, i = tap+taps, 0
	}
}
