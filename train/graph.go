package train

import (
	"fmt"
	"slices"

	"github.com/mdlc/mdlc/autodiff"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/train/step"
)

// Objective is what a model is trained to do: a loss on one of its outputs.
type Objective struct {
	Loss Loss
	// FromLogits says the output is logits. Otherwise a cross-entropy loss
	// wants the model to end in the activation that makes probabilities
	// (softmax over the last axis, or sigmoid for binary cross-entropy),
	// which the loss absorbs: the gradient is taken through the fused,
	// numerically stable form, as Keras does for a final softmax.
	FromLogits bool
	// Output names the output trained; empty for a model with one output.
	Output string
}

// The ports of a step graph, beside the model's own input: its labels and
// each label's weight in the loss (an example's, or with labels per
// position, a position's); its loss, its predictions (logits for
// the cross-entropies) and, in a training step, one gradient per trainable
// parameter (named step.GradPrefix and its name), in the order of
// Graph.Params.
const (
	LabelsInput  = "labels"
	WeightsInput = "sample_weight"
	LossOutput   = "loss"
	PredOutput   = "prediction"
)

// stepGraph is a model turned into a loss (and, for training, gradients)
// for one batch size.
type stepGraph struct {
	g      *ir.Graph
	params []*ir.Value // trainable, in the order of the gradient outputs
	// labels is the labels input: class ids (i32, one per prediction row)
	// for sparse cross-entropy, floats of the prediction's shape otherwise.
	labels *ir.Value
	// targets is the labels per example when sparse cross-entropy reads a
	// row per position ([N, T, C] predictions: a language model's next
	// tokens), each weighted on its own; 0 otherwise.
	targets int
	pred    *ir.Value
	// outType is the trained output's type as the model declares it
	// (before the batch is bound), for messages.
	outType string
	// forward marks the nodes of the forward pass and the loss, which the
	// backward half may read.
	forward map[*ir.Node]bool
	// form is the training forms of batch norm and dropout, whose updates
	// (running statistics, dropout's step) join the plan's state.
	form *autodiff.TrainingForm
}

// savedBytes is the bytes of the forward pass's results the backward half
// reads: the activations a training step keeps that inference would free.
func (s *stepGraph) savedBytes() int64 {
	seen := map[*ir.Value]bool{}
	var total int64
	for _, n := range s.g.Nodes {
		if s.forward[n] {
			continue
		}
		for _, v := range n.Inputs {
			if v.Def != nil && s.forward[v.Def] && !seen[v] {
				seen[v] = true
				total += int64(numel(v.Type.Shape)) * 4
			}
		}
	}
	return total
}

// buildStep turns model (changed in place: pass a freshly loaded one) into
// the loss of obj at batch size n, with sample weights: loss = Σ_i w_i ·
// loss_i over the batch's examples, loss_i averaged over each example's
// elements; but sparse cross-entropy over a row per position ([N, T, C]
// predictions) weighs each position, loss = Σ_{i,t} w_{i,t} · loss_{i,t},
// so that padding (weight 0) is left out and the loss is the mean over the
// positions that count, as PyTorch's cross-entropy with an ignore_index.
// With grads it also appends the backward graph. The model must have one
// input, whose first axis is the batch; dims binds its other symbolic
// sizes (a language model's length T).
func buildStep(model *ir.Graph, obj Objective, n int, dims map[string]int, grads bool, mode autodiff.TrainingModeOptions) (*stepGraph, error) {
	g := model
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("model %s has %d inputs; training reads one input (the examples) from a data set", g.Name, len(g.Inputs))
	}
	x := g.Inputs[0]
	if x.Type.Shape.Rank() == 0 {
		return nil, fmt.Errorf("model %s: input %s %s has no batch axis", g.Name, x.Name, x.Type)
	}
	out, err := pickOutput(g, obj.Output)
	if err != nil {
		return nil, err
	}
	s := &stepGraph{g: g, outType: out.Type.String()}
	pred, err := s.prediction(out, obj)
	if err != nil {
		return nil, err
	}
	s.pred = pred
	// dims may name sizes an imported model fixed already.
	env := map[string]int{}
	for _, sym := range g.Symbols() {
		if d, ok := dims[sym]; ok {
			env[sym] = d
		}
	}
	if b := x.Type.Shape[0]; !b.Known() {
		if _, ok := dims[b.Sym]; ok {
			return nil, fmt.Errorf("model %s: %s is the batch axis of %s; its size is the batch size", g.Name, b.Sym, x.Name)
		}
		env[b.Sym] = n
	} else if b.Size != n {
		return nil, fmt.Errorf("model %s: input %s %s has a fixed batch of %d; the batch size is %d", g.Name, x.Name, x.Type, b.Size, n)
	}
	for _, sym := range g.Symbols() {
		if _, ok := env[sym]; !ok {
			return nil, fmt.Errorf("model %s: the size %s of its input %s %s is not the batch: give it with --dim %s=SIZE (next-token data sets it to its longest sequence's length less one)", g.Name, sym, x.Name, x.Type, sym)
		}
	}
	if err := g.Specialise(env); err != nil {
		return nil, err
	}
	if grads {
		// Batch norms normalise with the batch's statistics and dropouts
		// drop; the output and the logits under it are looked up again,
		// since a dropout at the end would have been replaced.
		if s.form, err = autodiff.TrainingMode(g, mode); err != nil {
			return nil, fmt.Errorf("model %s: %w", g.Name, err)
		}
		if out, err = pickOutput(g, obj.Output); err != nil {
			return nil, err
		}
		if s.pred, err = s.prediction(out, obj); err != nil {
			return nil, err
		}
		pred = s.pred
	}
	if out.Type.Shape.Rank() == 0 || out.Type.Shape[0].Size != n {
		return nil, fmt.Errorf("model %s: output %s %s does not have the batch as its first axis", g.Name, obj.Output, out.Type)
	}
	add := func(op ir.Op, attrs ir.Attrs, in ...*ir.Value) *ir.Value {
		if err != nil {
			return nil
		}
		var v *ir.Value
		v, err = g.AddNode(op, attrs, in, "loss", ir.Pos{})
		return v
	}
	var perElem *ir.Value
	switch obj.Loss {
	case SparseCategoricalCrossentropy:
		s.labels = g.AddInput(LabelsInput, ir.Type{DType: ir.I32, Shape: slices.Clone(pred.Type.Shape[:pred.Type.Shape.Rank()-1])})
		perElem = add(ir.OpSparseSoftmaxCrossEntropy, nil, pred, s.labels)
	case CategoricalCrossentropy:
		s.labels = g.AddInput(LabelsInput, pred.Type)
		perElem = add(ir.OpSoftmaxCrossEntropy, nil, pred, s.labels)
	case BinaryCrossentropy:
		// From logits z: softplus(z) - z·y, stable for large |z|.
		s.labels = g.AddInput(LabelsInput, pred.Type)
		perElem = add(ir.OpSub, nil, add(ir.OpSoftplus, nil, pred), add(ir.OpMul, nil, pred, s.labels))
	case MeanSquaredError, MeanAbsoluteError:
		s.labels = g.AddInput(LabelsInput, pred.Type)
		d := add(ir.OpSub, nil, pred, s.labels)
		if obj.Loss == MeanSquaredError {
			perElem = add(ir.OpMul, nil, d, d)
		} else {
			perElem = add(ir.OpAbs, nil, d)
		}
	default:
		return nil, fmt.Errorf("unknown loss %s", obj.Loss)
	}
	if err != nil {
		return nil, fmt.Errorf("model %s: the %s loss of output %s: %w", g.Name, obj.Loss, out.Type, err)
	}
	perExample, wType := perElem, ir.T(n)
	if r := perElem.Type.Shape.Rank(); r > 1 && obj.Loss == SparseCategoricalCrossentropy {
		s.targets, wType = numel(perElem.Type.Shape[1:]), perElem.Type
	} else if r > 1 {
		axes := make([]int, r-1)
		for i := range axes {
			axes[i] = i + 1
		}
		perExample = add(ir.OpReduceMean, &ir.ReduceAttrs{Axes: axes}, perElem)
	}
	w := g.AddInput(WeightsInput, wType)
	loss := add(ir.OpSumTo, &ir.ReshapeAttrs{Shape: ir.Shape{}}, add(ir.OpMul, nil, perExample, w))
	if err != nil {
		return nil, fmt.Errorf("model %s: the %s loss: %w", g.Name, obj.Loss, err)
	}
	g.Outputs = []ir.Output{{Name: LossOutput, Value: loss}, {Name: PredOutput, Value: pred}}
	if !grads {
		return s, nil
	}
	for _, p := range g.Params {
		if p.Trainable {
			s.params = append(s.params, p)
		}
	}
	if len(s.params) == 0 {
		return nil, fmt.Errorf("model %s has no trainable parameters", g.Name)
	}
	s.forward = map[*ir.Node]bool{}
	for _, n := range g.Nodes {
		s.forward[n] = true
	}
	gs, err := autodiff.Grad(g, loss, s.params)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", g.Name, err)
	}
	for i, p := range s.params {
		g.AddOutput(step.GradPrefix+p.Name, gs[i])
	}
	return s, nil
}

// pickOutput is the output named name, or the only one.
func pickOutput(g *ir.Graph, name string) (*ir.Value, error) {
	var names []string
	for _, o := range g.Outputs {
		if o.Name == name || (name == "" && len(g.Outputs) == 1) {
			return o.Value, nil
		}
		names = append(names, o.Name)
	}
	if name == "" {
		return nil, fmt.Errorf("model %s has %d outputs (%v): say which one the loss is on", g.Name, len(g.Outputs), names)
	}
	return nil, fmt.Errorf("model %s has no output %q; its outputs are %v", g.Name, name, names)
}

// prediction is what the loss reads: for the cross-entropies the logits
// under the model's final softmax or sigmoid (unless FromLogits), else the
// output itself.
func (s *stepGraph) prediction(out *ir.Value, obj Objective) (*ir.Value, error) {
	if obj.FromLogits || !obj.Loss.classifies() {
		return out, nil
	}
	def := out.Def
	want := "softmax over its last axis"
	if obj.Loss == BinaryCrossentropy {
		want = "sigmoid"
		if def != nil && def.Op == ir.OpSigmoid {
			return def.Inputs[0], nil
		}
	} else if def != nil && def.Op == ir.OpSoftmax && def.Attrs.(*ir.AxisAttrs).Axis == out.Type.Shape.Rank()-1 {
		return def.Inputs[0], nil
	}
	by := "an input"
	if def != nil {
		by = def.Op.String()
	}
	return nil, fmt.Errorf("model %s: %s needs probabilities from a %s, but the output %s is computed by %s: end the model with activation=%s, or train it from logits (--from-logits)",
		s.g.Name, obj.Loss, want, out.Type, by, map[bool]string{true: "sigmoid", false: "softmax"}[obj.Loss == BinaryCrossentropy])
}
