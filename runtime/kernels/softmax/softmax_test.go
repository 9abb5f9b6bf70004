package softmax

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// tol covers float32 sums of up to 33 exponentials (see the package comment).
const tol = 1e-6

func TestSoftmaxMatchesReference(t *testing.T) {
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
				s := Softmax{Outer: outer, Dim: dim, Inner: inner, Log: op == ir.OpLogSoftmax}
				got := slices.Clone(x.Data) // in place
				s.Run(got, got, make([]float32, s.ScratchSize()))
				kerneltest.Close(t, got, want, tol, "%s axis %d of %v", op, axis, x.Shape)
			}
		}
	}
}
