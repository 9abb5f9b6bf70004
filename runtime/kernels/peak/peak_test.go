package peak

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// TestKernelMatchesGeneric runs every version this CPU can run and the
// generic one on values where every FMA is exact, so all must give the same
// bits. MDLC_REQUIRE makes it fail unless the version it names measures.
func TestKernelMatchesGeneric(t *testing.T) {
	require.NoError(t, cpu.Require(impl.set))
	require.Len(t, versions, len(cpu.Available()), "a kernel set this CPU runs has no version here")
	for _, v := range versions {
		for _, n := range []int{0, 1, 7, 1000} {
			got, want := make([]float32, v.accs), make([]float32, v.accs)
			for i := range got {
				got[i], want[i] = float32(i), float32(i)
			}
			v.fn(got, 1.5, 0.5, n)
			fmaGeneric(want, 1.5, 0.5, n)
			require.Equal(t, want, got, "%s, n=%d", v.set, n)
			require.Equal(t, float32(5)+0.75*float32(n), got[5])
		}
	}
}

// TestSelect: the version follows cpu.Select, as the plans' kernels do.
func TestSelect(t *testing.T) {
	set, err := cpu.Select()
	require.NoError(t, err)
	require.Equal(t, string(set), Kernel())
	require.Equal(t, set != cpu.Generic, Asm())
}

func TestMeasureSet(t *testing.T) {
	require.Equal(t, cpu.Available(), Sets())
	for _, s := range Sets() {
		g, err := MeasureSet(s, 1, 1, 2*chunk)
		require.NoError(t, err)
		require.Greater(t, g, 0.0, "%s", s)
	}
	_, err := MeasureSet("sse9", 1, 1, chunk)
	require.ErrorContains(t, err, "no FMA peak kernel for the sse9 set")
}

func TestMeasure(t *testing.T) {
	for _, threads := range []int{1, 2} {
		g := Measure(threads, 2, 2*chunk)
		require.Greater(t, g, 0.0)
	}
}
