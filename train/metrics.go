package train

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/train/step"
)

// Metric is a figure reported beside the loss, as Keras's compile(metrics=)
// asks for them: the fraction of examples the predictions get right, by one
// rule or another. It is counted on the host from each batch's predictions
// (package step), allocating nothing.
type Metric struct {
	// K is 0 for accuracy: the class of the largest prediction (the first
	// of equal ones) is the label, or, for one prediction per example, it
	// is on the label's side of the threshold (step.Batch.Correct).
	// Otherwise top-K accuracy: the label is among the K highest
	// predictions, classes tied at the K-th place all counting as in, as
	// TensorFlow's in_top_k (step.Batch.InTopK).
	K int
}

// Accuracy is Keras's accuracy.
var Accuracy = Metric{}

// TopK is top-k accuracy, Keras's sparse_top_k_categorical_accuracy.
func TopK(k int) Metric { return Metric{K: k} }

// String is the metric's name in reports, CSV columns and JSON:
// accuracy, top5_accuracy.
func (m Metric) String() string {
	if m.K == 0 {
		return "accuracy"
	}
	return fmt.Sprintf("top%d_accuracy", m.K)
}

// MetricHelp says how ParseMetric's names are written.
const MetricHelp = "accuracy, topK (e.g. top5), sparse_top_k_categorical_accuracy[:K] (K 5 unless given)"

// ParseMetric reads a metric by one of its names: accuracy (or acc); topK
// or topK_accuracy; Keras's sparse_top_k_categorical_accuracy and
// top_k_categorical_accuracy, which are the same here (labels are class ids
// whatever the loss), with Keras's k of 5 or another after a colon.
func ParseMetric(s string) (Metric, error) {
	switch s {
	case "accuracy", "acc":
		return Accuracy, nil
	}
	k := -1
	if rest, ok := strings.CutPrefix(s, "top"); ok {
		rest = strings.TrimSuffix(rest, "_accuracy")
		if n, err := strconv.Atoi(rest); err == nil && rest[0] != '+' && rest[0] != '-' {
			k = n
		}
	}
	for _, name := range []string{"sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy"} {
		if rest, ok := strings.CutPrefix(s, name); ok {
			k = 5
			if rest != "" {
				n, err := strconv.Atoi(strings.TrimPrefix(rest, ":"))
				if !strings.HasPrefix(rest, ":") || err != nil {
					return Metric{}, fmt.Errorf("metric %q: write %s:K for k other than 5, e.g. %s:3", s, name, name)
				}
				k = n
			}
		}
	}
	switch {
	case k == -1:
		return Metric{}, fmt.Errorf("unknown metric %q; metrics are %s", s, MetricHelp)
	case k < 1:
		return Metric{}, fmt.Errorf("metric %q: top-k needs k of at least 1", s)
	}
	return TopK(k), nil
}

// ParseMetrics reads a comma-separated list of metrics, each once.
func ParseMetrics(list string) ([]Metric, error) {
	var ms []Metric
	for name := range strings.SplitSeq(list, ",") {
		m, err := ParseMetric(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		for _, prev := range ms {
			if prev == m {
				return nil, fmt.Errorf("metric %s is asked for twice", m)
			}
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// count is how many of the last batch's examples m counts right, correct
// being the batch's step.Batch.Correct.
func (m Metric) count(b *step.Batch, correct int) int {
	if m.K == 0 {
		return correct
	}
	return b.InTopK(m.K)
}

// metricsFor checks the metrics asked for against a step of shape sh whose
// predictions pred are trained with loss, and returns them; nil asks for
// accuracy when the predictions are classes, as mdlc always reported it.
func metricsFor(model string, pred string, loss Loss, sh step.Shape, asked []Metric) ([]Metric, error) {
	if asked == nil {
		if sh.HasAccuracy() {
			return []Metric{Accuracy}, nil
		}
		return nil, nil
	}
	perClass := sh.Classes > 1 && sh.Pred == sh.Classes*sh.PerExample()
	for i, m := range asked {
		switch {
		case m.K < 0:
			return nil, fmt.Errorf("metric %d: top-k needs k of at least 1, not %d", i+1, m.K)
		case m.K == 0 && !sh.HasAccuracy():
			return nil, fmt.Errorf("model %s: the metric accuracy needs predictions that are classes, but its output %s, trained with %s, is not one score per class: it is a regression; leave accuracy out of the metrics",
				model, pred, loss)
		case m.K > 0 && !perClass:
			return nil, fmt.Errorf("model %s: the metric %s ranks one score per class, but its output %s has %d per example: use accuracy instead",
				model, m, pred, sh.Pred)
		case m.K >= sh.Classes:
			return nil, fmt.Errorf("model %s: the metric %s: the model predicts %d classes, so every label is among the top %d; choose k below %d (top%d), or leave it out",
				model, m, sh.Classes, m.K, sh.Classes, sh.Classes-1)
		}
	}
	return asked, nil
}

// epochSums are the figures of a pass over data so far: the examples, and
// the loss and each metric's hits over the labels of the batches done (the
// examples, or the positions that are not padding). A trainer's are part of a
// checkpoint, so an epoch resumed in the middle reports, and a plateau
// schedule watches, what the uninterrupted epoch would have.
type epochSums struct {
	loss     step.LossMean
	hits     []int
	examples int
}

// add adds a batch's result.
func (e *epochSums) add(r Result) {
	e.loss.Add(float32(r.Loss), r.Labelled)
	e.examples += r.Examples
	for i, h := range r.Hits {
		e.hits[i] += h
	}
}

func (e *epochSums) reset() {
	e.loss, e.examples = step.LossMean{}, 0
	clear(e.hits)
}

// fill writes the means into l, whose Values has a place for each metric.
func (e *epochSums) fill(l *Logs) {
	l.Examples, l.Loss = e.examples, e.loss.Mean()
	for i, h := range e.hits {
		l.Values[i] = float64(h) / float64(max(e.loss.Labels, 1))
	}
}
