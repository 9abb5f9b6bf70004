package conv

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
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
			convCase{5, 5, 40 + i, 7, 3, 3, one, one, ir.Same, [4]int{}, 1}, // K past one block
		)
	}
	return cs
}

func compile(tc convCase, n int, epi *eltwise.Chain, mp *pool.Window) *Conv {
	a := tc.attrs()
	return New(Shape{N: n, H: tc.h, W: tc.w, C: tc.c, KH: tc.kh, KW: tc.kw, CO: tc.co,
		Stride: tc.stride, Dilation: tc.dilation, Pads: a.PadsFor(tc.h, tc.w, tc.kh, tc.kw), Groups: tc.groups}, epi, mp)
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
		kerneltest.Close(t, run(compile(tc, 2, nil, nil), x, k, nil), want, tol, "%v", tc)
	}
}

// Conv + bias + relu, then a max pool that overlaps or not, against the
// reference's fused conv (which materialises the conv output).
func TestFusedConvMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pools := []*ir.Window2D{
		nil,
		{Size: [2]int{2, 2}, Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}},
		{Size: [2]int{3, 3}, Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}, Padding: ir.Same},
		{Size: [2]int{1, 2}, Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}},
	}
	for i, tc := range cases() {
		p := pools[i%len(pools)]
		a := tc.attrs()
		oh, ow := a.Out(tc.h, tc.w, tc.kh, tc.kw)
		if p != nil && (oh < p.Size[0] || ow < p.Size[1]) {
			p = nil
		}
		x := kerneltest.Random(r, 2, tc.h, tc.w, tc.c)
		k := kerneltest.Random(r, tc.kh, tc.kw, tc.c/tc.groups, tc.co)
		bias := kerneltest.Random(r, tc.co)
		chain := ir.Chain{{Op: ir.OpAdd, Operand: 2}, {Op: ir.OpRelu}}
		want := kerneltest.Ref(t, ir.OpFusedConv2D, &ir.FusedConvAttrs{Conv: a, Epilogue: chain, Pool: p}, x, k, bias)

		epi := eltwise.NewChain([]int{2, oh, ow, tc.co}, []eltwise.Step{{Kind: eltwise.Add, Operand: 2, Shape: []int{tc.co}}, {Kind: eltwise.Relu}})
		var mp *pool.Window
		if p != nil {
			pw := *p
			mp = new(pool.NewWindow(oh, ow, tc.co, pw.Size[0], pw.Size[1], pw.Stride, pw.Dilation, pw.PadsFor(oh, ow, pw.Size[0], pw.Size[1])))
		}
		got := run(compile(tc, 2, epi, mp), x, k, [][]float32{x.Data, k.Data, bias.Data})
		kerneltest.Close(t, got, want, tol, "%v pool %v", tc, p)
	}
}

func TestRunDoesNotAllocate(t *testing.T) {
	tc := cases()[3]
	c := compile(tc, 2, nil, nil)
	x, w := make([]float32, 2*tc.h*tc.w*tc.c), make([]float32, c.PackedSize())
	out, scratch := make([]float32, c.OutSize()), make([]float32, c.ScratchSize())
	if allocs := testing.AllocsPerRun(10, func() { c.Run(x, w, out, scratch, nil) }); allocs != 0 {
		t.Errorf("%v allocations per run", allocs)
	}
}
