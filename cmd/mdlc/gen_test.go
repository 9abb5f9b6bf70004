package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/golden"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/tensor"
)

// TestGenGolden: the generated source of every stdlib model, for the generic
// kernels, whose packing and arena are the same on every machine.
func TestGenGolden(t *testing.T) {
	for _, f := range slices.DeleteFunc(stdlibModels(t), isZoo) { // megabytes of Go each
		name := strings.TrimSuffix(filepath.Base(f), ".mdl")
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			code, _, errs := mdlc(t, append([]string{"gen", "-o", dir, "--pkg", name, "--kernels", "generic", f}, stdlibDims(f)...)...)
			require.Equal(t, 0, code, errs)
			src, err := os.ReadFile(filepath.Join(dir, name+".go"))
			require.NoError(t, err)
			golden.Check(t, "../../testdata/gen/"+name+".golden", string(src))
		})
	}
}

// TestGenBuildsAndRuns compiles each generated package in a module of its
// own, next to this one, vets it and runs the test mdlc gen --tests wrote:
// the same output bits as this process's plan, no allocation per run, the
// same bits on two threads.
func TestGenBuildsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go module per model")
	}
	goTool, err := exec.LookPath(filepath.Join(runtime.GOROOT(), "bin", "go"))
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	mod := t.TempDir()
	require.NoError(t, requirement{source: root}.writeModule(mod, "example.com/gen"))
	// padding.mdl: the pad step and averages that count padded cells;
	// upconv.mdl: transposed convolutions. The zoo's weights (up to hundreds
	// of megabytes) would be embedded: zoo_test.go builds one zoo model.
	models := append(slices.DeleteFunc(stdlibModels(t), isZoo), "../../testdata/programs/two_towers.mdl", "../../testdata/pytorch/padding.mdl", "../../testdata/pytorch/upconv.mdl")
	for _, f := range models {
		name := strings.TrimSuffix(filepath.Base(f), ".mdl")
		code, _, errs := mdlc(t, append([]string{"gen", "-o", filepath.Join(mod, name), "--tests", "--batch", "2", f}, stdlibDims(f)...)...)
		require.Equal(t, 0, code, errs)
	}
	code, _, errs := mdlc(t, "gen", "-o", filepath.Join(mod, "lenetfile"), "--pkg", "lenetfile", "--external-weights", "--tests", "../../stdlib/lenet.mdl")
	require.Equal(t, 0, code, errs)
	for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}} {
		cmd := exec.Command(goTool, args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
	}
}

func TestGenBadInput(t *testing.T) {
	dir := t.TempDir()
	lenetWeights := filepath.Join(dir, "lenet.safetensors")
	code, _, errs := mdlc(t, "init", "-o", lenetWeights, "../../stdlib/lenet.mdl")
	require.Equal(t, 0, code, errs)
	out := filepath.Join(dir, "pkg")
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no -o", []string{"gen", "../../stdlib/cnn.mdl"}, 2, []string{"missing -o DIR"}},
		{"unknown flag", []string{"gen", "-o", out, "--bogus", "../../stdlib/cnn.mdl"}, 2, []string{"-bogus", "usage: mdlc gen"}},
		{"bad package name", []string{"gen", "-o", out, "--pkg", "Not-A-Name", "../../stdlib/cnn.mdl"}, 1, []string{`package name "Not-A-Name"`, "e.g. cnn"}},
		{"keyword package name", []string{"gen", "-o", out, "--pkg", "func", "../../stdlib/cnn.mdl"}, 1, []string{`package name "func"`}},
		{"unknown kernels", []string{"gen", "-o", out, "--kernels", "sse9", "../../stdlib/cnn.mdl"}, 2, []string{"--kernels sse9", "avx512, avx2, neon, generic"}},
		{"weights of another model", []string{"gen", "-o", out, "--weights", lenetWeights, "../../stdlib/cnn.mdl"}, 1, []string{"conv2d.kernel", "[5,5,1,6]"}},
		{"bad batch", []string{"build", "-o", out, "--batch", "0", "../../stdlib/cnn.mdl"}, 2, []string{"--batch"}},
		{"build without -o", []string{"build", "../../stdlib/cnn.mdl"}, 2, []string{"missing -o BIN"}},
		{"served with --batch", []string{"build", "--serve", "-o", out, "--batch", "2", "../../stdlib/cnn.mdl"}, 2, []string{"--batch: a server batches requests as they come"}},
		{"served with --kernels", []string{"build", "--serve", "-o", out, "--kernels", "avx2", "../../stdlib/cnn.mdl"}, 2, []string{"--kernels: a server picks its kernels when it starts"}},
		{"served program with imports", []string{"build", "--serve", "-o", out, "../../testdata/programs/two_towers.mdl"}, 1, []string{`two_towers.mdl:3: imports "./lib/towers.mdl": a server binary embeds the program's one file`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := mdlc(t, c.args...)
			require.Equal(t, c.code, code, errs)
			for _, w := range c.want {
				require.Contains(t, errs, w)
			}
			_, err := os.Stat(filepath.Join(out, "cnn.go"))
			require.True(t, os.IsNotExist(err), "a failed gen wrote files")
		})
	}
}

// TestBuildRuns builds the seed CNN into a static binary, for this machine
// and, when qemu-aarch64 is there to run it, for linux/arm64, and compares
// what each writes with mdlc run on the same weights and input: the same
// bits on this machine when the same kernels run.
func TestBuildRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	dir := t.TempDir()
	const fixture = "../../testdata/pytorch/cnn/"
	want := filepath.Join(dir, "want.npy")
	code, _, errs := mdlc(t, "run", "../../stdlib/cnn.mdl", "--weights", fixture+"weights.safetensors", "--input", fixture+"input.npy", "--output", want)
	require.Equal(t, 0, code, errs)
	wantT, err := tensor.ReadNpyFile(want)
	require.NoError(t, err)
	targets := []string{runtime.GOARCH}
	if _, err := exec.LookPath("qemu-aarch64"); err == nil && runtime.GOARCH != "arm64" {
		targets = append(targets, "arm64")
	}
	for _, arch := range targets {
		t.Run(arch, func(t *testing.T) {
			t.Setenv("GOARCH", arch)
			bin := filepath.Join(dir, "cnn-"+arch)
			code, _, errs := mdlc(t, "build", "-o", bin, "--batch", "2", "--weights", fixture+"weights.safetensors", "../../stdlib/cnn.mdl")
			require.Equal(t, 0, code, errs)
			got := filepath.Join(dir, "got-"+arch+".npy")
			cmd := exec.Command(bin, "--input", fixture+"input.npy", "--output", got)
			if arch != runtime.GOARCH {
				cmd = exec.Command("qemu-aarch64", bin, "--input", fixture+"input.npy", "--output", got)
			}
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			require.Contains(t, string(out), "probs: f32[2,10]")
			require.Contains(t, string(out), "automobile", "the classes by name")
			if arch == runtime.GOARCH {
				bad := exec.Command(bin, "--input", fixture+"input.npy", "--top", "-1")
				out, err := bad.CombinedOutput()
				var exit *exec.ExitError
				require.ErrorAs(t, err, &exit, "%s", out)
				require.Equal(t, 2, exit.ExitCode(), "%s", out)
				require.Contains(t, string(out), "--top must not be negative")
			}
			gotT, err := tensor.ReadNpyFile(got)
			require.NoError(t, err)
			// The same bits where the binary runs this process's kernels (a
			// purego test process runs the generic ones, the binary its
			// GOARCH's SIMD set).
			if set, err := cpu.Select(); err == nil && arch == runtime.GOARCH && set == map[string]cpu.Set{"amd64": cpu.AVX2, "arm64": cpu.NEON}[arch] {
				require.Equal(t, wantT.Data, gotT.Data)
				return
			}
			require.LessOrEqual(t, tensor.MaxRelErr(gotT.Data, wantT.Data, 0.01), 1e-5)
		})
	}
}

// TestBuildSequenceModelsMatchPyTorch: binaries of the sequence-model
// fixtures (among them a causal language model on int64 token ids and a
// padded classifier on int32 ids), and of the elementwise functions'
// fixture, run on the fixtures' inputs, agree with PyTorch within the bound
// mdlc run is held to; on arm64 too, under qemu.
func TestBuildSequenceModelsMatchPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	targets := []string{runtime.GOARCH}
	if _, err := exec.LookPath("qemu-aarch64"); err == nil && runtime.GOARCH != "arm64" {
		targets = append(targets, "arm64")
	}
	dir := t.TempDir()
	for _, c := range []struct{ name, dims string }{
		{"gpt", "T=8"}, {"bert", ""}, {"encoder", "T=9"}, {"prenorm", ""}, {"decoder", ""}, {"mha", ""}, {"recurrent", ""},
		{"activations", ""}, {"axes", ""},
	} {
		fixture := filepath.Join(pytorchDir, c.name)
		want, err := tensor.ReadNpyFile(filepath.Join(fixture, "output.npy"))
		require.NoError(t, err)
		in, err := tensor.ReadNpyFile(filepath.Join(fixture, "input.npy"))
		require.NoError(t, err)
		for _, arch := range targets {
			t.Run(c.name+"/"+arch, func(t *testing.T) {
				t.Setenv("GOARCH", arch)
				bin := filepath.Join(dir, c.name+"-"+arch)
				args := []string{"build", "-o", bin, "--batch", fmt.Sprint(in.Shape[0]), "--weights", filepath.Join(fixture, "weights.safetensors"), pytorchModel(t, c.name)}
				if c.dims != "" {
					args = append(args, "--dim", c.dims)
				}
				code, _, errs := mdlc(t, args...)
				require.Equal(t, 0, code, errs)
				got := filepath.Join(dir, c.name+"-"+arch+".npy")
				cmd := exec.Command(bin, "--input", filepath.Join(fixture, "input.npy"), "--output", got)
				if arch != runtime.GOARCH {
					cmd = exec.Command("qemu-aarch64", cmd.Args...)
				}
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "%s", out)
				gotT, err := tensor.ReadNpyFile(got)
				require.NoError(t, err)
				scale := 0.0
				for _, v := range want.Data {
					scale = max(scale, math.Abs(float64(v)))
				}
				e := tensor.MaxRelErr(gotT.Data, want.Data, pytorchFloor*scale)
				t.Logf("max relative error %.3g", e)
				require.LessOrEqual(t, e, sequenceTol)

				if !in.IsInt() {
					return
				}
				// Token ids given as floats are refused.
				bad := filepath.Join(dir, "bad.npy")
				require.NoError(t, tensor.WriteNpyFile(bad, in.Floats()))
				cmd = exec.Command(bin, "--input", bad)
				if arch != runtime.GOARCH {
					cmd = exec.Command("qemu-aarch64", cmd.Args...)
				}
				out, err = cmd.CombinedOutput()
				require.Error(t, err)
				require.Contains(t, string(out), "is token ids, but the file holds floats")
			})
		}
	}
}
