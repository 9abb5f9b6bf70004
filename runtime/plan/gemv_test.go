package plan

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/gemv"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
)

// A one-row product with a constant B runs as a GEMV, B as given or
// transposed, with its bias+relu epilogue; it matches the reference, and its
// blocks of K, spread over threads, give the same result bit for bit. Two
// rows, or a B computed at run time, stay with the GEMM.
func TestGEMVPath(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, tc := range []struct {
		m, k, n      int
		transB, cnst bool
		kernel       string
	}{
		{1, 3*gemv.Block + 5, 10, false, true, "gemv"},
		// Enough work for helpers: 7 blocks.
		{1, 6*gemv.Block + 5, 64, false, true, "gemv"},
		{1, 2304, 10, true, true, "gemv"},
		{1, 17, 33, false, true, "gemv"},
		{1, 9, 1, true, true, "gemv"},
		{2, 300, 10, false, true, "gemm"},
		{1, 300, 10, false, false, "gemm"},
	} {
		bs := []int{tc.k, tc.n}
		if tc.transB {
			bs = []int{tc.n, tc.k}
		}
		g := ir.NewGraph("gemv")
		a := g.AddInput("a", kerneltest.Type([]int{tc.m, tc.k}))
		feed := map[string]*tensor.Tensor{"a": kerneltest.Random(r, tc.m, tc.k)}
		var w *ir.Value
		if tc.cnst {
			w = g.AddConst("w", kerneltest.Type(bs), kerneltest.Random(r, bs...).Data)
		} else {
			w = g.AddInput("w", kerneltest.Type(bs))
			feed["w"] = kerneltest.Random(r, bs...)
		}
		bias := g.AddConst("bias", kerneltest.Type([]int{tc.n}), kerneltest.Random(r, tc.n).Data)
		y, err := g.AddNode(ir.OpMatMul, &ir.MatMulAttrs{TransB: tc.transB}, []*ir.Value{a, w}, "mm", ir.Pos{})
		require.NoError(t, err)
		y, err = g.AddNode(ir.OpAdd, nil, []*ir.Value{y, bias}, "bias", ir.Pos{})
		require.NoError(t, err)
		y, err = g.AddNode(ir.OpRelu, nil, []*ir.Value{y}, "relu", ir.Pos{})
		require.NoError(t, err)
		g.AddOutput("y", y)
		want, err := ref.Run(g, nil, feed)
		require.NoError(t, err)
		_, err = passes.Run(g, passes.Options{Verify: true})
		require.NoError(t, err)

		var first []float32
		for _, threads := range []int{1, 2, 3} {
			p, err := Build(g, nil, nil, Threads(threads))
			require.NoError(t, err)
			if tc.k > 6*gemv.Block && threads > 1 {
				require.Positive(t, p.prog.Specs[0].(exec.GEMV).Helpers, "%+v: %d threads", tc, threads)
			}
			require.Equal(t, tc.kernel, p.Schedule().Steps[0].Kernel, "%+v", tc)
			require.Len(t, p.Schedule().Steps, 1, "the epilogue is fused: %+v", tc)
			got, err := p.RunTensors(feed)
			require.NoError(t, err)
			kerneltest.Close(t, got["y"].Data, want["y"], 1e-5, "%+v, %d threads", tc, threads)
			if first == nil {
				first = got["y"].Data
			}
			require.Equal(t, first, got["y"].Data, "%+v: %d threads", tc, threads)
		}
	}
}
