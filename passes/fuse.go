package passes

// The fusion passes. Each walks the schedule once and replaces a group of
// nodes by one fused node, placed where the group's last node was: every
// operand of the group is defined before that point, and every reader of the
// group's result comes after it. A node joins a group only if the value it
// reads is read by nothing else (not even a graph output) and its result has
// the same type as that value: fusion never duplicates work or changes a shape.
//
// fuse-epilogue: conv2d(x, k[, b]) or matmul(a, b), followed by elementwise
// ops (bias add, activation, residual add, scale), becomes fused_conv2d /
// fused_matmul with the ops as its epilogue chain. A conv with only its bias
// is left alone.
//
// fuse-pool: a fused_conv2d (or conv2d) read only by a max pool whose windows
// tile the input exactly (valid padding, stride = size, no dilation) takes the
// pool into its attributes: the kernel then keeps a tile of conv output, never
// the whole tensor.
//
// fuse-chains: two or more elementwise ops in a row become one elementwise op.
//
// Invariant after all three: no conv2d or matmul has a fusable single reader;
// no elementwise op has an elementwise single reader of the same shape.

import (
	"github.com/mdlc/mdlc/ir"
)

// group is a run of nodes being fused: the chain so far, the fused node's
// operands, the value the chain currently computes, and the node computing it.
type group struct {
	chain ir.Chain
	ins   []*ir.Value
	cur   *ir.Value
	last  *ir.Node
}

// extend absorbs, while it can, the single elementwise reader of g.cur.
func (gr *group) extend(g *ir.Graph, uses map[*ir.Value]int, readers map[*ir.Value][]*ir.Node, absorbed map[*ir.Node]bool) {
	for uses[gr.cur] == 1 && !isOutput(g, gr.cur) {
		next := readers[gr.cur][0]
		if absorbed[next] || !ir.Fusable(next.Op) || !next.Outputs[0].Type.Equal(gr.cur.Type) {
			return
		}
		step := ir.Step{Op: next.Op, Attrs: next.Attrs}
		if len(next.Inputs) == 2 {
			idx := 0
			if next.Inputs[1] == gr.cur {
				idx = 1
			}
			step.Operand = len(gr.ins)
			step.Swapped = idx == 1
			gr.ins = append(gr.ins, next.Inputs[1-idx])
		}
		gr.chain = append(gr.chain, step)
		absorbed[next] = true
		gr.cur, gr.last = next.Outputs[0], next
	}
}

// rebuild places each fused node at its group's last node and drops the rest
// of the group; it rewires readers of the group's result.
func rebuild(g *ir.Graph, fused map[*ir.Node]*ir.Node, replaced map[*ir.Node]*ir.Value, absorbed map[*ir.Node]bool) {
	out := g.Nodes[:0:0]
	for _, n := range g.Nodes {
		if f, ok := fused[n]; ok {
			out = append(out, f)
			continue
		}
		if !absorbed[n] {
			out = append(out, n)
		}
	}
	g.Nodes = out
	for last, old := range replaced {
		g.ReplaceUses(old, fused[last].Outputs[0])
	}
}

func fuseEpilogue(g *ir.Graph) error {
	uses, readers := uses(g), users(g)
	fused, replaced, absorbed := map[*ir.Node]*ir.Node{}, map[*ir.Node]*ir.Value{}, map[*ir.Node]bool{}
	for _, n := range g.Nodes {
		if (n.Op != ir.OpConv2D && n.Op != ir.OpMatMul) || absorbed[n] {
			continue
		}
		gr := &group{ins: append([]*ir.Value(nil), n.Inputs[:2]...), cur: n.Outputs[0], last: n}
		if len(n.Inputs) == 3 {
			gr.chain = ir.Chain{{Op: ir.OpAdd, Operand: 2}}
			gr.ins = append(gr.ins, n.Inputs[2])
		}
		bias := len(gr.chain)
		gr.extend(g, uses, readers, absorbed)
		if len(gr.chain) == bias {
			continue
		}
		var attrs ir.Attrs
		op := ir.OpFusedConv2D
		if n.Op == ir.OpConv2D {
			attrs = &ir.FusedConvAttrs{Conv: *n.Attrs.(*ir.ConvAttrs), Epilogue: gr.chain}
		} else {
			op = ir.OpFusedMatMul
			attrs = &ir.FusedMatMulAttrs{MatMul: *n.Attrs.(*ir.MatMulAttrs), Epilogue: gr.chain}
		}
		f, err := g.NewNode(op, attrs, gr.ins, n.Layer, n.Pos)
		if err != nil {
			return err
		}
		absorbed[n] = true
		fused[gr.last], replaced[gr.last] = f, gr.cur
	}
	rebuild(g, fused, replaced, absorbed)
	return nil
}

func fusePool(g *ir.Graph) error {
	uses, readers := uses(g), users(g)
	fused, replaced, absorbed := map[*ir.Node]*ir.Node{}, map[*ir.Node]*ir.Value{}, map[*ir.Node]bool{}
	for _, n := range g.Nodes {
		var attrs ir.FusedConvAttrs
		ins := n.Inputs
		switch n.Op {
		case ir.OpFusedConv2D:
			attrs = *n.Attrs.(*ir.FusedConvAttrs)
			if attrs.Pool != nil {
				continue
			}
		case ir.OpConv2D:
			attrs.Conv = *n.Attrs.(*ir.ConvAttrs)
			if len(ins) == 3 {
				attrs.Epilogue = ir.Chain{{Op: ir.OpAdd, Operand: 2}}
			}
		default:
			continue
		}
		v := n.Outputs[0]
		if uses[v] != 1 || isOutput(g, v) || readers[v][0].Op != ir.OpMaxPool2D {
			continue
		}
		pool := readers[v][0]
		w := pool.Attrs.(*ir.PoolAttrs).Window2D
		if w.Padding != ir.Valid || w.Stride != w.Size || w.Dilation != [2]int{1, 1} {
			continue
		}
		attrs.Pool = &w
		f, err := g.NewNode(ir.OpFusedConv2D, &attrs, ins, n.Layer, n.Pos)
		if err != nil {
			return err
		}
		absorbed[n], absorbed[pool] = true, true
		fused[pool], replaced[pool] = f, pool.Outputs[0]
	}
	rebuild(g, fused, replaced, absorbed)
	return nil
}

func fuseChains(g *ir.Graph) error {
	uses, readers := uses(g), users(g)
	fused, replaced, absorbed := map[*ir.Node]*ir.Node{}, map[*ir.Node]*ir.Value{}, map[*ir.Node]bool{}
	for _, n := range g.Nodes {
		if !ir.Fusable(n.Op) || absorbed[n] {
			continue
		}
		// The chain runs on a value of the result's full shape.
		out := n.Outputs[0]
		start := -1
		for i, v := range n.Inputs {
			if v.Type.Equal(out.Type) {
				start = i
				break
			}
		}
		if start < 0 {
			continue
		}
		gr := &group{ins: []*ir.Value{n.Inputs[start]}, cur: out, last: n}
		step := ir.Step{Op: n.Op, Attrs: n.Attrs}
		if len(n.Inputs) == 2 {
			step.Operand, step.Swapped = 1, start == 1
			gr.ins = append(gr.ins, n.Inputs[1-start])
		}
		gr.chain = ir.Chain{step}
		gr.extend(g, uses, readers, absorbed)
		if len(gr.chain) < 2 {
			continue
		}
		f, err := g.NewNode(ir.OpElementwise, &ir.ElementwiseAttrs{Chain: gr.chain}, gr.ins, n.Layer, n.Pos)
		if err != nil {
			return err
		}
		absorbed[n] = true
		fused[gr.last], replaced[gr.last] = f, gr.cur
	}
	rebuild(g, fused, replaced, absorbed)
	return nil
}
