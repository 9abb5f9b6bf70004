package ref

import (
	"fmt"
	"math"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// reduce folds every input element into the output element whose index is
// its own with the reduced axes dropped (or set to 0 with keepdims, which
// leaves the same row-major order), in float64; finish turns the fold and
// the count of elements folded into the result.
func reduce(init float64, fold func(acc, x float64) float64, finish func(acc float64, count int) float64) kernel {
	return func(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
		x := in[0]
		red := n.Attrs.(*ir.ReduceAttrs).Reduced(len(x.Shape))
		acc := make([]float64, len(out.Data))
		for i := range acc {
			acc[i] = init
		}
		for i, v := range x.Data {
			o, rem := 0, i
			// Walk the axes from the last, building the output offset from
			// the kept ones.
			stride := 1
			for d := len(x.Shape) - 1; d >= 0; d-- {
				idx := rem % x.Shape[d]
				rem /= x.Shape[d]
				if !red[d] {
					o += idx * stride
					stride *= x.Shape[d]
				}
			}
			acc[o] = fold(acc[o], float64(v))
		}
		count := len(x.Data) / max(len(out.Data), 1)
		for i, a := range acc {
			out.Data[i] = float32(finish(a, count))
		}
	}
}

func add(acc, x float64) float64 { return acc + x }

// NaN wins a max or min, as in NumPy and PyTorch; Go's max and min agree.
func keep(acc float64, _ int) float64 { return acc }

var (
	reduceSum  = reduce(0, add, keep)
	reduceMean = reduce(0, add, func(acc float64, n int) float64 { return acc / float64(n) })
	reduceMax  = reduce(math.Inf(-1), func(a, x float64) float64 { return max(a, x) }, keep)
	reduceMin  = reduce(math.Inf(1), func(a, x float64) float64 { return min(a, x) }, keep)
)

// argMax is the first position of the max along the axis; a NaN is the max
// (its first position), as in NumPy and PyTorch.
func argMax(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	x, axis := in[0], n.Attrs.(*ir.ArgAttrs).Axis
	dim, inner := x.Shape[axis], tensor.Numel(x.Shape[axis+1:])
	for o := range tensor.Numel(x.Shape[:axis]) {
		for i := range inner {
			best := 0
			for j := range dim {
				v, b := x.Data[(o*dim+j)*inner+i], x.Data[(o*dim+best)*inner+i]
				if v != v && b == b || v > b {
					best = j
				}
			}
			out.Data[o*inner+i] = float32(best)
		}
	}
}

// where picks a where cond is not 0, else b, all three broadcast.
func where(_ *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	var st [3][]int
	for k := range st {
		st[k] = tensor.BroadcastStrides(in[k].Shape, out.Shape)
	}
	for i := range out.Data {
		if in[0].Data[offset(i, out.Shape, st[0])] != 0 {
			out.Data[i] = in[1].Data[offset(i, out.Shape, st[1])]
		} else {
			out.Data[i] = in[2].Data[offset(i, out.Shape, st[2])]
		}
	}
}

// compare is a comparison as a 0/1 mask.
func compare(f func(a, b float32) bool) kernel {
	return binary(func(a, b float32) float32 {
		if f(a, b) {
			return 1
		}
		return 0
	})
}

// gatherShape views x as [B, P, A, R] and indices as [B, I] (ir.GatherAttrs).
func gatherShape(n *ir.Node, in []*tensor.Tensor) (b, p, a, i, r int) {
	at, x := n.Attrs.(*ir.GatherAttrs), in[0].Shape
	return tensor.Numel(x[:at.BatchDims]), tensor.Numel(x[at.BatchDims:at.Axis]), x[at.Axis],
		tensor.Numel(in[1].Shape[at.BatchDims:]), tensor.Numel(x[at.Axis+1:])
}

// checkGather refuses an index that is not an integer in range (checks).
func checkGather(n *ir.Node, in []*tensor.Tensor) error {
	_, _, a, _, _ := gatherShape(n, in)
	for k, v := range in[1].Data {
		if _, ok := ir.GatherIndex(v, a); !ok {
			return fmt.Errorf("gather (layer %q): index %v at position %d of the indices %v is not an integer in %d..%d",
				n.Layer, v, k, in[1].Shape, -a, a-1)
		}
	}
	return nil
}

func gather(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	nb, np, a, ni, r := gatherShape(n, in)
	x, idx := in[0].Data, in[1].Data
	for b := range nb {
		for p := range np {
			for i := range ni {
				j, _ := ir.GatherIndex(idx[b*ni+i], a)
				for e := range r {
					out.Data[((b*np+p)*ni+i)*r+e] = x[((b*np+p)*a+j)*r+e]
				}
			}
		}
	}
}
