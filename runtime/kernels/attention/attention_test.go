package attention

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/tensor"
)

// reference is the reference runtime's attention (float64, the whole row of
// scores at once) on the same operands; mask, if any, has shape maskShape.
func reference(t *testing.T, a Shape, q, k, v, mask []float32, maskShape []int) []float32 {
	ins := []*tensor.Tensor{{Shape: []int{a.Batch, a.TQ, a.DK}, Data: q}, {Shape: []int{a.Batch, a.TK, a.DK}, Data: k},
		{Shape: []int{a.Batch, a.TK, a.DV}, Data: v}}
	if mask != nil {
		ins = append(ins, &tensor.Tensor{Shape: maskShape, Data: mask})
	}
	return kerneltest.Ref(t, ir.OpAttention, &ir.AttentionAttrs{Causal: a.Causal, Scale: a.Scale}, ins...).Data
}

func random(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// TestMatchesReference: awkward sizes (key blocks cut mid-way, one key, one
// row), causal or not, a padding mask broadcast over rows, a full mask, and
// units run in reverse order, against float64.
func TestMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][4]int{{1, 1, 1, 1}, {3, 5, 7, 2}, {17, 17, 8, 8}, {16, 65, 31, 9}, {33, 129, 16, 33}, {64, 64, 64, 64}, {130, 200, 300, 24}} {
		tq, tk, dk, dv := sz[0], sz[1], sz[2], sz[3]
		for _, causal := range []bool{false, true} {
			for _, maskKind := range []string{"none", "padding", "full"} {
				a := Shape{Batch: 3, TQ: tq, TK: tk, DK: dk, DV: dv, Scale: float32(1 / math.Sqrt(float64(dk))), Causal: causal}
				q, k, v := random(r, 3*tq*dk), random(r, 3*tk*dk), random(r, 3*tk*dv)
				var mask []float32
				var maskShape []int
				switch maskKind {
				case "padding": // [Batch, 1, TK]: the last key of each matrix dropped
					mask = make([]float32, 3*tk)
					for m := range 3 {
						if tk > 1 {
							mask[m*tk+tk-1] = float32(math.Inf(-1))
						}
					}
					a.HasMask, a.MaskOff, a.MaskKey = true, []int{0, tk, 2 * tk}, 1
					maskShape = []int{3, 1, tk}
				case "full": // [TQ, TK] shared by every matrix
					mask = random(r, tq*tk)
					a.HasMask, a.MaskOff, a.MaskRow, a.MaskKey = true, []int{0, 0, 0}, tk, 1
					maskShape = []int{tq, tk}
				}
				want := reference(t, a, q, k, v, mask, maskShape)
				for _, kn := range gemm.Kernels() {
					at := New(kn, a)
					out := make([]float32, len(want))
					packed, scratch := make([]float32, at.PackedSize()), make([]float32, at.ScratchSize())
					for m := 2; m >= 0; m-- {
						at.Pack(k, v, packed, m)
					}
					for u := at.Units() - 1; u >= 0; u-- {
						at.RunUnit(q, packed, mask, out, scratch, u)
					}
					for i, w := range want {
						require.InDelta(t, float64(w), float64(out[i]), 2e-6*float64(dk+tk)*(1+math.Abs(float64(w))), "%s size %v causal %t mask %s element %d", kn.Set, sz, causal, maskKind, i)
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
	a.Run([]float32{1}, []float32{1, 2}, []float32{3, 4}, []float32{inf, inf}, out, make([]float32, a.PackedSize()), make([]float32, a.ScratchSize()))
	require.True(t, math.IsNaN(float64(out[0])))
}

func TestRunDoesNotAllocate(t *testing.T) {
	a := New(gemm.Kernels()[0], Shape{Batch: 2, TQ: 40, TK: 70, DK: 8, DV: 8, Scale: 0.3, Causal: true})
	q, k, v := make([]float32, 2*40*8), make([]float32, 2*70*8), make([]float32, 2*70*8)
	out, packed, scratch := make([]float32, 2*40*8), make([]float32, a.PackedSize()), make([]float32, a.ScratchSize())
	require.Zero(t, testing.AllocsPerRun(10, func() { a.Run(q, k, v, nil, out, packed, scratch) }))
}

// TestScores: causal bands of 128 rows compute the keys up to their last
// row; one band, or no causal mask, computes them all.
func TestScores(t *testing.T) {
	kn := gemm.Kernels()[0]
	for _, c := range []struct {
		s             Shape
		computed, all float64
	}{
		{Shape{Batch: 2, TQ: 300, TK: 300, DK: 8, DV: 8}, 2 * 300 * 300, 2 * 300 * 300},
		{Shape{Batch: 1, TQ: 100, TK: 100, DK: 8, DV: 8, Causal: true}, 100 * 100, 100 * 100},
		{Shape{Batch: 2, TQ: 300, TK: 300, DK: 8, DV: 8, Causal: true}, 2 * (128*128 + 128*256 + 44*300), 2 * 300 * 300},
	} {
		computed, all := New(kn, c.s).Scores()
		require.Equal(t, c.computed, computed, "%+v", c.s)
		require.Equal(t, c.all, all, "%+v", c.s)
	}
}
