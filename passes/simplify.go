package passes

// simplify applies algebraic rewrite rules, looked up by the op of each node,
// until none applies. Each rule's algebra is in its comment; a rule returns
// the value that now stands for the node's result, plus any new nodes, which
// take the node's place in the schedule. Rules only fire where the rewrite is
// exact in real arithmetic and the replaced value has no other reader.
//
// Invariant: no rule of the table matches any node.

import (
	"slices"

	"github.com/mdlc/mdlc/ir"
)

// rule rewrites n, or returns nil when it does not apply.
type rule func(g *ir.Graph, n *ir.Node, uses map[*ir.Value]int) (*ir.Value, []*ir.Node, error)

var rules = [ir.OpLast][]rule{
	ir.OpMul:        {identityOperand(1), scaleIntoConv, scaleIntoMatMul, distributeScale},
	ir.OpAdd:        {identityOperand(0), shiftIntoConv, mergeShifts},
	ir.OpSub:        {identityOperand(0)},
	ir.OpDiv:        {identityOperand(1)},
	ir.OpTranspose:  {transposeOfTranspose, identityTranspose},
	ir.OpReshape:    {reshapeOfReshape, identityReshape},
	ir.OpConv2D:     {padIntoConv},
	ir.OpReduceMean: {meanAsGlobalPool},
}

func simplify(g *ir.Graph) error {
	for changed := true; changed; {
		changed = false
		u := uses(g)
		for i, n := range g.Nodes {
			for _, r := range rules[n.Op] {
				v, fresh, err := r(g, n, u)
				if err != nil {
					return err
				}
				if v == nil {
					continue
				}
				g.Nodes = slices.Concat(g.Nodes[:i], fresh, g.Nodes[i+1:])
				g.ReplaceUses(n.Outputs[0], v)
				// Drop what the rewrite left unread, so use counts stay exact.
				if err := dce(g); err != nil {
					return err
				}
				changed = true
				break
			}
			if changed {
				break
			}
		}
	}
	return nil
}

// identityOperand: x op e -> x (and e op x -> x for commutative ops) where e is
// a constant of all `unit` (x*1, x+0, x-0, x/1), unless e's shape would
// broadcast x to a larger result.
func identityOperand(unit float32) rule {
	return func(g *ir.Graph, n *ir.Node, _ map[*ir.Value]int) (*ir.Value, []*ir.Node, error) {
		commutes := n.Op == ir.OpAdd || n.Op == ir.OpMul
		for i, x := range n.Inputs {
			if (i == 0 || commutes) && allEqual(n.Inputs[1-i], unit) && x.Type.Equal(n.Outputs[0].Type) {
				return x, nil, nil
			}
		}
		return nil, nil, nil
	}
}

func allEqual(v *ir.Value, x float32) bool {
	d, ok := constOf(v)
	if !ok || len(d) == 0 {
		return false
	}
	for _, y := range d {
		if y != x {
			return false
		}
	}
	return true
}

// perChannel returns c's data if c is a constant holding one value per
// channel of the last axis, shaped [C] or [1, ..., 1, C].
func perChannel(c *ir.Value, channels int) ([]float32, bool) {
	d, ok := constOf(c)
	if !ok || len(d) != channels {
		return nil, false
	}
	s := c.Type.Shape
	for _, dim := range s[:len(s)-1] {
		if dim != ir.D(1) {
			return nil, false
		}
	}
	return d, true
}

// producerAndConst splits a binary node into the result of an op of kind
// `op` read only here, and a per-channel constant.
func producerAndConst(n *ir.Node, op ir.Op, uses map[*ir.Value]int) (*ir.Node, []float32) {
	for i, v := range n.Inputs {
		p := v.Def
		if v.Kind != ir.Result || p.Op != op || uses[v] != 1 || !v.Type.Equal(n.Outputs[0].Type) {
			continue
		}
		s := v.Type.Shape
		if c, ok := perChannel(n.Inputs[1-i], s[len(s)-1].Size); ok {
			return p, c
		}
	}
	return nil, nil
}

// scaleIntoConv: conv2d(x, k, b) * c -> conv2d(x, k·c, b·c) for a per-output-
// channel constant c: each output channel is linear in its kernel column and
// bias. With batchnorm lowered to *s + t, this folds its scale.
func scaleIntoConv(g *ir.Graph, n *ir.Node, uses map[*ir.Value]int) (*ir.Value, []*ir.Node, error) {
	conv, c := producerAndConst(n, ir.OpConv2D, uses)
	if conv == nil {
		return nil, nil, nil
	}
	k, ok := constOf(conv.Inputs[1])
	if !ok {
		return nil, nil, nil
	}
	ins := []*ir.Value{conv.Inputs[0], addConst(g, conv.Layer+".kernel_scaled", conv.Inputs[1].Type, scaleColumns(k, c))}
	if len(conv.Inputs) == 3 {
		b, ok := constOf(conv.Inputs[2])
		if !ok {
			return nil, nil, nil
		}
		ins = append(ins, addConst(g, conv.Layer+".bias_scaled", conv.Inputs[2].Type, scaleColumns(b, c)))
	}
	return replaceConv(g, conv, ins)
}

// shiftIntoConv: conv2d(x, k, b) + c -> conv2d(x, k, b + c) for a per-output-
// channel constant c (a conv without bias gets c as its bias).
func shiftIntoConv(g *ir.Graph, n *ir.Node, uses map[*ir.Value]int) (*ir.Value, []*ir.Node, error) {
	conv, c := producerAndConst(n, ir.OpConv2D, uses)
	if conv == nil {
		return nil, nil, nil
	}
	bias := slices.Clone(c)
	if len(conv.Inputs) == 3 {
		b, ok := constOf(conv.Inputs[2])
		if !ok {
			return nil, nil, nil
		}
		for i := range bias {
			bias[i] += b[i]
		}
	}
	channels := conv.Outputs[0].Type.Shape[3]
	ins := []*ir.Value{conv.Inputs[0], conv.Inputs[1], addConst(g, conv.Layer+".bias_shifted", ir.Type{DType: ir.F32, Shape: ir.Shape{channels}}, bias)}
	return replaceConv(g, conv, ins)
}

func replaceConv(g *ir.Graph, conv *ir.Node, ins []*ir.Value) (*ir.Value, []*ir.Node, error) {
	nn, err := g.NewNode(ir.OpConv2D, conv.Attrs, ins, conv.Layer, conv.Pos)
	if err != nil {
		return nil, nil, err
	}
	return nn.Outputs[0], []*ir.Node{nn}, nil
}

// scaleIntoMatMul: matmul(x, W) * c -> matmul(x, W·c) for a constant W
// (not transposed) and a per-column constant c.
func scaleIntoMatMul(g *ir.Graph, n *ir.Node, uses map[*ir.Value]int) (*ir.Value, []*ir.Node, error) {
	mm, c := producerAndConst(n, ir.OpMatMul, uses)
	if mm == nil || mm.Attrs.(*ir.MatMulAttrs).TransB || mm.Inputs[1].Type.Shape.Rank() != 2 {
		return nil, nil, nil
	}
	w, ok := constOf(mm.Inputs[1])
	if !ok {
		return nil, nil, nil
	}
	ins := []*ir.Value{mm.Inputs[0], addConst(g, mm.Layer+".kernel_scaled", mm.Inputs[1].Type, scaleColumns(w, c))}
	nn, err := g.NewNode(ir.OpMatMul, mm.Attrs, ins, mm.Layer, mm.Pos)
	if err != nil {
		return nil, nil, err
	}
	return nn.Outputs[0], []*ir.Node{nn}, nil
}

// scaleColumns multiplies each row-major row of data (length len(c)) by c.
func scaleColumns(data, c []float32) []float32 {
	out := make([]float32, len(data))
	for i, v := range data {
		out[i] = v * c[i%len(c)]
	}
	return out
}

// constPair splits a binary node into a result read only here, made by op
// with a constant second operand, and a constant: (x op c1) and c2.
func constPair(n *ir.Node, op ir.Op, uses map[*ir.Value]int) (inner *ir.Node, c1, c2 *ir.Value) {
	for i, v := range n.Inputs {
		c := n.Inputs[1-i]
		if v.Kind != ir.Result || v.Def.Op != op || uses[v] != 1 || c.Kind != ir.Const {
			continue
		}
		for j, w := range v.Def.Inputs {
			if w.Kind == ir.Const && v.Def.Inputs[1-j].Kind != ir.Const {
				return v.Def, w, c
			}
		}
	}
	return nil, nil, nil
}

// foldConsts makes the constant op(a, b) for a value of type want, or nil
// if its shape differs from want's.
func foldConsts(g *ir.Graph, op ir.Op, a, b *ir.Value, want ir.Type, layer string) (*ir.Value, error) {
	n, err := g.NewNode(op, nil, []*ir.Value{a, b}, layer, ir.Pos{})
	if err != nil {
		return nil, nil
	}
	t := n.Outputs[0].Type
	if t.Shape.Rank() > want.Shape.Rank() {
		return nil, nil
	}
	out, ok, err := evalConstNode(n)
	if !ok || err != nil {
		return nil, err
	}
	return addConst(g, ir.Qualified(layer, op.String()), t, out.Data), nil
}

// shifted splits n = (x + c1) op c2, where x + c1 is read only by n, into x,
// c2 and the constant c1 op c2; x is nil when n has another form.
func shifted(g *ir.Graph, n *ir.Node, uses map[*ir.Value]int) (x, c2, c12 *ir.Value, err error) {
	add, c1, c2 := constPair(n, ir.OpAdd, uses)
	if add == nil {
		return nil, nil, nil, nil
	}
	x = add.Inputs[0]
	if x == c1 {
		x = add.Inputs[1]
	}
	c12, err = foldConsts(g, n.Op, c1, c2, n.Outputs[0].Type, n.Layer)
	if c12 == nil {
		return nil, nil, nil, err
	}
	return x, c2, c12, nil
}

// sameType returns the rewrite v, fresh if v has n's type, so a rewrite
// never changes a shape.
func sameType(n *ir.Node, v *ir.Value, fresh []*ir.Node) (*ir.Value, []*ir.Node, error) {
	if !v.Type.Equal(n.Outputs[0].Type) {
		return nil, nil, nil
	}
	return v, fresh, nil
}

// distributeScale: (x + c1) * c2 -> x * c2 + c1·c2, so that a scale after a
// biased matmul (batchnorm after dense) reaches the matmul.
func distributeScale(g *ir.Graph, n *ir.Node, uses map[*ir.Value]int) (*ir.Value, []*ir.Node, error) {
	x, c2, c12, err := shifted(g, n, uses)
	if x == nil {
		return nil, nil, err
	}
	mul, err := g.NewNode(ir.OpMul, nil, []*ir.Value{x, c2}, n.Layer, n.Pos)
	if err != nil || !mul.Outputs[0].Type.Equal(n.Outputs[0].Type) {
		return nil, nil, nil
	}
	sum, err := g.NewNode(ir.OpAdd, nil, []*ir.Value{mul.Outputs[0], c12}, n.Layer, n.Pos)
	if err != nil {
		return nil, nil, nil
	}
	return sameType(n, sum.Outputs[0], []*ir.Node{mul, sum})
}

// mergeShifts: (x + c1) + c2 -> x + (c1 + c2).
func mergeShifts(g *ir.Graph, n *ir.Node, uses map[*ir.Value]int) (*ir.Value, []*ir.Node, error) {
	x, _, c12, err := shifted(g, n, uses)
	if x == nil {
		return nil, nil, err
	}
	sum, err := g.NewNode(ir.OpAdd, nil, []*ir.Value{x, c12}, n.Layer, n.Pos)
	if err != nil {
		return nil, nil, nil
	}
	return sameType(n, sum.Outputs[0], []*ir.Node{sum})
}

// transposeOfTranspose: transpose(transpose(x, p), q) -> transpose(x, p∘q),
// since output axis i of the outer one is axis q[i] of the inner, which is
// axis p[q[i]] of x.
func transposeOfTranspose(g *ir.Graph, n *ir.Node, _ map[*ir.Value]int) (*ir.Value, []*ir.Node, error) {
	in := n.Inputs[0]
	if in.Kind != ir.Result || in.Def.Op != ir.OpTranspose {
		return nil, nil, nil
	}
	p, q := in.Def.Attrs.(*ir.TransposeAttrs).Perm, n.Attrs.(*ir.TransposeAttrs).Perm
	perm := make([]int, len(q))
	for i := range q {
		perm[i] = p[q[i]]
	}
	nn, err := g.NewNode(ir.OpTranspose, &ir.TransposeAttrs{Perm: perm}, in.Def.Inputs, n.Layer, n.Pos)
	if err != nil {
		return nil, nil, err
	}
	return nn.Outputs[0], []*ir.Node{nn}, nil
}

// identityTranspose: transpose(x, [0, 1, ..., r-1]) -> x.
func identityTranspose(_ *ir.Graph, n *ir.Node, _ map[*ir.Value]int) (*ir.Value, []*ir.Node, error) {
	for i, p := range n.Attrs.(*ir.TransposeAttrs).Perm {
		if p != i {
			return nil, nil, nil
		}
	}
	return n.Inputs[0], nil, nil
}

// reshapeOfReshape: reshape(reshape(x, s1), s2) -> reshape(x, s2): a reshape
// keeps the row-major element order, so only the last shape matters.
func reshapeOfReshape(g *ir.Graph, n *ir.Node, _ map[*ir.Value]int) (*ir.Value, []*ir.Node, error) {
	in := n.Inputs[0]
	if in.Kind != ir.Result || in.Def.Op != ir.OpReshape {
		return nil, nil, nil
	}
	nn, err := g.NewNode(ir.OpReshape, n.Attrs, in.Def.Inputs, n.Layer, n.Pos)
	if err != nil {
		return nil, nil, err
	}
	return nn.Outputs[0], []*ir.Node{nn}, nil
}

// identityReshape: reshape(x) to x's own shape -> x.
func identityReshape(_ *ir.Graph, n *ir.Node, _ map[*ir.Value]int) (*ir.Value, []*ir.Node, error) {
	if n.Inputs[0].Type.Equal(n.Outputs[0].Type) {
		return n.Inputs[0], nil, nil
	}
	return nil, nil, nil
}

// meanAsGlobalPool: reduce_mean(x [N,H,W,C], axes=[1,2]) -> global_avgpool2d(x),
// the same mean over H·W per image and channel, by the pooling kernel; with
// keepdims, reshaped to [N,1,1,C] (a view).
func meanAsGlobalPool(g *ir.Graph, n *ir.Node, _ map[*ir.Value]int) (*ir.Value, []*ir.Node, error) {
	a, x := n.Attrs.(*ir.ReduceAttrs), n.Inputs[0]
	if x.Type.Shape.Rank() != 4 || !slices.Equal(a.Axes, []int{1, 2}) {
		return nil, nil, nil
	}
	pool, err := g.NewNode(ir.OpGlobalAvgPool2D, nil, []*ir.Value{x}, n.Layer, n.Pos)
	if err != nil || !a.KeepDims {
		return pool.Outputs[0], []*ir.Node{pool}, err
	}
	view, err := g.NewNode(ir.OpReshape, &ir.ReshapeAttrs{Shape: n.Outputs[0].Type.Shape}, pool.Outputs, n.Layer, n.Pos)
	if err != nil {
		return nil, nil, err
	}
	return view.Outputs[0], []*ir.Node{pool, view}, nil
}

// padIntoConv: conv2d(pad(x, zeros around H and W), k) -> conv2d(x, k) with
// those pads added to its own: a zero pad and a convolution's padding are the
// same zeros (Keras's ZeroPadding2D before a valid conv). A conv padded
// `same` is left alone: its pads depend on the size it sees.
func padIntoConv(g *ir.Graph, n *ir.Node, _ map[*ir.Value]int) (*ir.Value, []*ir.Node, error) {
	in, a := n.Inputs[0], *n.Attrs.(*ir.ConvAttrs)
	if in.Kind != ir.Result || in.Def.Op != ir.OpPad || a.Padding == ir.Same {
		return nil, nil, nil
	}
	p := in.Def.Attrs.(*ir.PadAttrs)
	if p.Mode != ir.PadConstant || p.Value != 0 || p.Pads[0] != [2]int{} || p.Pads[3] != [2]int{} {
		return nil, nil, nil
	}
	own := a.PadsFor(0, 0, 0, 0) // valid or explicit: no size needed
	a.Padding = ir.Explicit
	a.Pads = [4]int{own[0] + p.Pads[1][0], own[1] + p.Pads[1][1], own[2] + p.Pads[2][0], own[3] + p.Pads[2][1]}
	nn, err := g.NewNode(ir.OpConv2D, &a, slices.Concat(in.Def.Inputs[:1], n.Inputs[1:]), n.Layer, n.Pos)
	if err != nil {
		return nil, nil, err
	}
	return nn.Outputs[0], []*ir.Node{nn}, nil
}
