package train

import (
	"encoding"
	"fmt"
	"maps"
	"slices"

	"github.com/mdlc/mdlc/autodiff"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/optim"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/tensor"
	"github.com/mdlc/mdlc/train/step"
)

// Config is how a model is trained: Keras's compile (the objective and the
// optimiser) and the batch size.
type Config struct {
	Objective
	Optimizer optim.Optimizer
	// LR is the learning rate by optimiser step (counted from 0). An
	// optim.Adaptive one (reduce on plateau) is told at the end of each
	// epoch of Fit the validation loss, or the training loss without
	// validation data (Monitored); it is the trainer's own, and its state
	// is part of a checkpoint.
	LR        optim.Schedule
	BatchSize int
	// Metrics are the figures reported beside the loss; nil is accuracy
	// when the predictions are classes. A metric that does not fit the
	// model is refused.
	Metrics []Metric
	// ClipNorm, if positive, scales the gradients to at most this global
	// L2 norm before each update.
	ClipNorm float64
	// Mode is how batch norm and dropout train: the convention of the
	// running statistics (Keras's by default) and dropout's seed.
	Mode    autodiff.TrainingModeOptions
	Threads int
	Kernels cpu.Set
}

// Trainer runs a model's training step: one plan computes the loss, the
// predictions and every trainable parameter's gradient into one slice, and
// the optimiser's fused kernel updates the plan's parameters, held as its
// state (plan.Parameters), in one pass. A step allocates nothing.
//
// A batch smaller than the batch size (the last of an epoch) runs through
// the same plan: its missing examples are zero with weight zero in the loss,
// which averages over the real ones, so the gradient is exactly the smaller
// batch's.
type Trainer struct {
	cfg   Config
	model string
	io    *step.Batch
	plan  *plan.Plan
	arena *plan.Arena
	// trainable is the prefix of the plan's parameters the optimiser
	// updates; grads is their gradients, in the same layout.
	trainable []float32
	grads     []float32
	outputs   [][]float32
	upd       *step.Update
	pos       Position
	metrics   []Metric
	// hits is each metric's count on the last batch; epoch sums the
	// epoch under way (Fit).
	hits  []int
	epoch epochSums
	input *ir.Value
	saved int64
	// own names the model's parameters, which Weights returns: not the
	// step counter training adds.
	own map[string]bool
	// kept are callbacks whose state checkpoints carry (Keep), by name.
	kept map[string]Stateful
}

// Stateful is a callback with state a resumed run needs, such as early
// stopping's count of epochs without improvement.
type Stateful interface {
	encoding.TextMarshaler
	encoding.TextUnmarshaler
}

// Keep makes checkpoints carry s's state under name, and Restore give it
// back, so that a resumed run stops, and saves its best, as the
// uninterrupted one would.
func (t *Trainer) Keep(name string, s Stateful) {
	if t.kept == nil {
		t.kept = map[string]Stateful{}
	}
	t.kept[name] = s
}

// New compiles model's training step (model is changed: pass a freshly
// loaded one) with w as the initial weights.
func New(model *ir.Graph, w map[string]*tensor.Tensor, cfg Config) (*Trainer, error) {
	if cfg.BatchSize < 1 {
		return nil, fmt.Errorf("batch size %d: want at least 1", cfg.BatchSize)
	}
	if cfg.Optimizer == nil || cfg.LR == nil {
		return nil, fmt.Errorf("training needs an optimiser and a learning rate")
	}
	name := model.Name
	own := map[string]bool{}
	for _, p := range model.Params {
		own[p.Name] = true
	}
	s, err := buildStep(model, cfg.Objective, cfg.BatchSize, true, cfg.Mode)
	if err != nil {
		return nil, err
	}
	metrics, err := metricsFor(name, s.outType, cfg.Loss, stepShape(s, cfg.Objective, cfg.BatchSize), cfg.Metrics)
	if err != nil {
		return nil, err
	}
	if _, err := passes.RunTraining(s.g, passes.Options{Verify: true}); err != nil {
		return nil, fmt.Errorf("model %s: optimising the training step: %w", name, err)
	}
	// The updates are no output, so they join the graph after the passes,
	// whose dead-code elimination would drop them.
	updates, err := s.form.Updates()
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	w = maps.Clone(w)
	s.form.AddWeights(w)
	p, err := plan.Build(s.g, w, nil, append(planOptions(cfg), plan.Train(updates))...)
	if err != nil {
		return nil, fmt.Errorf("model %s: planning the training step: %w", name, err)
	}
	t := &Trainer{cfg: cfg, model: name, plan: p, own: own, io: step.NewBatch(stepShape(s, cfg.Objective, cfg.BatchSize)), input: s.g.Inputs[0], saved: s.savedBytes()}
	t.metrics, t.hits, t.epoch.hits = metrics, make([]int, len(metrics)), make([]int, len(metrics))
	n := 0
	for _, r := range p.Layout() {
		if r.Trainable {
			n += r.Size()
		}
	}
	t.trainable = p.Parameters()[:n]
	t.grads = make([]float32, n)
	ranges := p.Layout()
	var grads [][]float32
	for i, v := range s.params {
		r := ranges[slices.IndexFunc(ranges, func(r plan.ParamRange) bool { return r.Name == v.Name })]
		if got := p.Outputs()[2+i]; got.Name != step.GradPrefix+v.Name {
			return nil, fmt.Errorf("model %s: the plan's output %d is %s, want the gradient of %s (a bug in mdlc)", name, 2+i, got.Name, v.Name)
		}
		grads = append(grads, t.grads[r.Offset:r.Offset+r.Size()])
	}
	t.outputs = t.io.Outputs(grads...)
	t.upd = step.NewUpdate(cfg.Optimizer, cfg.LR, cfg.ClipNorm, n)
	t.arena = p.NewArena()
	return t, nil
}

// planOptions are the plan's threads and kernels; the caller adds
// plan.Train with its updates.
func planOptions(cfg Config) []plan.Option {
	var opts []plan.Option
	if cfg.Threads > 0 {
		opts = append(opts, plan.Threads(cfg.Threads))
	}
	if cfg.Kernels != "" {
		opts = append(opts, plan.Kernels(cfg.Kernels))
	}
	return opts
}

// Result is a batch's loss, how many of its examples the model classified
// correctly (step.Batch.Correct, meaningful when the predictions are
// classes) and each metric's count of examples right.
type Result struct {
	Loss     float64
	Correct  int
	Examples int
	// Hits holds a count for each of the trainer's or evaluator's
	// metrics, in order; it is theirs, valid until the next batch.
	Hits []int
}

// Step trains on one batch of n examples: x holds them (n·example floats,
// NHWC), y their class ids. It returns the batch's loss and accuracy before
// the update, as Keras reports them.
func (t *Trainer) Step(x []float32, y []int64, n int) (Result, error) {
	loss, correct, err := t.io.Run(t.plan, t.arena, t.outputs, x, y, n)
	if err != nil {
		return Result{}, err
	}
	for i, m := range t.metrics {
		t.hits[i] = m.count(t.io, correct)
	}
	if err := t.upd.Apply(loss, t.trainable, t.grads); err != nil {
		return Result{}, fmt.Errorf("model %s: %w (--clip-norm)", t.model, err)
	}
	return Result{Loss: float64(loss), Correct: correct, Examples: n, Hits: t.hits}, nil
}

// Steps is the number of optimiser steps taken.
func (t *Trainer) Steps() int { return t.upd.Step }

// Position is where Fit is in the data: the epoch under way and its
// batches done.
func (t *Trainer) Position() Position { return t.pos }

// Metrics are the figures Fit reports beside the loss.
func (t *Trainer) Metrics() []Metric { return t.metrics }

// Weights are the model's current parameters, copied, by name.
func (t *Trainer) Weights() map[string]*tensor.Tensor {
	w := weightsOf(t.plan)
	maps.DeleteFunc(w, func(name string, _ *tensor.Tensor) bool { return !t.own[name] })
	return w
}

// Parameters is the live parameter slice of the training plan (see
// plan.Parameters): an Evaluator copies from it.
func (t *Trainer) Parameters() ([]float32, []plan.ParamRange) {
	return t.plan.Parameters(), t.plan.Layout()
}

// ArenaBytes is the training step's planned arena.
func (t *Trainer) ArenaBytes() int64 { return t.plan.ArenaBytes() }

// SavedBytes is the bytes of forward activations the step keeps for its
// backward half.
func (t *Trainer) SavedBytes() int64 { return t.saved }

// Plan is the training step's plan, for reports and mdlc gen --train.
func (t *Trainer) Plan() *plan.Plan { return t.plan }

// StepShape is the sizes of the step's host half (package step).
func (t *Trainer) StepShape() step.Shape { return t.io.Shape }

// Profile makes later steps record each plan step's time (the optimiser's
// update, run after the plan, is not among them) and returns the slice they
// record into (plan.Arena.Profile).
func (t *Trainer) Profile() []plan.StepTime { return t.arena.Profile() }

// Close releases the step's arena and its helper goroutines.
func (t *Trainer) Close() { t.arena.Close() }

func weightsOf(p *plan.Plan) map[string]*tensor.Tensor {
	all := p.Parameters()
	out := map[string]*tensor.Tensor{}
	for _, r := range p.Layout() {
		out[r.Name] = &tensor.Tensor{Shape: slices.Clone(r.Shape), Data: slices.Clone(all[r.Offset : r.Offset+r.Size()])}
	}
	return out
}
