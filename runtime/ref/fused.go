package ref

import (
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// The fused ops are computed as the ops they replace, one after another, with
// the same kernels: the reference says what fusion must preserve.

func fusedConv2d(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := n.Attrs.(*ir.FusedConvAttrs)
	conv := &ir.Node{Op: ir.OpConv2D, Attrs: &a.Conv}
	if a.Pool == nil {
		conv2d(conv, in[:2], out)
		runChain(a.Epilogue, in, out)
		return
	}
	x, k := in[0], in[1]
	oh, ow := a.Conv.Out(x.Shape[1], x.Shape[2], k.Shape[0], k.Shape[1])
	full := tensor.New(x.Shape[0], oh, ow, k.Shape[3])
	conv2d(conv, in[:2], full)
	runChain(a.Epilogue, in, full)
	pool2d(maxOf)(&ir.Node{Op: ir.OpMaxPool2D, Attrs: &ir.PoolAttrs{Window2D: *a.Pool}}, []*tensor.Tensor{full}, out)
}

func fusedMatMul(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	a := n.Attrs.(*ir.FusedMatMulAttrs)
	matMul(&ir.Node{Op: ir.OpMatMul, Attrs: &a.MatMul}, in[:2], out)
	runChain(a.Epilogue, in, out)
}

func elementwise(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor) {
	chain := n.Attrs.(*ir.ElementwiseAttrs).Chain
	// Broadcast the start to the output's shape, then run the chain in place.
	start := &ir.Node{Op: ir.OpAdd}
	zero := &tensor.Tensor{Shape: []int{1}, Data: []float32{0}}
	kernels[ir.OpAdd](start, []*tensor.Tensor{in[0], zero}, out)
	runChain(chain, in, out)
}

// runChain applies each step to v in place, with the step op's own kernel.
func runChain(c ir.Chain, in []*tensor.Tensor, v *tensor.Tensor) {
	for _, s := range c {
		step := &ir.Node{Op: s.Op, Attrs: s.Attrs}
		operands := []*tensor.Tensor{v}
		if s.Op.Info().MinInputs == 2 {
			operands = append(operands, in[s.Operand])
			if s.Swapped {
				operands[0], operands[1] = operands[1], operands[0]
			}
		}
		kernels[s.Op](step, operands, v)
	}
}
