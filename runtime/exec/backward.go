package exec

import (
	"github.com/mdlc/mdlc/runtime/kernels/attention"
	"github.com/mdlc/mdlc/runtime/kernels/backward"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/layout"
)

// The steps of the gradient ops (package autodiff). The convolutions',
// pools', unary functions', recurrent loop's and attention's gradients
// spread over the plan's helpers, in units whose results do not depend on
// the thread count; sum_to, the loss and the embedding gradient run on the
// calling goroutine.

// SumTo sums slot X, of shape Shape, into slot Out, whose strides broadcast
// to Shape are Strides (0 on the summed axes).
type SumTo struct {
	X, Out         int
	Shape, Strides []int
}

func (s SumTo) Compile(set cpu.Set) Step {
	return &sumToStep{spec: s, k: backward.NewSumTo(set, s.Shape, s.Strides)}
}

type sumToStep struct {
	spec SumTo
	k    *backward.SumTo
}

func (s *sumToStep) Run(b [][]float32, _ *Team) { s.k.Run(b[s.spec.X], b[s.spec.Out]) }

// UnaryGrad writes slot Out = DY·f'(X), f the unary function of Fn, in
// units of UnaryGradUnit elements spread over up to Helpers helpers.
type UnaryGrad struct {
	X, DY, Out, Scratch int
	Helpers             int
	Fn                  eltwise.Step
	// Output: X is Fn's result, not its operand (unary_grad from=output).
	Output bool
}

// UnaryGradUnit is the elements of a UnaryGrad unit: 64 KiB of each operand.
const UnaryGradUnit = 1 << 14

func (s UnaryGrad) Compile(set cpu.Set) Step {
	return &unaryGradStep{spec: s, g: backward.NewUnaryGrad(set, s.Fn, s.Output)}
}

type unaryGradStep struct {
	spec UnaryGrad
	g    *backward.UnaryGrad
}

func (s *unaryGradStep) Run(b [][]float32, t *Team) {
	t.run(s, 0, (len(b[s.spec.X])+UnaryGradUnit-1)/UnaryGradUnit, s.spec.Helpers, b, b[s.spec.Scratch])
}

func (s *unaryGradStep) unit(b [][]float32, scratch []float32, u int) {
	lo, hi := u*UnaryGradUnit, min((u+1)*UnaryGradUnit, len(b[s.spec.X]))
	s.g.Run(b[s.spec.X][lo:hi], b[s.spec.DY][lo:hi], b[s.spec.Out][lo:hi], scratch)
}

// ConvGrad writes slot Out, a convolution's input gradient (Filter false:
// from the result's gradient DY and the kernel in slot K) or kernel gradient
// (Filter: from its input in slot X and DY, through partial sums in slot
// Partial), by matrix products on the packed GEMM. Its units are spread
// over up to Helpers helpers: the filter gradient's in two phases, partial
// sums then their totals.
type ConvGrad struct {
	X, K, DY, Out, Partial, Scratch int
	Helpers                         int
	Filter                          bool
	Conv                            backward.Conv
}

func (s ConvGrad) Compile(set cpu.Set) Step {
	return &convGradStep{spec: s, g: backward.NewConvGrad(set, s.Conv)}
}

type convGradStep struct {
	spec ConvGrad
	g    *backward.ConvGrad
}

func (s *convGradStep) Run(b [][]float32, t *Team) {
	if s.spec.Filter {
		t.phases(s, 2, s.g.FilterUnits(), s.spec.Helpers, b, b[s.spec.Scratch])
		return
	}
	t.run(s, 0, s.g.InputUnits(), s.spec.Helpers, b, b[s.spec.Scratch])
}

func (s *convGradStep) unit(b [][]float32, scratch []float32, u int) {
	s.g.GradInput(b[s.spec.DY], b[s.spec.K], b[s.spec.Out], scratch, u)
}

func (s *convGradStep) phaseUnit(b [][]float32, scratch []float32, p, u int) {
	s.g.GradFilter(b[s.spec.X], b[s.spec.DY], b[s.spec.Out], b[s.spec.Partial], scratch, p, u)
}

// PoolGrad writes slot Out, a pool's input gradient, from the result's
// gradient DY and, for a max pool, its input X, an image per unit spread
// over up to Helpers helpers.
type PoolGrad struct {
	X, DY, Out int
	Helpers    int
	Max        bool
	Pool       backward.Pool
}

func (s PoolGrad) Compile(set cpu.Set) Step {
	return &poolGradStep{spec: s, g: backward.NewPoolGrad(set, s.Pool)}
}

type poolGradStep struct {
	spec PoolGrad
	g    *backward.PoolGrad
}

func (s *poolGradStep) Run(b [][]float32, t *Team) {
	t.run(s, 0, s.spec.Pool.PoolUnits(), s.spec.Helpers, b, nil)
}

func (s *poolGradStep) unit(b [][]float32, _ []float32, u int) {
	if s.spec.Max {
		s.g.MaxGrad(b[s.spec.X], b[s.spec.DY], b[s.spec.Out], u)
	} else {
		s.spec.Pool.AvgGrad(b[s.spec.DY], b[s.spec.Out], u)
	}
}

// EmbeddingGrad writes slot Out, the gradient of an embedding table with
// rows of Dim, from the ids in slot IDs and the result's gradient DY.
type EmbeddingGrad struct{ IDs, DY, Out, Dim int }

func (s EmbeddingGrad) Compile(cpu.Set) Step { return s }

func (s EmbeddingGrad) Run(b [][]float32, _ *Team) {
	backward.EmbeddingGrad(b[s.IDs], b[s.DY], b[s.Out], s.Dim)
}

// GatherGrad writes slot Out, gather's gradient: the slices of slot DY added
// back onto the cells that the indices in slot Indices read
// (layout.GatherAxis.ScatterAdd), its units spread over up to Helpers
// helpers. Name and Shape are the gather's layer and the indices' shape, for
// the error an index out of range gives.
type GatherGrad struct {
	Indices, DY, Out int
	Gather           layout.GatherAxis
	Helpers          int
	Name             string
	Shape            []int
}

func (s GatherGrad) Compile(cpu.Set) Step { return &gatherGradStep{s} }

type gatherGradStep struct{ spec GatherGrad }

func (s *gatherGradStep) Check(b [][]float32) error {
	return checkGather("gather_grad", s.spec.Name, s.spec.Shape, &s.spec.Gather, b[s.spec.Indices])
}

func (s *gatherGradStep) Run(b [][]float32, t *Team) {
	t.run(s, 0, s.spec.Gather.ScatterUnits(), s.spec.Helpers, b, nil)
}

func (s *gatherGradStep) unit(b [][]float32, _ []float32, u int) {
	s.spec.Gather.ScatterAdd(b[s.spec.Indices], b[s.spec.DY], b[s.spec.Out], u)
}

// CrossEntropy writes slot Out, the softmax cross-entropy of each row of C
// logits in slot X against slot Labels: a distribution per row, or, if
// Sparse, one class id per row.
type CrossEntropy struct {
	X, Labels, Out, C int
	Sparse            bool
}

func (s CrossEntropy) Compile(cpu.Set) Step { return s }

func (s CrossEntropy) Run(b [][]float32, _ *Team) {
	if s.Sparse {
		backward.SparseCrossEntropy(b[s.X], b[s.Labels], b[s.Out], s.C)
	} else {
		backward.CrossEntropy(b[s.X], b[s.Labels], b[s.Out], s.C)
	}
}

// RecurrentGrad writes slot Out, backpropagation through time over a
// recurrent loop (backward.RecurrentGrad), from its operands XW, U, BU, H0
// and C0 (0 when absent) and the result's gradient DY. Sequences are its
// units, spread over up to Helpers helpers, each with its own scratch.
type RecurrentGrad struct {
	XW, U, BU, H0, C0, DY, Out, Scratch int
	Helpers                             int
	Loop                                backward.RecurrentGrad
}

func (s RecurrentGrad) Compile(cpu.Set) Step { return &s }

func (s *RecurrentGrad) Run(b [][]float32, t *Team) {
	t.run(s, 0, s.Loop.Units(), s.Helpers, b, b[s.Scratch])
}

func (s *RecurrentGrad) unit(b [][]float32, scratch []float32, u int) {
	var h0, c0 []float32
	if s.H0 != 0 {
		h0 = b[s.H0]
	}
	if s.C0 != 0 {
		c0 = b[s.C0]
	}
	s.Loop.Run(u, b[s.XW], b[s.U], b[s.BU], h0, c0, b[s.DY], b[s.Out], scratch)
}

// AttentionGrad writes slot Out, attention's dq, dk and dv packed per
// matrix (attention.Grad), from its operands Q, K, V and Mask (0 without
// one) and the result's gradient DY. Matrices are its units, spread over up
// to Helpers helpers, each with its own scratch.
type AttentionGrad struct {
	Q, K, V, Mask, DY, Out, Scratch int
	Helpers                         int
	Shape                           attention.Shape
}

func (s AttentionGrad) Compile(set cpu.Set) Step {
	return &attentionGradStep{spec: s, g: attention.NewGrad(gemm.For(set), s.Shape)}
}

type attentionGradStep struct {
	spec AttentionGrad
	g    *attention.Grad
}

func (s *attentionGradStep) Run(b [][]float32, t *Team) {
	t.run(s, 0, s.g.Units(), s.spec.Helpers, b, b[s.spec.Scratch])
}

func (s *attentionGradStep) unit(b [][]float32, scratch []float32, m int) {
	sp := &s.spec
	s.g.RunUnit(b[sp.Q], b[sp.K], b[sp.V], b[sp.Mask], b[sp.DY], b[sp.Out], scratch, m)
}
