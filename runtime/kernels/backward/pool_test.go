package backward

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// TestMaxGrad2x2: the 2×2 path, with every kernel set this machine runs,
// against the general one, bit for bit, with ties (values from a small
// set), signed zeros, NaNs and infinities in x and dy, on images whose last
// row and column no window reaches and on ones the windows cover, into a dx
// holding garbage.
func TestMaxGrad2x2(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	vals := []float32{-1, 0, float32(math.Copysign(0, -1)), 1, float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1))}
	pick := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = r.Float32()
			if r.IntN(2) == 0 {
				v[i] = vals[r.IntN(len(vals))]
			}
		}
		return v
	}
	for _, p := range []Pool{
		{N: 3, H: 8, W: 6, C: 5, OH: 4, OW: 3},
		{N: 2, H: 7, W: 9, C: 33, OH: 3, OW: 4},
	} {
		p.KH, p.KW, p.Stride, p.Dilation = 2, 2, [2]int{2, 2}, [2]int{1, 1}
		if !p.tiles2x2() {
			t.Fatalf("%+v: not 2×2 tiles", p)
		}
		x, dy := pick(p.N*p.H*p.W*p.C), pick(p.N*p.OH*p.OW*p.C)
		want := make([]float32, len(x))
		for b := range p.N {
			p.maxGradGeneral(x, dy, want, b)
		}
		for _, set := range cpu.Available() {
			g := NewPoolGrad(set, p)
			got := make([]float32, len(x))
			for i := range got {
				got[i] = 7
			}
			for b := range p.N {
				g.MaxGrad(x, dy, got, b)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s %+v: dx[%d] = %g, want %g", set, p, i, got[i], want[i])
				}
			}
		}
	}
}

// TestAvgGrad2x2: the 2×2 path against the general walk, on images whose
// last row and column no window reaches and on ones the windows cover,
// into a dx holding garbage.
func TestAvgGrad2x2(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, p := range []Pool{
		{N: 3, H: 8, W: 6, C: 5, OH: 4, OW: 3},
		{N: 2, H: 7, W: 9, C: 6, OH: 3, OW: 4},
	} {
		p.KH, p.KW, p.Stride, p.Dilation = 2, 2, [2]int{2, 2}, [2]int{1, 1}
		dy := make([]float32, p.N*p.OH*p.OW*p.C)
		for i := range dy {
			dy[i] = r.Float32()*2 - 1
		}
		want, got := make([]float32, p.N*p.H*p.W*p.C), make([]float32, p.N*p.H*p.W*p.C)
		for i := range got {
			got[i] = 7
		}
		for b := range p.N {
			p.AvgGrad(dy, got, b)
			p.avgGradGeneral(dy, want, b)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%+v: dx[%d] = %g, want %g", p, i, got[i], want[i])
			}
		}
	}
}
