package compile

import (
	"bytes"
	"fmt"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/stdlib"
	"github.com/mdlc/mdlc/tensor"
	"github.com/mdlc/mdlc/weights"
)

// Weights are a model's parameters and where they came from.
type Weights struct {
	Tensors map[string]*tensor.Tensor
	// Fresh is true when they were initialised from a seed, not loaded:
	// the model has learned nothing, which a command must say.
	Fresh bool
	// Shipped describes the weights that ship with a stdlib model, when
	// those are the ones loaded (from their metadata: the data and the
	// accuracy reached), which a command should say too.
	Shipped string
}

// LoadWeights loads Options.Weights (renamed by Options.WeightsMap, in
// Options.WeightsLayout); or, for a stdlib model as stdlib
// writes it, the weights that ship with it (unless Options.Untrained); or
// initialises every parameter from Options.Seed. Either way the model's
// parameter bytes are checked against the budget first, and a file's tensor
// names and shapes against the model before any tensor is decoded.
func (o *Options) LoadWeights(m *Model) (*Weights, error) {
	if o.Weights == "" && (o.WeightsMap != "" || o.WeightsLayout == LayoutTorch) {
		return nil, fmt.Errorf("--weights-map and --weights-layout describe a weights file: give it with --weights")
	}
	if o.Weights == "" && !o.Untrained {
		if b, ok := shipped(m); ok {
			ts, meta, err := weights.ReadModel(bytes.NewReader(b), int64(len(b)), m.Graph, o.budget())
			if err != nil {
				return nil, fmt.Errorf("the weights shipped with %s: %w (a bug in mdlc)", m.Graph.Name, err)
			}
			return &Weights{Tensors: ts, Shipped: meta["description"]}, nil
		}
	}
	if o.Weights == "" && m.Weights != nil && !o.Untrained {
		if err := weights.Check(m.Graph, m.Weights); err != nil {
			return nil, fmt.Errorf("the weights imported with %s: %w (a bug in mdlc's importer)", m.File, err)
		}
		return &Weights{Tensors: m.Weights}, nil
	}
	if o.Weights == "" {
		ts, err := weights.InitWithin(m.Graph, o.Seed, o.budget())
		return &Weights{Tensors: ts, Fresh: true}, err
	}
	if o.WeightsMap != "" || o.WeightsLayout == LayoutTorch {
		ts, err := o.loadCheckpoint(m)
		return &Weights{Tensors: ts}, err
	}
	ts, err := weights.LoadWithin(o.Weights, m.Graph, o.budget())
	return &Weights{Tensors: ts}, err
}

// shipped is the weights that ship with m, if m is a stdlib model as stdlib
// writes it (an edited copy is another model, which the weights may not
// fit in meaning even where they fit in shape).
func shipped(m *Model) ([]byte, bool) {
	src, ok := stdlib.Source(m.Graph.Name)
	if !ok || !bytes.Equal(src, m.Source) {
		return nil, false
	}
	return stdlib.Trained(m.Graph.Name)
}

// Optimise binds the weights into m's graph as constants and runs the pass
// pipeline over it (up to Options.StopAfter). The graph is changed in place.
func (o *Options) Optimise(m *Model, w *Weights) ([]passes.Stat, error) {
	if o.StopAfter != "" && passes.Lookup(o.StopAfter) == nil {
		return nil, usagef("no pass named %q; passes are %s", o.StopAfter, passes.Names())
	}
	if err := passes.BindWeights(m.Graph, w.Tensors); err != nil {
		return nil, err
	}
	return passes.Run(m.Graph, passes.Options{Verify: true, StopAfter: o.StopAfter})
}

// Plan compiles m's graph, optimised or not, for the binding env. params are
// the weights of an unoptimised graph (nil once Optimise has bound them).
// The arena is checked against the budget before any run allocates it.
func (o *Options) Plan(m *Model, params map[string]*tensor.Tensor, env map[string]int) (*plan.Plan, error) {
	var opts []plan.Option
	if o.Kernels != "" {
		opts = append(opts, plan.Kernels(o.Kernels))
	}
	if o.Threads > 0 {
		opts = append(opts, plan.Threads(o.Threads))
	}
	p, err := plan.Build(m.Graph, params, env, opts...)
	if err != nil {
		return nil, err
	}
	// What a run holds at once: the arena, the inputs and outputs, the
	// weights (packed, about their own size).
	total := p.ArenaBytes()
	for _, part := range []func() (int64, error){m.Graph.ParamBytes, func() (int64, error) { return m.Graph.InputBytes(env) }, func() (int64, error) { return portBytes(p.Outputs()) }} {
		n, err := part()
		if err == nil {
			var ok bool
			if total, ok = size.Add(total, n); !ok {
				err = size.Overflow("running model " + m.Graph.Name)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if err := o.budget().Check(fmt.Sprintf("running model %s (arena %s, weights, inputs and outputs)", m.Graph.Name, size.Format(p.ArenaBytes())), total); err != nil {
		return nil, err
	}
	return p, nil
}

// Compiled is a model ready to run: its plan, or, unoptimised, its graph and
// weights for the reference runtime.
type Compiled struct {
	Model   *Model
	Env     map[string]int
	Weights *Weights
	Plan    *plan.Plan
	// AsWritten is the model as written's footprint (see Options.AsWritten)
	// and Flops its FLOPs at Env, counted before optimisation changed the
	// graph, so that rates compare across optimisation levels and runtimes.
	AsWritten, Flops int64
}

// Compile runs every stage on a loaded model for the binding that s and the
// fed tensors give: weights, then optimisation and plan (with NoOpt, neither:
// Execute runs the graph as written; Plan can still plan it).
func (o *Options) Compile(m *Model, s Shape, fed map[string]*tensor.Tensor) (*Compiled, error) {
	env, err := o.Bind(m, s, fed)
	if err != nil {
		return nil, err
	}
	written, err := o.AsWritten(m, env)
	if err != nil {
		return nil, err
	}
	flops, err := m.Graph.FlopsBound(env)
	if err != nil {
		return nil, err
	}
	w, err := o.LoadWeights(m)
	if err != nil {
		return nil, err
	}
	c := &Compiled{Model: m, Env: env, Weights: w, AsWritten: written, Flops: flops}
	if o.NoOpt {
		return c, nil
	}
	if _, err := o.Optimise(m, w); err != nil {
		return nil, err
	}
	if c.Plan, err = o.Plan(m, nil, env); err != nil {
		return nil, err
	}
	return c, nil
}

// Execute runs a compiled model on inputs bound as in Compile: the plan, or
// with NoOpt the reference runtime on the graph as written (which checks the
// model as written against the budget before it starts).
func (o *Options) Execute(c *Compiled, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	if o.NoOpt {
		return ref.RunWithin(c.Model.Graph, c.Weights.Tensors, inputs, o.budget())
	}
	return c.Plan.RunTensors(inputs)
}

func portBytes(ports []plan.Port) (int64, error) {
	var total int64
	for _, p := range ports {
		n, ok := size.Bytes(p.Shape, 4)
		if ok {
			total, ok = size.Add(total, n)
		}
		if !ok {
			return 0, size.Overflow("output " + p.Name)
		}
	}
	return total, nil
}
