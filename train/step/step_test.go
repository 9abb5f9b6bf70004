package step

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/runtime/exec"
)

// TestFillPads: a short batch is its examples then zeros, each real example
// weighing 1/n and the padding 0; one-hot rows are made from the ids; a
// batch larger than the step is refused.
func TestFillPads(t *testing.T) {
	b := NewBatch(Shape{Batch: 3, Example: 2, Pred: 3, Classes: 3})
	in, err := b.Fill([]float32{1, 2, 3, 4}, []int64{2, 0}, 2)
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2, 3, 4, 0, 0}, in[0].Floats)
	require.Equal(t, []float32{0, 0, 1, 1, 0, 0, 0, 0, 0}, in[1].Floats)
	require.Equal(t, []float32{0.5, 0.5, 0}, in[2].Floats)
	copy(b.Predictions, []float32{0, 1, 2, 5, 1, 0, 9, 9, 9})
	require.Equal(t, 2, b.Correct(), "the padding row is not counted")
	_, err = b.Fill(make([]float32, 8), make([]int64, 4), 4)
	require.ErrorContains(t, err, "a batch of 4 examples for a step of 3")
}

// TestBind: state slots point into the shared parameters; a table that
// does not fit them is refused.
func TestBind(t *testing.T) {
	prog := &exec.Program{Name: "p", Slots: []exec.Slot{{}, {Kind: exec.SlotState, N: 2}, {Kind: exec.SlotConstant, N: 1}, {Kind: exec.SlotState, N: 1}}}
	params := []float32{1, 2, 3}
	require.NoError(t, Bind(prog, []float32{7}, params, []int{1, 0}))
	params[1] = 5
	require.Equal(t, []float32{5, 3}, prog.Slots[1].Data)
	require.Equal(t, []float32{1}, prog.Slots[3].Data)
	require.Equal(t, []float32{7}, prog.Slots[2].Data)
	require.ErrorContains(t, Bind(prog, []float32{7}, params, []int{2, 0}), "not within the 3 parameters")
	require.ErrorContains(t, Bind(prog, nil, params, []int{1, 0}), "constants")
}
