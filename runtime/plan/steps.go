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

func (s copyStep) run(b [][]float32) { copy(b[s.dst], b[s.src]) }

type chainStep struct {
	out int
	c   *eltwise.Chain
}

func (s chainStep) run(b [][]float32) { s.c.Apply(b[s.out], 0, b) }

type batchNormStep struct {
	in           [5]int // x, gamma, beta, mean, variance
	out, scratch int
	bn           eltwise.BatchNorm
}

func (s batchNormStep) run(b [][]float32) {
	s.bn.Run(b[s.in[0]], b[s.in[1]], b[s.in[2]], b[s.in[3]], b[s.in[4]], b[s.out], b[s.scratch])
}

type softmaxStep struct {
	x, out, scratch int
	s               softmax.Softmax
}

func (s softmaxStep) run(b [][]float32) { s.s.Run(b[s.x], b[s.out], b[s.scratch]) }

type poolStep struct {
	x, out, n int
	max       bool
	w         pool.Window
}

func (s poolStep) run(b [][]float32) {
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

func (s globalPoolStep) run(b [][]float32) {
	pool.GlobalAvg(b[s.x], b[s.out], s.n, s.hw, s.c, b[s.scratch])
}

type transposeStep struct {
	x, out int
	t      *layout.Transpose
}

func (s transposeStep) run(b [][]float32) { s.t.Run(b[s.x], b[s.out]) }

type concatStep struct {
	out int
	c   *layout.Concat
}

func (s concatStep) run(b [][]float32) { s.c.Run(b, b[s.out]) }

// convStep runs a conv whose weights were packed at build, or, if packAtRun,
// are computed and packed into the front of scratch first.
type convStep struct {
	x, w, out, scratch int
	packAtRun          bool
	c                  *conv.Conv
}

func (s convStep) run(b [][]float32) {
	w, scratch := b[s.w], b[s.scratch]
	if s.packAtRun {
		n := s.c.PackedSize()
		s.c.PackWeights(scratch[:n], w)
		w, scratch = scratch[:n], scratch[n:]
	}
	s.c.Run(b[s.x], w, b[s.out], scratch, b)
}

// matmulStep runs a batch of products C_t = op(A_t)·op(B_t), t over the
// output's batch axes, each band of rows finished by the epilogue.
type matmulStep struct {
	a, b, out, scratch int
	m, n, k            int
	g                  *gemm.MatMul
	epi                *eltwise.Chain
	// aOff is the offset of A_t; bIdx the index of B_t among the B matrices,
	// which are bSize apart as the graph holds them and packed apart packed.
	aOff, bIdx    []int
	bSize, packed int
	ldb           int
	transB        bool
	prepacked     bool // slot b holds the B matrices packed at build
}

func (s matmulStep) run(b [][]float32) {
	a, bm, out, scratch := b[s.a], b[s.b], b[s.out], b[s.scratch]
	pa := scratch[:s.g.ScratchSize()]
	held := -1 // the B matrix packed in scratch
	for t, off := range s.aOff {
		var pb []float32
		if s.prepacked {
			pb = bm[s.bIdx[t]*s.packed : (s.bIdx[t]+1)*s.packed]
		} else {
			pb = scratch[len(pa) : len(pa)+s.packed]
			if s.bIdx[t] != held {
				gemm.PackB(pb, bm[s.bIdx[t]*s.bSize:], s.k, s.n, s.ldb, s.transB)
				held = s.bIdx[t]
			}
		}
		c := out[t*s.m*s.n : (t+1)*s.m*s.n]
		for i0 := 0; i0 < s.m; i0 += s.g.MC {
			rows := min(s.g.MC, s.m-i0)
			s.g.Rows(a[off:], pb, c, s.n, i0, rows, pa)
			if s.epi != nil {
				s.epi.Apply(c[i0*s.n:(i0+rows)*s.n], t*s.m*s.n+i0*s.n, b)
			}
		}
	}
}
