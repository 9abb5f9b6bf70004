package softmax

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/stretchr/testify/require"
)

// tol covers float32 sums of up to 33 exponentials (see the package comment).
const tol = 1e-6

func TestSoftmaxMatchesReference(t *testing.T) {
	for _, set := range cpu.Available() {
		t.Run(string(set), func(t *testing.T) { testSoftmaxMatchesReference(t, set) })
	}
}

func testSoftmaxMatchesReference(t *testing.T, set cpu.Set) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range kerneltest.Sizes {
		x := kerneltest.Random(r, 3, n, 5)
		for i := range x.Data {
			x.Data[i] *= 5
		}
		for axis := range 3 {
			outer, dim, inner := 1, x.Shape[axis], 1
			for _, d := range x.Shape[:axis] {
				outer *= d
			}
			for _, d := range x.Shape[axis+1:] {
				inner *= d
			}
			for _, op := range []ir.Op{ir.OpSoftmax, ir.OpLogSoftmax} {
				want := kerneltest.Ref(t, op, &ir.AxisAttrs{Axis: axis}, x)
				s := New(set, outer, dim, inner, op == ir.OpLogSoftmax)
				got := slices.Clone(x.Data) // in place
				s.Run(got, got, make([]float32, s.ScratchSize()))
				kerneltest.Close(t, got, want, tol, "%s axis %d of %v", op, axis, x.Shape)
			}
		}
	}
}

// TestRequire fails a CI run that asked (MDLC_REQUIRE) for a kernel set that
// was not selected, and checks that New gives the selected set's kernels.
func TestRequire(t *testing.T) {
	s, err := cpu.Select()
	require.NoError(t, err)
	require.Equal(t, sets.Runs(s), New(s, 1, 8, 1, false).k.set, "New does not give the kernels the selected set %s runs", s)
	kerneltest.Family(t, sets, func(k *kernels) cpu.Set { return k.set })
}

func TestRunDoesNotAllocate(t *testing.T) {
	for _, set := range cpu.Available() {
		for _, inner := range []int{1, 7} {
			s := New(set, 3, 100, inner, inner == 1)
			x, scratch := make([]float32, 300*inner), make([]float32, s.ScratchSize())
			if allocs := testing.AllocsPerRun(10, func() { s.Run(x, x, scratch) }); allocs != 0 {
				t.Errorf("%s inner=%d: %v allocations per run", set, inner, allocs)
			}
		}
	}
}
