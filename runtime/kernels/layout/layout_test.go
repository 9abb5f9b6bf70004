package layout

import (
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/tensor"
)

func TestTransposeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	perms := [][]int{{0}, {1, 0}, {0, 2, 1}, {2, 0, 1}, {1, 2, 0}, {2, 1, 0}, {0, 1, 2}, {3, 1, 0, 2}, {0, 2, 3, 1}}
	for _, n := range kerneltest.Sizes {
		for _, perm := range perms {
			shape := []int{n, 3, 33, 1}[:len(perm)]
			if len(perm) == 4 {
				shape = []int{2, n, 1, 9}
			}
			x := kerneltest.Random(r, shape...)
			want := kerneltest.Ref(t, ir.OpTranspose, &ir.TransposeAttrs{Perm: perm}, x)
			got := make([]float32, len(x.Data))
			NewTranspose(shape, perm).Run(x.Data, got)
			kerneltest.Close(t, got, want, 0, "transpose %v by %v", shape, perm)
		}
	}
}

func TestConcatMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range kerneltest.Sizes {
		for axis := range 3 {
			var in []*tensor.Tensor
			var ops [][]float32
			c := Concat{Outer: 1}
			for i := range 3 {
				shape := []int{2, 3, 4}
				shape[axis] = (n+i)%5 + 1
				x := kerneltest.Random(r, shape...)
				in, ops = append(in, x), append(ops, x.Data)
				block := 1
				for _, d := range shape[axis:] {
					block *= d
				}
				c.Parts = append(c.Parts, Part{Operand: i, Block: block})
			}
			for _, d := range in[0].Shape[:axis] {
				c.Outer *= d
			}
			want := kerneltest.Ref(t, ir.OpConcat, &ir.AxisAttrs{Axis: axis}, in...)
			got := make([]float32, len(want.Data))
			c.Run(ops, got)
			kerneltest.Close(t, got, want, 0, "concat on axis %d", axis)
		}
	}
}
