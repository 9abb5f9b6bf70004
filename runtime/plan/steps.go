package plan

import (
	"github.com/mdlc/mdlc/runtime/kernels/conv"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/layout"
	"github.com/mdlc/mdlc/runtime/kernels/pool"
	"github.com/mdlc/mdlc/runtime/kernels/softmax"
)

// The steps: each holds the slots of its operands and a kernel compiled for
// its shapes. Chain operands and concat parts are slots too, so kernels take
// the whole operand table.

type copyStep struct{ src, dst int }

func (s copyStep) run(b [][]float32, _ *team) { copy(b[s.dst], b[s.src]) }

type chainStep struct {
	out int
	c   *eltwise.Chain
}

func (s chainStep) run(b [][]float32, _ *team) { s.c.Apply(b[s.out], 0, b) }

type batchNormStep struct {
	in           [5]int // x, gamma, beta, mean, variance
	out, scratch int
	bn           eltwise.BatchNorm
}

func (s batchNormStep) run(b [][]float32, _ *team) {
	s.bn.Run(b[s.in[0]], b[s.in[1]], b[s.in[2]], b[s.in[3]], b[s.in[4]], b[s.out], b[s.scratch])
}

type softmaxStep struct {
	x, out, scratch int
	s               softmax.Softmax
}

func (s softmaxStep) run(b [][]float32, _ *team) { s.s.Run(b[s.x], b[s.out], b[s.scratch]) }

type poolStep struct {
	x, out, n int
	max       bool
	w         pool.Window
}

func (s poolStep) run(b [][]float32, _ *team) {
	if s.max {
		s.w.Max(b[s.x], b[s.out], s.n)
	} else {
		s.w.Avg(b[s.x], b[s.out], s.n)
	}
}

type globalPoolStep struct {
	x, out, scratch int
	n, hw, c        int
}

func (s globalPoolStep) run(b [][]float32, _ *team) {
	pool.GlobalAvg(b[s.x], b[s.out], s.n, s.hw, s.c, b[s.scratch])
}

type transposeStep struct {
	x, out int
	t      *layout.Transpose
}

func (s transposeStep) run(b [][]float32, _ *team) { s.t.Run(b[s.x], b[s.out]) }

type concatStep struct {
	out int
	c   *layout.Concat
}

func (s concatStep) run(b [][]float32, _ *team) { s.c.Run(b, b[s.out]) }

// convStep runs a conv whose weights were packed at build into slot w, or,
// if raw is set, are computed at run time (slot raw) and packed into slot w
// by every run first. Its units (bands of output rows) are spread over the
// team.
type convStep struct {
	x, w, raw, out, scratch int
	helpers                 int
	c                       *conv.Conv
}

func (s *convStep) run(b [][]float32, t *team) {
	if s.raw != 0 {
		s.c.PackWeights(b[s.w], b[s.raw])
	}
	t.run(s, 0, s.c.Units(), s.helpers, b, b[s.scratch])
}

func (s *convStep) unit(b [][]float32, scratch []float32, u int) {
	s.c.RunUnit(b[s.x], b[s.w], b[s.out], scratch, b, u)
}

// matmulStep runs a batch of products C_t = op(A_t)·op(B_t), t over the
// output's batch axes, each band of rows finished by the epilogue: its head
// (a bias per column, relu) by the GEMM's store, the rest as a chain. A unit
// is one band of one product.
type matmulStep struct {
	a, b, out, scratch int
	m, n, k            int
	g                  *gemm.MatMul
	bias               int // slot of the bias the store adds, -1 if none
	relu               bool
	epi                *eltwise.Chain
	// aOff is the offset of A_t; bIdx the index of B_t among the B matrices,
	// which are bSize apart as the graph holds them and packed apart packed.
	aOff, bIdx    []int
	bSize, packed int
	ldb           int
	transB        bool
	// pb is the slot of the packed B matrices: slot b's data packed at
	// build, or a buffer into which each run packs B_t before its products.
	pb      int
	packRun bool
	helpers int
}

func (s *matmulStep) run(b [][]float32, t *team) {
	bands := s.g.Bands()
	if !s.packRun {
		t.run(s, 0, len(s.aOff)*bands, s.helpers, b, b[s.scratch])
		return
	}
	// Pack each B_t once for the run of products that use it in turn.
	for t0 := 0; t0 < len(s.aOff); {
		t1 := t0 + 1
		for t1 < len(s.aOff) && s.bIdx[t1] == s.bIdx[t0] {
			t1++
		}
		s.g.Kernel.PackB(b[s.pb], b[s.b][s.bIdx[t0]*s.bSize:], s.k, s.n, s.ldb, s.transB)
		t.run(s, t0*bands, t1*bands, s.helpers, b, b[s.scratch])
		t0 = t1
	}
}

func (s *matmulStep) unit(b [][]float32, scratch []float32, u int) {
	t, i0 := u/s.g.Bands(), u%s.g.Bands()*s.g.MC
	pb := b[s.pb]
	if !s.packRun {
		pb = pb[s.bIdx[t]*s.packed : (s.bIdx[t]+1)*s.packed]
	}
	rows := min(s.g.MC, s.m-i0)
	c := b[s.out][t*s.m*s.n : (t+1)*s.m*s.n]
	epi := gemm.Epilogue{Relu: s.relu}
	if s.bias >= 0 {
		epi.Bias = b[s.bias]
	}
	s.g.Rows(b[s.a][s.aOff[t]:], pb, c, s.n, i0, rows, scratch, epi)
	if s.epi != nil {
		s.epi.Apply(c[i0*s.n:(i0+rows)*s.n], t*s.m*s.n+i0*s.n, b)
	}
}
