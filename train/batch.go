package train

import (
	"fmt"

	"github.com/mdlc/mdlc/data"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/tensor"
)

// batchIO holds a step's inputs and outputs on the host, allocated once: the
// examples padded to the batch size, the labels as the loss reads them, each
// example's weight, the loss and the predictions.
type batchIO struct {
	objective Loss
	batch     int
	per       int // floats per example
	classes   int // the prediction's last axis, for one-hot labels and accuracy
	x         []float32
	// xIDs holds the examples as token ids, for a model reading ids;
	// vocab is the ids it accepts, 0..vocab-1.
	xIDs     []int64
	vocab    int
	ids      []int64
	floats   []float32
	weights  []float32
	loss     []float32
	pred     []float32
	predRows int // prediction values per example
	// threshold is where a single prediction per example turns from class
	// 0 to 1: logit 0, or probability 1/2.
	threshold float32
	labels    []int64 // the real labels of the batch, for accuracy
}

// newBatchIO sizes the buffers of s's inputs and outputs.
func newBatchIO(s *stepGraph, obj Objective, batch int) *batchIO {
	b := &batchIO{objective: obj.Loss, batch: batch, per: numel(s.g.Inputs[0].Type.Shape[1:]), threshold: 0.5}
	if obj.Loss.classifies() {
		b.threshold = 0
	}
	b.predRows = numel(s.pred.Type.Shape[1:])
	if r := s.pred.Type.Shape.Rank(); r > 1 {
		b.classes = s.pred.Type.Shape[r-1].Size
	}
	b.x = make([]float32, batch*b.per)
	if x := s.g.Inputs[0]; x.Type.DType != ir.F32 {
		b.xIDs = make([]int64, batch*b.per)
		b.vocab = s.g.TokenLimit(x)
	}
	b.weights = make([]float32, batch)
	b.loss = make([]float32, 1)
	b.pred = make([]float32, batch*b.predRows)
	if s.labels.Type.DType == ir.F32 {
		b.floats = make([]float32, batch*b.predRows)
	} else {
		b.ids = make([]int64, batch*numel(s.labels.Type.Shape[1:]))
	}
	return b
}

func numel(s ir.Shape) int {
	n := 1
	for _, d := range s {
		n *= d.Size
	}
	return n
}

// check says whether a data set of examples of shape (without the batch)
// and class ids in 0..classes-1 fits the step's input and labels.
func (b *batchIO) check(model string, input *ir.Value, ds data.Dataset) error {
	shape, classes := ds.Shape(), ds.Classes()
	tokens, isTokens := ds.(interface{ MaxID() int })
	switch {
	case b.xIDs != nil && (!isTokens || tokens.MaxID() < 0):
		return fmt.Errorf("model %s: its input %s takes token ids; the data holds other values: give token sequences (tokens:FILE)", model, input.Name)
	case b.xIDs != nil && tokens.MaxID() >= b.vocab:
		return fmt.Errorf("model %s: the data holds token id %d, beyond its vocabulary of %d ids", model, tokens.MaxID(), b.vocab)
	case b.xIDs == nil && isTokens && tokens.MaxID() >= 0:
		return fmt.Errorf("model %s: the data is token ids, but its input %s is %s: embed them (an i32 input read by embedding)", model, input.Name, input.Type)
	}
	want := input.Type.Shape[1:]
	ok := len(want) == len(shape)
	for i := 0; ok && i < len(shape); i++ {
		ok = want[i].Size == shape[i]
	}
	if !ok {
		return fmt.Errorf("model %s: its input %s takes examples of shape %s, the data's are %s", model, input.Name, want, tensor.ShapeString(shape))
	}
	switch {
	case b.ids != nil:
		if len(b.ids) != b.batch {
			return fmt.Errorf("model %s: sparse labels for predictions of %d rows per example; the data gives one class per example", model, b.predRows/max(b.classes, 1))
		}
		if classes > b.classes {
			return fmt.Errorf("model %s predicts %d classes; the data has %d", model, b.classes, classes)
		}
	case b.predRows == b.classes && b.classes > 1:
		if classes > b.classes {
			return fmt.Errorf("model %s predicts %d classes; the data has %d", model, b.classes, classes)
		}
	case b.predRows != 1:
		return fmt.Errorf("model %s predicts %d values per example; the data's labels are one class id each", model, b.predRows)
	}
	return nil
}

// fill binds a batch of n examples: x (n·per floats) and y (n class ids).
func (b *batchIO) fill(x []float32, y []int64, n int) ([]plan.Input, error) {
	if n < 1 || n > b.batch {
		return nil, fmt.Errorf("a batch of %d examples for a step of %d", n, b.batch)
	}
	if len(x) < n*b.per || len(y) < n {
		return nil, fmt.Errorf("a batch of %d examples needs %d floats and %d labels, got %d and %d", n, n*b.per, n, len(x), len(y))
	}
	copy(b.x, x[:n*b.per])
	clear(b.x[n*b.per:])
	for i := range b.weights {
		b.weights[i] = 0
		if i < n {
			b.weights[i] = 1 / float32(n)
		}
	}
	b.labels = y[:n]
	var labels plan.Input
	if b.ids != nil {
		copy(b.ids, y[:n])
		clear(b.ids[n:])
		labels = plan.Int64s(b.ids)
	} else {
		clear(b.floats)
		for i, c := range y[:n] {
			if b.predRows == 1 {
				b.floats[i] = float32(c)
			} else {
				b.floats[i*b.predRows+int(c)] = 1
			}
		}
		labels = plan.Floats(b.floats)
	}
	examples := plan.Floats(b.x)
	if b.xIDs != nil {
		for i, v := range b.x {
			b.xIDs[i] = int64(v) // exact: data serves ids below 2^24
		}
		examples = plan.Int64s(b.xIDs)
	}
	return []plan.Input{examples, labels, plan.Floats(b.weights)}, nil
}

// hasAccuracy: predictions are classes (a cross-entropy's, or one value
// per class).
func (b *batchIO) hasAccuracy() bool {
	return b.objective.classifies() || (b.classes > 1 && b.predRows == b.classes)
}

// correct counts the batch's examples whose prediction is their label: the
// largest logit's class, or for one value per example, whether it is above
// the threshold (logit 0) and the label is 1.
func (b *batchIO) correct(n int) int {
	c := 0
	for i, y := range b.labels[:n] {
		row := b.pred[i*b.predRows : (i+1)*b.predRows]
		if b.predRows == 1 {
			if (row[0] > b.threshold) == (y == 1) {
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
