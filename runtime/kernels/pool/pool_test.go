package pool

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/tensor"
)

// Max pooling is exact; averages and global averages sum in float32.
const (
	exact  = 0
	avgTol = 1e-6
)

var windows = []ir.Window2D{
	{Size: [2]int{2, 2}, Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}, Padding: ir.Valid},
	{Size: [2]int{3, 3}, Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}, Padding: ir.Same},
	{Size: [2]int{3, 2}, Stride: [2]int{2, 3}, Dilation: [2]int{2, 1}, Padding: ir.Same},
	// Pads wider than the window: windows wholly in the padding.
	{Size: [2]int{2, 2}, Stride: [2]int{1, 2}, Dilation: [2]int{1, 1}, Padding: ir.Explicit, Pads: [4]int{3, 0, 2, 3}},
}

func TestPoolMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range kerneltest.Sizes {
		for wi, w := range windows {
			h, wd, c := s+3, max(s/2, 2)+1, s%5+1
			x := kerneltest.Random(r, 2, h, wd, c)
			kh, kw := w.Size[0], w.Size[1]
			p := NewWindow(h, wd, c, kh, kw, w.Stride, w.Dilation, w.PadsFor(h, wd, kh, kw))
			for _, op := range []ir.Op{ir.OpMaxPool2D, ir.OpAvgPool2D} {
				want := kerneltest.Ref(t, op, &ir.PoolAttrs{Window2D: w}, x)
				got := make([]float32, len(want.Data))
				tol := float64(exact)
				if op == ir.OpMaxPool2D {
					p.Max(x.Data, got, 2)
				} else {
					p.Avg(x.Data, got, 2)
					tol = avgTol
				}
				kerneltest.Close(t, got, want, tol, "%s window %d on %v", op, wi, x.Shape)
			}
		}
	}
}

// MaxRows over bands of input rows gives what Max gives over the image.
func TestMaxRowsInBands(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for wi, w := range windows {
		h, wd, c := 17, 9, 3
		x := kerneltest.Random(r, 1, h, wd, c)
		kh, kw := w.Size[0], w.Size[1]
		p := NewWindow(h, wd, c, kh, kw, w.Stride, w.Dilation, w.PadsFor(h, wd, kh, kw))
		want := tensor.New(1, p.OH, p.OW, c)
		p.Max(x.Data, want.Data, 1)
		for _, band := range []int{1, 2, 3} {
			got := make([]float32, len(want.Data))
			for oy := 0; oy < p.OH; oy += band {
				lo, hi := p.InputRows(oy, min(oy+band, p.OH))
				p.MaxRows(x.Data[lo*wd*c:hi*wd*c], lo, got, oy, min(oy+band, p.OH))
			}
			kerneltest.Close(t, got, want, exact, "window %d, bands of %d rows", wi, band)
		}
	}
}

func TestGlobalAvgMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range kerneltest.Sizes {
		x := kerneltest.Random(r, 2, s, s+4, s%7+1)
		want := kerneltest.Ref(t, ir.OpGlobalAvgPool2D, nil, x)
		got := make([]float32, len(want.Data))
		c := x.Shape[3]
		GlobalAvg(x.Data, got, 2, s*(s+4), c, make([]float32, c))
		kerneltest.Close(t, got, want, avgTol, "global average of %v", x.Shape)
	}
}

func Example() {
	// A 2×2 max pool over one 2×4 single-channel image.
	p := NewWindow(2, 4, 1, 2, 2, [2]int{2, 2}, [2]int{1, 1}, [4]int{})
	out := make([]float32, p.OH*p.OW)
	p.Max([]float32{1, 5, 2, 0, 3, 4, 7, 6}, out, 1)
	fmt.Println(out)
	// Output: [5 7]
}
