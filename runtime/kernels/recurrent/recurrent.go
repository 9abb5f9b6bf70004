// Package recurrent runs the time loop of a recurrent layer (SimpleRNN, LSTM,
// GRU; see ir.RecurrentAttrs for the equations). The input projection of all
// steps is computed before the loop, as one large GEMM, so each step here is
// one small product h·U (with the recurrent bias added by the GEMM's store,
// U packed when the plan is built) and one pass over the gates.
//
// The gates run the kernel set's vector sigmoid and tanh (package eltwise:
// AVX2 and NEON assembly, or the generic Go functions) over whole blocks of
// H, and the product the set's GEMM.
//
// Numerics: the state is float32 from step to step; sigmoid and tanh are
// eltwise's (within 2.3 ulp). Each step adds a few roundings, so over T
// steps a result is within about (H + 10·T)·2⁻²⁴ of the float64 reference
// on well-conditioned weights (a contracting recurrence forgets old errors).
//
// Nothing here allocates.
package recurrent

import (
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
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
	// The kernel set's vector functions, in place over a slice.
	sigmoid, tanh, relu func(v []float32, alpha float32)
	add                 func(v, o []float32)
}

// New compiles the loop with GEMM kernel kn.
func New(kn *gemm.Kernel, cell Cell, n, t, h int, relu, reverse, sequence bool) *Recurrent {
	gh := cell.Gates() * h
	return &Recurrent{Cell: cell, Relu: relu, Reverse: reverse, Sequence: sequence, N: n, T: t, H: h,
		mm:      gemm.NewMatMul(kn, n, gh, h, h, false),
		sigmoid: eltwise.Unary(kn.Set, eltwise.Sigmoid), tanh: eltwise.Unary(kn.Set, eltwise.Tanh),
		relu: eltwise.Unary(kn.Set, eltwise.Relu), add: eltwise.Binary(kn.Set, eltwise.Add)}
}

func (r *Recurrent) gh() int { return r.Cell.Gates() * r.H }

// PackedSize is the length of U packed by PackWeights.
func (r *Recurrent) PackedSize() int { return r.mm.Kernel.PackedSize(r.H, r.gh()) }

// PackWeights packs the recurrent kernel u [H, G·H] for Run.
func (r *Recurrent) PackWeights(dst, u []float32) {
	r.mm.Kernel.PackB(dst, u, r.H, r.gh(), r.gh(), false)
}

// ScratchSize is the scratch Run needs: h·U + bu, h and c, a row of H, and
// the GEMM's.
func (r *Recurrent) ScratchSize() int { return r.N*r.gh() + 3*r.N*r.H + r.mm.ScratchSize() }

// Run computes the loop: xw [N, T, G·H] the projected inputs, pu the packed
// recurrent kernel, bu [G·H] its bias, h0 and c0 [N, H] the initial states
// (nil: zero). out is h at every step [N, T, H] with Sequence, else the last
// h [N, H].
func (r *Recurrent) Run(xw, pu, bu, h0, c0, out, scratch []float32) {
	n, t, hid, gh := r.N, r.T, r.H, r.gh()
	hu, h, c := scratch[:n*gh], scratch[n*gh:n*gh+n*hid], scratch[n*gh+n*hid:n*gh+2*n*hid]
	tmp := scratch[n*gh+2*n*hid : n*gh+2*n*hid+hid]
	gs := scratch[n*gh+3*n*hid : r.ScratchSize()]
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
			r.gates(x, hu[b*gh:(b+1)*gh], h[b*hid:(b+1)*hid], c[b*hid:(b+1)*hid], tmp)
			if r.Sequence {
				copy(out[(b*t+step)*hid:(b*t+step+1)*hid], h[b*hid:(b+1)*hid])
			}
		}
	}
	if !r.Sequence {
		copy(out, h)
	}
}

// gates updates one sequence's h (and c) from its projected input x and
// g = h·U + bu, which it overwrites; tmp holds H floats.
func (r *Recurrent) gates(x, g, h, c, tmp []float32) {
	hid := r.H
	switch r.Cell {
	case RNN:
		r.add(g, x)
		if r.Relu {
			r.relu(g, 0)
		} else {
			r.tanh(g, 0)
		}
		copy(h, g)
	case LSTM:
		r.add(g, x)
		r.sigmoid(g[:2*hid], 0)
		r.tanh(g[2*hid:3*hid], 0)
		r.sigmoid(g[3*hid:], 0)
		i, f, gg := g[:hid], g[hid:2*hid], g[2*hid:3*hid]
		for j := range c {
			c[j] = f[j]*c[j] + i[j]*gg[j]
		}
		copy(tmp, c)
		r.tanh(tmp, 0)
		o := g[3*hid:]
		for j := range h {
			h[j] = o[j] * tmp[j]
		}
	case GRU:
		// The reset gate scales h·U_n + bu_n, so x_n joins after it.
		r.add(g[:2*hid], x[:2*hid])
		r.sigmoid(g[:2*hid], 0)
		rs, z, un, xn := g[:hid], g[hid:2*hid], g[2*hid:], x[2*hid:]
		for j := range tmp {
			tmp[j] = xn[j] + rs[j]*un[j]
		}
		r.tanh(tmp, 0)
		for j := range h {
			h[j] = (1-z[j])*tmp[j] + z[j]*h[j]
		}
	}
}
