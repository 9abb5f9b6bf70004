package passes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/golden"
	"github.com/mdlc/mdlc/ir"
)

// TestPassGolden runs each pass alone on the IR files under
// testdata/passes/<pass>/ and compares the result with <case>.golden. Cases
// named *kept* or not_* are patterns the pass must leave alone: their output
// must equal their input.
func TestPassGolden(t *testing.T) {
	dirs, err := os.ReadDir("../testdata/passes")
	require.NoError(t, err)
	covered := map[string]bool{}
	for _, d := range dirs {
		pass := Lookup(d.Name())
		require.NotNil(t, pass, "testdata/passes/%s names no pass", d.Name())
		files, err := filepath.Glob(filepath.Join("../testdata/passes", d.Name(), "*.ir"))
		require.NoError(t, err)
		for _, f := range files {
			covered[pass.Name] = true
			t.Run(d.Name()+"/"+filepath.Base(f), func(t *testing.T) {
				src, err := os.ReadFile(f)
				require.NoError(t, err)
				g, err := ir.Parse(string(src))
				require.NoError(t, err)
				before := ir.Print(g)
				require.NoError(t, pass.Run(g))
				require.NoError(t, ir.Verify(g))
				after := ir.Print(g)
				if base := filepath.Base(f); strings.Contains(base, "kept") || strings.HasPrefix(base, "not_") {
					require.Equal(t, before, after, "%s must not change", pass.Name)
				} else {
					require.NotEqual(t, before, after, "%s should rewrite this case", pass.Name)
				}
				golden.Check(t, strings.TrimSuffix(f, ".ir")+".golden", after)
			})
		}
	}
	for _, p := range Pipeline {
		require.True(t, covered[p.Name], "pass %s has no golden test in testdata/passes/%s", p.Name, p.Name)
	}
}

func TestPipelineOrderIsChecked(t *testing.T) {
	require.NoError(t, checkOrder(Pipeline))
	swapped := append([]Pass(nil), Pipeline...)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	require.ErrorContains(t, checkOrder(swapped), "lower must run before fold")
	require.ErrorContains(t, checkOrder(append(append([]Pass(nil), Pipeline...), Pipeline[0])), "twice")
}

func TestStopAfter(t *testing.T) {
	g, err := ir.Parse(`graph d(%x: f32[N,2]) {
  @k: f32[2,2] = const [1, 0, 0, 1]
  %0: f32[N,2] = dense(%x, @k)  # d
  %1: f32[N,2] = relu(%0)  # r
  return y=%1
}
`)
	require.NoError(t, err)
	stats, err := Run(g, Options{Verify: true, StopAfter: "lower"})
	require.NoError(t, err)
	require.Len(t, stats, 1)
	require.Contains(t, ir.Print(g), "matmul(")
	_, err = Run(g, Options{StopAfter: "nope"})
	require.ErrorContains(t, err, `no pass named "nope"`)
}
