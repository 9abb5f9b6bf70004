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
	for _, s := range []Set{AVX2, AVX512, NEON} {
		_, err := selectSet(string(s))
		if HasAVX2 && s == AVX2 || HasAVX512 && s == AVX512 || HasNEON && s == NEON {
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
	f := NewFamily("test family", "generic code")
	require.Equal(t, "generic code", f.For(AVX2))
	f.Add(NEON, "neon code")
	f.Add(AVX2, "avx2 code")
	require.Equal(t, []string{"avx2 code", "neon code", "generic code"}, f.All())
	require.Equal(t, "neon code", f.For(NEON))
	require.Equal(t, "avx2 code", f.For(AVX2))
	require.Equal(t, "generic code", f.For(Generic))
	require.Equal(t, "generic code", f.For("sse9"))
	require.Equal(t, "generic code", f.For(AVX512))

	f.Uses(AVX512, AVX2)
	require.Equal(t, "avx2 code", f.For(AVX512))
	require.Equal(t, AVX2, f.Runs(AVX512))
	require.Len(t, f.All(), 3, "a set that uses another's code adds no implementation")
	require.Contains(t, Implementations(AVX512), Impl{Family: "test family", Runs: AVX2})
	require.Contains(t, Implementations(AVX2), Impl{Family: "test family", Runs: AVX2})

	// A set used but not registered (no AVX2 on this CPU) leaves generic.
	g := NewFamily("test family without avx2", "generic code")
	g.Uses(AVX512, AVX2)
	require.Equal(t, "generic code", g.For(AVX512))
	require.Equal(t, Generic, g.Runs(AVX512))
}
