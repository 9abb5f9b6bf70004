package plan

import (
	"math/rand/v2"
	"slices"
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
// blocks of K, spread over threads, give the same result bit for bit. A few
// rows beside a narrow B run as GEMVs too where the kernel set's rule says
// so (rows), each row the same bits as that row alone; more rows, wider B,
// or a B computed at run time stay with the GEMM.
func TestGEMVPath(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, tc := range []struct {
		m, k, n            int
		transB, cnst, rows bool
		kernel             string
	}{
		{1, 3*gemv.Block + 5, 10, false, true, false, "gemv"},
		// Enough work for helpers: 7 blocks.
		{1, 6*gemv.Block + 5, 64, false, true, false, "gemv"},
		{1, 2304, 10, true, true, false, "gemv"},
		{1, 17, 33, false, true, false, "gemv"},
		{1, 9, 1, true, true, false, "gemv"},
		{2, 300, 10, false, true, true, "gemv"},
		{8, 3*gemv.Block + 5, 10, true, true, true, "gemv"},
		{maxRows, 2304, 10, false, true, true, "gemv"},
		{maxRows + 1, 300, 10, false, true, false, "gemm"},
		{4, 300, 33, false, true, false, "gemm"},
		{1, 300, 10, false, false, false, "gemm"},
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
		wData, biasData := slices.Clone(w.Data), slices.Clone(bias.Data)
		_, err = passes.Run(g, passes.Options{Verify: true})
		require.NoError(t, err)

		var first []float32
		kernel := tc.kernel
		for _, threads := range []int{1, 2, 3} {
			p, err := Build(g, nil, nil, Threads(threads))
			require.NoError(t, err)
			if tc.k > 6*gemv.Block && threads > 1 {
				require.Positive(t, p.prog.Specs[0].(exec.GEMV).Helpers, "%+v: %d threads", tc, threads)
			}
			if tc.rows && tc.n > maxRowsN[p.Kernels()] {
				kernel = "gemm"
			}
			require.Equal(t, kernel, p.Schedule().Steps[0].Kernel, "%+v, %s", tc, p.Kernels())
			require.Len(t, p.Schedule().Steps, 1, "the epilogue is fused: %+v", tc)
			got, err := p.RunTensors(feed)
			require.NoError(t, err)
			kerneltest.Close(t, got["y"].Data, want["y"], 1e-5, "%+v, %d threads", tc, threads)
			if first == nil {
				first = got["y"].Data
			}
			require.Equal(t, first, got["y"].Data, "%+v: %d threads", tc, threads)
		}
		if tc.m > 1 && kernel == "gemv" {
			requireRowsAlone(t, tc.k, tc.n, tc.transB, wData, biasData, feed["a"].Data, first)
		}
	}
}

// requireRowsAlone checks that each row of y, a product of rows of a (k
// each) by the constant w plus bias, relu, is the same bits as the row's
// product alone, a one-row plan's.
func requireRowsAlone(t *testing.T, k, n int, transB bool, w, bias, a, y []float32) {
	t.Helper()
	bs := []int{k, n}
	if transB {
		bs = []int{n, k}
	}
	g := ir.NewGraph("row")
	x := g.AddInput("a", kerneltest.Type([]int{1, k}))
	wv := g.AddConst("w", kerneltest.Type(bs), w)
	bv := g.AddConst("bias", kerneltest.Type([]int{n}), bias)
	v, err := g.AddNode(ir.OpMatMul, &ir.MatMulAttrs{TransB: transB}, []*ir.Value{x, wv}, "mm", ir.Pos{})
	require.NoError(t, err)
	v, err = g.AddNode(ir.OpAdd, nil, []*ir.Value{v, bv}, "bias", ir.Pos{})
	require.NoError(t, err)
	v, err = g.AddNode(ir.OpRelu, nil, []*ir.Value{v}, "relu", ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("y", v)
	_, err = passes.Run(g, passes.Options{Verify: true})
	require.NoError(t, err)
	p, err := Build(g, nil, nil)
	require.NoError(t, err)
	for r := range len(a) / k {
		got, err := p.RunTensors(map[string]*tensor.Tensor{"a": {Shape: []int{1, k}, Data: a[r*k : (r+1)*k]}})
		require.NoError(t, err)
		require.Equal(t, got["y"].Data, y[r*n:(r+1)*n], "row %d", r)
	}
}
