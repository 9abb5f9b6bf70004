package ir

import (
	"fmt"

	"github.com/mdlc/mdlc/internal/size"
)

// The byte totals a driver checks against the memory budget before it
// allocates anything for a graph: each is computed with overflow-checked
// arithmetic, and an overflow is a *size.Error naming the value, so a hostile
// shape is refused rather than wrapped into a small number.

// ParamBytes is the bytes of every parameter and constant: what weights.Init
// or a weight file allocates for the graph.
func (g *Graph) ParamBytes() (int64, error) {
	return g.valueBytes("the weights of model "+g.Name, nil, g.Params, g.Consts)
}

// InputBytes is the bytes of the inputs with the symbols bound by env.
func (g *Graph) InputBytes(env map[string]int) (int64, error) {
	return g.valueBytes("the inputs of model "+g.Name, env, g.Inputs)
}

// ValueBytes is the bytes of every node's result with the symbols bound by
// env: the model as written, each intermediate value held at once. A memory
// plan that reuses buffers needs less; no run needs more beside the inputs
// and the weights.
func (g *Graph) ValueBytes(env map[string]int) (int64, error) {
	results := make([]*Value, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		results = append(results, n.Outputs...)
	}
	return g.valueBytes("the intermediate values of model "+g.Name, env, results)
}

// CheckBudget checks that the weights, the inputs and every intermediate
// value of g, with the symbols bound by env, fit the budget together; the
// error says how much each part takes.
func (g *Graph) CheckBudget(env map[string]int, b size.Budget) error {
	params, err := g.ParamBytes()
	if err != nil {
		return err
	}
	inputs, err := g.InputBytes(env)
	if err != nil {
		return err
	}
	values, err := g.ValueBytes(env)
	if err != nil {
		return err
	}
	what := "model " + g.Name + withBinding(env)
	total, ok := size.Add(params, inputs)
	if ok {
		total, ok = size.Add(total, values)
	}
	if !ok {
		return size.Overflow(what)
	}
	what += fmt.Sprintf(" (weights %s, inputs %s, intermediate values %s)", size.Format(params), size.Format(inputs), size.Format(values))
	return b.Check(what, total)
}

// valueBytes sums the bytes of the values of each list, bound by env.
func (g *Graph) valueBytes(what string, env map[string]int, lists ...[]*Value) (int64, error) {
	total := int64(0)
	for _, vs := range lists {
		for _, v := range vs {
			dims, err := v.Type.Shape.Bind(env)
			if err != nil {
				return 0, fmt.Errorf("%s: %s %s: %w", what, describe(v), v.Type, err)
			}
			n, ok := size.Bytes(dims, v.Type.DType.Size())
			if ok {
				total, ok = size.Add(total, n)
			}
			if !ok {
				return 0, size.Overflow(fmt.Sprintf("%s, at %s %s", what, describe(v), v.Type))
			}
		}
	}
	return total, nil
}
