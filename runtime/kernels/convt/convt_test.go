package convt

import (
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// TestMatchesReference runs every available kernel set's product over
// strides, dilations, crops and output padding, against runtime/ref.
func TestMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	windows := []ir.ConvTransposeAttrs{
		{Window2D: ir.Window2D{Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}, Padding: ir.Valid}},
		{Window2D: ir.Window2D{Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}, Padding: ir.Same}},
		{Window2D: ir.Window2D{Stride: [2]int{3, 1}, Dilation: [2]int{1, 1}, Padding: ir.Same}},
		{Window2D: ir.Window2D{Stride: [2]int{2, 3}, Dilation: [2]int{2, 1}, Padding: ir.Explicit, Pads: [4]int{1, 2, 0, 1}}, OutputPadding: [2]int{1, 2}},
		{Window2D: ir.Window2D{Stride: [2]int{1, 1}, Dilation: [2]int{1, 2}, Padding: ir.Explicit, Pads: [4]int{1, 1, 2, 2}}},
	}
	for _, set := range cpu.Available() {
		for _, s := range kerneltest.Sizes {
			for wi, w := range windows {
				h, wd, c, co, kh, kw := s%4+2, s%3+2, s, s%5+1, s%3+1, 3
				x := kerneltest.Random(r, 2, h, wd, c)
				k := kerneltest.Random(r, kh, kw, co, c)
				b := kerneltest.Random(r, co)
				want := kerneltest.Ref(t, ir.OpConv2DTranspose, &w, x, k, b)
				crop, oh, ow := w.Geometry(h, wd, kh, kw)
				ct := New(set, Shape{N: 2, H: h, W: wd, C: c, KH: kh, KW: kw, CO: co, Stride: w.Stride, Dilation: w.Dilation, Crop: crop, OH: oh, OW: ow})
				packed := make([]float32, ct.PackedSize())
				ct.PackWeights(packed, k.Data)
				got := make([]float32, len(want.Data))
				ct.Run(x.Data, packed, b.Data, got, make([]float32, ct.ScratchSize()))
				kerneltest.Close(t, got, want, 1e-5, "%s window %d x %v kernel %v", set, wi, x.Shape, k.Shape)
			}
		}
	}
}
