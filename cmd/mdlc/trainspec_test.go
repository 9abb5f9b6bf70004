package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/train"
)

// tinyTrained is tinyModel with a train block.
const tinyTrained = `model tiny(image: f32[N, 6, 6, 1]) -> (probs: f32[N, 3]) {
  probs = image | conv2d(4, kernel=3, activation=relu) | flatten | dense(3, activation=softmax)
  train {
    loss = sparse_categorical_crossentropy
    optimizer = sgd(lr=0.05, momentum=0.9)
    metrics = [accuracy, top_k(k=2)]
    batch_size = 16
    epochs = 3
    validation_split = 0.2
    schedule = step(every=2, gamma=0.5)
  }
}
`

// jsonEpochs runs mdlc train --json and returns its epochs' records.
func jsonEpochs(t *testing.T, args ...string) []map[string]float64 {
	t.Helper()
	code, out, errs := mdlc(t, append([]string{"train", "--json"}, args...)...)
	require.Equal(t, 0, code, errs)
	var recs []map[string]float64
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r map[string]float64
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		recs = append(recs, r)
	}
	return recs
}

// TestTrainBlockDefaults: mdlc train takes a model's train block for the
// flags not given (its epochs, batch size, split, optimiser, rate and
// schedule), and a flag given wins over the block.
func TestTrainBlockDefaults(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.mdl")
	require.NoError(t, os.WriteFile(model, []byte(tinyTrained), 0o644))
	spec := tinyData(t, dir, 300, 1)
	w := filepath.Join(dir, "w.safetensors")

	code, out, errs := mdlc(t, "train", "--data", spec, "-o", w, model)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "Training tiny on 240 examples ("+spec+"), validating on 60; batch 16, 15 steps per epoch, sgd, loss sparse_categorical_crossentropy\n")
	require.Contains(t, out, "Epoch 3/3\n15/15 - ")

	recs := jsonEpochs(t, "--data", spec, "-o", w, model)
	require.Len(t, recs, 3)
	// step(every=2, gamma=0.5) from the block's lr: halved after 2 epochs.
	require.Equal(t, []float64{0.05, 0.05, 0.025}, []float64{recs[0]["lr"], recs[1]["lr"], recs[2]["lr"]})
	require.Contains(t, recs[0], "val_loss")
	require.Contains(t, recs[0], "val_top2_accuracy")

	// mdlc evaluate measures what the block asks for, under --metrics.
	code, out, errs = mdlc(t, "evaluate", "--data", spec, "--weights", w, model)
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `^10/10 - \S+ - loss: \S+ - accuracy: \S+ - top2_accuracy: \S+\n$`, out)
	code, out, errs = mdlc(t, "evaluate", "--data", spec, "--weights", w, "--metrics", "top1", model)
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `^10/10 - \S+ - loss: \S+ - top1_accuracy: \S+\n$`, out)

	// Flags win; the block's lr was sgd's, so Adam takes its own default.
	code, out, errs = mdlc(t, "train", "--data", spec, "-o", w, "--epochs", "2", "--batch-size", "20",
		"--optimizer", "adam", "--validation-data", spec, model)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "Training tiny on 300 examples ("+spec+"), validating on 300; batch 20, 15 steps per epoch, adam, ")
	require.Contains(t, out, "Epoch 2/2\n")
	recs = jsonEpochs(t, "--data", spec, "-o", w, "--optimizer", "adam", "--schedule", "constant", "--validation-split", "0", model)
	require.Len(t, recs, 3)
	require.Equal(t, 0.001, recs[2]["lr"])
	require.NotContains(t, recs[0], "val_loss")
}

// TestTrainBlockNames: every loss, optimiser, schedule and metric a train
// block may name is one mdlc train runs.
func TestTrainBlockNames(t *testing.T) {
	losses, optimizers, schedules, metrics := sema.TrainNames()
	for _, l := range losses {
		_, err := train.ParseLoss(l)
		require.NoError(t, err, l)
	}
	for _, o := range optimizers {
		f := &trainFlags{}
		f.specDefaults(&compile.TrainSpec{Optimizer: o}, nil)
		_, _, err := f.makeOptimizer("")
		require.NoError(t, err, o)
	}
	for _, s := range schedules {
		f := &trainFlags{}
		f.specDefaults(&compile.TrainSpec{Schedule: s, ScheduleEvery: 2, ScheduleGamma: 0.5}, nil)
		_, err := scheduleFor(f.schedule, 0.1, 10, 3)
		require.NoError(t, err, s)
	}
	dir := t.TempDir()
	for _, m := range metrics {
		path := filepath.Join(dir, m+".mdl")
		src := "model m(x: f32[N, 8]) -> (y) {\n  y = x | dense(10, activation=softmax)\n  train {\n    metrics = [" + m + "]\n  }\n}\n"
		require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
		model, err := compile.Load(path, "", compile.LoadOptions{})
		require.NoError(t, err, m)
		f := &trainFlags{}
		f.specDefaults(model.Train, nil)
		_, err = metricsOf(f.metrics)
		require.NoError(t, err, m)
	}
}

// TestMetricFitAgrees: a metric that does not fit a model is one its train
// block is refused for (mdlc check) exactly when mdlc train refuses it as a
// flag, saying which metric; the others train.
func TestMetricFitAgrees(t *testing.T) {
	dir := t.TempDir()
	spec := tinyData(t, dir, 12, 4)
	for _, c := range []struct {
		head, loss, block, flag string
		fits                    bool
	}{
		{"dense(3, activation=softmax)", "sparse_categorical_crossentropy", "top_k(k=2)", "top2", true},
		{"dense(3, activation=softmax)", "sparse_categorical_crossentropy", "top_k(k=3)", "top3", false},
		{"dense(1)", "mse", "accuracy", "accuracy", false},
		{"dense(1)", "mse", "top_k(k=1)", "top1", false},
		{"dense(4)", "mse", "accuracy", "accuracy", true},
		{"dense(4)", "mse", "top_k(k=3)", "top3", true},
		{"dense(4)", "mse", "top_k(k=4)", "top4", false},
		{"dense(1, activation=sigmoid)", "binary_crossentropy", "accuracy", "accuracy", true},
		{"dense(1, activation=sigmoid)", "binary_crossentropy", "top_k(k=1)", "top1", false},
	} {
		model := "model m(image: f32[N, 6, 6, 1]) -> (y) {\n  y = image | flatten | " + c.head + "\n%s}\n"
		withBlock, plain := filepath.Join(dir, "block.mdl"), filepath.Join(dir, "plain.mdl")
		require.NoError(t, os.WriteFile(withBlock, []byte(fmt.Sprintf(model, "  train {\n    loss = "+c.loss+"\n    metrics = ["+c.block+"]\n  }\n")), 0o644))
		require.NoError(t, os.WriteFile(plain, []byte(fmt.Sprintf(model, "")), 0o644))
		code, _, errs := mdlc(t, "check", withBlock)
		require.Equal(t, c.fits, code == 0, "%+v: mdlc check: %s", c, errs)
		code, _, errs = mdlc(t, "train", "--data", spec, "--loss", c.loss, "--metrics", c.flag, "--verbose", "0", "-o", filepath.Join(dir, "w.safetensors"), plain)
		require.Equal(t, c.fits, code == 0, "%+v: mdlc train: %s", c, errs)
		if !c.fits {
			require.Equal(t, 1, code)
			metric, _ := train.ParseMetric(c.flag)
			require.Contains(t, errs, "the metric "+metric.String())
		}
	}
}

// TestGenTrainTakesBlock: mdlc gen --train takes the train block's loss,
// optimiser, rate, schedule and batch size for the flags not given, as mdlc
// train does; flags win.
func TestGenTrainTakesBlock(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.mdl")
	require.NoError(t, os.WriteFile(model, []byte(tinyTrained), 0o644))
	out := filepath.Join(dir, "pkg")
	code, _, errs := mdlc(t, "gen", "--train", "-o", out, model)
	require.Equal(t, 0, code, errs)
	src, err := os.ReadFile(filepath.Join(out, "tiny_train.go"))
	require.NoError(t, err)
	for _, want := range []string{"TrainBatch = 16\n", "LearningRate = 0.05\n", "var optimizer = optim.SGD{Momentum: 0.9,",
		"var schedule = optim.EpochSchedule{Kind: optim.ScheduleStep, Every: 2, Gamma: 0.5}\n"} {
		require.Contains(t, string(src), want)
	}
	code, _, errs = mdlc(t, "gen", "--train", "--batch", "4", "--schedule", "plateau:0.5:3", "--optimizer", "adam", "-o", out, model)
	require.Equal(t, 0, code, errs)
	src, err = os.ReadFile(filepath.Join(out, "tiny_train.go"))
	require.NoError(t, err)
	for _, want := range []string{"TrainBatch = 4\n", "LearningRate = 0.001\n", "var optimizer = optim.Adam{",
		"var schedule = optim.EpochSchedule{Kind: optim.SchedulePlateau, Factor: 0.5, Patience: 3}\n"} {
		require.Contains(t, string(src), want)
	}
}
