package ref

import (
	"math"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// pool2d reduces each window of an NHWC input per channel. Padded cells are
// skipped rather than read as zeros, so maxpool treats them as -Inf and avgpool
// leaves them out of the count, as Keras and TensorFlow do; with CountPad an
// average divides by the whole window instead, as PyTorch's default does.
func pool2d(reduce func(cells []float64, window int) float64) kernel {
	return func(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
		a, x := n.Attrs.(*ir.PoolAttrs), in[0]
		vals := make([]float64, 0, a.Size[0]*a.Size[1])
		poolWindows(a, x.Shape, out.Shape, func(cells []int, yi int) {
			vals = vals[:0]
			for _, i := range cells {
				vals = append(vals, float64(x.Data[i]))
			}
			window := len(vals)
			if a.CountPad {
				window = a.Size[0] * a.Size[1]
			}
			out.Data[yi] = float32(reduce(vals, window))
		})
	}
}

// maxOf is -Inf for no cells.
func maxOf(cells []float64, _ int) float64 {
	m := math.Inf(-1)
	for _, v := range cells {
		m = max(m, v)
	}
	return m
}

// meanOf is the cells' sum over window: NaN (0/0) for no cells.
func meanOf(cells []float64, window int) float64 {
	var sum float64
	for _, v := range cells {
		sum += v
	}
	return sum / float64(window)
}

// globalAvgPool2d: [N,H,W,C] -> [N,C], the mean over H and W.
func globalAvgPool2d(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	x := in[0]
	nb, hw, c := x.Shape[0], x.Shape[1]*x.Shape[2], x.Shape[3]
	cells := make([]float64, hw)
	for b := range nb {
		for ch := range c {
			for p := range hw {
				cells[p] = float64(x.Data[(b*hw+p)*c+ch])
			}
			out.Data[b*c+ch] = float32(meanOf(cells, len(cells)))
		}
	}
}
