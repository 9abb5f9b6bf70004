// Package recurrent runs the time loop of a recurrent layer (SimpleRNN, LSTM,
// GRU; see ir.RecurrentAttrs for the equations). The input projection of all
// steps is computed before the loop, as one large GEMM, so each step here is
// one small product h·U and one pass over the gates.
//
// The hidden units are cut into blocks of a few GEMM panels. U is packed
// block by block, the G gates' columns of a block's units side by side, so
// that a block's product h·U[:, block] and its gates are computed together
// while they are in L1, each gate's N×w result contiguous (the vector
// sigmoid and tanh run over all N sequences at once). The projected input
// is copied into the result before the product and the recurrent bias is
// added by the GEMM's store, so the product ends as x + h·U + bu.
//
// Sequences are independent, so threads can each run the loop for some of
// them, and blocks are independent within a step, so threads can share a
// step's blocks, each step starting once the last one is done. h is
// double-buffered so that a thread writing its units' new h never races
// with another still reading the old one. What a block computes does not
// depend on which thread computes it, or when, so results are the same bit
// for bit for any number of threads.
//
// The projected inputs of a step are rows far apart (T·G·H floats), read a
// few cache lines at a time, which the hardware does not foresee: while a
// gate's product runs, the next gate's inputs are prefetched (the kernel
// set's prefetch instructions).
//
// The gates run the kernel set's vector sigmoid and tanh (package eltwise:
// AVX2 and NEON assembly, or the generic Go functions), and the product the
// set's narrow GEMM kernel (gemm.Narrow). With AVX-512, a group of at most 4
// sequences (a batch of 8 on two threads) runs the GEMM's pair tiles, two
// panels of 32 units a tile, whose sums are the same bit for bit as the
// 8-row tiles' of the whole batch on one thread.
//
// Numerics: the state is float32 from step to step; sigmoid and tanh are
// eltwise's (within 2.3 ulp). Each step adds a few roundings, so over T
// steps a result is within about (H + 10·T)·2⁻²⁴ of the float64 reference
// on well-conditioned weights (a contracting recurrence forgets old errors).
//
// Nothing here allocates.
package recurrent

// The assembly and its declarations are generated; CI regenerates them and
// fails on a difference.
//go:generate go -C ../_asm run ./recurrent -out ../recurrent/recurrent_amd64.s -stubs ../recurrent/recurrent_amd64.go -pkg recurrent -neon ../recurrent/recurrent_arm64

import (
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
)

// prefetcher is one set's prefetch (see prefetchAVX2 for the contract).
type prefetcher struct {
	set cpu.Set
	fn  func(x []float32, rows, stride, n int)
}

// prefetches lists the sets this process can run, best first, generic last;
// the files of each assembly set add theirs when the CPU has it.
var prefetches = cpu.NewFamily("recurrent", prefetcher{set: cpu.Generic, fn: prefetchGeneric})

// prefetchGeneric is the prefetch of plain Go, which has none.
func prefetchGeneric(x []float32, rows, stride, n int) {}

// Cell is the recurrence.
type Cell uint8

const (
	RNN Cell = iota + 1
	LSTM
	GRU
)

// Gates is how many blocks of H columns a cell's projections have.
func (c Cell) Gates() int { return [...]int{RNN: 1, LSTM: 4, GRU: 3}[c] }

// blockPanels is how many GEMM panels of units a block has: enough that the
// calls per block are few against its work, few enough that a block's
// results (G·N·w floats) stay in L1 and that two threads share a step
// evenly (H = 256 is blocks of 96, 96 and 64 units with AVX2's 24-wide
// panels). Measured on the stdlib LSTM at batch 8 with 16-wide panels
// (medians of 7 alternating runs): on one thread 4 panels are as fast as 8
// and 7% faster than 2; on two, 13% faster than 8 and within 5% of 2.
const blockPanels = 4

// Recurrent is a compiled loop over T steps of N sequences of H units.
type Recurrent struct {
	Cell                    Cell
	Relu, Reverse, Sequence bool
	N, T, H                 int
	kn                      *gemm.Kernel
	// kc is the GEMM's block of K, tile its edge tile's floats.
	kc, tile int
	// bw is the units of a full block; the last block may have fewer.
	bw, blocks int
	// The kernel set's vector functions, in place over a slice.
	sigmoid, tanh, relu func(v []float32, alpha float32)
	add, mul            func(v, o []float32)
	prefetch            func(x []float32, rows, stride, n int)
}

// New compiles the loop with the GEMM kernels of kn's set: the narrow one
// (gemm.Narrow), as a step's product has only a few rows, the sequences.
func New(kn *gemm.Kernel, cell Cell, n, t, h int, relu, reverse, sequence bool) *Recurrent {
	kn = gemm.Narrow(kn.Set)
	bw := min(blockPanels*kn.NR, (h+kn.NR-1)/kn.NR*kn.NR)
	blk := kn.Block(n, bw, h)
	return &Recurrent{Cell: cell, Relu: relu, Reverse: reverse, Sequence: sequence, N: n, T: t, H: h,
		kn: kn, kc: blk.KC, tile: blk.Tile, bw: bw, blocks: (h + bw - 1) / bw,
		sigmoid: eltwise.Unary(kn.Set, eltwise.Sigmoid), tanh: eltwise.Unary(kn.Set, eltwise.Tanh),
		relu: eltwise.Unary(kn.Set, eltwise.Relu), add: eltwise.Binary(kn.Set, eltwise.Add),
		mul: eltwise.Binary(kn.Set, eltwise.Mul), prefetch: prefetches.For(kn.Set).fn}
}

func (r *Recurrent) gh() int { return r.Cell.Gates() * r.H }

// Blocks is the number of blocks of units: Start, Step and Finish compute
// one block each.
func (r *Recurrent) Blocks() int { return r.blocks }

// block is the first unit of block bk and its width.
func (r *Recurrent) block(bk int) (u0, w int) { return bk * r.bw, min(r.bw, r.H-bk*r.bw) }

// gatePacked is the length of one gate's columns of a full block, packed.
func (r *Recurrent) gatePacked() int { return r.kn.PackedSize(r.H, r.bw) }

// PackedSize is the length of U packed by PackWeights.
func (r *Recurrent) PackedSize() int {
	_, w := r.block(r.blocks - 1)
	return ((r.blocks-1)*r.gatePacked() + r.kn.PackedSize(r.H, w)) * r.Cell.Gates()
}

// PackWeights packs the recurrent kernel u [H, G·H] for Run: block by block,
// gate by gate, the block's columns of that gate as gemm.PackB packs them.
func (r *Recurrent) PackWeights(dst, u []float32) {
	off := 0
	for bk := range r.blocks {
		u0, w := r.block(bk)
		for q := range r.Cell.Gates() {
			r.kn.PackB(dst[off:], u[q*r.H+u0:], r.H, w, r.gh(), false)
			off += r.kn.PackedSize(r.H, w)
		}
	}
}

// StateSize is the state the threads share: h twice (the last step's and
// this one's) [N, H], and c (LSTM) block by block, [N, w] a block.
func (r *Recurrent) StateSize() int { return 3 * r.N * r.H }

// ScratchSize is each thread's own scratch: a block's gates, G·N·w, h as the
// GEMM reads it when K is cut into blocks, and the GEMM's edge tile.
func (r *Recurrent) ScratchSize() int {
	packed := 0
	if r.kc < r.H {
		packed = r.N * r.H
	}
	return r.Cell.Gates()*r.N*r.bw + packed + r.tile
}

// Run computes the loop on one thread: xw [N, T, G·H] the projected inputs,
// pu the packed recurrent kernel, bu [G·H] its bias, h0 and c0 [N, H] the
// initial states (nil: zero). out is h at every step [N, T, H] with
// Sequence, else the last h [N, H]. Threads make the same calls, each
// block's in any order and on any thread, but each phase (Start, step 0, 1,
// ..., Finish) only once every block of the one before is done; or each
// runs RunRows for sequences of its own.
func (r *Recurrent) Run(xw, pu, bu, h0, c0, out, state, scratch []float32) {
	r.RunRows(0, r.N, xw, pu, bu, h0, c0, out, state, scratch)
}

// minGroupRows is the fewest sequences worth a thread of their own: a GEMM
// tile of fewer rows has too few chains of multiply-adds to keep the FMA
// units busy, so smaller batches share each step's blocks instead.
const minGroupRows = 4

// Groups is how many groups of sequences up to threads threads should run
// the loop for, each with RunRows, apart: 1 if the batch is too small, when
// they should share each step's blocks. Two threads on a batch of 8 run 4
// sequences each, meeting never, where sharing blocks meets every step.
func (r *Recurrent) Groups(threads int) int { return max(min(threads, r.N/minGroupRows), 1) }

// Group is the sequences of group g of n, r0..r1-1.
func (r *Recurrent) Group(g, n int) (r0, r1 int) { return g * r.N / n, (g + 1) * r.N / n }

// RunRows computes the whole loop for sequences r0..r1-1 only (none if
// r0 = r1).
func (r *Recurrent) RunRows(r0, r1 int, xw, pu, bu, h0, c0, out, state, scratch []float32) {
	if r0 == r1 {
		return
	}
	for bk := range r.blocks {
		r.Start(h0, c0, state, bk, r0, r1)
	}
	for s := range r.T {
		for bk := range r.blocks {
			r.Step(s, bk, r0, r1, xw, pu, bu, out, state, scratch)
		}
	}
	for bk := range r.blocks {
		r.Finish(out, state, bk, r0, r1)
	}
}

// states are the h read and written at step s, and c.
func (r *Recurrent) states(state []float32, s int) (prev, next, c []float32) {
	nh := r.N * r.H
	prev, next = state[:nh], state[nh:2*nh]
	if s%2 == 1 {
		prev, next = next, prev
	}
	return prev, next, state[2*nh : 3*nh]
}

// Start sets block bk's units of the initial h and c, of sequences r0..r1-1.
func (r *Recurrent) Start(h0, c0, state []float32, bk, r0, r1 int) {
	h, _, c := r.states(state, 0)
	u0, w := r.block(bk)
	for b := r0; b < r1; b++ {
		row := h[b*r.H+u0 : b*r.H+u0+w]
		if h0 != nil {
			copy(row, h0[b*r.H+u0:])
		} else {
			clear(row)
		}
		row = c[u0*r.N+b*w : u0*r.N+(b+1)*w]
		if c0 != nil {
			copy(row, c0[b*r.H+u0:])
		} else {
			clear(row)
		}
	}
}

// Step computes block bk of step s (in the order of the loop: the last time
// step first if Reverse) for sequences r0..r1-1. Sequences are independent:
// a thread can run the whole loop for some while another runs it for others.
func (r *Recurrent) Step(s, bk, r0, r1 int, xw, pu, bu, out, state, scratch []float32) {
	nn, hid, gates, gh := r1-r0, r.H, r.Cell.Gates(), r.gh()
	t := r.time(s)
	prev, next, c := r.states(state, s)
	a, tmp := prev[r0*hid:r1*hid], scratch[gates*r.N*r.bw:]
	if r.kc < hid {
		a, tmp = tmp[:nn*hid], tmp[r.N*hid:]
		for p0 := 0; p0 < hid; p0 += r.kc {
			gemm.PackA(a[p0*nn:], prev, hid, false, r0, nn, p0, min(r.kc, hid-p0))
		}
	}
	tmp = tmp[:r.tile]
	u0, w := r.block(bk)
	nw := nn * w
	pb := pu[bk*gates*r.gatePacked():]
	g := scratch[:gates*nw]
	for q := range gates {
		// The inputs wanted next, in Run's order, come in while this
		// gate's product runs.
		switch {
		case q+1 < gates:
			r.prefetchX(xw, s, bk, q+1, r0, r1)
		case bk+1 < r.blocks:
			r.prefetchX(xw, s, bk+1, 0, r0, r1)
		default:
			r.prefetchX(xw, s+1, 0, 0, r0, r1)
		}
		gq := g[q*nw : (q+1)*nw]
		// GRU's x_n joins after the reset gate has scaled h·U_n + bu_n.
		acc := r.Cell != GRU || q < 2
		if acc {
			for b := range nn {
				x := ((r0+b)*r.T + t) * gh
				copy(gq[b*w:(b+1)*w], xw[x+q*hid+u0:])
			}
		}
		for p0 := 0; p0 < hid; p0 += r.kc {
			kc := min(r.kc, hid-p0)
			epi := gemm.Epilogue{}
			if p0+kc == hid {
				epi.Bias = bu[q*hid+u0 : q*hid+u0+w]
			}
			r.kn.Multiply(nn, w, kc, a[p0*nn:], pb[q*r.kn.PackedSize(hid, w):], hid, p0, gq, w, acc || p0 > 0, epi, tmp)
		}
	}
	h := r.gates(g, prev, c[u0*r.N+r0*w:u0*r.N+r1*w], xw, t, u0, w, r0, r1)
	for b := r0; b < r1; b++ {
		hb := h[(b-r0)*w : (b-r0+1)*w]
		copy(next[b*hid+u0:b*hid+u0+w], hb)
		if r.Sequence {
			copy(out[(b*r.T+t)*hid+u0:], hb)
		}
	}
}

// time is the time step of step s.
func (r *Recurrent) time(s int) int {
	if r.Reverse {
		return r.T - 1 - s
	}
	return s
}

// prefetchX prefetches gate q's projected inputs of block bk at step s for
// sequences r0..r1-1, if there is a step s.
func (r *Recurrent) prefetchX(xw []float32, s, bk, q, r0, r1 int) {
	if s >= r.T {
		return
	}
	u0, w := r.block(bk)
	gh := r.gh()
	x := xw[(r0*r.T+r.time(s))*gh+q*r.H+u0:]
	r.prefetch(x[:(r1-r0-1)*r.T*gh+w], r1-r0, r.T*gh, w)
}

// gates computes the new h of units u0..u0+w-1 of sequences r0..r1-1,
// [r1-r0, w], from the block's gates g (G of [r1-r0, w]: x + h·U + bu, but
// h·U_n + bu_n for GRU's n), updating c (LSTM, [r1-r0, w]); prev is the last
// h [N, H], xw the projected inputs, t the time step. The result lies in g.
func (r *Recurrent) gates(g, prev, c, xw []float32, t, u0, w, r0, r1 int) []float32 {
	nw := (r1 - r0) * w
	switch r.Cell {
	case RNN:
		if r.Relu {
			r.relu(g, 0)
		} else {
			r.tanh(g, 0)
		}
		return g
	case LSTM:
		i, f, gg, o := g[:nw], g[nw:2*nw], g[2*nw:3*nw], g[3*nw:4*nw]
		r.sigmoid(g[:2*nw], 0)
		r.tanh(gg, 0)
		r.sigmoid(o, 0)
		// c = f·c + i·g, then h = o·tanh(c) in f's place.
		r.mul(i, gg)
		r.mul(c, f)
		r.add(c, i)
		copy(f, c)
		r.tanh(f, 0)
		r.mul(f, o)
		return f
	default: // GRU
		rs, z, un := g[:nw], g[nw:2*nw], g[2*nw:3*nw]
		r.sigmoid(g[:2*nw], 0)
		r.mul(un, rs)
		for b := r0; b < r1; b++ {
			x := (b*r.T+t)*r.gh() + 2*r.H + u0
			r.add(un[(b-r0)*w:(b-r0+1)*w], xw[x:x+w])
		}
		r.tanh(un, 0)
		for b := r0; b < r1; b++ {
			hp, zb, nb := prev[b*r.H+u0:b*r.H+u0+w], z[(b-r0)*w:(b-r0+1)*w], un[(b-r0)*w:(b-r0+1)*w]
			for j, zj := range zb {
				nb[j] = (1-zj)*nb[j] + zj*hp[j]
			}
		}
		return un
	}
}

// Finish writes block bk's units of the last h of sequences r0..r1-1 to out
// unless Sequence has.
func (r *Recurrent) Finish(out, state []float32, bk, r0, r1 int) {
	if r.Sequence {
		return
	}
	// The h read by step T is the one step T-1 wrote.
	h, _, _ := r.states(state, r.T)
	u0, w := r.block(bk)
	for b := r0; b < r1; b++ {
		copy(out[b*r.H+u0:b*r.H+u0+w], h[b*r.H+u0:])
	}
}
