package suggest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDistance(t *testing.T) {
	require.Equal(t, 0, Distance("conv2d", "conv2d"))
	require.Equal(t, 1, Distance("conv2", "conv2d"))
	require.Equal(t, 1, Distance("rleu", "relu"))
	require.Equal(t, 3, Distance("kitten", "sitting"))
	require.Equal(t, 3, Distance("", "abc"))
}

func TestClosest(t *testing.T) {
	params := []string{"dense.kernel", "dense.bias", "conv2d_1.bias"}
	require.Equal(t, "dense.kernel", Closest("dense.kernal", params))
	require.Equal(t, "conv2d_1.bias", Closest("conv2d_2.bias", params))
	require.Equal(t, "dense.bias", Closest("dense/bias", params))
	require.Equal(t, "", Closest("batch_normalization.gamma", params))
	require.Equal(t, "relu", Closest("rleu", []string{"tanh", "relu", "gelu"}))
	require.Equal(t, "kernel", Closest("kernal", []string{"filters", "kernel", "strides"}))
	require.Equal(t, "", Closest("x", []string{"y"}), "one letter is too short to guess")
	require.Equal(t, "", Closest("dense", []string{"conv2d", "flatten"}))
	require.Equal(t, "", Closest("relu", []string{"relu"}), "an exact match is no suggestion")
}
