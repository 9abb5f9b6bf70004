package train

import (
	"fmt"
	"math"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/tensor"
	"github.com/mdlc/mdlc/train/step"
)

// Evaluator computes a model's loss and accuracy on batches without
// training it: the forward half of the step, with the parameters as state,
// so the weights a Trainer has reached can be copied in (From) without
// compiling again.
type Evaluator struct {
	model string
	io    *step.Batch
	input *ir.Value
	plan  *plan.Plan
	arena *plan.Arena
	outs  [][]float32
	// metrics are the figures beside the loss, hits their counts on the
	// last batch.
	metrics []Metric
	hits    []int
}

// NewEvaluator compiles model's loss (model is changed: pass a freshly
// loaded one) with weights w; cfg gives the objective, batch size, threads
// and kernels (its optimiser is not used).
func NewEvaluator(model *ir.Graph, w map[string]*tensor.Tensor, cfg Config) (*Evaluator, error) {
	if cfg.BatchSize < 1 {
		return nil, fmt.Errorf("batch size %d: want at least 1", cfg.BatchSize)
	}
	name := model.Name
	s, err := buildStep(model, cfg.Objective, cfg.BatchSize, cfg.Dims, false, cfg.Mode)
	if err != nil {
		return nil, err
	}
	metrics, err := metricsFor(name, s.outType, cfg.Loss, stepShape(s, cfg.Objective, cfg.BatchSize), cfg.Metrics)
	if err != nil {
		return nil, err
	}
	if _, err := passes.RunTraining(s.g, passes.Options{Verify: true}); err != nil {
		return nil, fmt.Errorf("model %s: optimising the evaluation step: %w", name, err)
	}
	p, err := plan.Build(s.g, w, nil, append(planOptions(cfg), plan.Train(nil))...)
	if err != nil {
		return nil, fmt.Errorf("model %s: planning the evaluation step: %w", name, err)
	}
	e := &Evaluator{model: name, io: step.NewBatch(stepShape(s, cfg.Objective, cfg.BatchSize)), input: s.g.Inputs[0], plan: p}
	e.metrics, e.hits = metrics, make([]int, len(metrics))
	e.outs = e.io.Outputs()
	e.arena = p.NewArena()
	return e, nil
}

// From copies the parameters of a training plan (Trainer.Parameters) into
// the evaluator's, by name.
func (e *Evaluator) From(params []float32, layout []plan.ParamRange) error {
	mine := e.plan.Parameters()
	at := map[string]plan.ParamRange{}
	for _, r := range layout {
		at[r.Name] = r
	}
	for _, r := range e.plan.Layout() {
		src, ok := at[r.Name]
		if !ok || src.Size() != r.Size() {
			return fmt.Errorf("model %s: the trainer has no parameter %s of %d values", e.model, r.Name, r.Size())
		}
		copy(mine[r.Offset:r.Offset+r.Size()], params[src.Offset:src.Offset+src.Size()])
	}
	return nil
}

// Batch evaluates one batch of n examples (as Trainer.Step takes them).
func (e *Evaluator) Batch(x []float32, y []int64, n int) (Result, error) {
	loss, correct, err := e.io.Run(e.plan, e.arena, e.outs, x, y, n)
	if err != nil {
		return Result{}, err
	}
	if math.IsNaN(float64(loss)) {
		return Result{}, fmt.Errorf("model %s: the loss is NaN", e.model)
	}
	for i, m := range e.metrics {
		e.hits[i] = m.count(e.io, correct)
	}
	return Result{Loss: float64(loss), Correct: correct, Examples: n, Labelled: e.io.Labelled(), Hits: e.hits}, nil
}

// Metrics are the figures Evaluate reports beside the loss.
func (e *Evaluator) Metrics() []Metric { return e.metrics }

// Predictions are the last batch's predictions (logits for the
// cross-entropies), batch size × values per example; valid until the next
// Batch.
func (e *Evaluator) Predictions() []float32 { return e.io.Predictions }

// Plan is the evaluation step's plan, for mdlc gen --train.
func (e *Evaluator) Plan() *plan.Plan { return e.plan }

// Close releases the arena.
func (e *Evaluator) Close() { e.arena.Close() }
