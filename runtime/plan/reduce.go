package plan

import (
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/reduce"
	"github.com/mdlc/mdlc/tensor"
)

// buildReduce: the reduced axes in passes over runs of adjacent axes
// (reduce.Plan); a mean is a sum scaled by 1/count.
func buildReduce(kind reduce.Kind, mean bool) func(*builder, *ir.Node) exec.Spec {
	return func(b *builder, n *ir.Node) exec.Spec {
		x := n.Inputs[0]
		shape := b.shapes[x]
		red := n.Attrs.(*ir.ReduceAttrs).Reduced(len(shape))
		r := reduce.Reduce{Kind: kind, Passes: reduce.Plan(shape, red)}
		if mean {
			r.Scale = float32(float64(tensor.Numel(b.shapes[n.Outputs[0]])) / float64(tensor.Numel(shape)))
		}
		b.info[b.step].Kernel = "reduce"
		return exec.Reduce{X: b.slot(x), Out: b.out(n), Scratch: b.scratch(r.ScratchSize(), "partial results"), Reduce: r}
	}
}
