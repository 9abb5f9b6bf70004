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
