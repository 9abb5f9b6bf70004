package resize

import (
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// table is what a plan builds.
func table(a *ir.ResizeAttrs, in, out int) Axis {
	return NewAxis(a.Coordinates, a.Mode == ir.Bilinear, in, out)
}

// TestMatchesReference: up and down, integer and not, every mode and rule.
func TestMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range kerneltest.Sizes {
		for _, mode := range []ir.ResizeMode{ir.Nearest, ir.Bilinear} {
			for _, coords := range []ir.Coordinates{ir.HalfPixel, ir.AlignCorners, ir.Asymmetric} {
				h, w, c := s%5+1, s%4+2, s%6+1
				a := &ir.ResizeAttrs{Mode: mode, Coordinates: coords, Size: [2]int{s + 1, 2*w + s%3}}
				x := kerneltest.Random(r, 2, h, w, c)
				want := kerneltest.Ref(t, ir.OpResize, a, x)
				rz := Resize{H: h, W: w, C: c, Rows: table(a, h, a.Size[0]), Cols: table(a, w, a.Size[1])}
				got := make([]float32, len(want.Data))
				rz.Run(x.Data, got, 2)
				kerneltest.Close(t, got, want, 1e-6, "%s %s %v -> %v", mode, coords, x.Shape, a.Size)
			}
		}
	}
}
