package plan

import (
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/tensor"
)

// gemv compiles op(A)·B as matrix-vector products (package gemv) if the
// rule below takes it: B one constant matrix, packed now, and A a single
// row, or rows of its own (not transposed) that are few beside a B too
// narrow for the GEMM's panels; otherwise it returns nil and the GEMM runs
// it. chain is the epilogue's shape.
//
// The rule is measured (BenchmarkCrossover in package gemv, one thread, CPU
// time, one run on a shared machine). At M = 1 the GEMV streams W at 30-50
// GB/s where the GEMM's 1×16 edge tiles reach 10-20, so it is faster on
// every shape tried (Zen 3, AVX2, medians of 3): 0.19 ms against 0.63-1.1 ms
// for k = 186624, n = 10 (the seed CNN 224's classifier), 2.5 µs against
// 6.6-8.3 µs for k = 2304, n = 10, 34 µs against 47 µs for k = 4096, n = 64,
// 81 µs against 120-280 µs for k = 1024, n = 1000. At M > 1 each row is one
// pass over W, block by block, so that the rows after the first read a
// block from the cache: that wins where the GEMM pads B's few columns to a
// panel of 16 (Intel Xeon, Emerald Rapids; AVX-512 and AVX2 alike): at n =
// 10, k = 186624, 1.03 ms against 1.58 at M = 8 and 3.8 against 7.7 at M =
// 32; at n = 10, k = 2304, 35 µs against 49 at M = 32 and 66 against 87 at
// M = 64 (AVX2). At n = 16 they tie (k = 4096, M = 8-64), and from n = 32
// on the GEMM wins by up to 5× at M = 8, so the rule stops at maxRowsN. The
// NEON GEMM's panels are 12 wide, about n = 10's width: unmeasured, it keeps
// M = 1.
func (b *builder) gemv(n *ir.Node, m, nn, k, ldb int, at ir.MatMulAttrs, os, bs, chain []int, epi []eltwise.Step) exec.Spec {
	bv := n.Inputs[1]
	data := b.data(bv)
	if data == nil || tensor.Numel(os[:len(os)-2]) != 1 || tensor.Numel(bs[:len(bs)-2]) != 1 {
		return nil
	}
	if m != 1 && (at.TransA || m > maxRows || nn > maxRowsN[b.kernels]) {
		return nil
	}
	// A is m contiguous rows of k floats (one row: transposed or not).
	s := exec.GEMV{A: b.slot(n.Inputs[0]), Out: b.out(n), Rows: m, K: k, N: nn, Epilogue: exec.Chain{Shape: chain, Steps: epi}}
	g := s.New(b.kernels).G
	packed := make([]float32, g.PackedSize())
	g.Pack(packed, data, ldb, at.TransB)
	b.info[b.step].Kernel = "gemv"
	s.W = b.constant(packed, b.names[bv]+" packed")
	s.Partial = b.temp(m*g.PartialSize(), "gemv partial sums")
	s.Scratch = b.scratch(g.ScratchSize(), "gemv tail")
	s.Helpers = b.helpers(g.Blocks(), 2*float64(m)*float64(k)*float64(nn), g.ScratchSize())
	return s
}

// maxRows and maxRowsN bound the products of several rows that run as
// GEMVs: at most maxRows rows (the largest measured) and, per kernel set,
// at most maxRowsN[set] columns (no entry: one row only).
const maxRows = 64

var maxRowsN = map[cpu.Set]int{cpu.AVX2: 12, cpu.AVX512: 12}
