// Package recurrent runs the time loop of a recurrent layer (SimpleRNN, LSTM,
// GRU; see ir.RecurrentAttrs for the equations). The input projection of all
// steps is computed before the loop, as one large GEMM, so each step here is
// one small product h·U (with the recurrent bias added by the GEMM's store,
// U packed when the plan is built) and one pass over the gates.
//
// Numerics: the state is float32 from step to step; the gates use math.Exp
// and math.Tanh rounded to float32. Each step adds a few roundings, so over
// T steps a result is within about (H + 10·T)·2⁻²⁴ of the float64 reference
// on well-conditioned weights (a contracting recurrence forgets old errors).
//
// Only the generic Go gates exist so far; the product runs the plan's GEMM
// kernel (generic, AVX2 or NEON). Nothing here allocates.
package recurrent

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/gemm"
)

// Cell is the recurrence.
type Cell uint8

const (
	RNN Cell = iota + 1
	LSTM
	GRU
)

// Gates is how many blocks of H columns a cell's projections have.
func (c Cell) Gates() int { return [...]int{RNN: 1, LSTM: 4, GRU: 3}[c] }

// Recurrent is a compiled loop over T steps of N sequences of H units.
type Recurrent struct {
	Cell                    Cell
	Relu, Reverse, Sequence bool
	N, T, H                 int
	mm                      *gemm.MatMul
}

// New compiles the loop with GEMM kernel kn.
func New(kn *gemm.Kernel, cell Cell, n, t, h int, relu, reverse, sequence bool) *Recurrent {
	gh := cell.Gates() * h
	return &Recurrent{Cell: cell, Relu: relu, Reverse: reverse, Sequence: sequence, N: n, T: t, H: h,
		mm: gemm.NewMatMul(kn, n, gh, h, h, false)}
}

func (r *Recurrent) gh() int { return r.Cell.Gates() * r.H }

// PackedSize is the length of U packed by PackWeights.
func (r *Recurrent) PackedSize() int { return r.mm.Kernel.PackedSize(r.H, r.gh()) }

// PackWeights packs the recurrent kernel u [H, G·H] for Run.
func (r *Recurrent) PackWeights(dst, u []float32) {
	r.mm.Kernel.PackB(dst, u, r.H, r.gh(), r.gh(), false)
}

// ScratchSize is the scratch Run needs: h·U + bu, h and c, and the GEMM's.
func (r *Recurrent) ScratchSize() int { return r.N*r.gh() + 2*r.N*r.H + r.mm.ScratchSize() }

// Run computes the loop: xw [N, T, G·H] the projected inputs, pu the packed
// recurrent kernel, bu [G·H] its bias, h0 and c0 [N, H] the initial states
// (nil: zero). out is h at every step [N, T, H] with Sequence, else the last
// h [N, H].
func (r *Recurrent) Run(xw, pu, bu, h0, c0, out, scratch []float32) {
	n, t, hid, gh := r.N, r.T, r.H, r.gh()
	hu, h, c := scratch[:n*gh], scratch[n*gh:n*gh+n*hid], scratch[n*gh+n*hid:n*gh+2*n*hid]
	gs := scratch[n*gh+2*n*hid : r.ScratchSize()]
	if h0 != nil {
		copy(h, h0)
	} else {
		clear(h)
	}
	if c0 != nil {
		copy(c, c0)
	} else {
		clear(c)
	}
	for s := range t {
		step := s
		if r.Reverse {
			step = t - 1 - s
		}
		r.mm.Run(h, pu, hu, gh, gs, gemm.Epilogue{Bias: bu})
		for b := range n {
			x := xw[(b*t+step)*gh : (b*t+step+1)*gh]
			r.gates(x, hu[b*gh:(b+1)*gh], h[b*hid:(b+1)*hid], c[b*hid:(b+1)*hid])
			if r.Sequence {
				copy(out[(b*t+step)*hid:(b*t+step+1)*hid], h[b*hid:(b+1)*hid])
			}
		}
	}
	if !r.Sequence {
		copy(out, h)
	}
}

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

func tanh(x float32) float32 { return float32(math.Tanh(float64(x))) }

// gates updates one sequence's h (and c) from its projected input x and
// hu = h·U + bu.
func (r *Recurrent) gates(x, hu, h, c []float32) {
	hid := r.H
	switch r.Cell {
	case RNN:
		for j := range h {
			v := x[j] + hu[j]
			if r.Relu {
				h[j] = max(v, 0)
			} else {
				h[j] = tanh(v)
			}
		}
	case LSTM:
		for j := range h {
			i := sigmoid(x[j] + hu[j])
			f := sigmoid(x[hid+j] + hu[hid+j])
			g := tanh(x[2*hid+j] + hu[2*hid+j])
			o := sigmoid(x[3*hid+j] + hu[3*hid+j])
			c[j] = f*c[j] + i*g
			h[j] = o * tanh(c[j])
		}
	case GRU:
		for j := range h {
			rs := sigmoid(x[j] + hu[j])
			z := sigmoid(x[hid+j] + hu[hid+j])
			nv := tanh(x[2*hid+j] + rs*hu[2*hid+j])
			h[j] = (1-z)*nv + z*h[j]
		}
	}
}
