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

// Pad against the reference in every mode, padding the inner or the outer
// axes, or none.
func TestPadMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pads := [][][2]int{
		{{0, 0}, {1, 2}, {2, 1}, {0, 0}},
		{{0, 0}, {0, 0}, {0, 0}, {1, 1}},
		{{1, 0}, {0, 0}, {2, 2}, {0, 0}},
		{{0, 0}, {0, 0}, {0, 0}, {0, 0}},
	}
	for _, n := range kerneltest.Sizes {
		shape := []int{2, n + 2, 3, 4}
		x := kerneltest.Random(r, shape...)
		for _, mode := range []ir.PadMode{ir.PadConstant, ir.PadReflect, ir.PadEdge} {
			for _, pd := range pads {
				a := &ir.PadAttrs{Mode: mode, Pads: pd, Value: 0.5}
				want := kerneltest.Ref(t, ir.OpPad, a, x)
				sources := make([][]int, len(shape))
				for d, size := range shape {
					for o := range size + pd[d][0] + pd[d][1] {
						sources[d] = append(sources[d], a.Source(o, size, pd[d]))
					}
				}
				got := make([]float32, len(want.Data))
				NewPad(shape, sources, a.Value).Run(x.Data, got)
				kerneltest.Close(t, got, want, 0, "pad %v of %v", a, shape)
			}
		}
	}
}

// ToFloat reads ids as PutIDs stores them, the largest exact ones included.
func TestToFloat(t *testing.T) {
	ids := []int64{0, 7, -3, 1 << 24, 2147483646}
	buf := make([]float32, len(ids))
	if bad := PutIDs(buf, ids, -1<<31, 1<<31-1); bad >= 0 {
		t.Fatalf("PutIDs refused id %d", ids[bad])
	}
	got := make([]float32, len(ids))
	ToFloat(buf, got)
	for i, id := range ids {
		if got[i] != float32(id) {
			t.Errorf("id %d became %g, want %g", id, got[i], float32(id))
		}
	}
}
