package attention

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/runtime/kernels/gemm"
)

// naive is attention in float64 with the whole row of scores.
func naive(a Shape, q, k, v, mask []float32) []float64 {
	out := make([]float64, a.Batch*a.TQ*a.DV)
	for m := range a.Batch {
		for i := range a.TQ {
			row := m*a.TQ + i
			s := make([]float64, a.TK)
			mx := math.Inf(-1)
			for j := range a.TK {
				s[j] = math.Inf(-1)
				if a.Causal && j > i {
					continue
				}
				var dot float64
				for p := range a.DK {
					dot += float64(q[row*a.DK+p]) * float64(k[(m*a.TK+j)*a.DK+p])
				}
				s[j] = dot * float64(a.Scale)
				if a.HasMask {
					s[j] += float64(mask[a.MaskOff[m]+i*a.MaskRow+j*a.MaskKey])
				}
				mx = max(mx, s[j])
			}
			var sum float64
			for j := range s {
				s[j] = math.Exp(s[j] - mx)
				sum += s[j]
			}
			for c := range a.DV {
				var acc float64
				for j := range a.TK {
					acc += s[j] * float64(v[(m*a.TK+j)*a.DV+c])
				}
				out[row*a.DV+c] = acc / sum
			}
		}
	}
	return out
}

func random(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// TestMatchesNaive: awkward sizes (key blocks cut mid-way, one key, one
// row), causal or not, a padding mask broadcast over rows, a full mask, and
// units run in reverse order, against float64.
func TestMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][4]int{{1, 1, 1, 1}, {3, 5, 7, 2}, {17, 17, 8, 8}, {16, 65, 31, 9}, {33, 129, 16, 33}, {64, 64, 64, 64}, {130, 200, 300, 24}} {
		tq, tk, dk, dv := sz[0], sz[1], sz[2], sz[3]
		for _, causal := range []bool{false, true} {
			for _, maskKind := range []string{"none", "padding", "full"} {
				a := Shape{Batch: 3, TQ: tq, TK: tk, DK: dk, DV: dv, Scale: float32(1 / math.Sqrt(float64(dk))), Causal: causal}
				q, k, v := random(r, 3*tq*dk), random(r, 3*tk*dk), random(r, 3*tk*dv)
				var mask []float32
				switch maskKind {
				case "padding": // [Batch, 1, TK]: the last key of each matrix dropped
					mask = make([]float32, 3*tk)
					for m := range 3 {
						if tk > 1 {
							mask[m*tk+tk-1] = float32(math.Inf(-1))
						}
					}
					a.HasMask, a.MaskOff, a.MaskKey = true, []int{0, tk, 2 * tk}, 1
				case "full": // [TQ, TK] shared by every matrix
					mask = random(r, tq*tk)
					a.HasMask, a.MaskOff, a.MaskRow, a.MaskKey = true, []int{0, 0, 0}, tk, 1
				}
				want := naive(a, q, k, v, mask)
				for _, kn := range gemm.Kernels() {
					at := New(kn, a)
					out := make([]float32, len(want))
					scratch := make([]float32, at.ScratchSize())
					for u := at.Units() - 1; u >= 0; u-- {
						at.RunUnit(q, k, v, mask, out, scratch, u)
					}
					for i, w := range want {
						require.InDelta(t, w, float64(out[i]), 2e-6*float64(dk+tk)*(1+math.Abs(w)), "%s size %v causal %t mask %s element %d", kn.Set, sz, causal, maskKind, i)
					}
				}
			}
		}
	}
}

func TestAllMaskedIsNaN(t *testing.T) {
	inf := float32(math.Inf(-1))
	a := New(gemm.Kernels()[0], Shape{Batch: 1, TQ: 1, TK: 2, DK: 1, DV: 1, Scale: 1, HasMask: true, MaskOff: []int{0}, MaskKey: 1})
	out := []float32{0}
	a.Run([]float32{1}, []float32{1, 2}, []float32{3, 4}, []float32{inf, inf}, out, make([]float32, a.ScratchSize()))
	require.True(t, math.IsNaN(float64(out[0])))
}

func TestRunDoesNotAllocate(t *testing.T) {
	a := New(gemm.Kernels()[0], Shape{Batch: 2, TQ: 40, TK: 70, DK: 8, DV: 8, Scale: 0.3, Causal: true})
	q, k, v := make([]float32, 2*40*8), make([]float32, 2*70*8), make([]float32, 2*70*8)
	out, scratch := make([]float32, 2*40*8), make([]float32, a.ScratchSize())
	require.Zero(t, testing.AllocsPerRun(10, func() { a.Run(q, k, v, nil, out, scratch) }))
}
