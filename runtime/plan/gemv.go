package plan

import (
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/tensor"
)

// gemv compiles op(A)·B as a matrix-vector product (package gemv) if it is
// one: A a single row (M = 1), B one constant matrix, packed now; otherwise
// it returns nil and the GEMM runs it.
//
// The rule is measured (BenchmarkCrossover in package gemv, Zen 3, AVX2, one
// thread, medians of 3 on a shared machine): at M = 1 the GEMV streams W at
// 30-50 GB/s where the GEMM's 1×16 edge tiles reach 10-20, so it is faster on
// every shape tried: 0.19 ms against 0.63-1.1 ms for k = 186624, n = 10 (the
// seed CNN 224's classifier), 2.5 µs against 6.6-8.3 µs for k = 2304, n = 10,
// 34 µs against 47 µs for k = 4096, n = 64, 81 µs against 120-280 µs for
// k = 1024, n = 1000. At M = 2 it makes one pass over W per row and already
// loses to the GEMM at n = 64 (42 µs against 30 µs), ties at k = 2304,
// n = 10, and at M ≥ 3 loses on all but the narrowest shapes.
func (b *builder) gemv(n *ir.Node, m, nn, k, ldb int, at ir.MatMulAttrs, os, bs []int, epi []eltwise.Step) exec.Spec {
	bv := n.Inputs[1]
	data := b.data(bv)
	if m != 1 || data == nil || tensor.Numel(os[:len(os)-2]) != 1 || tensor.Numel(bs[:len(bs)-2]) != 1 {
		return nil
	}
	// With M = 1, A is one contiguous row of k floats, transposed or not.
	s := exec.GEMV{A: b.slot(n.Inputs[0]), Out: b.out(n), K: k, N: nn, Epilogue: exec.Chain{Shape: os, Steps: epi}}
	g := s.New(b.kernels).G
	packed := make([]float32, g.PackedSize())
	g.Pack(packed, data, ldb, at.TransB)
	b.info[b.step].Kernel = "gemv"
	s.W = b.constant(packed, b.names[bv]+" packed")
	s.Partial = b.temp(g.PartialSize(), "gemv partial sums")
	s.Scratch = b.scratch(g.ScratchSize(), "gemv tail")
	s.Helpers = b.helpers(g.Blocks(), 2*float64(k)*float64(nn), g.ScratchSize())
	return s
}
