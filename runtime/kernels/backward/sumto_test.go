package backward

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// TestSumToPaths: the compiled sums against the generic walk, bit for bit,
// with every kernel set this machine runs: leading axes (also with size-1
// axes between, and rows narrower than a vector), trailing axes, everything, nothing, and a mixed pattern
// that only the walk takes.
func TestSumToPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct {
		shape, out []int
		kind       sumKind
	}{
		{[]int{5, 6, 7, 37}, []int{1, 1, 1, 37}, sumLeading},
		{[]int{5, 1, 7, 19}, []int{1, 1, 7, 19}, sumLeading},
		{[]int{5, 6, 7, 6}, []int{1, 1, 1, 6}, sumLeading},
		{[]int{9, 4, 11}, []int{9, 4, 1}, sumTrailing},
		{[]int{9, 4, 11}, []int{1, 1, 1}, sumTrailing},
		{[]int{9, 4, 11}, []int{9, 4, 11}, sumLeading},
		{[]int{9, 4, 11}, []int{1, 4, 1}, sumGeneric},
	} {
		n := 1
		for _, d := range c.shape {
			n *= d
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = r.Float32() - 0.5
		}
		st := make([]int, len(c.shape))
		m := 1
		for i := len(c.shape) - 1; i >= 0; i-- {
			if c.out[i] != 1 {
				st[i] = m
				m *= c.out[i]
			}
		}
		want := make([]float32, m)
		sumTo(x, want, c.shape, st, 0, 0)
		for _, set := range cpu.Available() {
			s := NewSumTo(set, c.shape, st)
			if s.kind != c.kind {
				t.Errorf("%v to %v: kind %d, want %d", c.shape, c.out, s.kind, c.kind)
			}
			got := make([]float32, m)
			s.Run(x, got)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s %v to %v: element %d is %g, want %g", set, c.shape, c.out, i, got[i], want[i])
				}
			}
		}
	}
}
