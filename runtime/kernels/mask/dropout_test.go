package mask

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDropoutSplit: a tensor dropped in uneven ranges, in place, is the
// tensor dropped whole, which keeps exactly the elements Keep keeps, scaled.
func TestDropoutSplit(t *testing.T) {
	const n, rate = 1000, float32(0.25)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	key, th, scale := StreamKey(9, 4), Threshold(rate), float32(1/(1-0.25))
	whole := make([]float32, n)
	Dropout(x, whole, key, th, scale, 0)
	for i, v := range x {
		want := float32(0)
		if Keep(key, th, i) {
			want = v * scale
		}
		require.Equal(t, want, whole[i], "element %d", i)
	}
	parts := append([]float32(nil), x...)
	for lo := 0; lo < n; {
		hi := min(n, lo+1+lo%97)
		Dropout(parts[lo:hi], parts[lo:hi], key, th, scale, lo)
		lo = hi
	}
	require.Equal(t, whole, parts)
	// Another step, or another seed, is another mask.
	require.NotEqual(t, whole, dropped(x, StreamKey(9, 5), th, scale))
	require.NotEqual(t, whole, dropped(x, StreamKey(10, 4), th, scale))
}

func dropped(x []float32, key, th uint64, scale float32) []float32 {
	out := make([]float32, len(x))
	Dropout(x, out, key, th, scale, 0)
	return out
}

// Rates at the ends: 0 keeps every element, and a threshold is never above
// 2³², so no draw is compared with a wrapped one.
func TestThreshold(t *testing.T) {
	require.Equal(t, uint64(0), Threshold(0))
	require.Equal(t, uint64(1)<<31, Threshold(0.5))
	require.LessOrEqual(t, Threshold(0.99999994), uint64(1)<<32)
}
