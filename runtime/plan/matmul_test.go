package plan

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
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
				p, err := Build(g, nil, nil)
				require.NoError(t, err)
				got, err := p.RunTensors(feed)
				require.NoError(t, err)
				kerneltest.Close(t, got["y"].Data, want["y"], 1e-5, "%v×%v trans=%v const=%v", as, bs, tr, constB)
			}
		}
	}
}
