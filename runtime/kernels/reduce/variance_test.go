package reduce

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVariance compares the blocked kernel with a float64 loop, on row
// counts below, at and past a block, and a mean that is not the rows' (the
// kernel takes any).
func TestVariance(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const c = 5
	for _, rows := range []int{1, 7, block, 3*block + 5} {
		x := make([]float32, rows*c)
		for i := range x {
			x[i] = 3 + float32(r.NormFloat64())
		}
		mean := []float32{3, 2.5, 3.5, 0, 3}
		v := Variance{R: rows, C: c}
		out := make([]float32, c)
		v.Run(x, mean, out, make([]float32, v.ScratchSize()))
		for j := range c {
			var s float64
			for i := j; i < len(x); i += c {
				d := float64(x[i]) - float64(mean[j])
				s += d * d
			}
			want := s / float64(rows)
			require.LessOrEqual(t, math.Abs(float64(out[j])-want), 1e-6*want, "rows %d channel %d", rows, j)
		}
	}
}
