// Package autodiff is reverse-mode differentiation as a graph
// transformation: Grad appends to a graph the nodes that compute the
// gradient of a loss with respect to chosen values, so the forward and
// backward passes are one graph that the passes, the planner and the
// kernels treat like any other.
//
// Algorithm: mark the nodes that lie on a path from a value in wrt to the
// loss; seed the loss's gradient with ones; visit the marked nodes in
// reverse schedule order, each applying its op's local rule (rules.go) to
// the gradient of its result to get its operands' gradients, and sum the
// contributions a value receives from several readers with add. Operands
// off every path to wrt get no gradient and no nodes.
//
// Invariant: the appended nodes come after every node they read, so the
// schedule stays valid, and the forward nodes are unchanged.
package autodiff

import (
	"fmt"
	"slices"

	"github.com/mdlc/mdlc/ir"
)

// Grad appends to g the backward graph of loss and returns d loss / d w for
// each w of wrt, in order, each of w's type. The loss is seeded with ones,
// so a loss of many elements is differentiated as their sum. A w the loss
// does not depend on gets a zero constant.
func Grad(g *ir.Graph, loss *ir.Value, wrt []*ir.Value) ([]*ir.Value, error) {
	b := &builder{g: g}
	if loss.Type.DType != ir.F32 {
		return nil, fmt.Errorf("autodiff: the loss %s is not a float tensor", loss.Type)
	}
	seed, err := b.filled(loss.Type.Shape, 1)
	if err != nil {
		return nil, fmt.Errorf("autodiff: the loss: %w", err)
	}
	// varies: the values that depend on some w.
	varies := map[*ir.Value]bool{}
	for _, w := range wrt {
		if w.Type.DType != ir.F32 {
			return nil, fmt.Errorf("autodiff: cannot differentiate with respect to %s, which is %s", name(w), w.Type)
		}
		varies[w] = true
	}
	for _, n := range g.Nodes {
		if slices.ContainsFunc(n.Inputs, func(v *ir.Value) bool { return varies[v] }) {
			varies[n.Outputs[0]] = true
		}
	}
	grads := map[*ir.Value]*ir.Value{loss: seed}
	forward := slices.Clone(g.Nodes)
	for i := len(forward) - 1; i >= 0; i-- {
		n := forward[i]
		dy := grads[n.Outputs[0]]
		if dy == nil || !varies[n.Outputs[0]] {
			continue
		}
		need := make([]bool, len(n.Inputs))
		for j, v := range n.Inputs {
			need[j] = varies[v]
		}
		r := rules[n.Op]
		if r == nil {
			reason, _ := NoGradient(n.Op)
			return nil, fmt.Errorf("autodiff: %s%s has no gradient: %s", n.Op, layerOf(n), reason)
		}
		b.pos, b.layer = n.Pos, n.Layer
		dx, err := r(b, n, dy, need)
		if err == nil {
			err = b.err
		}
		if err != nil {
			return nil, fmt.Errorf("autodiff: the gradient of %s%s: %w", n.Op, layerOf(n), err)
		}
		for j, v := range n.Inputs {
			if !need[j] || dx[j] == nil {
				continue
			}
			if prev := grads[v]; prev != nil {
				grads[v] = b.node(ir.OpAdd, nil, prev, dx[j])
			} else {
				grads[v] = dx[j]
			}
		}
		if b.err != nil {
			return nil, fmt.Errorf("autodiff: summing gradients at %s%s: %w", n.Op, layerOf(n), b.err)
		}
	}
	out := make([]*ir.Value, len(wrt))
	for i, w := range wrt {
		if out[i] = grads[w]; out[i] == nil {
			if out[i], err = b.filled(w.Type.Shape, 0); err != nil {
				return nil, fmt.Errorf("autodiff: the zero gradient of %s: %w", name(w), err)
			}
		}
	}
	return out, nil
}

func name(v *ir.Value) string {
	if v.Name != "" {
		return v.Name
	}
	return fmt.Sprintf("%%%d", v.ID)
}

func layerOf(n *ir.Node) string {
	if n.Layer == "" {
		return ""
	}
	return fmt.Sprintf(" (layer %s)", n.Layer)
}

// builder adds the backward nodes, keeping the first error so that rules
// read as formulas.
type builder struct {
	g     *ir.Graph
	err   error
	pos   ir.Pos
	layer string
	// prefix names the constants it adds (prefix.constN); "" is grad.
	prefix string
}

// node appends op(in...) at the position of the forward node being
// differentiated.
func (b *builder) node(op ir.Op, attrs ir.Attrs, in ...*ir.Value) *ir.Value {
	if b.err != nil {
		return nil
	}
	for _, v := range in {
		if v == nil {
			b.err = fmt.Errorf("%s of a missing operand", op)
			return nil
		}
	}
	v, err := b.g.AddNode(op, attrs, in, b.layer, b.pos)
	if err != nil {
		b.err = fmt.Errorf("%s: %w", op, err)
	}
	return v
}

// filled is a constant of the shape, every element c; the shape must be
// known (Graph.Specialise binds symbols).
func (b *builder) filled(s ir.Shape, c float32) (*ir.Value, error) {
	n, ok := s.KnownProduct(0)
	if !ok {
		return nil, fmt.Errorf("the shape %s is not known: specialise the graph for its sizes first", s)
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = c
	}
	prefix := b.prefix
	if prefix == "" {
		prefix = "grad"
	}
	return b.g.AddConst(fmt.Sprintf("%s.const%d", prefix, len(b.g.Consts)), ir.Type{DType: ir.F32, Shape: slices.Clone(s)}, data), nil
}

// scalar is the constant c of shape [].
func (b *builder) scalar(c float32) *ir.Value {
	v, _ := b.filled(ir.Shape{}, c)
	return v
}

func (b *builder) add(x, y *ir.Value) *ir.Value { return b.node(ir.OpAdd, nil, x, y) }
func (b *builder) sub(x, y *ir.Value) *ir.Value { return b.node(ir.OpSub, nil, x, y) }
func (b *builder) mul(x, y *ir.Value) *ir.Value { return b.node(ir.OpMul, nil, x, y) }
func (b *builder) div(x, y *ir.Value) *ir.Value { return b.node(ir.OpDiv, nil, x, y) }
func (b *builder) neg(x *ir.Value) *ir.Value    { return b.node(ir.OpNeg, nil, x) }

// sumTo is THE helper for broadcasting: x summed back to shape s, the shape
// of an operand that was broadcast to x's. Every broadcasting op's rule
// returns its operands' gradients through it.
func (b *builder) sumTo(x *ir.Value, s ir.Shape) *ir.Value {
	if b.err != nil || x.Type.Shape.Equal(s) {
		return x
	}
	return b.node(ir.OpSumTo, &ir.ReshapeAttrs{Shape: slices.Clone(s)}, x)
}

// keep is shape s with axis set to 1: the shape of a reduction over axis
// that keeps it, to broadcast back against s.
func keep(s ir.Shape, axis int) ir.Shape {
	k := slices.Clone(s)
	k[axis] = ir.D(1)
	return k
}

// mean is x's mean over axis, kept as size 1; the axis's size must be known.
func (b *builder) mean(x *ir.Value, axis int) *ir.Value {
	d := x.Type.Shape[axis]
	if !d.Known() {
		b.fail("the size %s of the normalised axis is not known: specialise the graph first", d)
		return nil
	}
	return b.mul(b.sumTo(x, keep(x.Type.Shape, axis)), b.scalar(1/float32(d.Size)))
}

func (b *builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
}

func errUnknown(s ir.Shape) error {
	return fmt.Errorf("the gradient needs the sizes of %s: specialise the graph for its sizes first", s)
}

func errNotYet(format string, args ...any) error {
	return fmt.Errorf("not yet supported: "+format, args...)
}
