package passes

// lower rewrites layer-level ops into primitive ones, node by node, in
// schedule order:
//
//	dense(x, k, b)        -> add(matmul(x, k), b)
//	flatten(x)            -> reshape(x)
//	dropout(x)            -> x
//	batchnorm(x, γ, β, μ, σ²) with constant operands
//	                      -> add(mul(x, s), t), s = γ/√(σ²+ε), t = β - μ·s
//
// Invariant: no dense, flatten or dropout node remains; batchnorm remains only
// where its statistics are not constants (weights not bound).

import (
	"math"

	"github.com/mdlc/mdlc/ir"
)

func lower(g *ir.Graph) error {
	var out []*ir.Node
	emit := func(n *ir.Node) *ir.Value { out = append(out, n); return n.Outputs[0] }
	for _, n := range g.Nodes {
		res := n.Outputs[0]
		switch n.Op {
		case ir.OpDense:
			mm, err := g.NewNode(ir.OpMatMul, &ir.MatMulAttrs{}, n.Inputs[:2], n.Layer, n.Pos)
			if err != nil {
				return err
			}
			v := emit(mm)
			if len(n.Inputs) == 3 {
				add, err := g.NewNode(ir.OpAdd, nil, []*ir.Value{v, n.Inputs[2]}, n.Layer, n.Pos)
				if err != nil {
					return err
				}
				v = emit(add)
			}
			g.ReplaceUses(res, v)
		case ir.OpFlatten:
			r, err := g.NewNode(ir.OpReshape, &ir.ReshapeAttrs{Shape: res.Type.Shape}, n.Inputs, n.Layer, n.Pos)
			if err != nil {
				return err
			}
			g.ReplaceUses(res, emit(r))
		case ir.OpDropout:
			g.ReplaceUses(res, n.Inputs[0])
		case ir.OpBatchNorm:
			v, ok, err := lowerBatchNorm(g, n, emit)
			if err != nil {
				return err
			}
			if !ok {
				out = append(out, n)
				continue
			}
			g.ReplaceUses(res, v)
		default:
			out = append(out, n)
		}
	}
	g.Nodes = out
	return nil
}

func lowerBatchNorm(g *ir.Graph, n *ir.Node, emit func(*ir.Node) *ir.Value) (*ir.Value, bool, error) {
	var stats [4][]float32
	for i := range stats {
		d, ok := constOf(n.Inputs[i+1])
		if !ok {
			return nil, false, nil
		}
		stats[i] = d
	}
	gamma, beta, mean, variance := stats[0], stats[1], stats[2], stats[3]
	eps := float64(n.Attrs.(*ir.BatchNormAttrs).Epsilon)
	scale := make([]float32, len(gamma))
	shift := make([]float32, len(gamma))
	for c := range gamma {
		s := float64(gamma[c]) / math.Sqrt(float64(variance[c])+eps)
		scale[c] = float32(s)
		shift[c] = float32(float64(beta[c]) - float64(mean[c])*s)
	}
	t := n.Inputs[1].Type
	sv := addConst(g, ir.Qualified(n.Layer, "scale"), t, scale)
	tv := addConst(g, ir.Qualified(n.Layer, "shift"), t, shift)
	mul, err := g.NewNode(ir.OpMul, nil, []*ir.Value{n.Inputs[0], sv}, n.Layer, n.Pos)
	if err != nil {
		return nil, false, err
	}
	add, err := g.NewNode(ir.OpAdd, nil, []*ir.Value{emit(mul), tv}, n.Layer, n.Pos)
	if err != nil {
		return nil, false, err
	}
	return emit(add), true, nil
}
