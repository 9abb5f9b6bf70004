package tensor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPermute(t *testing.T) {
	// A (2, 3) matrix transposed.
	require.Equal(t, []int{1, 4, 2, 5, 3, 6}, Permute([]int{1, 2, 3, 4, 5, 6}, []int{2, 3}, []int{1, 0}))
	// (O=2, I=1, H=1, W=2) to (H, W, I, O): element [o, 0, 0, w] = 10·o + w
	// lands at [0, w, 0, o].
	require.Equal(t, []float32{0, 10, 1, 11}, Permute([]float32{0, 1, 10, 11}, []int{2, 1, 1, 2}, []int{2, 3, 1, 0}))
	// The identity changes nothing.
	require.Equal(t, []int{1, 2, 3}, Permute([]int{1, 2, 3}, []int{3}, []int{0}))
}
