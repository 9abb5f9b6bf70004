package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/golden"
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
// the same batches, a short one among them), on one thread and on two. The
// packages link no package tensor and no image decoder.
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
	tiny, bn := filepath.Join(src, "tiny.mdl"), filepath.Join(src, "bn.mdl")
	require.NoError(t, os.WriteFile(tiny, []byte(tinyModel), 0o644))
	require.NoError(t, os.WriteFile(bn, []byte(bnModel), 0o644))
	for _, args := range [][]string{
		{"--pkg", "tiny", "--batch", "4", tiny},
		{"--pkg", "tinygeneric", "--batch", "3", "--kernels", "generic", "--optimizer", "adam-pytorch", tiny},
		{"--pkg", "bn", "--batch", "5", "--optimizer", "sgd", "--momentum", "0.9", "--nesterov", "--clip-norm", "0.5", "--lr", "0.05", bn},
		{"--pkg", "mse", "--batch", "2", "--loss", "mse", "--optimizer", "rmsprop", tiny},
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
