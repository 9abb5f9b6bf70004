package cpu

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSelect(t *testing.T) {
	best, err := selectSet("")
	require.NoError(t, err)
	require.Equal(t, Available()[0], best)
	g, err := selectSet("generic")
	require.NoError(t, err)
	require.Equal(t, Generic, g)
	_, err = selectSet("sse9")
	require.ErrorContains(t, err, "unknown kernel set")
	for _, s := range []Set{AVX2, NEON} {
		_, err := selectSet(string(s))
		if HasAVX2 && s == AVX2 || HasNEON && s == NEON {
			require.NoError(t, err)
		} else {
			require.ErrorContains(t, err, "cannot run")
		}
	}
}

// TestRequire fails a CI run that asked for a kernel set the process did not
// select.
func TestRequire(t *testing.T) {
	s, err := Select()
	require.NoError(t, err)
	require.NoError(t, Require(s))
}

func TestFamily(t *testing.T) {
	f := NewFamily("generic code")
	require.Equal(t, "generic code", f.For(AVX2))
	f.Add(NEON, "neon code")
	f.Add(AVX2, "avx2 code")
	require.Equal(t, []string{"avx2 code", "neon code", "generic code"}, f.All())
	require.Equal(t, "neon code", f.For(NEON))
	require.Equal(t, "avx2 code", f.For(AVX2))
	require.Equal(t, "generic code", f.For(Generic))
	require.Equal(t, "generic code", f.For("sse9"))
}
