package attention

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/tensor"
)

// TestGradMatchesReference: every GEMM kernel's backward pass against the
// reference's float64 one, at sizes that cut the bands of query rows and the
// K blocks mid-way (T_q above 96 and not a multiple of it, T_k and d_k above
// 256), cross attention (T_q != T_k either way), causal or not, with a
// padding mask broadcast over rows and a full one shared by the matrices,
// the units run in reverse order.
func TestGradMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var worst float64
	for _, sz := range [][4]int{{1, 1, 1, 1}, {3, 5, 7, 2}, {17, 17, 8, 8}, {100, 97, 16, 33}, {200, 130, 24, 24}, {97, 300, 40, 16}, {130, 70, 300, 8}} {
		tq, tk, dk, dv := sz[0], sz[1], sz[2], sz[3]
		for _, causal := range []bool{false, true} {
			for _, maskKind := range []string{"none", "padding", "full"} {
				a := Shape{Batch: 3, TQ: tq, TK: tk, DK: dk, DV: dv, Scale: float32(1 / math.Sqrt(float64(dk))), Causal: causal}
				q, k, v, dy := random(r, 3*tq*dk), random(r, 3*tk*dk), random(r, 3*tk*dv), random(r, 3*tq*dv)
				ins := []*tensor.Tensor{{Shape: []int{3, tq, dk}, Data: q}, {Shape: []int{3, tk, dk}, Data: k}, {Shape: []int{3, tk, dv}, Data: v}}
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
					ins = append(ins, &tensor.Tensor{Shape: []int{3, 1, tk}, Data: mask})
				case "full": // [TQ, TK] shared by every matrix
					mask = random(r, tq*tk)
					a.HasMask, a.MaskOff, a.MaskRow, a.MaskKey = true, []int{0, 0, 0}, tk, 1
					ins = append(ins, &tensor.Tensor{Shape: []int{tq, tk}, Data: mask})
				}
				ins = append(ins, &tensor.Tensor{Shape: []int{3, tq, dv}, Data: dy})
				want := kerneltest.Ref(t, ir.OpAttentionGrad, &ir.AttentionAttrs{Causal: causal, Scale: a.Scale}, ins...).Data
				for _, kn := range gemm.Kernels() {
					g := NewGrad(kn, a)
					out, scratch := make([]float32, len(want)), make([]float32, g.ScratchSize())
					for i := range out {
						out[i] = float32(math.NaN()) // every element is written
					}
					for m := g.Units() - 1; m >= 0; m-- {
						g.RunUnit(q, k, v, mask, dy, out, scratch, m)
					}
					e := kerneltest.Err(out, want)
					require.LessOrEqual(t, e, 2e-7*float64(dk+tk), "%s size %v causal %t mask %s", kn.Set, sz, causal, maskKind)
					worst = max(worst, e/float64(dk+tk))
				}
			}
		}
	}
	t.Logf("worst error / (d_k + T_k): %.2g", worst)
}

func TestGradRunDoesNotAllocate(t *testing.T) {
	g := NewGrad(gemm.Kernels()[0], Shape{Batch: 2, TQ: 140, TK: 70, DK: 8, DV: 8, Scale: 0.3, Causal: true})
	q, k, v, dy := make([]float32, 2*140*8), make([]float32, 2*70*8), make([]float32, 2*70*8), make([]float32, 2*140*8)
	out, scratch := make([]float32, 2*g.OutSize()), make([]float32, g.ScratchSize())
	require.Zero(t, testing.AllocsPerRun(10, func() { g.Run(q, k, v, nil, dy, out, scratch) }))
}

func TestGradAllMaskedIsNaN(t *testing.T) {
	inf := float32(math.Inf(-1))
	g := NewGrad(gemm.Kernels()[0], Shape{Batch: 1, TQ: 1, TK: 2, DK: 1, DV: 1, Scale: 1, HasMask: true, MaskOff: []int{0}, MaskKey: 1})
	out := make([]float32, g.OutSize())
	g.Run([]float32{1}, []float32{1, 2}, []float32{3, 4}, []float32{inf, inf}, []float32{1}, out, make([]float32, g.ScratchSize()))
	for i, x := range out {
		require.True(t, math.IsNaN(float64(x)), "element %d is %g", i, x)
	}
}

// BenchmarkGrad is bert's attention backward (batch 32 × 4 heads of T 128,
// d 32), and 8 matrices of T 512, on one thread, every kernel set.
func BenchmarkGrad(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range []Shape{{Batch: 128, TQ: 128, TK: 128, DK: 32, DV: 32, Scale: 0.18}, {Batch: 8, TQ: 512, TK: 512, DK: 32, DV: 32, Scale: 0.18}} {
		q, k, v, dy := random(r, s.Batch*s.TQ*s.DK), random(r, s.Batch*s.TK*s.DK), random(r, s.Batch*s.TK*s.DV), random(r, s.Batch*s.TQ*s.DV)
		for _, kn := range gemm.Kernels() {
			g := NewGrad(kn, s)
			out, scratch := make([]float32, s.Batch*g.OutSize()), make([]float32, g.ScratchSize())
			b.Run(fmt.Sprintf("T=%d/%s", s.TQ, kn.Set), func(b *testing.B) {
				for b.Loop() {
					g.Run(q, k, v, nil, dy, out, scratch)
				}
				computed, _ := g.Scores()
				b.ReportMetric(computed*2*float64(3*s.DK+2*s.DV)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
