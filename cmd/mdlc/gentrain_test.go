package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/golden"
	"github.com/mdlc/mdlc/tensor"
)

// bnModel trains batch norm and dropout in their training forms: state the
// plan updates beside the parameters (running statistics, dropout's step).
const bnModel = `model bn(image: f32[N, 6, 6, 1]) -> (probs: f32[N, 3]) {
  probs = image | conv2d(4, kernel=3) | batchnorm as bn | relu | flatten | dropout(0.5) | dense(3, activation=softmax)
}
`

// TestGenTrainGolden: the Trainer mdlc gen --train writes for stdlib's MLP
// (a dropout: the step counter is state, not a weight), for the generic
// kernels.
func TestGenTrainGolden(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := mdlc(t, "gen", "--train", "--batch", "8", "--kernels", "generic", "-o", dir, "../../stdlib/mlp.mdl")
	require.Equal(t, 0, code, errs)
	src, err := os.ReadFile(filepath.Join(dir, "mlp_train.go"))
	require.NoError(t, err)
	golden.Check(t, "../../testdata/gen/mlp_train.golden", string(src))
	_, err = os.Stat(filepath.Join(dir, "mlp_train_test.go"))
	require.True(t, os.IsNotExist(err), "a test without --tests")
}

// TestGenTrainBuildsAndRuns compiles packages mdlc gen --train --tests wrote
// in a module of their own and runs their tests: two trainers, one after the
// other, get train.Trainer's losses, accuracy and parameters bit for bit
// (the generated test checks what this process computed with train.New on
// the same batches, a short one among them, its rate by the schedule), on
// one thread and on two; a language model's with a target per position. The packages link no package tensor and no image
// decoder.
func TestGenTrainBuildsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go module")
	}
	goTool, err := exec.LookPath(filepath.Join(runtime.GOROOT(), "bin", "go"))
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	mod := t.TempDir()
	require.NoError(t, requirement{source: root}.writeModule(mod, "example.com/gen"))
	src := t.TempDir()
	tiny, bn, lm := filepath.Join(src, "tiny.mdl"), filepath.Join(src, "bn.mdl"), filepath.Join(src, "tinylm.mdl")
	require.NoError(t, os.WriteFile(tiny, []byte(tinyModel), 0o644))
	require.NoError(t, os.WriteFile(bn, []byte(bnModel), 0o644))
	require.NoError(t, os.WriteFile(lm, []byte(tinyLM), 0o644))
	for _, args := range [][]string{
		{"--pkg", "tiny", "--batch", "4", tiny},
		{"--pkg", "tinygeneric", "--batch", "3", "--kernels", "generic", "--optimizer", "adam-pytorch", "--schedule", "cosine", tiny},
		{"--pkg", "bn", "--batch", "5", "--optimizer", "sgd", "--momentum", "0.9", "--nesterov", "--clip-norm", "0.5", "--lr", "0.05", bn},
		{"--pkg", "mse", "--batch", "2", "--loss", "mse", "--optimizer", "rmsprop", "--schedule", "plateau:0.5:2", tiny},
		{"--pkg", "tinylm", "--batch", "3", "--dim", "T=7", "--from-logits", lm},
	} {
		code, _, errs := mdlc(t, append([]string{"gen", "--train", "--tests", "-o", filepath.Join(mod, args[1])}, args...)...)
		require.Equal(t, 0, code, errs)
	}
	for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}, {"list", "-deps", "./..."}} {
		cmd := exec.Command(goTool, args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
		if args[0] == "list" {
			for _, pkg := range strings.Fields(string(out)) {
				require.False(t, pkg == "image" || strings.HasPrefix(pkg, "image/") || pkg == modulePath+"/tensor", "a generated trainer links %s", pkg)
			}
		}
	}
}

// TestGenTrainRefuses: what mdlc train refuses, mdlc gen --train refuses
// with the same words; and a trainer's weights are embedded.
func TestGenTrainRefuses(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.mdl")
	require.NoError(t, os.WriteFile(model, []byte(tinyModel), 0o644))
	logits := filepath.Join(dir, "logits.mdl")
	require.NoError(t, os.WriteFile(logits, []byte(strings.Replace(tinyModel, "activation=softmax", "activation=relu", 1)), 0o644))
	spec := tinyData(t, dir, 20, 2)
	out := filepath.Join(dir, "pkg")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{logits}, 1, "needs probabilities from a softmax over its last axis, but the output f32[N,3] is computed by relu"},
		{[]string{"--loss", "hinge", model}, 2, `unknown loss "hinge"`},
		{[]string{"--optimizer", "lion", model}, 2, "optimisers are adam"},
		{[]string{"--lr", "-1", model}, 2, "must not be negative"},
		{[]string{"--schedule", "plateau:1.5", model}, 2, "--schedule plateau:1.5: write plateau:FACTOR:PATIENCE:MIN_LR"},
		{[]string{"--output-name", "logits", model}, 1, `model tiny has no output "logits"`},
	} {
		code, _, trainErrs := mdlc(t, append([]string{"train", "--data", spec, "-o", filepath.Join(dir, "w.safetensors")}, c.args...)...)
		require.Equal(t, c.code, code, "train %v: %s", c.args, trainErrs)
		require.Contains(t, trainErrs, c.want)
		code, _, genErrs := mdlc(t, append([]string{"gen", "--train", "-o", out}, c.args...)...)
		require.Equal(t, c.code, code, "gen %v: %s", c.args, genErrs)
		line := func(s string) string { return strings.SplitN(s, "\n", 2)[0] }
		require.Equal(t, strings.Replace(line(trainErrs), "mdlc train:", "mdlc gen:", 1), line(genErrs))
	}
	code, _, errs := mdlc(t, "gen", "--train", "--external-weights", "-o", out, model)
	require.Equal(t, 1, code, errs)
	require.Contains(t, errs, "leave out --external-weights")
	_, err := os.Stat(out)
	require.True(t, os.IsNotExist(err), "a failed gen wrote files")
}

// TestGenTrainSchedulesMatchTrain: for every schedule, a package mdlc gen
// --train --schedule wrote, driven through the same batches as mdlc train
// (data.Loader with the same seed) in a module of its own, with SetEpochs,
// TrainStep and EndEpoch (watching the validation loss it computes with
// Evaluate, or EpochLoss), takes the rates mdlc train printed, reports its
// losses, and ends with the weights mdlc train wrote, bit for bit. The
// plateau watching validation data whose labels are noise falls.
func TestGenTrainSchedulesMatchTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go module")
	}
	goTool, err := exec.LookPath(filepath.Join(runtime.GOROOT(), "bin", "go"))
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	mod := t.TempDir()
	require.NoError(t, requirement{source: root}.writeModule(mod, "example.com/gen"))
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.mdl")
	require.NoError(t, os.WriteFile(model, []byte(tinyModel), 0o644))
	spec := tinyData(t, dir, 100, 1)
	noise := filepath.Join(dir, "noise")
	require.NoError(t, os.Mkdir(noise, 0o755))
	valSpec := tinyData(t, noise, 30, 7)
	y, err := tensor.ReadNpyFile(filepath.Join(noise, "y.npy"))
	require.NoError(t, err)
	for i := range y.Ints {
		y.Ints[i] = (int64(i) + 2*y.Ints[i]) % 3 // not the class the image shows
	}
	require.NoError(t, tensor.WriteNpyFile(filepath.Join(noise, "y.npy"), y))

	const epochs = 4
	var checks strings.Builder
	for i, c := range []struct{ schedule, val string }{
		{"cosine", ""}, {"step:1:0.5", ""}, {"exponential:0.7", valSpec}, {"plateau:0.5:1", valSpec}, {"plateau:0.5:1", ""}, {"constant", ""},
	} {
		pkg := fmt.Sprintf("s%d", i)
		w := filepath.Join(dir, pkg+".safetensors")
		args := []string{"--data", spec, "--epochs", fmt.Sprint(epochs), "--batch-size", "16", "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.2", "--schedule", c.schedule, "-o", w, model}
		if c.val != "" {
			args = append(args, "--validation-data", c.val)
		}
		recs := jsonEpochs(t, args...)
		var rates, losses []string
		for _, r := range recs {
			rates = append(rates, strconv.FormatFloat(r["lr"], 'g', -1, 64))
			losses = append(losses, strconv.FormatFloat(r["loss"], 'g', -1, 64))
		}
		if c.schedule == "plateau:0.5:1" && c.val != "" {
			require.Less(t, recs[epochs-1]["lr"], recs[0]["lr"], "the plateau's rate fell")
		}
		code, _, errs := mdlc(t, "gen", "--train", "--batch", "16", "--pkg", pkg, "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.2", "--schedule", c.schedule, "-o", filepath.Join(mod, pkg), model)
		require.Equal(t, 0, code, errs)
		fmt.Fprintf(&checks, "func Test%s(t *testing.T) {\n\ttr, err := %s.NewTrainer(1)\n\tif err != nil {\n\t\tt.Fatal(err)\n\t}\n\tdefer tr.Close()\n", strings.ToUpper(pkg), pkg)
		fmt.Fprintf(&checks, "\tfollow(t, tr, %s.TrainBatch, %q, %q, %q, []float64{%s}, []float64{%s})\n}\n\n", pkg, spec, c.val, w, strings.Join(rates, ", "), strings.Join(losses, ", "))
	}
	var imports strings.Builder
	for i := range 6 {
		fmt.Fprintf(&imports, "\t\"example.com/gen/s%d\"\n", i)
	}
	src := fmt.Sprintf(scheduleHarness, imports.String(), epochs) + checks.String()
	require.NoError(t, os.Mkdir(filepath.Join(mod, "check"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "check", "check_test.go"), []byte(src), 0o644))
	cmd := exec.Command(goTool, "test", "-count=1", "-v", "./check")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go test:\n%s", out)
	require.Equal(t, 6, strings.Count(string(out), "--- PASS"), "%s", out)
}

// scheduleHarness drives a generated trainer as mdlc train's Fit does; its
// test functions follow it, one per package.
const scheduleHarness = `package check

import (
	"math"
	"testing"

	"github.com/mdlc/mdlc/data"
	"github.com/mdlc/mdlc/train/step"
	"github.com/mdlc/mdlc/weights"

%s)

const epochs = %d

type trainer interface {
	SetEpochs(stepsPerEpoch, epochs int) error
	TrainStep(x []float32, labels []int64, n int) (float32, int, error)
	Evaluate(x []float32, labels []int64, n int) (float32, int, error)
	EpochLoss() float64
	EndEpoch(watched float64)
	Rate() float64
	Weights() map[string][]float32
}

// follow trains tr on trainSpec's batches in mdlc train's order, watching
// valSpec's loss if given, and checks each epoch's last rate and loss and the
// weights at the end against what mdlc train printed and wrote.
func follow(t *testing.T, tr trainer, batch int, trainSpec, valSpec, want string, rates, losses []float64) {
	ds, err := data.Open(trainSpec, data.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	loader, err := data.NewLoader(ds, batch, data.LoaderOptions{Shuffle: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.SetEpochs(loader.Batches(), epochs); err != nil {
		t.Fatal(err)
	}
	for e := range epochs {
		rate := 0.0
		ep := loader.Epoch(e)
		for {
			b, ok := ep.Next()
			if !ok {
				break
			}
			rate = tr.Rate()
			if _, _, err := tr.TrainStep(b.X, b.Y, b.N); err != nil {
				t.Fatal(err)
			}
		}
		if err := ep.Err(); err != nil {
			t.Fatal(err)
		}
		ep.Close()
		if rate != rates[e] || tr.EpochLoss() != losses[e] {
			t.Fatalf("epoch %%d: rate %%v, loss %%v; mdlc train's %%v and %%v", e+1, rate, tr.EpochLoss(), rates[e], losses[e])
		}
		watched := tr.EpochLoss()
		if valSpec != "" {
			watched = validate(t, tr, batch, valSpec)
		}
		tr.EndEpoch(watched)
	}
	w, err := weights.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	got := tr.Weights()
	if len(got) != len(w) {
		t.Fatalf("%%d weights, mdlc train wrote %%d", len(got), len(w))
	}
	for name, v := range got {
		for i := range v {
			if math.Float32bits(v[i]) != math.Float32bits(w[name].Data[i]) {
				t.Fatalf("%%s[%%d] is %%v, mdlc train's %%v", name, i, v[i], w[name].Data[i])
			}
		}
	}
}

// validate is the mean loss over valSpec, as mdlc train's evaluator sums it.
func validate(t *testing.T, tr trainer, batch int, valSpec string) float64 {
	ds, err := data.Open(valSpec, data.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	loader, err := data.NewLoader(ds, batch, data.LoaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var m step.LossMean
	ep := loader.Epoch(0)
	defer ep.Close()
	for {
		b, ok := ep.Next()
		if !ok {
			break
		}
		loss, _, err := tr.Evaluate(b.X, b.Y, b.N)
		if err != nil {
			t.Fatal(err)
		}
		m.Add(loss, b.N)
	}
	return m.Mean()
}

`
