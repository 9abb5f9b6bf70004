package train

import (
	"fmt"

	"github.com/mdlc/mdlc/data"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
	"github.com/mdlc/mdlc/train/step"
)

// stepShape is the sizes the host half of s's step (package step) binds
// at batch size batch.
func stepShape(s *stepGraph, obj Objective, batch int) step.Shape {
	sh := step.Shape{Batch: batch, Example: numel(s.g.Inputs[0].Type.Shape[1:]), Pred: numel(s.pred.Type.Shape[1:]), Logits: obj.Loss.classifies()}
	if r := s.pred.Type.Shape.Rank(); r > 1 {
		sh.Classes = s.pred.Type.Shape[r-1].Size
	}
	if s.labels.Type.DType != ir.F32 {
		sh.IDs = batch * numel(s.labels.Type.Shape[1:])
	}
	sh.Targets = s.targets
	if x := s.g.Inputs[0]; x.Type.DType != ir.F32 {
		sh.Vocab = s.g.TokenLimit(x)
	}
	return sh
}

func numel(s ir.Shape) int {
	n := 1
	for _, d := range s {
		n *= d.Size
	}
	return n
}

// checkData says whether a data set's examples and class ids fit the input
// and labels of a step of shape b. A data set that can name its records
// (data.Memory) names the first that does not fit.
func checkData(b step.Shape, model string, input *ir.Value, ds data.Dataset) error {
	shape, classes := ds.Shape(), ds.Classes()
	tokens, isTokens := ds.(interface{ MaxID() int })
	named, _ := ds.(interface {
		CheckIDs(vocab int) error
		CheckLabels(classes int) error
	})
	switch {
	case b.Vocab > 0 && (!isTokens || tokens.MaxID() < 0):
		return fmt.Errorf("model %s: its input %s takes token ids; the data holds other values: give token sequences (tokens:FILE, or next-token:FILE for a language model)", model, input.Name)
	case b.Vocab > 0 && tokens.MaxID() >= b.Vocab && named != nil:
		return fmt.Errorf("model %s: %w", model, named.CheckIDs(b.Vocab))
	case b.Vocab > 0 && tokens.MaxID() >= b.Vocab:
		return fmt.Errorf("model %s: the data holds token id %d, beyond its vocabulary of %d ids", model, tokens.MaxID(), b.Vocab)
	case b.Vocab == 0 && isTokens && tokens.MaxID() >= 0:
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
	if per := ds.Targets(); per > 1 && (b.IDs == 0 || b.Targets != per) {
		if b.IDs == 0 {
			return fmt.Errorf("model %s: the data has a target per position (%d an example), which only sparse_categorical_crossentropy reads", model, per)
		}
		return fmt.Errorf("model %s: the data has %d targets an example, one per position; the model predicts %d rows an example", model, per, b.Pred/max(b.Classes, 1))
	}
	switch {
	case b.IDs > 0:
		if b.IDs != b.Batch*ds.Targets() {
			return fmt.Errorf("model %s: sparse labels for predictions of %d rows per example; the data gives one class per example: for a language model's next tokens give next-token:FILE", model, b.Pred/max(b.Classes, 1))
		}
		if classes > b.Classes && named != nil {
			return fmt.Errorf("model %s: %w", model, named.CheckLabels(b.Classes))
		}
		if classes > b.Classes {
			return fmt.Errorf("model %s predicts %d classes; the data has %d", model, b.Classes, classes)
		}
	case b.Pred == b.Classes && b.Classes > 1:
		if classes > b.Classes {
			return fmt.Errorf("model %s predicts %d classes; the data has %d", model, b.Classes, classes)
		}
	case b.Pred != 1:
		return fmt.Errorf("model %s predicts %d values per example; the data's labels are one class id each", model, b.Pred)
	}
	return nil
}
