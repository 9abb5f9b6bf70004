package ir

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// CheckBound re-checks every node with the symbolic dimensions bound to env's
// sizes: a rule that could only assume a symbol's size when the graph was
// checked (a learned positional table of L rows needs T <= L) is held to it
// here, before anything runs. Shapes in attributes (shapedAttrs: reshape's)
// are bound too. env must bind every symbol of the graph.
func (g *Graph) CheckBound(env map[string]int) error {
	bound := binder(env)
	for _, n := range g.Nodes {
		types := make([]Type, len(n.Inputs))
		for i, v := range n.Inputs {
			types[i] = Type{DType: v.Type.DType, Shape: bound(v.Type.Shape)}
		}
		attrs := n.Attrs
		if sa, ok := attrs.(shapedAttrs); ok {
			attrs = sa.bind(bound)
		}
		if _, err := n.Op.infer(attrs, types); err != nil {
			return fmt.Errorf("%s (layer %q) with %s: %w", n.Op, n.Layer, bindingString(env), err)
		}
	}
	return nil
}

// binder returns the function that binds a shape's symbols to env's sizes.
func binder(env map[string]int) func(Shape) Shape {
	return func(s Shape) Shape {
		out := make(Shape, len(s))
		for i, d := range s {
			if d.Known() {
				out[i] = d
			} else {
				out[i] = D(env[d.Sym])
			}
		}
		return out
	}
}

// Specialise binds g's symbolic dimensions to env's sizes, in place: every
// value's type and every shape in attributes. A transformation that needs
// sizes the graph leaves symbolic (autodiff's mean over a batch of N) runs
// on the specialised graph. env must bind every symbol; the graph is
// checked with it first (CheckBound), and nothing changes if that fails.
func (g *Graph) Specialise(env map[string]int) error {
	for _, sym := range g.Symbols() {
		if _, ok := env[sym]; !ok {
			return fmt.Errorf("graph %s: specialise: no size for %s", g.Name, sym)
		}
	}
	if err := g.CheckBound(env); err != nil {
		return fmt.Errorf("graph %s: specialise: %w", g.Name, err)
	}
	bound := binder(env)
	for _, vs := range [][]*Value{g.Inputs, g.Params, g.Consts} {
		for _, v := range vs {
			v.Type.Shape = bound(v.Type.Shape)
		}
	}
	for _, n := range g.Nodes {
		if sa, ok := n.Attrs.(shapedAttrs); ok {
			n.Attrs = sa.bind(bound)
		}
		for _, v := range n.Outputs {
			v.Type.Shape = bound(v.Type.Shape)
		}
	}
	return nil
}

// withBinding is " with N=2, T=5" for an error message, or "" for no symbols.
func withBinding(env map[string]int) string {
	if len(env) == 0 {
		return ""
	}
	return " with " + bindingString(env)
}

func bindingString(env map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, env[k]))
	}
	return strings.Join(parts, ", ")
}

// shapedAttrs are attributes holding shapes, whose symbols CheckBound binds
// too.
type shapedAttrs interface {
	bind(bound func(Shape) Shape) Attrs
}

// TokenLimit bounds the token ids input v may hold to 0..limit-1: the
// smallest vocabulary of the embeddings (and their gradients) that read it
// or number of classes of a sparse cross-entropy's labels, or
// math.MaxInt32 if none does (a padding mask only compares ids, to_float
// reads them as numbers): ids.Range says which ids each limit allows.
func (g *Graph) TokenLimit(v *Value) int {
	limit := math.MaxInt32
	for _, n := range g.Nodes {
		switch {
		case n.Op == OpEmbedding && n.Inputs[0] == v:
			limit = min(limit, n.Inputs[1].Type.Shape[0].Size)
		case n.Op == OpEmbeddingGrad && n.Inputs[0] == v:
			limit = min(limit, n.Outputs[0].Type.Shape[0].Size)
		case n.Op == OpSparseSoftmaxCrossEntropy && n.Inputs[1] == v:
			s := n.Inputs[0].Type.Shape
			limit = min(limit, s[len(s)-1].Size)
		}
	}
	return limit
}
