package exec

import (
	"github.com/mdlc/mdlc/runtime/kernels/backward"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
)

// The steps of the gradient ops (package autodiff). They run on one thread:
// their kernels are plain loops for now.

// SumTo sums slot X, of shape Shape, into slot Out, whose strides broadcast
// to Shape are Strides (0 on the summed axes).
type SumTo struct {
	X, Out         int
	Shape, Strides []int
}

func (s SumTo) Compile(cpu.Set) Step { return s }

func (s SumTo) Run(b [][]float32, _ *Team) { backward.SumTo(b[s.X], b[s.Out], s.Shape, s.Strides) }

// UnaryGrad writes slot Out = DY·f'(X), f the unary function of Fn.
type UnaryGrad struct {
	X, DY, Out int
	Fn         eltwise.Step
}

func (s UnaryGrad) Compile(cpu.Set) Step { return s }

func (s UnaryGrad) Run(b [][]float32, _ *Team) { backward.UnaryGrad(s.Fn, b[s.X], b[s.DY], b[s.Out]) }

// ConvGradInput writes slot Out, a convolution's input gradient, from the
// result's gradient DY and the kernel K.
type ConvGradInput struct {
	DY, K, Out int
	Conv       backward.Conv
}

func (s ConvGradInput) Compile(cpu.Set) Step { return s }

func (s ConvGradInput) Run(b [][]float32, _ *Team) { s.Conv.GradInput(b[s.DY], b[s.K], b[s.Out]) }

// ConvGradFilter writes slot Out, a convolution's kernel gradient, from its
// input X and the result's gradient DY.
type ConvGradFilter struct {
	X, DY, Out int
	Conv       backward.Conv
}

func (s ConvGradFilter) Compile(cpu.Set) Step { return s }

func (s ConvGradFilter) Run(b [][]float32, _ *Team) { s.Conv.GradFilter(b[s.X], b[s.DY], b[s.Out]) }

// PoolGrad writes slot Out, a pool's input gradient, from the result's
// gradient DY and, for a max pool, its input X.
type PoolGrad struct {
	X, DY, Out int
	Max        bool
	Pool       backward.Pool
}

func (s PoolGrad) Compile(cpu.Set) Step { return s }

func (s PoolGrad) Run(b [][]float32, _ *Team) {
	if s.Max {
		s.Pool.MaxGrad(b[s.X], b[s.DY], b[s.Out])
	} else {
		s.Pool.AvgGrad(b[s.DY], b[s.Out])
	}
}

// EmbeddingGrad writes slot Out, the gradient of an embedding table with
// rows of Dim, from the ids in slot IDs and the result's gradient DY.
type EmbeddingGrad struct{ IDs, DY, Out, Dim int }

func (s EmbeddingGrad) Compile(cpu.Set) Step { return s }

func (s EmbeddingGrad) Run(b [][]float32, _ *Team) {
	backward.EmbeddingGrad(b[s.IDs], b[s.DY], b[s.Out], s.Dim)
}
