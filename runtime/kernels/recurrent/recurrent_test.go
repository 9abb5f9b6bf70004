package recurrent

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/tensor"
)

// reference is the reference runtime's loop (float64) on the same operands.
func reference(t *testing.T, r *Recurrent, xw, u, bu, h0, c0 []float32) []float32 {
	gh := r.gh()
	ins := []*tensor.Tensor{{Shape: []int{r.N, r.T, gh}, Data: xw}, {Shape: []int{r.H, gh}, Data: u}, {Shape: []int{gh}, Data: bu}}
	for _, state := range [][]float32{h0, c0} {
		if state != nil {
			ins = append(ins, &tensor.Tensor{Shape: []int{r.N, r.H}, Data: state})
		}
	}
	cell := map[Cell]ir.Cell{RNN: ir.CellRNN, LSTM: ir.CellLSTM, GRU: ir.CellGRU}[r.Cell]
	a := &ir.RecurrentAttrs{Cell: cell, Relu: r.Relu, Reverse: r.Reverse, Sequences: r.Sequence}
	return kerneltest.Ref(t, ir.OpRecurrent, a, ins...).Data
}

func random(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

// TestMatchesReference: every cell and GEMM kernel, awkward sizes, both
// directions, sequences or last state, with and without initial states.
func TestMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, kn := range gemm.Kernels() {
		for _, cell := range []Cell{RNN, LSTM, GRU} {
			// {8, 3, 200}: groups of 4, 2 and 1 sequences (2, 3 and 4
			// threads) run AVX-512's pair tiles, the whole batch its
			// 8-row tiles, over blocks of several panels.
			for _, sz := range [][3]int{{1, 1, 1}, {3, 7, 5}, {2, 9, 17}, {8, 16, 33}, {8, 3, 200}} {
				n, steps, hid := sz[0], sz[1], sz[2]
				for variant := range 4 {
					rev, seq, states := variant&1 == 1, variant&2 == 2, variant == 3
					r := New(kn, cell, n, steps, hid, cell == RNN && variant == 1, rev, seq)
					gh := r.gh()
					// Recurrent weights scaled by 1/√H keep the loop contracting.
					xw, u, bu := random(rng, n*steps*gh, 1), random(rng, hid*gh, 1/math.Sqrt(float64(hid))), random(rng, gh, 0.2)
					var h0, c0 []float32
					if states {
						h0, c0 = random(rng, n*hid, 0.5), random(rng, n*hid, 0.5)
						if cell != LSTM {
							c0 = nil
						}
					}
					want := reference(t, r, xw, u, bu, h0, c0)
					pu := make([]float32, r.PackedSize())
					r.PackWeights(pu, u)
					out := make([]float32, len(want))
					r.Run(xw, pu, bu, h0, c0, out, make([]float32, r.StateSize()), make([]float32, r.ScratchSize()))
					name := fmt.Sprintf("%s cell %d size %v variant %d", kn.Set, cell, sz, variant)
					for i, w := range want {
						require.InDelta(t, float64(w), float64(out[i]), 1e-5*(1+math.Abs(float64(w))), "%s element %d", name, i)
					}
					for members := 2; members <= 4; members++ {
						got := runMembers(r, members, xw, pu, bu, h0, c0, len(out))
						require.Equal(t, out, got, "%s: %d members", name, members)
						require.Equal(t, out, runGroups(r, members, xw, pu, bu, h0, c0, len(out)), "%s: %d groups", name, members)
					}
				}
			}
		}
	}
}

// runMembers runs the loop as n threads might: the blocks of each phase in
// a shuffled order, as if taken by whichever thread came first, each thread
// with its own scratch.
func runMembers(r *Recurrent, n int, xw, pu, bu, h0, c0 []float32, size int) []float32 {
	out, state := make([]float32, size), make([]float32, r.StateSize())
	scratch := make([][]float32, n)
	for m := range scratch {
		scratch[m] = make([]float32, r.ScratchSize())
	}
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	for phase := -1; phase <= r.T; phase++ {
		for i, bk := range rng.Perm(r.Blocks()) {
			switch {
			case phase < 0:
				r.Start(h0, c0, state, bk, 0, r.N)
			case phase == r.T:
				r.Finish(out, state, bk, 0, r.N)
			default:
				r.Step(phase, bk, 0, r.N, xw, pu, bu, out, state, scratch[i%n])
			}
		}
	}
	return out
}

// runGroups runs the loop as n threads might, each for its own sequences
// (groups as near equal as can be), the last group first.
func runGroups(r *Recurrent, n int, xw, pu, bu, h0, c0 []float32, size int) []float32 {
	out, state := make([]float32, size), make([]float32, r.StateSize())
	for g := n - 1; g >= 0; g-- {
		r.RunRows(g*r.N/n, (g+1)*r.N/n, xw, pu, bu, h0, c0, out, state, make([]float32, r.ScratchSize()))
	}
	return out
}

// TestLargeH: H past the GEMM's block of K (h packed for the product), and
// not a whole number of blocks, every cell.
func TestLargeH(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, kn := range gemm.Kernels() {
		for _, cell := range []Cell{RNN, LSTM, GRU} {
			n, steps, hid := 3, 4, 300
			r := New(kn, cell, n, steps, hid, false, false, true)
			gh := r.gh()
			xw, u, bu := random(rng, n*steps*gh, 1), random(rng, hid*gh, 1/math.Sqrt(float64(hid))), random(rng, gh, 0.2)
			want := reference(t, r, xw, u, bu, nil, nil)
			pu := make([]float32, r.PackedSize())
			r.PackWeights(pu, u)
			out := make([]float32, len(want))
			r.Run(xw, pu, bu, nil, nil, out, make([]float32, r.StateSize()), make([]float32, r.ScratchSize()))
			for members := 2; members <= 3; members++ {
				require.Equal(t, out, runMembers(r, members, xw, pu, bu, nil, nil, len(want)), "%s cell %d: %d threads", kn.Set, cell, members)
				require.Equal(t, out, runGroups(r, members, xw, pu, bu, nil, nil, len(want)), "%s cell %d: %d groups", kn.Set, cell, members)
			}
			for i, w := range want {
				require.InDelta(t, float64(w), float64(out[i]), 1e-5*(1+math.Abs(float64(w))), "%s cell %d element %d", kn.Set, cell, i)
			}
		}
	}
}

// Every set's prefetch reads nothing past the rows it is given (a slice
// ending at the last float of the last row) and
// changes nothing.
func TestPrefetch(t *testing.T) {
	for _, p := range prefetches.All() {
		for _, sz := range [][3]int{{1, 1, 1}, {3, 40, 17}, {8, 4096, 64}, {2, 100, 100}} {
			rows, stride, n := sz[0], sz[1], sz[2]
			x := random(rand.New(rand.NewPCG(1, 1)), (rows-1)*stride+n, 1)
			want := slices.Clone(x)
			p.fn(x, rows, stride, n)
			require.Equal(t, want, x, "%s %v", p.set, sz)
		}
	}
}

// Every set cpu.Select can return has its own prefetch; MDLC_REQUIRE holds.
func TestPrefetchSets(t *testing.T) {
	kerneltest.Family(t, prefetches, func(p prefetcher) cpu.Set { return p.set })
}

func TestRunDoesNotAllocate(t *testing.T) {
	r := New(gemm.Kernels()[0], LSTM, 4, 10, 16, false, false, true)
	xw, pu, bu := make([]float32, 4*10*64), make([]float32, r.PackedSize()), make([]float32, 64)
	out, state, scratch := make([]float32, 4*10*16), make([]float32, r.StateSize()), make([]float32, r.ScratchSize())
	require.Zero(t, testing.AllocsPerRun(10, func() { r.Run(xw, pu, bu, nil, nil, out, state, scratch) }))
}

// BenchmarkLSTM is the loop of the stdlib LSTM classifier at batch 8 (T=64,
// H=256) with each kernel, on one thread: the whole batch, and a group of 4
// sequences, one thread's share on two (Groups).
func BenchmarkLSTM(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	n, steps, hid := 8, 64, 256
	for _, kn := range gemm.Kernels() {
		r := New(kn, LSTM, n, steps, hid, false, false, false)
		xw, bu := random(rng, n*steps*4*hid, 1), random(rng, 4*hid, 0.2)
		pu := make([]float32, r.PackedSize())
		r.PackWeights(pu, random(rng, hid*4*hid, 1/math.Sqrt(float64(hid))))
		out, state, scratch := make([]float32, n*hid), make([]float32, r.StateSize()), make([]float32, r.ScratchSize())
		for _, rows := range []int{n, n / 2} {
			b.Run(fmt.Sprintf("%s/%dseq", kn.Set, rows), func(b *testing.B) {
				stop := kerneltest.CPUTime(b)
				for b.Loop() {
					r.RunRows(0, rows, xw, pu, bu, nil, nil, out, state, scratch)
				}
				stop()
			})
		}
	}
}
