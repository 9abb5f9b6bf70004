package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/tensor"
)

// tinyModel classifies 6×6×1 images into 3 classes.
const tinyModel = `model tiny(image: f32[N, 6, 6, 1]) -> (probs: f32[N, 3]) {
  probs = image | conv2d(4, kernel=3, activation=relu) | flatten | dense(3, activation=softmax)
}
`

// tinyData writes a learnable data set as .npy files: the class is which
// third of the image is brightest.
func tinyData(t *testing.T, dir string, n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, seed))
	x := tensor.New(n, 6, 6, 1)
	y := &tensor.Tensor{Shape: []int{n}, Ints: make([]int64, n)}
	for i := range n {
		c := r.IntN(3)
		y.Ints[i] = int64(c)
		for p := range 36 {
			v := 0.3 * r.Float32()
			if (p%6)/2 == c {
				v += 0.5
			}
			x.Data[i*36+p] = v
		}
	}
	xp, yp := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	require.NoError(t, tensor.WriteNpyFile(xp, x))
	require.NoError(t, tensor.WriteNpyFile(yp, y))
	return "npy:" + xp + "," + yp
}

// TestTrainThenEvaluate: mdlc train learns a small task from .npy files,
// prints one line per epoch when not on a terminal, writes the weights, the
// CSV and its plot and an epoch checkpoint; mdlc evaluate and mdlc run read
// the weights; a resumed run continues from the checkpoint.
func TestTrainThenEvaluate(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.mdl")
	require.NoError(t, os.WriteFile(model, []byte(tinyModel), 0o644))
	spec := tinyData(t, dir, 300, 1)
	w := filepath.Join(dir, "w.safetensors")
	csv := filepath.Join(dir, "h.csv")
	ckpt := filepath.Join(dir, "ckpt-{epoch}.safetensors")
	code, out, errs := mdlc(t, "train", "--data", spec, "--validation-split", "0.2", "--epochs", "8", "--batch-size", "16",
		"--lr", "0.01", "-o", w, "--csv", csv, "--checkpoint", ckpt, model)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "Training tiny on 240 examples")
	require.Contains(t, out, "Epoch 8/8\n15/15 - ")
	require.Contains(t, out, "val_accuracy: ")
	require.Contains(t, out, "Weights written to "+w)
	lines, err := os.ReadFile(csv)
	require.NoError(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(string(lines)), "\n"), 9)
	require.True(t, strings.HasPrefix(string(lines), "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n"))
	svg, err := os.ReadFile(filepath.Join(dir, "h.svg"))
	require.NoError(t, err)
	require.Contains(t, string(svg), "<polyline")

	code, out, errs = mdlc(t, "evaluate", "--data", spec, "--weights", w, model)
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `^10/10 - \S+ - loss: \S+ - accuracy: (0\.9\d+|1\.0000)\n$`, out)
	code, out, errs = mdlc(t, "evaluate", "--data", spec, "--weights", w, "--json", model)
	require.Equal(t, 0, code, errs)
	var rec map[string]float64
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	require.Greater(t, rec["accuracy"], 0.9)
	require.Equal(t, 300.0, rec["examples"])
	code, _, errs = mdlc(t, "run", "--weights", w, model)
	require.Equal(t, 0, code, errs)
	require.NotContains(t, errs, "freshly initialised")

	// Resuming from epoch 5's checkpoint to 8 epochs writes what the
	// uninterrupted run wrote, bit for bit.
	w2 := filepath.Join(dir, "w2.safetensors")
	code, out, errs = mdlc(t, "train", "--data", spec, "--validation-split", "0.2", "--epochs", "8", "--batch-size", "16",
		"--lr", "0.01", "-o", w2, "--resume", filepath.Join(dir, "ckpt-5.safetensors"), "--json", model)
	require.Equal(t, 0, code, errs)
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 3, "epochs 6 to 8, one JSON line each")
	a, err := os.ReadFile(w)
	require.NoError(t, err)
	b, err := os.ReadFile(w2)
	require.NoError(t, err)
	require.Equal(t, a, b)
	code, _, errs = mdlc(t, "train", "--data", spec, "--validation-split", "0.2", "--epochs", "8", "--batch-size", "16",
		"--lr", "0.01", "--data-seed", "2", "-o", w2, "--resume", filepath.Join(dir, "ckpt-5.safetensors"), model)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "x-data_seed 1, this run has 2")
}

// TestTrainPlateauResume: with --schedule plateau watching the validation
// loss (on data whose labels are noise, so it soon stops improving) the rate
// falls; a run resumed from a checkpoint after epoch 4 writes what the
// uninterrupted run wrote, bit for bit, and prints the same figures for
// epochs 5 to 8 (top-2 accuracy among them); a checkpoint of another
// plateau is refused.
func TestTrainPlateauResume(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.mdl")
	require.NoError(t, os.WriteFile(model, []byte(tinyModel), 0o644))
	spec := tinyData(t, dir, 120, 1)
	valSpec := noisyLabels(t, dir, 3)

	args := func(out string, more ...string) []string {
		return append([]string{"--data", spec, "--validation-data", valSpec, "--epochs", "8", "--batch-size", "16", "--lr", "0.05",
			"--schedule", "plateau:0.5:1", "--metrics", "accuracy,top2", "-o", filepath.Join(dir, out), model}, more...)
	}
	whole := jsonEpochs(t, args("w.safetensors", "--checkpoint", filepath.Join(dir, "ckpt-{epoch}.safetensors"))...)
	require.Len(t, whole, 8)
	lrs := map[float64]bool{}
	for i, rec := range whole {
		lrs[rec["lr"]] = true
		require.Contains(t, rec, "val_top2_accuracy", "epoch %d", i+1)
		require.GreaterOrEqual(t, rec["top2_accuracy"], rec["accuracy"])
		if i > 0 {
			require.LessOrEqual(t, rec["lr"], whole[i-1]["lr"])
		}
	}
	require.Greater(t, len(lrs), 2, "the rate fell more than once: %v", lrs)
	require.Less(t, whole[7]["lr"], whole[4]["lr"], "the rate falls after the checkpoint too")

	resumed := jsonEpochs(t, args("w2.safetensors", "--resume", filepath.Join(dir, "ckpt-4.safetensors"))...)
	require.Len(t, resumed, 4)
	for i, rec := range resumed {
		delete(rec, "seconds")
		delete(whole[4+i], "seconds")
		require.Equal(t, whole[4+i], rec, "epoch %d", 5+i)
	}
	a, err := os.ReadFile(filepath.Join(dir, "w.safetensors"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "w2.safetensors"))
	require.NoError(t, err)
	require.Equal(t, a, b)

	other := args("w3.safetensors", "--resume", filepath.Join(dir, "ckpt-4.safetensors"))
	other[slices.Index(other, "plateau:0.5:1")] = "plateau:0.5:2"
	code, _, errs := mdlc(t, append([]string{"train"}, other...)...)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "was written with lr *optim.ReduceOnPlateau{LR0:0.05 Factor:0.5 MinDelta:0.0001 MinLR:0 Patience:1 Cooldown:0}, this run has *optim.ReduceOnPlateau{LR0:0.05 Factor:0.5 MinDelta:0.0001 MinLR:0 Patience:2 Cooldown:0}")
}

// TestTrainRefuses: usage mistakes exit 2 with what to write; bad data and
// models that cannot be trained as asked exit 1 saying why.
func TestTrainRefuses(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.mdl")
	require.NoError(t, os.WriteFile(model, []byte(tinyModel), 0o644))
	logits := filepath.Join(dir, "logits.mdl")
	require.NoError(t, os.WriteFile(logits, []byte(strings.Replace(tinyModel, "activation=softmax", "activation=relu", 1)), 0o644))
	spec := tinyData(t, dir, 20, 2)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", model}, 2, "--data is required"},
		{[]string{"train", "--data", spec, "--loss", "hinge", model}, 2, `unknown loss "hinge"`},
		{[]string{"train", "--data", spec, "--optimizer", "lion", model}, 2, "optimisers are adam"},
		{[]string{"train", "--data", spec, "--save-best", model}, 2, "--save-best needs --checkpoint"},
		{[]string{"train", "--data", spec, "--validation-split", "1.5", model}, 2, "want a fraction"},
		{[]string{"train", "--data", spec, "--schedule", "step:x", model}, 2, "step:EPOCHS:GAMMA"},
		{[]string{"train", "--data", "cifar10:" + dir, model}, 1, "data_batch_1.bin"},
		{[]string{"train", "--data", "mnist:" + dir, model}, 1, "unknown split"},
		{[]string{"train", "--data", spec, "stdlib/lenet.mdl"}, 1, "takes examples of shape [28,28,1], the data's are [6,6,1]"},
		{[]string{"train", "--data", spec, logits}, 1, "needs probabilities from a softmax over its last axis, but the output f32[N,3] is computed by relu"},
		{[]string{"evaluate", "--data", spec, "--weights", filepath.Join(dir, "none.safetensors"), model}, 1, "none.safetensors"},
	} {
		code, _, errs := mdlc(t, c.args...)
		require.Equal(t, c.code, code, "%v: %s", c.args, errs)
		require.Contains(t, errs, c.want, c.args)
	}
}

// TestTrainFashionMNISTOneEpoch is CI's short run of the seed's training:
// the seed CNN on Fashion-MNIST, Adam with Keras's settings, batch 32, one
// epoch must reach 0.85 test accuracy (PyTorch 1.13 reached 0.875 the same
// way; mdlc 0.867 here). Skipped where the data is not installed (.ci/run
// installs it) and in -short runs.
func TestTrainFashionMNISTOneEpoch(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of training")
	}
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist"); err != nil && os.Getenv("MDLC_DATA") == "" {
		t.Skip("Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist")
	}
	w := filepath.Join(t.TempDir(), "w.safetensors")
	code, out, errs := mdlc(t, "train", "--data", "fashion-mnist", "--validation-data", "fashion-mnist:test", "--epochs", "1", "--json", "-o", w, "fashion_cnn")
	require.Equal(t, 0, code, errs)
	var rec map[string]float64
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	t.Logf("%s", out)
	require.GreaterOrEqual(t, rec["val_accuracy"], 0.85)
}

// shippedModels are the stdlib models with trained weights, the test images
// of their classes (testdata/images/<set>/<class>_<index>.png, written by
// testdata/images/make_images.go) and the test accuracy their weights must
// keep (the bars: LeNet 0.99 on MNIST, the seed CNN 0.90 on
// Fashion-MNIST).
var shippedModels = []struct {
	model, set string
	accuracy   float64
}{
	{"fashion_cnn", "fashion-mnist", 0.90},
	{"lenet", "mnist", 0.99},
}

// TestShippedModelsRecognise: the shipped weights name the class of at
// least 9 of the 10 test images of each model (they are the first example
// of each class in the test set, not chosen for being easy: LeNet takes
// MNIST's test example 18, a 3, for an 8), and on the whole test set
// (where installed) reach their accuracy.
func TestShippedModelsRecognise(t *testing.T) {
	for _, s := range shippedModels {
		images, err := filepath.Glob(filepath.Join("../../testdata/images", s.set, "*.png"))
		require.NoError(t, err)
		require.Len(t, images, 10)
		m, err := compile.Load(s.model, "", compile.LoadOptions{})
		require.NoError(t, err)
		labels := m.Labels["probs"]
		misses := 0
		for _, img := range images {
			code, out, errs := mdlc(t, "run", "--top", "1", "--input", img, s.model)
			require.Equal(t, 0, code, errs)
			require.Contains(t, errs, "the weights that ship with "+s.model)
			class, _, _ := strings.Cut(filepath.Base(img), "_")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			top := lines[len(lines)-1]
			name := strings.ToLower(strings.NewReplacer(" ", "-", "/", "-").Replace(top[strings.LastIndex(top, "  ")+2:]))
			require.True(t, slices.ContainsFunc(labels, func(l string) bool { return strings.Contains(top, l) }))
			if class != name {
				misses++
				t.Logf("%s: %s takes it for %q", img, s.model, name)
			}
		}
		require.LessOrEqual(t, misses, 1, s.model)
		code, out, errs := mdlc(t, "evaluate", "--data", s.set+":test", "--json", s.model)
		if code != 0 && strings.Contains(errs, "not found") {
			t.Logf("%s: the test set is not installed: %s", s.model, errs)
			continue
		}
		require.Equal(t, 0, code, errs)
		var rec map[string]float64
		require.NoError(t, json.Unmarshal([]byte(out), &rec))
		t.Logf("%s on %s:test: accuracy %.4f", s.model, s.set, rec["accuracy"])
		require.GreaterOrEqual(t, rec["accuracy"], s.accuracy)
	}
}

// TestTrainEarlyStoppingResume: checkpoints carry early stopping's count of
// epochs without improvement and save-best's best loss, so a run resumed
// from any of them stops after the same epoch and writes the same weights
// and the same checkpoints as the run that was not interrupted.
func TestTrainEarlyStoppingResume(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.mdl")
	require.NoError(t, os.WriteFile(model, []byte(tinyModel), 0o644))
	spec := tinyData(t, dir, 120, 1)
	valSpec := noisyLabels(t, dir, 5)
	args := func(run string, more ...string) []string {
		return append([]string{"--data", spec, "--validation-data", valSpec, "--epochs", "30", "--batch-size", "16", "--lr", "0.05",
			"--early-stopping", "3", "--checkpoint", filepath.Join(dir, run+"-{epoch}.safetensors"), "-o", filepath.Join(dir, run+".safetensors"), model}, more...)
	}
	whole := jsonEpochs(t, args("a")...)
	require.GreaterOrEqual(t, len(whole), 4, "validation on noise stops improving, but not at once")
	require.Less(t, len(whole), 30, "early stopping stopped the run")
	// Resume from a checkpoint written while early stopping was waiting.
	from := len(whole) - 2
	require.NoError(t, os.Rename(filepath.Join(dir, "a-"+strconv.Itoa(from)+".safetensors"), filepath.Join(dir, "from.safetensors")))
	resumed := jsonEpochs(t, args("b", "--resume", filepath.Join(dir, "from.safetensors"))...)
	require.Len(t, resumed, len(whole)-from, "the resumed run stops after the same epoch")
	a, err := os.ReadFile(filepath.Join(dir, "a.safetensors"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "b.safetensors"))
	require.NoError(t, err)
	require.Equal(t, a, b)
}

// noisyLabels writes 40 examples with random labels (from seed) under
// dir/noise, validation data whose loss stops improving, and returns its
// spec.
func noisyLabels(t *testing.T, dir string, seed uint64) string {
	t.Helper()
	noise := filepath.Join(dir, "noise")
	require.NoError(t, os.Mkdir(noise, 0o755))
	spec := tinyData(t, noise, 40, 7)
	y, err := tensor.ReadNpyFile(filepath.Join(noise, "y.npy"))
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range y.Ints {
		y.Ints[i] = int64(r.IntN(3))
	}
	require.NoError(t, tensor.WriteNpyFile(filepath.Join(noise, "y.npy"), y))
	return spec
}

// tinyLM is a causal language model small enough to memorise lmCorpus: its
// length T is bound from the data (or --dim T=SIZE).
const tinyLM = `import "transformer"

model tinylm(ids: i32[N, T]) -> (logits: f32[N, T, 12]) {
  h = ids | embedding(12, 16) | positional(learned=true, max_len=16) | transformer.decoder_block(16, 2, 32) | layernorm(epsilon=1e-5)
  logits = h | dense(12, use_bias=false)
}
`

// lmCorpus is sequences of different lengths, each told apart by its first
// id, so that every next id follows from the ids before it.
const lmCorpus = "1 5 3 7 2 9\n2 8 8 4 1\n3 6 10 11 4 5 6 7\n4 2\n5 9 1 3\n6 7 7 7 7 7 10\n"

// TestTrainLanguageModel: mdlc train memorises a corpus of next-token data
// (padded sequences, T from the longest) to a loss of about zero and every
// next id right; mdlc evaluate agrees at another length; an id beyond the
// vocabulary, a line longer than --dim allows and an unknown --dim are
// refused, naming the file and line. mdlc plan --train plans stdlib's gpt.
func TestTrainLanguageModel(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tinylm.mdl")
	require.NoError(t, os.WriteFile(model, []byte(tinyLM), 0o644))
	corpus := filepath.Join(dir, "corpus.txt")
	require.NoError(t, os.WriteFile(corpus, []byte(lmCorpus), 0o644))
	w := filepath.Join(dir, "lm.safetensors")
	code, out, errs := mdlc(t, "train", "--data", "next-token:"+corpus, "--from-logits", "--lr", "0.01", "--batch-size", "4", "--epochs", "150", "--json", "-o", w, model)
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 150)
	var first, last map[string]float64
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))
	t.Logf("loss %.3f -> %.4f, accuracy per token %.3f", first["loss"], last["loss"], last["accuracy"])
	require.Less(t, last["loss"], 0.05)
	require.Equal(t, 1.0, last["accuracy"])
	require.Equal(t, 6.0, last["examples"])

	code, out, errs = mdlc(t, "evaluate", "--data", "next-token:"+corpus, "--from-logits", "--weights", w, "--dim", "T=9", "--json", model)
	require.Equal(t, 0, code, errs)
	var rec map[string]float64
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	require.Equal(t, 1.0, rec["accuracy"])
	require.Less(t, rec["loss"], 0.05)

	// stdlib's gpt trains from its logits as its train block says, its T
	// given by --dim.
	code, out, errs = mdlc(t, "plan", "--train", "--batch", "2", "--dim", "T=8", "../../stdlib/gpt.mdl")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "kept for the backward pass")

	bad := filepath.Join(dir, "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("1 2 3\n4 12 5\n"), 0o644))
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "--data", "next-token:" + bad, "--from-logits", model}, 1, "bad.txt:2: token 2, id 12, is beyond the model's vocabulary of 12 ids (0..11)"},
		{[]string{"train", "--data", "next-token:" + corpus, "--from-logits", "--dim", "T=4", model}, 1, "corpus.txt:1: a sequence of 6 ids, more than the model's 4 positions take"},
		{[]string{"train", "--data", "next-token:" + corpus, "--from-logits", "--dim", "L=4", model}, 2, "--dim L: model tinylm has no symbolic dimension L"},
		{[]string{"evaluate", "--data", "next-token:" + corpus, "--from-logits", "--dim", "N=4", model}, 2, "--dim N: N is the batch dimension; set it with --batch-size"},
		{[]string{"train", "--data", "next-token:" + corpus, "--loss", "categorical_crossentropy", "--from-logits", model}, 1, "which only sparse_categorical_crossentropy reads"},
		{[]string{"evaluate", "--data", "tokens:" + corpus, "--from-logits", model}, 1, "must have a known length: give its length with --dim"},
	} {
		code, _, errs := mdlc(t, c.args...)
		require.Equal(t, c.code, code, "%v: %s", c.args, errs)
		require.Contains(t, errs, c.want, c.args)
	}
}
