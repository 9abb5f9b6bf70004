package recurrent

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/runtime/kernels/gemm"
)

// naive is the loop in float64.
func naive(r *Recurrent, xw, u, bu, h0, c0 []float32) []float64 {
	n, t, hid, gh := r.N, r.T, r.H, r.gh()
	h, c := make([]float64, n*hid), make([]float64, n*hid)
	for i := range h {
		if h0 != nil {
			h[i] = float64(h0[i])
		}
		if c0 != nil {
			c[i] = float64(c0[i])
		}
	}
	size := n * hid
	if r.Sequence {
		size *= t
	}
	out := make([]float64, size)
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	for s := range t {
		step := s
		if r.Reverse {
			step = t - 1 - s
		}
		for b := range n {
			hu := make([]float64, gh)
			for j := range gh {
				hu[j] = float64(bu[j])
				for p := range hid {
					hu[j] += h[b*hid+p] * float64(u[p*gh+j])
				}
			}
			x := func(j int) float64 { return float64(xw[(b*t+step)*gh+j]) }
			for j := range hid {
				k := b*hid + j
				switch r.Cell {
				case RNN:
					h[k] = math.Tanh(x(j) + hu[j])
					if r.Relu {
						h[k] = max(x(j)+hu[j], 0)
					}
				case LSTM:
					c[k] = sig(x(hid+j)+hu[hid+j])*c[k] + sig(x(j)+hu[j])*math.Tanh(x(2*hid+j)+hu[2*hid+j])
					h[k] = sig(x(3*hid+j)+hu[3*hid+j]) * math.Tanh(c[k])
				case GRU:
					z := sig(x(hid+j) + hu[hid+j])
					nv := math.Tanh(x(2*hid+j) + sig(x(j)+hu[j])*hu[2*hid+j])
					h[k] = (1-z)*nv + z*h[k]
				}
			}
			if r.Sequence {
				copy(out[(b*t+step)*hid:(b*t+step+1)*hid], h[b*hid:(b+1)*hid])
			}
		}
	}
	if !r.Sequence {
		copy(out, h)
	}
	return out
}

func random(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

// TestMatchesNaive: every cell and GEMM kernel, awkward sizes, both
// directions, sequences or last state, with and without initial states.
func TestMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, kn := range gemm.Kernels() {
		for _, cell := range []Cell{RNN, LSTM, GRU} {
			for _, sz := range [][3]int{{1, 1, 1}, {3, 7, 5}, {2, 9, 17}, {8, 16, 33}} {
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
					want := naive(r, xw, u, bu, h0, c0)
					pu := make([]float32, r.PackedSize())
					r.PackWeights(pu, u)
					out := make([]float32, len(want))
					r.Run(xw, pu, bu, h0, c0, out, make([]float32, r.ScratchSize()))
					name := fmt.Sprintf("%s cell %d size %v variant %d", kn.Set, cell, sz, variant)
					for i, w := range want {
						require.InDelta(t, w, float64(out[i]), 1e-5*(1+math.Abs(w)), "%s element %d", name, i)
					}
				}
			}
		}
	}
}

func TestRunDoesNotAllocate(t *testing.T) {
	r := New(gemm.Kernels()[0], LSTM, 4, 10, 16, false, false, true)
	xw, pu, bu := make([]float32, 4*10*64), make([]float32, r.PackedSize()), make([]float32, 64)
	out, scratch := make([]float32, 4*10*16), make([]float32, r.ScratchSize())
	require.Zero(t, testing.AllocsPerRun(10, func() { r.Run(xw, pu, bu, nil, nil, out, scratch) }))
}
