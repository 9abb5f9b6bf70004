// Package step is the host half of a training or evaluation step, the work
// around its plan's run: binding a batch as the step graph's inputs (the
// examples padded to the batch size with zero-weight examples, the labels as
// the loss reads them, each label's weight), counting the labels the
// predictions get right, and the optimiser's update of the trainable
// parameters from the gradients the run computed.
//
// Package train and the packages mdlc gen --train writes both call it, so a
// generated trainer takes exactly train's steps. It imports only optim and
// runtime/exec, which a generated package links anyway: no tensor, no IR, no
// image decoders.
package step

import (
	"fmt"
	"math"

	"github.com/mdlc/mdlc/optim"
	"github.com/mdlc/mdlc/runtime/exec"
)

// GradPrefix starts the names of a training step's gradient outputs:
// "grad/" and the parameter's name.
const GradPrefix = "grad/"

// Shape is what the host half of a step knows of its graph: sizes only, so
// that mdlc gen can write it as a literal.
type Shape struct {
	// Batch is the examples per step; Example the floats of each (the
	// input's size without the batch axis).
	Batch, Example int
	// Pred is the prediction's values per example; Classes its last axis
	// (0 when it has only the batch axis).
	Pred, Classes int
	// IDs is the class ids the labels input holds per batch when the loss
	// reads class ids (sparse cross-entropy); 0 when it reads rows of floats
	// shaped as the prediction, made from the ids (one-hot, or the id itself
	// for one value per example).
	IDs int
	// Targets is the labels per example when there are several, a class
	// id per position (a language model's next tokens, IDs = Batch·Targets,
	// Pred = Targets·Classes): each is weighed in the loss and counted by
	// the metrics, but those that are Ignore (padding). 0 is one per
	// example.
	Targets int
	// Vocab, if positive, says the input is token ids, each in
	// 0..Vocab-1: the examples, given as floats, are converted.
	Vocab int
	// Logits says the predictions are a cross-entropy's logits: a single
	// one per example is class 1 above 0, not above 1/2, and accuracy is
	// counted whatever the shape.
	Logits bool
}

// Batch is a step's inputs and outputs on the host, allocated once.
type Batch struct {
	Shape
	x, floats, weights []float32
	ids, xIDs          []int64
	inputs             []exec.Input
	labels             []int64 // the real labels of the batch, for accuracy
	// labelled is the labels of the last batch that count (not Ignore).
	labelled int
	// Loss and Predictions are the step's loss (one float) and predictions
	// (Batch rows of Pred values), bound as its first two outputs.
	Loss, Predictions []float32
}

// NewBatch allocates the buffers of a step of shape s.
func NewBatch(s Shape) *Batch {
	b := &Batch{Shape: s, x: make([]float32, s.Batch*s.Example), weights: make([]float32, s.Batch*s.PerExample()), Loss: make([]float32, 1), Predictions: make([]float32, s.Batch*s.Pred)}
	labels := exec.Input{}
	if s.IDs > 0 {
		b.ids = make([]int64, s.IDs)
		labels = exec.Int64s(b.ids)
	} else {
		b.floats = make([]float32, s.Batch*s.Pred)
		labels = exec.Floats(b.floats)
	}
	examples := exec.Floats(b.x)
	if s.Vocab > 0 {
		b.xIDs = make([]int64, len(b.x))
		examples = exec.Int64s(b.xIDs)
	}
	b.inputs = []exec.Input{examples, labels, exec.Floats(b.weights)}
	return b
}

// Ignore is a label that does not count: a padded position's target (as
// package data serves it). Only per-position labels (Targets) may be Ignore.
const Ignore = -1

// PerExample is the labels of one example: Targets, or 1.
func (s Shape) PerExample() int { return max(s.Targets, 1) }

// Outputs are the slices a step's run writes: the loss, the predictions,
// then more (a training step's gradients).
func (b *Batch) Outputs(more ...[]float32) [][]float32 {
	return append([][]float32{b.Loss, b.Predictions}, more...)
}

// Fill binds a batch of n examples, x (n·Example floats, NHWC) and y (n
// class ids, or n·Targets, some Ignore), as the step's inputs (examples,
// labels, sample weights). The examples past n, and the labels that are
// Ignore, weigh zero; the k labels that count weigh 1/k each, so the loss,
// and its gradient, is exactly their mean.
func (b *Batch) Fill(x []float32, y []int64, n int) ([]exec.Input, error) {
	if n < 1 || n > b.Batch {
		return nil, fmt.Errorf("a batch of %d examples for a step of %d", n, b.Batch)
	}
	per := b.PerExample()
	if len(x) < n*b.Example || len(y) < n*per {
		return nil, fmt.Errorf("a batch of %d examples needs %d floats and %d labels, got %d and %d", n, n*b.Example, n*per, len(x), len(y))
	}
	b.labels = y[:n*per]
	b.labelled = 0
	limit := int64(b.labelLimit())
	for i, c := range b.labels {
		switch {
		case c == Ignore && b.Targets > 0:
		case limit > 0 && (c < 0 || c >= limit):
			return nil, fmt.Errorf("example %d: label %d is not one of the model's classes 0..%d", i/per, c, limit-1)
		default:
			b.labelled++
		}
	}
	if b.labelled == 0 {
		return nil, fmt.Errorf("a batch of %d examples whose every label is %d (padding): nothing to learn from", n, Ignore)
	}
	copy(b.x, x[:n*b.Example])
	clear(b.x[n*b.Example:])
	for i := range b.weights {
		b.weights[i] = 0
		if i < len(b.labels) && b.labels[i] != Ignore {
			b.weights[i] = 1 / float32(b.labelled)
		}
	}
	if b.ids != nil {
		for i, c := range b.labels {
			b.ids[i] = max(c, 0) // an Ignore'd label weighs nothing: any class will do
		}
		clear(b.ids[len(b.labels):])
	} else {
		clear(b.floats)
		for i, c := range b.labels {
			if b.Pred == 1 {
				b.floats[i] = float32(c)
			} else {
				b.floats[i*b.Pred+int(c)] = 1
			}
		}
	}
	if b.xIDs != nil {
		for i, v := range b.x {
			b.xIDs[i] = int64(v) // exact: ids below 2^24, as data serves them
		}
	}
	return b.inputs, nil
}

// labelLimit bounds a label: the classes a sparse loss reads, or the
// prediction's values (a one-hot row of them); 0, no bound, for one value
// per example, which takes the label as it is.
func (s Shape) labelLimit() int {
	switch {
	case s.IDs > 0:
		return s.Classes
	case s.Pred > 1:
		return s.Pred
	}
	return 0
}

// Labelled is the labels of the last batch that count: its examples, or,
// with Targets, its positions that are not Ignore. An epoch's loss and
// metrics are means over them.
func (b *Batch) Labelled() int { return b.labelled }

// HasAccuracy says whether the predictions are classes: a cross-entropy's,
// or one value per class.
func (s Shape) HasAccuracy() bool {
	return s.Logits || (s.Classes > 1 && s.Pred == s.Classes)
}

// Correct counts the labels of the last batch (Labelled) whose prediction is
// right: the largest value's class, or for one value per example, whether
// it is above the threshold (logit 0, or probability 1/2) and the label is 1.
func (b *Batch) Correct() int {
	threshold := float32(0.5)
	if b.Logits {
		threshold = 0
	}
	c, w := 0, b.Pred/b.PerExample()
	for i, y := range b.labels {
		if y == Ignore {
			continue
		}
		row := b.Predictions[i*w : (i+1)*w]
		if b.Pred == 1 {
			if (row[0] > threshold) == (y == 1) {
				c++
			}
			continue
		}
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if int64(best) == y {
			c++
		}
	}
	return c
}

// InTopK counts the labels of the last batch (Labelled) that are among the k
// highest of their predictions, one per class (Pred == Classes·PerExample), as
// TensorFlow's in_top_k decides for Keras's top-k accuracy: the label's
// class is in when fewer than k classes score strictly higher than it, so
// classes tied at the k-th place are all in (two classes tied for first
// both make the top 1); a row with a score that is not finite is a miss.
// It reads the predictions in place and allocates nothing.
func (b *Batch) InTopK(k int) int {
	c, w := 0, b.Pred/b.PerExample()
	for i, y := range b.labels {
		row := b.Predictions[i*w : (i+1)*w]
		if y < 0 || y >= int64(len(row)) {
			continue
		}
		target := row[y]
		higher, finite := 0, true
		for _, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				finite = false
				break
			}
			if v > target {
				higher++
			}
		}
		if finite && higher < k {
			c++
		}
	}
	return c
}

// LossMean is the mean of a run of batches' losses, each weighted by its
// labels that count (Labelled: its examples, or its positions that are not
// padding) and summed in order in float64: an epoch's loss as mdlc train
// reports it and a plateau schedule watches it. Train and generated
// trainers both sum with it, so they watch the same bits.
type LossMean struct {
	Sum    float64
	Labels int
}

// Add adds a batch of n labels (Labelled) whose mean loss was loss.
func (m *LossMean) Add(loss float32, n int) {
	m.Sum += float64(loss) * float64(n)
	m.Labels += n
}

// Mean is the mean loss per label (0 before any).
func (m LossMean) Mean() float64 { return m.Sum / float64(max(m.Labels, 1)) }

// Runner runs a step's program: a *plan.Plan, or a generated package's
// *exec.Program.
type Runner interface {
	Run(a *exec.Arena, inputs []exec.Input, outputs [][]float32) error
}

// Run binds a batch of n examples (as Fill takes them), runs the step on a
// with outputs (Outputs: Loss and Predictions first) and returns the loss and the
// labels predicted right (Correct, of Labelled).
func (b *Batch) Run(r Runner, a *exec.Arena, outputs [][]float32, x []float32, y []int64, n int) (loss float32, correct int, err error) {
	inputs, err := b.Fill(x, y, n)
	if err != nil {
		return 0, 0, err
	}
	if err := r.Run(a, inputs, outputs); err != nil {
		return 0, 0, err
	}
	return b.Loss[0], b.Correct(), nil
}

// Update is the optimiser's half of a training step: its rule, learning
// rate and gradient clipping, its state (Slots() slices as long as the
// trainable parameters) and the steps taken.
type Update struct {
	Optimizer optim.Optimizer
	LR        optim.Schedule
	// ClipNorm, if positive, scales the gradients to at most this global
	// L2 norm before each update.
	ClipNorm float64
	State    [][]float32
	Step     int
}

// NewUpdate is an update of n trainable parameters, its state initialised.
func NewUpdate(o optim.Optimizer, lr optim.Schedule, clipNorm float64, n int) *Update {
	u := &Update{Optimizer: o, LR: lr, ClipNorm: clipNorm, State: make([][]float32, o.Slots())}
	for i := range u.State {
		u.State[i] = make([]float32, n)
	}
	o.Init(u.State)
	return u
}

// Apply takes one optimiser step on params from grads (clipped in place),
// after a run whose loss was loss; a loss that is not finite is refused and
// the parameters are left as they were.
func (u *Update) Apply(loss float32, params, grads []float32) error {
	lr := u.LR.LR(u.Step)
	if l := float64(loss); math.IsNaN(l) || math.IsInf(l, 0) {
		return fmt.Errorf("the loss is %v at step %d: lower the learning rate (now %g) or clip the gradients", l, u.Step, lr)
	}
	if u.ClipNorm > 0 {
		optim.ClipGlobalNorm(grads, u.ClipNorm)
	}
	if err := u.Optimizer.Update(params, grads, u.State, lr, u.Step); err != nil {
		return err
	}
	u.Step++
	return nil
}

// EndEpoch tells an adaptive schedule (optim.Adaptive: reduce on plateau)
// the value it watches at the end of an epoch: the validation loss, or the
// training loss (LossMean) without validation data. Other schedules need
// nothing.
func (u *Update) EndEpoch(watched float64) {
	if a, ok := u.LR.(optim.Adaptive); ok {
		a.Observe(watched)
	}
}

// Bind gives the constant and state slots of prog, written out without their
// data, their memory: the constant slots, in slot order, consts one after
// another (kept, not copied: read only, they may be shared); the state slots,
// in slot order, a trainer's parameters, slot k at params[at[k]:]. Programs
// bound to the same params share the parameters: an evaluation step reads
// what the training step last wrote.
func Bind(prog *exec.Program, consts, params []float32, at []int) error {
	c, k := 0, 0
	for i := range prog.Slots {
		s := &prog.Slots[i]
		switch s.Kind {
		case exec.SlotConstant:
			if c+s.N > len(consts) {
				return fmt.Errorf("%s: %d floats of constants for slots that hold more", prog.Name, len(consts))
			}
			s.Data = consts[c : c+s.N : c+s.N]
			c += s.N
		case exec.SlotState:
			if k == len(at) || at[k] < 0 || at[k]+s.N > len(params) {
				return fmt.Errorf("%s: state slot %d is not within the %d parameters", prog.Name, i, len(params))
			}
			s.Data = params[at[k] : at[k]+s.N : at[k]+s.N]
			k++
		}
	}
	if c != len(consts) || k != len(at) {
		return fmt.Errorf("%s: %d floats of constants and %d parameter offsets for slots that hold %d and %d", prog.Name, len(consts), len(at), c, k)
	}
	return nil
}
