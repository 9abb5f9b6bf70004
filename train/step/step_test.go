package step

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
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

// TestInTopKAgreesWithSorting: on random logits drawn from a few values (so
// that most rows have ties, many across the k-th place) with some not
// finite, InTopK counts what the definition of in_top_k gives by sorting:
// the label is in when its score is at least the k-th highest of a row of
// finite scores. Ties at the k-th place are all in, so top-1 can count more
// than accuracy's first-of-equals argmax, and top-k for every k counts at
// least as many as accuracy.
func TestInTopKAgreesWithSorting(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const batch, classes = 64, 7
	b := NewBatch(Shape{Batch: batch, Example: 1, Pred: classes, Classes: classes, IDs: batch, Logits: true})
	special := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	tiesAcross := 0
	for round := range 50 {
		y := make([]int64, batch)
		for i := range y {
			y[i] = int64(r.IntN(classes))
		}
		n := 1 + r.IntN(batch)
		_, err := b.Fill(make([]float32, batch), y, n)
		require.NoError(t, err)
		for i := range b.Predictions {
			b.Predictions[i] = float32(r.IntN(4)) - 1.5
			if r.IntN(100) == 0 {
				b.Predictions[i] = special[r.IntN(len(special))]
			}
		}
		for k := 1; k <= classes; k++ {
			want := 0
			for i, label := range y[:n] {
				row := slices.Clone(b.Predictions[i*classes : (i+1)*classes])
				finite := !slices.ContainsFunc(row, func(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) })
				target := row[label]
				slices.SortFunc(row, func(a, b float32) int { return cmp.Compare(b, a) })
				if finite && target >= row[k-1] {
					want++
					if k < classes && row[k-1] == row[k] {
						tiesAcross++
					}
				}
			}
			require.Equal(t, want, b.InTopK(k), "round %d, k %d", round, k)
			require.GreaterOrEqual(t, b.InTopK(k), b.Correct()-nonFiniteRows(b, n), "round %d, k %d", round, k)
		}
	}
	require.Greater(t, tiesAcross, 100, "the rows have ties across the k-th place")
	require.Zero(t, testing.AllocsPerRun(10, func() { b.InTopK(3) }))
}

// nonFiniteRows counts the rows of the first n examples with a score that
// is not finite, which accuracy may count right and in_top_k never does.
func nonFiniteRows(b *Batch, n int) int {
	c := 0
	for i := range n {
		if slices.ContainsFunc(b.Predictions[i*b.Pred:(i+1)*b.Pred], func(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) }) {
			c++
		}
	}
	return c
}

// TestLossMean: losses weighted by their examples; nothing yet is 0.
func TestLossMean(t *testing.T) {
	var m LossMean
	require.Zero(t, m.Mean())
	m.Add(1, 3)
	m.Add(0.5, 1)
	require.Equal(t, 3.5/4, m.Mean())
}

// TestFillPerPosition: with a target per position, each label that counts
// weighs 1/k (k of them in the batch, the short batch's padding and the
// Ignore'd positions weighing 0), the labels input holds the ids (0 where
// Ignore'd), and accuracy and top-k count positions, not examples. An id
// beyond the classes, a batch of padding only, and Ignore where there is one
// label an example are refused.
func TestFillPerPosition(t *testing.T) {
	// 3 examples of 2 positions, 4 classes: Pred 8, IDs 6.
	b := NewBatch(Shape{Batch: 3, Example: 2, Pred: 8, Classes: 4, IDs: 6, Targets: 2, Logits: true})
	in, err := b.Fill([]float32{1, 2, 3, 0}, []int64{2, 3, 1, Ignore}, 2)
	require.NoError(t, err)
	require.Equal(t, []int64{2, 3, 1, 0, 0, 0}, b.ids)
	third := float32(1) / 3
	require.Equal(t, []float32{third, third, third, 0, 0, 0}, in[2].Floats)
	require.Equal(t, 3, b.Labelled())
	copy(b.Predictions, []float32{
		0, 0, 9, 0, 0, 0, 0, 9, // example 0: positions predict 2 (right) and 3 (right)
		0, 0, 0, 9, 9, 9, 9, 9, // example 1: 3 (wrong: 1), then a padded position
		9, 9, 9, 9, 9, 9, 9, 9, // the padding example
	})
	require.Equal(t, 2, b.Correct())
	require.Equal(t, 2, b.InTopK(1))
	require.Equal(t, 3, b.InTopK(4))

	_, err = b.Fill(make([]float32, 2), []int64{1, 4}, 1)
	require.ErrorContains(t, err, "example 0: label 4 is not one of the model's classes 0..3")
	_, err = b.Fill(make([]float32, 2), []int64{Ignore, Ignore}, 1)
	require.ErrorContains(t, err, "whose every label is -1 (padding)")
	one := NewBatch(Shape{Batch: 2, Example: 1, Pred: 3, Classes: 3, IDs: 2})
	_, err = one.Fill(make([]float32, 2), []int64{1, Ignore}, 2)
	require.ErrorContains(t, err, "example 1: label -1 is not one of the model's classes 0..2")
}
