package train

import (
	"fmt"

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
	return sh
}

func numel(s ir.Shape) int {
	n := 1
	for _, d := range s {
		n *= d.Size
	}
	return n
}

// checkData says whether a data set of examples of shape (without the
// batch) and class ids in 0..classes-1 fits the input and labels of a step
// of shape b.
func checkData(b step.Shape, model string, input *ir.Value, shape []int, classes int) error {
	want := input.Type.Shape[1:]
	ok := len(want) == len(shape)
	for i := 0; ok && i < len(shape); i++ {
		ok = want[i].Size == shape[i]
	}
	if !ok {
		return fmt.Errorf("model %s: its input %s takes examples of shape %s, the data's are %s", model, input.Name, want, tensor.ShapeString(shape))
	}
	switch {
	case b.IDs > 0:
		if b.IDs != b.Batch {
			return fmt.Errorf("model %s: sparse labels for predictions of %d rows per example; the data gives one class per example", model, b.Pred/max(b.Classes, 1))
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
