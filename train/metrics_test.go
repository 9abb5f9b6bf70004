package train

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/optim"
)

// TestParseMetric: Keras's names and the short ones; what is not a metric
// says what is.
func TestParseMetric(t *testing.T) {
	for name, want := range map[string]Metric{
		"accuracy": Accuracy, "acc": Accuracy, "top5": TopK(5), "top3_accuracy": TopK(3), "top1": TopK(1),
		"sparse_top_k_categorical_accuracy": TopK(5), "top_k_categorical_accuracy:2": TopK(2), "sparse_top_k_categorical_accuracy:10": TopK(10),
	} {
		m, err := ParseMetric(name)
		require.NoError(t, err, name)
		require.Equal(t, want, m, name)
	}
	for name, want := range map[string]string{
		"top0": "k of at least 1", "top-1": "unknown metric", "top": "unknown metric", "precision": "metrics are accuracy, topK",
		"top_k_categorical_accuracy3": "write top_k_categorical_accuracy:K",
	} {
		_, err := ParseMetric(name)
		require.ErrorContains(t, err, want, name)
	}
	ms, err := ParseMetrics("accuracy, top3")
	require.NoError(t, err)
	require.Equal(t, []Metric{Accuracy, TopK(3)}, ms)
	_, err = ParseMetrics("top5,sparse_top_k_categorical_accuracy")
	require.ErrorContains(t, err, "metric top5_accuracy is asked for twice")
	require.Equal(t, "top5_accuracy", TopK(5).String())
}

// TestTopKReported: Fit and Evaluate report top-k accuracy beside accuracy;
// the evaluator's figure is what InTopK's definition gives on the
// predictions of each batch (the reference test of InTopK is in package
// step); the History's CSV has a column per metric and its plot a panel.
func TestTopKReported(t *testing.T) {
	ds := randomData(t, 8, 45, 4, 8, 8, 1)
	cfg := Config{Objective: Objective{Loss: SparseCategoricalCrossentropy}, Optimizer: optim.DefaultAdam, LR: optim.Constant(0.003),
		BatchSize: 8, Metrics: []Metric{Accuracy, TopK(2), TopK(3)}}
	tr, err := New(load(t, smallCNN), initial(t, smallCNN, 3), cfg)
	require.NoError(t, err)
	defer tr.Close()
	h := &History{}
	require.NoError(t, tr.Fit(ds, FitOptions{Epochs: 2, Shuffle: true, Validation: ds, ValEval: evaluator(t, cfg), Callbacks: []Callback{h}}))
	l := h.Epochs[1]
	require.Equal(t, cfg.Metrics, l.Metrics)
	require.True(t, l.Values[0] <= l.Values[1] && l.Values[1] <= l.Values[2] && l.Values[2] < 1, "%v", l.Values)
	var csv, svg bytes.Buffer
	require.NoError(t, h.WriteCSV(&csv))
	require.True(t, strings.HasPrefix(csv.String(), "epoch,loss,accuracy,top2_accuracy,top3_accuracy,val_loss,val_accuracy,val_top2_accuracy,val_top3_accuracy,lr,seconds\n"), csv.String())
	require.NoError(t, h.WriteSVG(&svg, "t"))
	require.Contains(t, svg.String(), ">top3_accuracy</text>")

	e := evaluator(t, cfg)
	require.NoError(t, e.From(tr.Parameters()))
	got, err := e.Evaluate(ds)
	require.NoError(t, err)
	require.Equal(t, l.ValValues, got.Values)
	// The same counts batch by batch from the predictions.
	hits := make([]int, 3)
	x, y := make([]float32, 8*64), make([]int64, 8)
	for start := 0; start < ds.Len(); start += 8 {
		n := min(8, ds.Len()-start)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = start + i
		}
		require.NoError(t, ds.Batch(idx, x, y))
		_, err := e.Batch(x, y, n)
		require.NoError(t, err)
		p := e.Predictions()
		for i := range n {
			row := p[i*4 : (i+1)*4]
			higher := 0
			for _, v := range row {
				if v > row[y[i]] {
					higher++
				}
			}
			if higher == 0 && argmax(row) == int(y[i]) {
				hits[0]++
			}
			for j, k := range []int{2, 3} {
				if higher < k {
					hits[1+j]++
				}
			}
		}
	}
	for i, h := range hits {
		require.Equal(t, float64(h)/45, got.Values[i], cfg.Metrics[i])
	}
}

func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

func evaluator(t *testing.T, cfg Config) *Evaluator {
	e, err := NewEvaluator(load(t, smallCNN), initial(t, smallCNN, 1), cfg)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	return e
}

// TestMetricsThatDoNotFit: accuracy on a regression, top-k with k not
// below the classes and top-k of one value per example are refused, naming
// the metric and what to do; without metrics asked, a regression reports
// none and a classifier accuracy.
func TestMetricsThatDoNotFit(t *testing.T) {
	regression := `model r(x: f32[N, 8, 8, 1]) -> (p: f32[N, 1]) { p = x | flatten | dense(4, activation=relu) | dense(1) }`
	binary := `model b(x: f32[N, 8, 8, 1]) -> (p: f32[N, 1]) { p = x | flatten | dense(4, activation=relu) | dense(1, activation=sigmoid) }`
	for _, c := range []struct {
		src     string
		loss    Loss
		metrics []Metric
		want    string
	}{
		{regression, MeanSquaredError, []Metric{Accuracy}, "model r: the metric accuracy needs predictions that are classes, but its output f32[N,1], trained with mse, is not one score per class: it is a regression; leave accuracy out of the metrics"},
		{smallCNN, SparseCategoricalCrossentropy, []Metric{Accuracy, TopK(4)}, "model small: the metric top4_accuracy: the model predicts 4 classes, so every label is among the top 4; choose k below 4 (top3), or leave it out"},
		{binary, BinaryCrossentropy, []Metric{TopK(1)}, "model b: the metric top1_accuracy ranks one score per class, but its output f32[N,1] has 1 per example: use accuracy instead"},
	} {
		cfg := Config{Objective: Objective{Loss: c.loss}, Optimizer: optim.SGD{}, LR: optim.Constant(0.1), BatchSize: 4, Metrics: c.metrics}
		_, err := New(load(t, c.src), initial(t, c.src, 1), cfg)
		require.EqualError(t, err, c.want)
		_, err = NewEvaluator(load(t, c.src), initial(t, c.src, 1), cfg)
		require.EqualError(t, err, c.want)
	}
	for src, want := range map[string][]Metric{regression: nil, smallCNN: {Accuracy}} {
		loss := MeanSquaredError
		if src == smallCNN {
			loss = SparseCategoricalCrossentropy
		}
		tr, err := New(load(t, src), initial(t, src, 1), Config{Objective: Objective{Loss: loss}, Optimizer: optim.SGD{}, LR: optim.Constant(0.1), BatchSize: 4})
		require.NoError(t, err)
		require.Equal(t, want, tr.Metrics())
		tr.Close()
	}
}
