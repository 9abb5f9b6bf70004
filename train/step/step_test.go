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
