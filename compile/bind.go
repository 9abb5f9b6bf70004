package compile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// Shape is what the caller says about a model's symbolic dimensions: the
// batch (--batch; 0 when not given) and the others by name (--dim T=128).
type Shape struct {
	Batch int
	Dims  map[string]int
}

// BatchSymbol is the symbol on the first axis of the model's first input
// that has one there: what --batch binds ("" when no input has a batch).
func BatchSymbol(g *ir.Graph) string {
	for _, in := range g.Inputs {
		if len(in.Type.Shape) > 0 && !in.Type.Shape[0].Known() {
			return in.Type.Shape[0].Sym
		}
	}
	return ""
}

// InputNames lists a model's inputs with their types, for messages.
func InputNames(g *ir.Graph) string {
	names := make([]string, len(g.Inputs))
	for i, in := range g.Inputs {
		names[i] = in.Name + ": " + in.Type.String()
	}
	return strings.Join(names, ", ")
}

// Bind binds every symbolic dimension of m's inputs: from the fed tensors
// where there are any (each checked against its input's type), else the
// batch symbol from s.Batch (1 when unset) and the others from s.Dims. A
// flag that contradicts a fed tensor is an error, never silently overridden.
// The inputs, outputs and every value of the model at that binding are then
// checked against the budget, so nothing sized from it can exhaust memory.
func (o *Options) Bind(m *Model, s Shape, fed map[string]*tensor.Tensor) (map[string]int, error) {
	g := m.Graph
	batchSym := BatchSymbol(g)
	syms := g.Symbols()
	for _, name := range slices.Sorted(maps.Keys(s.Dims)) {
		switch {
		case slices.Contains(m.Fixed, name):
		case name == batchSym:
			return nil, usagef("--dim %s: %s is the batch dimension; set it with --batch", name, name)
		case !slices.Contains(syms, name):
			return nil, usagef("--dim %s: model %s has no symbolic dimension %s (its inputs are %s)", name, g.Name, name, InputNames(g))
		}
	}
	if s.Batch != 0 && batchSym == "" {
		return nil, usagef("--batch: model %s has no batch dimension: its inputs are %s", g.Name, InputNames(g))
	}
	env := map[string]int{}
	boundBy := map[string]string{}
	for _, in := range g.Inputs {
		if fed[in.Name] == nil && len(fed) > 0 {
			return nil, usagef("missing --input %s=FILE (%s)", in.Name, in.Type)
		}
	}
	for _, in := range g.Inputs {
		t := fed[in.Name]
		if t == nil {
			continue
		}
		if err := checkFed(in, t); err != nil {
			return nil, err
		}
		for i, d := range in.Type.Shape {
			if d.Known() {
				continue
			}
			got := t.Shape[i]
			if prev, ok := env[d.Sym]; ok && prev != got {
				return nil, fmt.Errorf("input %s: dimension %s is %d in %s, but input %s has %s = %d", in.Name, d.Sym, got, tensor.ShapeString(t.Shape), boundBy[d.Sym], d.Sym, prev)
			}
			env[d.Sym], boundBy[d.Sym] = got, in.Name
		}
	}
	for _, sym := range syms {
		want, flag := s.Dims[sym], "--dim "+sym
		if sym == batchSym {
			want, flag = s.Batch, "--batch"
		}
		got, fedIt := env[sym]
		switch {
		case fedIt && want != 0 && want != got:
			return nil, usagef("%s %d contradicts input %s, whose %s is %d: leave out %s, or give an input of that size", flag, want, boundBy[sym], sym, got, flag)
		case fedIt:
		case want != 0:
			env[sym] = want
		case sym == batchSym:
			env[sym] = 1
		default:
			return nil, usagef("model %s has the symbolic dimension %s (inputs %s): give its size with --dim %s=SIZE", g.Name, sym, InputNames(g), sym)
		}
	}
	// Shapes that depend on the binding (a learned table's max_len, a
	// reshape's sizes) are checked before any size is taken from it.
	if err := g.CheckBound(env); err != nil {
		return nil, err
	}
	return env, o.checkSizes(m, env)
}

// checkFed checks a fed tensor's element type, rank and known dimensions
// against its input's declared type.
func checkFed(in *ir.Value, t *tensor.Tensor) error {
	s := in.Type.Shape
	switch {
	case in.Type.DType != ir.F32 && !t.IsInt():
		return fmt.Errorf("input %s is token ids (%s), but was given floats: save the ids as integers (numpy's int32 or int64)", in.Name, in.Type)
	case len(t.Shape) != s.Rank():
		return fmt.Errorf("input %s is %s (rank %d), but was given %s (rank %d)", in.Name, in.Type, s.Rank(), tensor.ShapeString(t.Shape), len(t.Shape))
	}
	for i, d := range s {
		switch {
		case t.Shape[i] < 1:
			return fmt.Errorf("input %s: axis %d of %s must be at least 1", in.Name, i, tensor.ShapeString(t.Shape))
		case d.Known() && d.Size != t.Shape[i]:
			return fmt.Errorf("input %s is %s, but was given %s: axis %d is %d, want %d", in.Name, in.Type, tensor.ShapeString(t.Shape), i, t.Shape[i], d.Size)
		}
	}
	return nil
}

// checkSizes checks, once the symbols are bound, that no input or value of
// the model is too large to compute or to hold.
func (o *Options) checkSizes(m *Model, env map[string]int) error {
	_, err := o.AsWritten(m, env)
	return err
}

// AsWritten is what running the model as written allocates, each result in
// a buffer of its own: the reference runtime's footprint, and the
// baseline that fusion and memory planning are measured against. Each value
// is checked against the budget on the way.
func (o *Options) AsWritten(m *Model, env map[string]int) (int64, error) {
	g := m.Graph
	var total int64
	add := func(v *ir.Value, what string) error {
		b, err := o.valueBytes(v, env, what)
		if err != nil {
			return err
		}
		var ok bool
		if total, ok = size.Add(total, b); !ok {
			return size.Overflow("the model's values")
		}
		return nil
	}
	for _, v := range g.Inputs {
		if _, err := o.valueBytes(v, env, "input "+v.Name); err != nil {
			return 0, err
		}
	}
	for _, n := range g.Nodes {
		for _, v := range n.Outputs {
			if err := add(v, "the result of "+describe(n)); err != nil {
				return 0, err
			}
		}
	}
	return total, nil
}

func (o *Options) valueBytes(v *ir.Value, env map[string]int, what string) (int64, error) {
	shape, err := v.Type.Shape.Bind(env)
	if err != nil {
		return 0, err
	}
	b, ok := size.Bytes(shape, v.Type.DType.Size())
	if !ok {
		return 0, size.Overflow(fmt.Sprintf("%s (%s)", what, tensor.ShapeString(shape)))
	}
	return b, o.budget().Check(fmt.Sprintf("%s (%s)", what, tensor.ShapeString(shape)), b)
}

func describe(n *ir.Node) string {
	if n.Layer != "" {
		return fmt.Sprintf("%s (%s)", n.Layer, n.Op)
	}
	return n.Op.String()
}
