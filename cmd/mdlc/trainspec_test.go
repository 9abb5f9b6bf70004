package main

import (
	"encoding/json"
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
    metrics = [accuracy]
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

// TestTrainBlockNames: every loss, optimiser and schedule a train block may
// name is one mdlc train runs.
func TestTrainBlockNames(t *testing.T) {
	losses, optimizers, schedules := sema.TrainNames()
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
}
