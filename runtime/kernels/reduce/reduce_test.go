package reduce

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlan(t *testing.T) {
	require.Equal(t, []Pass{{Outer: 2, R: 12, Inner: 5}}, Plan([]int{2, 3, 4, 5}, []bool{false, true, true, false}))
	require.Equal(t, []Pass{{Outer: 6, R: 4, Inner: 1}, {Outer: 1, R: 2, Inner: 3}},
		Plan([]int{2, 3, 4}, []bool{true, false, true}))
}

// TestRun compares every kind on every pattern of reduced axes of a rank-4
// tensor with a float64 loop over the multi-index.
func TestRun(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shape := []int{3, 70, 2, 5}
	x := make([]float32, prod(shape))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for mask := 1; mask < 16; mask++ {
		red := make([]bool, 4)
		for d := range red {
			red[d] = mask>>d&1 != 0
		}
		for _, kind := range []Kind{Sum, Max, Min} {
			want, count := naive(x, shape, red, kind)
			k := Reduce{Kind: kind, Passes: Plan(shape, red)}
			if kind == Sum {
				k.Scale = float32(1 / float64(count))
			}
			out := make([]float32, len(want))
			k.Run(x, out, make([]float32, k.ScratchSize()))
			for i := range want {
				if kind == Sum {
					want[i] /= float64(count)
				}
				require.InDelta(t, want[i], float64(out[i]), 1e-6*max(1, math.Abs(want[i])), "mask %b kind %d element %d", mask, kind, i)
			}
		}
	}
}

func naive(x []float32, shape []int, red []bool, kind Kind) ([]float64, int) {
	n := 1
	for d, s := range shape {
		if !red[d] {
			n *= s
		}
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = map[Kind]float64{Sum: 0, Max: math.Inf(-1), Min: math.Inf(1)}[kind]
	}
	for i, v := range x {
		o, rem, stride := 0, i, 1
		for d := len(shape) - 1; d >= 0; d-- {
			if !red[d] {
				o += rem % shape[d] * stride
				stride *= shape[d]
			}
			rem /= shape[d]
		}
		switch kind {
		case Sum:
			out[o] += float64(v)
		case Max:
			out[o] = max(out[o], float64(v))
		case Min:
			out[o] = min(out[o], float64(v))
		}
	}
	return out, len(x) / n
}

func TestArgMax(t *testing.T) {
	nan := float32(math.NaN())
	// [1, 3, 2]: columns (1, 5, 5) and (nan, 2, nan).
	x := []float32{1, nan, 5, 2, 5, nan}
	a := ArgMax{Outer: 1, R: 3, Inner: 2}
	out := make([]float32, 2)
	a.Run(x, out, make([]float32, a.ScratchSize()))
	require.Equal(t, []float32{1, 0}, out)
	a = ArgMax{Outer: 2, R: 3, Inner: 1}
	a.Run([]float32{1, 3, 3, 4, nan, 9}, out, make([]float32, a.ScratchSize()))
	require.Equal(t, []float32{1, 1}, out)
}
