package norm

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// reference is Run in float64 throughout.
func reference(n Norm, x, gamma, beta []float32) []float64 {
	out := make([]float64, len(x))
	for r := range n.Rows {
		row := x[r*n.C : (r+1)*n.C]
		var mean, sq float64
		for _, v := range row {
			mean += float64(v)
		}
		mean /= float64(n.C)
		if n.RMS {
			mean = 0
		}
		for _, v := range row {
			sq += (float64(v) - mean) * (float64(v) - mean)
		}
		inv := 1 / math.Sqrt(sq/float64(n.C)+float64(n.Epsilon))
		for j, v := range row {
			y := (float64(v) - mean) * inv * float64(gamma[j])
			if !n.RMS {
				y += float64(beta[j])
			}
			out[r*n.C+j] = y
		}
	}
	return out
}

// TestRun: random rows, some offset far from zero (cancellation), against
// float64, in place and not.
func TestRun(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []int{1, 3, 7, 8, 9, 16, 17, 33, 127, 768} {
		for _, rms := range []bool{false, true} {
			n := Norm{Rows: 5, C: c, Epsilon: 1e-5, RMS: rms}
			x, gamma, beta := make([]float32, 5*c), make([]float32, c), make([]float32, c)
			for i := range x {
				x[i] = float32(r.NormFloat64())
				if i/c == 2 {
					x[i] = 1000 + x[i]/100
				}
			}
			for j := range gamma {
				gamma[j], beta[j] = float32(r.NormFloat64()), float32(r.NormFloat64())
			}
			want := reference(n, x, gamma, beta)
			out := make([]float32, len(x))
			n.Run(x, gamma, beta, out)
			for i, w := range want {
				// A few float32 roundings of (x-mean)·inv·gamma + beta.
				require.InDelta(t, w, float64(out[i]), 1e-5*(1+math.Abs(w)), "C=%d rms=%t element %d", c, rms, i)
			}
			n.Run(x, gamma, beta, x)
			require.Equal(t, out, x, "in place")
		}
	}
}
