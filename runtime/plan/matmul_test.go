package plan

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
)

// Batched matmul with broadcast batch axes and transposes, B computed at run
// time (packed per batch) or constant (packed at build), at awkward sizes.
func TestBatchedMatMulMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	sizes := kerneltest.Sizes
	for i, m := range sizes {
		n, k := sizes[(i+3)%len(sizes)], sizes[(i+6)%len(sizes)]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, constB := range []bool{false, true} {
				as, bs := []int{2, 1, m, k}, []int{3, k, n}
				if tr[0] {
					as[2], as[3] = k, m
				}
				if tr[1] {
					bs[1], bs[2] = n, k
				}
				a, b := kerneltest.Random(r, as...), kerneltest.Random(r, bs...)
				g := ir.NewGraph("matmul")
				av := g.AddInput("a", kerneltest.Type(as))
				feed := map[string]*tensor.Tensor{"a": a}
				var bv *ir.Value
				if constB {
					bv = g.AddConst("b", kerneltest.Type(bs), b.Data)
				} else {
					bv = g.AddInput("b", kerneltest.Type(bs))
					feed["b"] = b
				}
				y, err := g.AddNode(ir.OpMatMul, &ir.MatMulAttrs{TransA: tr[0], TransB: tr[1]}, []*ir.Value{av, bv}, "mm", ir.Pos{})
				require.NoError(t, err)
				g.AddOutput("y", y)
				want, err := ref.Run(g, nil, feed)
				require.NoError(t, err)
				t.Run(fmt.Sprintf("%v×%v/trans=%v/const=%v", as, bs, tr, constB), func(t *testing.T) {
					checkPlan(t, g, nil, nil, feed, want, 1e-5)
				})
			}
		}
	}
}

// A batch of products of one B matrix runs as one product of A's rows
// stacked (stackRows), with an epilogue operand broadcast over the batch
// axes read at the output's positions still; A transposed or broadcast, or
// B batched, keeps the batch. Against the reference, at awkward sizes.
func TestStackedRowsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	sizes := kerneltest.Sizes
	for i, m := range sizes {
		n, k := sizes[(i+2)%len(sizes)], sizes[(i+5)%len(sizes)]
		for _, c := range []struct {
			as, bs  []int
			transA  bool
			transB  bool
			constB  bool
			stacked bool
		}{
			{[]int{3, 2, m, k}, []int{k, n}, false, false, true, true},
			{[]int{3, 2, m, k}, []int{n, k}, false, true, false, true},
			{[]int{5, 1, k}, []int{1, k, n}, false, false, true, true},
			{[]int{3, 2, k, m}, []int{k, n}, true, false, true, false},
			{[]int{2, m, k}, []int{3, 1, k, n}, false, false, true, false},
			{[]int{3, 2, m, k}, []int{2, k, n}, false, false, false, false},
		} {
			a, b := kerneltest.Random(r, c.as...), kerneltest.Random(r, c.bs...)
			g := ir.NewGraph("stacked")
			av := g.AddInput("a", kerneltest.Type(c.as))
			feed := map[string]*tensor.Tensor{"a": a}
			var bv *ir.Value
			if c.constB {
				bv = g.AddConst("b", kerneltest.Type(c.bs), b.Data)
			} else {
				bv = g.AddInput("b", kerneltest.Type(c.bs))
				feed["b"] = b
			}
			mm := ir.MatMulAttrs{TransA: c.transA, TransB: c.transB}
			y, err := g.AddNode(ir.OpMatMul, &mm, []*ir.Value{av, bv}, "mm", ir.Pos{})
			require.NoError(t, err)
			// Then add a bias per leading position and column: [B0, 1, ..., N].
			ys := y.Type.Shape
			bs := make([]int, len(ys))
			for d := range bs {
				bs[d] = 1
			}
			bs[0], bs[len(bs)-1] = ys[0].Size, ys[len(ys)-1].Size
			bias := g.AddConst("bias", kerneltest.Type(bs), kerneltest.Random(r, bs...).Data)
			z, err := g.AddNode(ir.OpFusedMatMul, &ir.FusedMatMulAttrs{MatMul: mm, Epilogue: ir.Chain{{Op: ir.OpAdd, Operand: 2}}},
				[]*ir.Value{av, bv, bias}, "fused", ir.Pos{})
			require.NoError(t, err)
			g.AddOutput("y", y)
			g.AddOutput("z", z)
			want, err := ref.Run(g, nil, feed)
			require.NoError(t, err)
			t.Run(fmt.Sprintf("%v×%v/trans=%v,%v/const=%v", c.as, c.bs, c.transA, c.transB, c.constB), func(t *testing.T) {
				checkPlan(t, g, nil, nil, feed, want, 1e-5)
				p, err := Build(g, nil, nil)
				require.NoError(t, err)
				for _, s := range p.prog.Specs {
					if s, ok := s.(exec.MatMul); ok {
						require.Equal(t, c.stacked, len(s.AOff) == 1, "products %d, M %d", len(s.AOff), s.M)
					}
				}
			})
		}
	}
}

// Fused matmuls and convs whose epilogue starts with a bias, a relu (or relu6) or both
// (which the GEMM's store applies) and may go on (a rest run as a chain),
// against the reference, at awkward sizes.
func TestTileEpilogueMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	relu6 := &ir.ClipAttrs{Min: 0, Max: 6}
	chains := []ir.Chain{
		{{Op: ir.OpAdd, Operand: 2}},
		{{Op: ir.OpRelu}},
		{{Op: ir.OpAdd, Operand: 2}, {Op: ir.OpRelu}},
		{{Op: ir.OpAdd, Operand: 2}, {Op: ir.OpRelu}, {Op: ir.OpMul, Operand: 3}},
		{{Op: ir.OpAdd, Operand: 2, Swapped: true}, {Op: ir.OpSigmoid}},
		{{Op: ir.OpAdd, Operand: 2}, {Op: ir.OpClip, Attrs: relu6}},
		{{Op: ir.OpAdd, Operand: 2}, {Op: ir.OpClip, Attrs: relu6}, {Op: ir.OpMul, Operand: 3}},
	}
	for i, m := range kerneltest.Sizes {
		n, k := kerneltest.Sizes[(i+2)%len(kerneltest.Sizes)], kerneltest.Sizes[(i+5)%len(kerneltest.Sizes)]
		for j, c := range chains {
			g := ir.NewGraph("tile")
			feed := map[string]*tensor.Tensor{}
			var y *ir.Value
			var err error
			if j%2 == 0 {
				x := kerneltest.Random(r, m, k)
				feed["x"] = x
				xv := g.AddInput("x", kerneltest.Type(x.Shape))
				w := g.AddConst("w", ir.T(k, n), kerneltest.Random(r, k, n).Data)
				bias, scale := g.AddConst("bias", ir.T(n), kerneltest.Random(r, n).Data), g.AddConst("scale", ir.T(n), kerneltest.Random(r, n).Data)
				y, err = g.AddNode(ir.OpFusedMatMul, &ir.FusedMatMulAttrs{Epilogue: c}, []*ir.Value{xv, w, bias, scale}[:2+len(inputsOf(c))], "mm", ir.Pos{})
			} else {
				x := kerneltest.Random(r, 1, m+2, k+2, 3)
				feed["x"] = x
				xv := g.AddInput("x", kerneltest.Type(x.Shape))
				w := g.AddConst("w", ir.T(3, 3, 3, n), kerneltest.Random(r, 3, 3, 3, n).Data)
				bias, scale := g.AddConst("bias", ir.T(n), kerneltest.Random(r, n).Data), g.AddConst("scale", ir.T(n), kerneltest.Random(r, n).Data)
				a := &ir.FusedConvAttrs{Conv: ir.ConvAttrs{Window2D: ir.Window2D{Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}, Padding: ir.Same}, Groups: 1}, Epilogue: c}
				y, err = g.AddNode(ir.OpFusedConv2D, a, []*ir.Value{xv, w, bias, scale}[:2+len(inputsOf(c))], "conv", ir.Pos{})
			}
			require.NoError(t, err)
			g.AddOutput("y", y)
			want, err := ref.Run(g, nil, feed)
			require.NoError(t, err)
			t.Run(fmt.Sprintf("%d×%d×%d/chain%d", m, n, k, j), func(t *testing.T) {
				checkPlan(t, g, nil, nil, feed, want, 1e-5)
			})
		}
	}
}

// inputsOf lists the operand indices a chain uses.
func inputsOf(c ir.Chain) map[int]bool {
	ops := map[int]bool{}
	for _, s := range c {
		if s.Op.Info().MinInputs == 2 {
			ops[s.Operand] = true
		}
	}
	return ops
}
