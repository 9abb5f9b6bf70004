package conv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/runtime/kernels/pool"
	"github.com/mdlc/mdlc/tensor"
)

// tol bounds float32 sums of up to a few hundred products against the
// reference's float64 ones, relative to each result's magnitude plus the rms.
const tol = 1e-5

type convCase struct {
	h, w, c, co, kh, kw int
	stride, dilation    [2]int
	padding             ir.Padding
	pads                [4]int
	groups              int
}

func (tc convCase) attrs() ir.ConvAttrs {
	return ir.ConvAttrs{Window2D: ir.Window2D{Stride: tc.stride, Dilation: tc.dilation, Padding: tc.padding, Pads: tc.pads}, Groups: tc.groups}
}

func (tc convCase) String() string {
	return fmt.Sprintf("%dx%dx%d->%d k%dx%d s%v d%v %s%v g%d", tc.h, tc.w, tc.c, tc.co, tc.kh, tc.kw, tc.stride, tc.dilation, tc.padding, tc.pads, tc.groups)
}

func cases() []convCase {
	one := [2]int{1, 1}
	var cs []convCase
	for i, s := range kerneltest.Sizes {
		cs = append(cs,
			convCase{s + 2, s + 3, 3, s, 3, 3, one, one, ir.Valid, [4]int{}, 1},
			convCase{s, 5, s, 17, 3, 3, one, one, ir.Same, [4]int{}, 1},
			convCase{s + 4, s + 1, 8, 9, 1, 1, one, one, ir.Valid, [4]int{}, 1}, // a plain GEMM
			convCase{9, s + 6, 6, 9, 2, 3, [2]int{2, 1}, [2]int{1, 2}, ir.Same, [4]int{}, 3},
			convCase{s + 2, 7, 4, 8, 3, 3, [2]int{1, 2}, one, ir.Same, [4]int{}, 4},    // depthwise ×2
			convCase{7, s + 2, 5, 5, 3, 2, one, [2]int{2, 1}, ir.Same, [4]int{}, 5},    // depthwise
			convCase{s + 1, 6, 16, 32, 1, 1, [2]int{2, 2}, one, ir.Valid, [4]int{}, 2}, // strided 1×1, GEMM per group
			convCase{6, 6, 4, s, 3, 3, one, one, ir.Explicit, [4]int{2, 0, 1, 3}, 1},
			convCase{5, 5, 40 + i, 7, 3, 3, one, one, ir.Same, [4]int{}, 1},    // K past one block
			convCase{s + 3, s + 2, 1, 6, 5, 5, one, one, ir.Same, [4]int{}, 1}, // LeNet's first layer
		)
	}
	return cs
}

func (tc convCase) shape(n int) Shape {
	a := tc.attrs()
	return Shape{N: n, H: tc.h, W: tc.w, C: tc.c, KH: tc.kh, KW: tc.kw, CO: tc.co,
		Stride: tc.stride, Dilation: tc.dilation, Pads: a.PadsFor(tc.h, tc.w, tc.kh, tc.kw), Groups: tc.groups}
}

// algorithms are the algorithms tests run on a case: the chosen one, both
// Winograd and im2col where Winograd applies, and both direct and im2col on
// ungrouped convs of up to 16 input channels.
func (tc convCase) algorithms() []Algorithm {
	s := tc.shape(1)
	algos := []Algorithm{Choose(s, nil, nil)}
	if winogradApplies(s) {
		algos = []Algorithm{Im2col, Winograd}
	}
	if s.Groups == 1 && s.C <= 16 {
		algos = append(algos, Direct)
		if !slices.Contains(algos, Im2col) {
			algos = append(algos, Im2col)
		}
	}
	slices.Sort(algos)
	return slices.Compact(algos)
}

func compile(algo Algorithm, kn *gemm.Kernel, tc convCase, n int, epi []eltwise.Step, mp *pool.Window) *Conv {
	return NewWith(algo, kn, tc.shape(n), epi, mp)
}

func run(c *Conv, x, k *tensor.Tensor, operands [][]float32) []float32 {
	w := make([]float32, c.PackedSize())
	c.PackWeights(w, k.Data)
	out := make([]float32, c.OutSize())
	c.Run(x.Data, w, out, make([]float32, c.ScratchSize()), operands)
	return out
}

func TestConvMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases() {
		x := kerneltest.Random(r, 2, tc.h, tc.w, tc.c)
		k := kerneltest.Random(r, tc.kh, tc.kw, tc.c/tc.groups, tc.co)
		attrs := tc.attrs()
		want := kerneltest.Ref(t, ir.OpConv2D, &attrs, x, k)
		for _, algo := range tc.algorithms() {
			for _, kn := range gemm.Kernels() {
				kerneltest.Close(t, run(compile(algo, kn, tc, 2, nil, nil), x, k, nil), want, tol, "%s %s %v", algo, kn.Set, tc)
			}
		}
	}
}

// Every GEMM kernel this machine runs, through the convolution, against the
// generic one: the same bound as for the GEMM (see package gemm's tests).
func TestKernelsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	generic := gemm.For(cpu.Generic)
	for _, tc := range cases() {
		x := kerneltest.Random(r, 2, tc.h, tc.w, tc.c)
		k := kerneltest.Random(r, tc.kh, tc.kw, tc.c/tc.groups, tc.co)
		for _, algo := range tc.algorithms() {
			want := run(compile(algo, generic, tc, 2, nil, nil), x, k, nil)
			for _, kn := range gemm.Kernels() {
				if e := kerneltest.Err(run(compile(algo, kn, tc, 2, nil, nil), x, k, nil), want); e > tol {
					t.Errorf("%s %s %v: error %.3g against generic > %.3g", algo, kn.Set, tc, e, tol)
				}
			}
		}
	}
}

// Units computed in any order, each with its own scratch, give what Run
// gives, bit for bit: what lets a plan spread them over threads.
func TestUnitsIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	// Winograd, im2col and direct; depthwise, multiplier 2; grouped, whose
	// units each expand the rows they read. Wide enough for a few units a
	// batch.
	for _, tc := range []convCase{
		{33, 31, 8, 20, 3, 3, [2]int{1, 1}, [2]int{1, 1}, ir.Same, [4]int{}, 1},
		{17, 15, 200, 400, 3, 3, [2]int{1, 1}, [2]int{1, 1}, ir.Same, [4]int{}, 200},
		{17, 15, 400, 400, 3, 3, [2]int{1, 1}, [2]int{1, 1}, ir.Same, [4]int{}, 200},
	} {
		x := kerneltest.Random(r, 3, tc.h, tc.w, tc.c)
		k := kerneltest.Random(r, tc.kh, tc.kw, tc.c/tc.groups, tc.co)
		unitsIndependent(t, tc, x, k)
	}
}

func unitsIndependent(t *testing.T, tc convCase, x, k *tensor.Tensor) {
	mp := new(pool.NewWindow(cpu.Generic, tc.h, tc.w, tc.co, 2, 2, [2]int{2, 2}, [2]int{1, 1}, [4]int{}))
	// A 3×3 pool overlaps its neighbours: Winograd computes it on a band.
	overlap := new(pool.NewWindow(cpu.Generic, tc.h, tc.w, tc.co, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [4]int{1, 1, 1, 1}))
	for _, algo := range tc.algorithms() {
		for _, kn := range gemm.Kernels() {
			for _, p := range []*pool.Window{nil, mp, overlap} {
				c := compile(algo, kn, tc, 3, nil, p)
				want := run(c, x, k, nil)
				w := make([]float32, c.PackedSize())
				c.PackWeights(w, k.Data)
				got := make([]float32, c.OutSize())
				require.Greater(t, c.Units(), 2)
				for u := c.Units() - 1; u >= 0; u-- {
					scratch := make([]float32, c.ScratchSize())
					c.RunUnit(x.Data, w, got, scratch, nil, u)
				}
				require.Equal(t, want, got, "%s %s pool %v", algo, kn.Set, p)
			}
		}
	}
}

// TestRequire fails a CI run with MDLC_REQUIRE=avx2, avx512 or neon unless
// that set was selected; gemm's tests check which kernel each set runs.
func TestRequire(t *testing.T) {
	s, err := cpu.Select()
	require.NoError(t, err)
	require.NoError(t, cpu.Require(s))
	t.Logf("the %s set's convolutions run the %s GEMM kernel", s, gemm.For(s).Set)
}

// Conv + an epilogue, then a max pool that overlaps or not, against the
// reference's fused conv (which materialises the conv output). The
// epilogues cover what the Winograd output transform applies itself (bias,
// relu, both, neither) and what it leaves to a chain after it.
func TestFusedConvMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pools := []*ir.Window2D{
		nil,
		{Size: [2]int{2, 2}, Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}},
		{Size: [2]int{3, 3}, Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}, Padding: ir.Same},
		{Size: [2]int{1, 2}, Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}},
		{Size: [2]int{2, 2}, Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}},
	}
	epilogues := []struct {
		chain ir.Chain
		steps func(co int) []eltwise.Step
	}{
		{ir.Chain{{Op: ir.OpAdd, Operand: 2}, {Op: ir.OpRelu}}, func(co int) []eltwise.Step {
			return []eltwise.Step{{Kind: eltwise.Add, Operand: 2, Shape: []int{co}}, {Kind: eltwise.Relu}}
		}},
		{ir.Chain{{Op: ir.OpAdd, Operand: 2}}, func(co int) []eltwise.Step {
			return []eltwise.Step{{Kind: eltwise.Add, Operand: 2, Shape: []int{co}}}
		}},
		{ir.Chain{{Op: ir.OpRelu}, {Op: ir.OpAdd, Operand: 2}}, func(co int) []eltwise.Step {
			return []eltwise.Step{{Kind: eltwise.Relu}, {Kind: eltwise.Add, Operand: 2, Shape: []int{co}}}
		}},
		{ir.Chain{{Op: ir.OpAdd, Operand: 2}, {Op: ir.OpRelu}, {Op: ir.OpTanh}}, func(co int) []eltwise.Step {
			return []eltwise.Step{{Kind: eltwise.Add, Operand: 2, Shape: []int{co}}, {Kind: eltwise.Relu}, {Kind: eltwise.Tanh}}
		}},
		{ir.Chain{{Op: ir.OpRelu}}, func(int) []eltwise.Step { return []eltwise.Step{{Kind: eltwise.Relu}} }},
		{ir.Chain{{Op: ir.OpAdd, Operand: 2}, {Op: ir.OpClip, Attrs: &ir.ClipAttrs{Min: 0, Max: 6}}}, func(co int) []eltwise.Step {
			return []eltwise.Step{{Kind: eltwise.Add, Operand: 2, Shape: []int{co}}, {Kind: eltwise.Clip, Alpha: 0, Beta: 6}}
		}},
	}
	for i, tc := range cases() {
		p := pools[i%len(pools)]
		e := epilogues[i/len(pools)%len(epilogues)]
		a := tc.attrs()
		oh, ow := a.Out(tc.h, tc.w, tc.kh, tc.kw)
		if p != nil && (oh < p.Size[0] || ow < p.Size[1]) {
			p = nil
		}
		x := kerneltest.Random(r, 2, tc.h, tc.w, tc.c)
		k := kerneltest.Random(r, tc.kh, tc.kw, tc.c/tc.groups, tc.co)
		bias := kerneltest.Random(r, tc.co)
		want := kerneltest.Ref(t, ir.OpFusedConv2D, &ir.FusedConvAttrs{Conv: a, Epilogue: e.chain, Pool: p}, x, k, bias)

		var mp *pool.Window
		if p != nil {
			pw := *p
			mp = new(pool.NewWindow(cpu.Generic, oh, ow, tc.co, pw.Size[0], pw.Size[1], pw.Stride, pw.Dilation, pw.PadsFor(oh, ow, pw.Size[0], pw.Size[1])))
		}
		for _, algo := range tc.algorithms() {
			for _, kn := range gemm.Kernels() {
				got := run(compile(algo, kn, tc, 2, e.steps(tc.co), mp), x, k, [][]float32{x.Data, k.Data, bias.Data})
				kerneltest.Close(t, got, want, tol, "%s %s %v %v pool %v", algo, kn.Set, tc, e.chain, p)
			}
		}
	}
}

// An epilogue whose head (bias, relu or relu6) the GEMM's store applies, the rest
// run as a chain, gives the same bits as the whole epilogue run as a chain,
// on every algorithm and kernel, with and without a pool.
func TestTileEpilogueMatchesChain(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i, tc := range cases() {
		x := kerneltest.Random(r, 2, tc.h, tc.w, tc.c)
		k := kerneltest.Random(r, tc.kh, tc.kw, tc.c/tc.groups, tc.co)
		bias, scale := kerneltest.Random(r, tc.co), kerneltest.Random(r, tc.co)
		operands := [][]float32{x.Data, k.Data, bias.Data, scale.Data}
		a := tc.attrs()
		oh, ow := a.Out(tc.h, tc.w, tc.kh, tc.kw)
		var mp *pool.Window
		if i%2 == 1 && oh >= 2 && ow >= 2 {
			mp = new(pool.NewWindow(cpu.Generic, oh, ow, tc.co, 2, 2, [2]int{2, 2}, [2]int{1, 1}, [4]int{}))
		}
		add := eltwise.Step{Kind: eltwise.Add, Operand: 2, Shape: []int{tc.co}}
		mul := eltwise.Step{Kind: eltwise.Mul, Operand: 3, Shape: []int{tc.co}}
		relu := eltwise.Step{Kind: eltwise.Relu}
		relu6 := eltwise.Step{Kind: eltwise.Clip, Alpha: 0, Beta: 6}
		silu := eltwise.Step{Kind: eltwise.Silu}
		epilogues := [][]eltwise.Step{{add}, {relu}, {add, relu}, {add, relu, mul}, {relu, {Kind: eltwise.Sigmoid}},
			{add, relu6}, {relu6, mul}, {add, silu, mul}, {add, relu6, silu}}
		for _, algo := range tc.algorithms() {
			if algo == Winograd {
				continue // its output transform applies the head, in another order of sums
			}
			for _, kn := range gemm.Kernels() {
				for _, steps := range epilogues {
					want := run(newWith(algo, kn, tc.shape(2), steps, mp, false), x, k, operands)
					c := compile(algo, kn, tc, 2, steps, mp)
					require.NotNil(t, c.tile, "%s %v", algo, tc)
					if slices.ContainsFunc(steps, func(s eltwise.Step) bool { return s.Kind == eltwise.Silu }) {
						// The silu follows the head: the set's silu kernels or
						// GEMM tiles, if it has them, took it.
						if c.dw != nil {
							require.Equal(t, dwSets.For(kn.Set).cellsSilu != nil, c.dw.siluPad != nil, "%s %s %v", kn.Set, algo, tc)
						} else {
							require.Equal(t, kn.SiluInTiles(), c.silu, "%s %s %v", kn.Set, algo, tc)
						}
					}
					got := run(c, x, k, operands)
					for j := range want {
						if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
							t.Fatalf("%s %v %s epilogue %v: out[%d] = %v, want %v", kn.Set, tc, algo, steps, j, got[j], want[j])
						}
					}
				}
			}
		}
	}
}

func TestRunDoesNotAllocate(t *testing.T) {
	grouped := cases()[3]
	wino := convCase{13, 13, 9, 17, 3, 3, [2]int{1, 1}, [2]int{1, 1}, ir.Same, [4]int{}, 1}
	mp := new(pool.NewWindow(cpu.Generic, 13, 13, 17, 2, 2, [2]int{2, 2}, [2]int{1, 1}, [4]int{}))
	overlap := new(pool.NewWindow(cpu.Generic, 13, 13, 17, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [4]int{}))
	for _, tc := range []convCase{grouped, wino} {
		var pools []*pool.Window
		var steps []eltwise.Step
		if tc == wino {
			pools = []*pool.Window{mp, overlap}
			steps = []eltwise.Step{{Kind: eltwise.Add, Operand: 0, Shape: []int{tc.co}}, {Kind: eltwise.Relu}}
		}
		for _, algo := range tc.algorithms() {
			for _, kn := range gemm.Kernels() {
				for _, p := range append(pools, nil) {
					c := compile(algo, kn, tc, 2, steps, p)
					x, k := make([]float32, 2*tc.h*tc.w*tc.c), make([]float32, tc.kh*tc.kw*tc.c/tc.groups*tc.co)
					w, out, scratch := make([]float32, c.PackedSize()), make([]float32, c.OutSize()), make([]float32, c.ScratchSize())
					operands := [][]float32{make([]float32, tc.co)}
					// Weights packed too: a plan packs computed ones every run.
					run := func() {
						c.PackWeights(w, k)
						c.Run(x, w, out, scratch, operands)
					}
					if allocs := testing.AllocsPerRun(10, run); allocs != 0 {
						t.Errorf("%s %s %v pool %v: %v allocations per run", algo, kn.Set, tc, p, allocs)
					}
				}
			}
		}
	}
}

// BenchmarkAlgorithms runs typical shapes with every algorithm that applies
// and every GEMM kernel this machine runs (one thread), in GFLOP/s of useful
// work (the direct convolution's FLOPs, whatever the algorithm): the
// measurements behind Choose.
func BenchmarkAlgorithms(b *testing.B) {
	one := [2]int{1, 1}
	shapes := []struct {
		name string
		s    Shape
	}{
		{"cnn224_1", Shape{N: 1, H: 224, W: 224, C: 3, KH: 3, KW: 3, CO: 32, Stride: one, Dilation: one, Groups: 1}},
		{"cnn224_2", Shape{N: 1, H: 111, W: 111, C: 32, KH: 3, KW: 3, CO: 64, Stride: one, Dilation: one, Groups: 1}},
		{"lenet64_1", Shape{N: 64, H: 28, W: 28, C: 1, KH: 5, KW: 5, CO: 6, Stride: one, Dilation: one, Pads: [4]int{2, 2, 2, 2}, Groups: 1}},
		{"lenet64_2", Shape{N: 64, H: 14, W: 14, C: 6, KH: 5, KW: 5, CO: 16, Stride: one, Dilation: one, Groups: 1}},
		{"cnn32_2", Shape{N: 32, H: 15, W: 15, C: 32, KH: 3, KW: 3, CO: 64, Stride: one, Dilation: one, Groups: 1}},
		{"3x3_64", Shape{N: 1, H: 56, W: 56, C: 64, KH: 3, KW: 3, CO: 64, Stride: one, Dilation: one, Pads: [4]int{1, 1, 1, 1}, Groups: 1}},
		{"1x1_64_256", Shape{N: 1, H: 56, W: 56, C: 64, KH: 1, KW: 1, CO: 256, Stride: one, Dilation: one, Groups: 1}},
		{"grouped_cpg8", Shape{N: 1, H: 28, W: 28, C: 128, KH: 3, KW: 3, CO: 128, Stride: one, Dilation: one, Pads: [4]int{1, 1, 1, 1}, Groups: 16}},
		{"grouped_cpg4", Shape{N: 1, H: 28, W: 28, C: 128, KH: 3, KW: 3, CO: 128, Stride: one, Dilation: one, Pads: [4]int{1, 1, 1, 1}, Groups: 32}},
		{"grouped_cpg2", Shape{N: 1, H: 28, W: 28, C: 128, KH: 3, KW: 3, CO: 128, Stride: one, Dilation: one, Pads: [4]int{1, 1, 1, 1}, Groups: 64}},
		{"depthwise", Shape{N: 1, H: 56, W: 56, C: 64, KH: 3, KW: 3, CO: 64, Stride: one, Dilation: one, Pads: [4]int{1, 1, 1, 1}, Groups: 64}},
		// The stems of MobileNetV3-small, and of MobileNetV2 and
		// EfficientNet-B0.
		{"stem_16", Shape{N: 1, H: 224, W: 224, C: 3, KH: 3, KW: 3, CO: 16, Stride: [2]int{2, 2}, Dilation: one, Pads: [4]int{1, 1, 1, 1}, Groups: 1}},
		{"stem_32", Shape{N: 1, H: 224, W: 224, C: 3, KH: 3, KW: 3, CO: 32, Stride: [2]int{2, 2}, Dilation: one, Pads: [4]int{1, 1, 1, 1}, Groups: 1}},
		{"c4_8", Shape{N: 1, H: 56, W: 56, C: 4, KH: 3, KW: 3, CO: 8, Stride: one, Dilation: one, Pads: [4]int{1, 1, 1, 1}, Groups: 1}},
		{"c4_64", Shape{N: 1, H: 56, W: 56, C: 4, KH: 3, KW: 3, CO: 64, Stride: one, Dilation: one, Pads: [4]int{1, 1, 1, 1}, Groups: 1}},
		{"c8_64", Shape{N: 1, H: 56, W: 56, C: 8, KH: 3, KW: 3, CO: 64, Stride: one, Dilation: one, Pads: [4]int{1, 1, 1, 1}, Groups: 1}},
		{"1x1_3_64", Shape{N: 1, H: 112, W: 112, C: 3, KH: 1, KW: 1, CO: 64, Stride: one, Dilation: one, Groups: 1}},
		{"7x7_s2_3_64", Shape{N: 1, H: 224, W: 224, C: 3, KH: 7, KW: 7, CO: 64, Stride: [2]int{2, 2}, Dilation: one, Pads: [4]int{3, 3, 3, 3}, Groups: 1}},
	}
	for _, sh := range shapes {
		s := sh.s
		algos := []Algorithm{Im2col}
		if s.Groups > 1 {
			algos = append(algos, Grouped)
		}
		if s.Groups > 1 && s.C == s.Groups {
			algos = append(algos, Depthwise)
		}
		if s.KH == 1 && s.KW == 1 {
			algos = append(algos, Plain)
		}
		if winogradApplies(s) {
			algos = append(algos, Winograd)
		}
		if s.Groups == 1 && s.C <= 8 {
			algos = append(algos, Direct)
		}
		for _, algo := range algos {
			for _, kn := range gemm.Kernels() {
				name := fmt.Sprintf("%s/%s/%s", sh.name, algo, kn.Set)
				if algo == Choose(s, nil, nil) {
					name += "(chosen)"
				}
				b.Run(name, func(b *testing.B) { benchRun(b, NewWith(algo, kn, s, nil, nil), 0) })
			}
		}
	}
}

// unfuseSilu makes c, which applies a silu in its kernels' store, run it as
// a chain after instead, as before the silu kernels: the other side of
// BenchmarkEfficientNetSilu's comparison.
func unfuseSilu(c *Conv) {
	switch {
	case c.dw != nil:
		k := dwSets.For(c.gemm.Set)
		c.dw.cells, c.dw.siluPad = k.cells, nil
		if c.algo == Direct {
			c.dw.cells = k.direct
		}
	case c.silu:
		c.silu = false
	default:
		panic("no silu in the store")
	}
	c.epilogue = eltwise.NewChain(c.gemm.Set, []int{c.N, c.OH, c.OW, c.CO}, []eltwise.Step{{Kind: eltwise.Silu}})
}

// BenchmarkEfficientNetSilu times EfficientNet-B0's convs that end in bias
// and silu (batch 1), for each set whose kernels apply silu in their store:
// with silu there ("store") and as a pass over each row or band after
// ("pass").
func BenchmarkEfficientNetSilu(b *testing.B) {
	one := [2]int{1, 1}
	pw := func(h, c, co int) Shape {
		return Shape{N: 1, H: h, W: h, C: c, KH: 1, KW: 1, CO: co, Stride: one, Dilation: one, Groups: 1}
	}
	dw := func(h, c, k, s int) Shape {
		p := k / 2
		return Shape{N: 1, H: h, W: h, C: c, KH: k, KW: k, CO: c, Stride: [2]int{s, s}, Dilation: one, Pads: [4]int{p, p, p, p}, Groups: c}
	}
	shapes := []struct {
		name string
		s    Shape
	}{
		{"stem", Shape{N: 1, H: 224, W: 224, C: 3, KH: 3, KW: 3, CO: 32, Stride: [2]int{2, 2}, Dilation: one, Pads: [4]int{0, 1, 0, 1}, Groups: 1}},
		{"dw112x112x32", dw(112, 32, 3, 1)},
		{"expand112x112x16_96", pw(112, 16, 96)},
		{"dw112x112x96_s2", dw(112, 96, 3, 2)},
		{"expand56x56x24_144", pw(56, 24, 144)},
		{"dw56x56x144", dw(56, 144, 3, 1)},
		{"dw28x28x240_5x5", dw(28, 240, 5, 1)},
		{"expand14x14x80_480", pw(14, 80, 480)},
		{"dw14x14x672_5x5", dw(14, 672, 5, 1)},
		{"expand7x7x192_1152", pw(7, 192, 1152)},
		{"dw7x7x1152_5x5", dw(7, 1152, 5, 1)},
	}
	for _, sh := range shapes {
		s := sh.s
		epi := []eltwise.Step{{Kind: eltwise.Add, Operand: 0, Shape: []int{s.CO}}, {Kind: eltwise.Silu}}
		for _, kn := range gemm.Kernels() {
			for _, where := range []string{"store", "pass"} {
				c := New(kn, s, epi, nil)
				if c.epilogue != nil {
					continue // this set has no silu in the store
				}
				if where == "pass" {
					unfuseSilu(c)
				}
				b.Run(fmt.Sprintf("%s/%s/%s", sh.name, kn.Set, where), func(b *testing.B) { benchRun(b, c, s.CO) })
			}
		}
	}
}

// benchRun times c's runs in the thread's CPU time, on random operands
// (memory never written reads as the kernel's one shared zero page, always
// in cache) and, with bias > 0, a random operand 0 of bias floats; it
// reports GFLOP/s of the conv's multiply-adds.
func benchRun(b *testing.B, c *Conv, bias int) {
	s := c.Shape
	r := rand.New(rand.NewPCG(1, 2))
	x, k := kerneltest.Random(r, s.N, s.H, s.W, s.C), kerneltest.Random(r, s.KH, s.KW, s.C/s.Groups, s.CO)
	w := make([]float32, c.PackedSize())
	c.PackWeights(w, k.Data)
	out, scratch := make([]float32, c.OutSize()), make([]float32, c.ScratchSize())
	var operands [][]float32
	if bias > 0 {
		operands = [][]float32{kerneltest.Random(r, bias).Data}
	}
	stop := kerneltest.CPUTime(b)
	for b.Loop() {
		c.Run(x.Data, w, out, scratch, operands)
	}
	stop()
	flops := 2 * float64(c.OutSize()) * float64(s.KH*s.KW*s.C/s.Groups)
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
