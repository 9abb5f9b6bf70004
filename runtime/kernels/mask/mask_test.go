package mask

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// A [2, 3] against a broadcast row [1, 3] and a scalar, with NaN: IEEE
// comparisons, and where choosing per element.
func TestCompareWhere(t *testing.T) {
	nan := float32(math.NaN())
	a := []float32{1, 2, nan, 4, 5, 6}
	row := []float32{2, 2, 2}
	s := Shape{Out: []int{2, 3}, Strides: [][]int{{3, 1}, {0, 1}}}
	out := make([]float32, 6)
	for kind, want := range map[Kind][]float32{
		Greater: {0, 0, 0, 1, 1, 1}, GreaterEqual: {0, 1, 0, 1, 1, 1}, Less: {1, 0, 0, 0, 0, 0},
		LessEqual: {1, 1, 0, 0, 0, 0}, Equal: {0, 1, 0, 0, 0, 0}, NotEqual: {1, 0, 1, 1, 1, 1},
	} {
		c := Compare{Kind: kind, Shape: s}
		c.Run(a, row, out)
		require.Equal(t, want, out, "%#v", kind)
	}
	w := Where{Shape: Shape{Out: []int{2, 3}, Strides: [][]int{{1, 0}, {3, 1}, {0, 0}}}}
	w.Run([]float32{1, 0}, a, []float32{-1}, out)
	require.Equal(t, []float32{1, 2, nan, -1, -1, -1}[:2], out[:2])
	require.True(t, math.IsNaN(float64(out[2])))
	require.Equal(t, []float32{-1, -1, -1}, out[3:])
}

// Floor rounds toward -inf, keeps -0, NaN and infinities, and may work in
// place.
func TestFloor(t *testing.T) {
	x := []float32{-2.5, -0.5, float32(math.Copysign(0, -1)), 0.5, 2, 8388607.5, float32(math.Inf(1)), float32(math.NaN())}
	Floor(x, x)
	require.Equal(t, []float32{-3, -1, 0, 0, 2, 8388607, float32(math.Inf(1))}, x[:7])
	require.True(t, math.Signbit(float64(x[2])))
	require.True(t, math.IsNaN(float64(x[7])))
}
