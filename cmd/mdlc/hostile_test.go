package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/tensor"
)

// The hostile-input suite: every way a reviewer crashed mdlc or made it run
// away, and the same kinds for the other commands. Each case runs the real
// binary in a process of its own under a 2 GB address-space limit (Go needs
// about 1 GB to start), so an over-allocation fails the case instead of the
// machine, and must exit with its status and message within timeLimit and
// below maxRSS of resident memory, without a goroutine dump.
const (
	timeLimit = 10 * time.Second // the cases take well under a second; CI machines are noisy
	maxRSS    = 100 << 20
	addrLimit = 2 << 30
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// mdlcBinary builds mdlc once per test process.
func mdlcBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mdlc-hostile-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "mdlc")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

// result is what one hostile run did.
type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
	rss            int64
}

// rssWrapperEnv makes the test binary a wrapper that runs its arguments as
// a command and writes the command's peak resident memory to fd 3. The peak
// must be measured by a small parent: a child forked from this test process
// would report the test process's own peak (Linux keeps ru_maxrss across
// the fork and exec).
const rssWrapperEnv = "MDLC_TEST_RSS_WRAPPER"

func TestMain(m *testing.M) {
	if os.Getenv(rssWrapperEnv) != "" {
		os.Exit(rssWrapper(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func rssWrapper(args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	} else if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	report := os.NewFile(3, "rss")
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && report != nil {
		fmt.Fprint(report, ru.Maxrss<<10)
	}
	return code
}

// runLimited runs the mdlc binary with args in dir under the limits.
func runLimited(t *testing.T, dir string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*timeLimit)
	defer cancel()
	self, err := os.Executable()
	require.NoError(t, err)
	script := fmt.Sprintf(`ulimit -v %d && exec "$@"`, addrLimit>>10)
	cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", script, "sh", self, mdlcBinary(t)}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), rssWrapperEnv+"=1")
	// On time-out, kill the whole process group: mdlc runs as a child of
	// the wrapper and would hold the output pipes open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	cmd.Stdin = strings.NewReader(stdin)
	rssR, rssW, err := os.Pipe()
	require.NoError(t, err)
	defer rssR.Close()
	cmd.ExtraFiles = []*os.File{rssW}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err = cmd.Run()
	rssW.Close()
	r := result{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("mdlc %s: still running after %v", strings.Join(args, " "), 3*timeLimit)
	}
	if exit, ok := err.(*exec.ExitError); ok {
		r.code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	rss, err := io.ReadAll(rssR)
	require.NoError(t, err)
	_, err = fmt.Sscan(string(rss), &r.rss)
	require.NoError(t, err, "the wrapper reported no peak memory")
	return r
}

// hostileCase is one attack: a command line (run in a directory holding the
// files), the exit status it must end with and what stderr must say (and
// must not).
type hostileCase struct {
	name    string
	args    []string
	code    int
	want    []string
	notWant []string
}

// writeFiles writes name → content into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	for name, content := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
}

func hostilePrograms() map[string]string {
	nested := "model deep(x: f32[N, 4]) -> (y) {\n  y = " + strings.Repeat("relu(", 100000) + "x" + strings.Repeat(")", 100000) + "\n}\n"
	var blocks strings.Builder
	blocks.WriteString("block b0(x) -> (y) {\n  y = relu(x)\n}\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&blocks, "block b%d(x) -> (y) {\n  y = add(b%d(x), b%d(x))\n}\n", i, i-1, i-1)
	}
	blocks.WriteString("model bomb(x: f32[N, 4]) -> (y) {\n  y = b40(x)\n}\n")
	var manyErrors strings.Builder
	manyErrors.WriteString("model many(x: f32[N, 4]) -> (y) {\n")
	for i := range 5000 {
		fmt.Fprintf(&manyErrors, "  v%d = nosuch%d(x)\n", i, i)
	}
	manyErrors.WriteString("  y = x\n}\n")
	return map[string]string{
		"overflow.mdl":      "model big(x: f32[N, 4294967296, 4294967296, 4294967296]) -> (y) {\n  y = relu(x)\n}\n",
		"makeslice.mdl":     "model big(x: f32[N, 3037000500, 3037000500]) -> (y) {\n  y = relu(x)\n}\n",
		"huge_input.mdl":    "model big(x: f32[N, 100000, 100000, 3]) -> (y) {\n  y = relu(x)\n}\n",
		"huge_dense.mdl":    "model big(x: f32[N, 100000]) -> (y) {\n  y = x | dense(100000)\n}\n",
		"nested.mdl":        nested,
		"blocks.mdl":        blocks.String(),
		"many_errors.mdl":   manyErrors.String(),
		"import_zero.mdl":   "import \"/dev/zero\"\nmodel m(x: f32[N, 4]) -> (y) {\n  y = relu(x)\n}\n",
		"import_passwd.mdl": "import \"/etc/passwd\"\nmodel m(x: f32[N, 4]) -> (y) {\n  y = relu(x)\n}\n",
		"import_dotdot.mdl": "import \"../../../../../../etc/passwd\" as p\nmodel m(x: f32[N, 4]) -> (y) {\n  y = relu(x)\n}\n",
		"dup_output.mdl":    "model m(x: f32[N, 4]) -> (y, y) {\n  y = relu(x)\n}\n",
		"rebind.mdl":        "model m(x: f32[N, 4]) -> (y) {\n  y = relu(x)\n  y = sigmoid(x)\n}\n",
		"control.mdl":       "model m(x: f32[N, 4]) -> (y) {\n  y = nosuch\x1b[31m(x)\n}\n",
		"long_line.mdl":     "model m(x: f32[N, 4]) -> (y) {\n  y = " + strings.Repeat("relu(", 200) + "nosuch(x)" + strings.Repeat(")", 200) + strings.Repeat(" ", 5000) + "\n}\n",
		"two.mdl":           "model two(a: f32[N, 4], b: f32[N, 4]) -> (y) {\n  y = add(a, b)\n}\n",
		"seq.mdl":           "model seq(x: f32[N, T, 4]) -> (y) {\n  y = relu(x)\n}\n",
		"cnn.go":            "package cnn\n\n// My own code, not generated.\n",
	}
}

func TestHostileInputs(t *testing.T) {
	if testing.Short() {
		// Under qemu (CI's arm64 run is -short) the address-space limit
		// cannot hold the emulator, and the wrapper cannot exec a binary
		// of another architecture.
		t.Skip("builds mdlc and runs 50 processes")
	}
	dir := t.TempDir()
	writeFiles(t, dir, hostilePrograms())
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo.mdl"), 0o600))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo.npy"), 0o600))
	require.NoError(t, tensor.WriteNpyFile(filepath.Join(dir, "batch2.npy"), tensor.New(2, 32, 32, 3)))
	require.NoError(t, tensor.WriteNpyFile(filepath.Join(dir, "t9.npy"), tensor.New(1, 9, 4)))
	big := make([]byte, 17<<20)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "huge.mdl"), big, 0o644))
	code, _, errs := mdlc(t, "init", "-o", filepath.Join(dir, "lenet.safetensors"), "../../stdlib/lenet.mdl")
	require.Equal(t, 0, code, errs)
	// An ONNX model whose graph field claims 2 GB past the file's end.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cut.onnx"), []byte{0x08, 0x07, 0x3a, 0xff, 0xff, 0xff, 0xff, 0x07, 0x0a}, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "labels3.txt"), []byte("a\nb\nc\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "flood.txt"), bytes.Repeat([]byte("\n"), 20_000_000), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "one.txt"), []byte("1\t5 6 7\n"), 0o644))
	cnn, err := filepath.Abs("../../stdlib/cnn.mdl")
	require.NoError(t, err)
	gpt, err := filepath.Abs("../../stdlib/gpt.mdl")
	require.NoError(t, err)
	tooBig := []string{"memory limit", "--max-memory"}
	cases := []hostileCase{
		{"ONNX model cut short, run", []string{"run", "cut.onnx"}, 1, []string{"cut.onnx", "unexpected EOF"}, nil},
		{"ONNX model cut short, import", []string{"import", "-o", "cut.mdl", "cut.onnx"}, 1, []string{"cut.onnx", "unexpected EOF"}, nil},
		{"batch of a billion", []string{"run", cnn, "--batch", "1000000000"}, 1, []string{"N=1000000000", "more than the limit of 2^40"}, nil},
		{"batch of ten million", []string{"run", cnn, "--batch", "10000000"}, 1, tooBig, nil},
		{"sequence of 10^11", []string{"run", gpt, "--dim", "T=99999999999"}, 1, []string{"T=99999999999", "more than the limit of 2^40"}, nil},
		{"sequence longer than the learned table", []string{"run", gpt, "--dim", "T=300"}, 1, []string{"T = 300", "256"}, nil},
		{"input of 120 GB", []string{"run", "huge_input.mdl"}, 1, tooBig, nil},
		{"plan of 120 GB", []string{"plan", "huge_input.mdl"}, 1, tooBig, nil},
		{"40 GB of weights, init", []string{"init", "-o", "w.safetensors", "huge_dense.mdl"}, 1, tooBig, nil},
		{"40 GB of weights, run", []string{"run", "huge_dense.mdl"}, 1, tooBig, nil},
		{"40 GB of weights, gen", []string{"gen", "-o", "pkg", "huge_dense.mdl"}, 1, tooBig, nil},
		{"dims overflowing 64 bits, check", []string{"check", "overflow.mdl"}, 1, []string{"overflow.mdl:1:"}, nil},
		{"dims overflowing 64 bits, summary", []string{"summary", "overflow.mdl"}, 1, []string{"overflow.mdl:1:"}, nil},
		{"dims overflowing 64 bits, plan", []string{"plan", "overflow.mdl"}, 1, []string{"overflow.mdl:1:"}, nil},
		{"dims overflowing 64 bits, run", []string{"run", "overflow.mdl"}, 1, []string{"overflow.mdl:1:"}, nil},
		{"bytes overflowing 64 bits", []string{"run", "makeslice.mdl"}, 1, nil, nil},
		{"100,000 nested calls", []string{"check", "nested.mdl"}, 1, []string{"nested.mdl:2:", "nesting"}, nil},
		{"blocks expanding exponentially", []string{"check", "blocks.mdl"}, 1, []string{"blocks.mdl:", "nodes"}, nil},
		{"5,000 errors", []string{"check", "many_errors.mdl"}, 1, []string{"more errors"}, nil},
		{"check /dev/zero", []string{"check", "/dev/zero"}, 1, []string{"/dev/zero"}, nil},
		{"check a FIFO", []string{"check", "fifo.mdl"}, 1, []string{"fifo.mdl"}, nil},
		{"a 17 MB source", []string{"check", "huge.mdl"}, 1, []string{"huge.mdl"}, nil},
		{"import /dev/zero", []string{"check", "import_zero.mdl"}, 1, []string{"import_zero.mdl:1:"}, nil},
		{"import /etc/passwd", []string{"check", "import_passwd.mdl"}, 1, []string{"import_passwd.mdl:1:"}, []string{"root:"}},
		{"import ../../etc/passwd", []string{"check", "import_dotdot.mdl"}, 1, []string{"import_dotdot.mdl:1:"}, []string{"root:"}},
		{"input /dev/zero", []string{"run", cnn, "--input", "/dev/zero"}, 1, []string{"/dev/zero"}, nil},
		{"input /dev/zero as npy", []string{"run", cnn, "--input", "image=/dev/zero"}, 1, []string{"/dev/zero"}, nil},
		{"input a FIFO", []string{"run", cnn, "--input", "fifo.npy"}, 1, []string{"fifo.npy"}, nil},
		{"duplicate outputs", []string{"check", "dup_output.mdl"}, 1, []string{"dup_output.mdl:1:"}, []string{"internal error"}},
		{"a name bound twice", []string{"check", "rebind.mdl"}, 1, []string{"rebind.mdl:3:"}, nil},
		{"control characters", []string{"check", "control.mdl"}, 1, []string{"control.mdl:2:"}, []string{"\x1b"}},
		{"a 6 KB line", []string{"check", "long_line.mdl"}, 1, []string{"long_line.mdl:2:"}, nil},
		{"threads beyond reason", []string{"bench", cnn, "--threads", "100000"}, 2, []string{"--threads"}, nil},
		{"weights of another model", []string{"run", cnn, "--weights", "lenet.safetensors"}, 1, []string{"conv2d.kernel"}, nil},
		{"--batch against the input's batch", []string{"run", cnn, "--batch", "4", "--input", "batch2.npy"}, 2, []string{"--batch 4", "2"}, nil},
		{"--dim against the input's", []string{"run", "seq.mdl", "--dim", "T=8", "--input", "t9.npy"}, 2, []string{"--dim T 8", "9"}, nil},
		{"--top below zero", []string{"run", cnn, "--top", "-1"}, 2, []string{"--top"}, nil},
		{"--max-memory nonsense", []string{"run", cnn, "--max-memory", "lots"}, 2, []string{"--max-memory"}, nil},
		{"a tiny --max-memory", []string{"run", cnn, "--max-memory", "1KiB"}, 1, tooBig, nil},
		{"labels of the wrong count", []string{"run", cnn, "--labels", "labels3.txt"}, 1, []string{"labels3.txt", "3 class names"}, nil},
		{"unknown flag", []string{"run", "--frobnicate", cnn}, 2, []string{"--frobnicate"}, nil},
		{"unknown command", []string{"frobnicate"}, 2, []string{"unknown command"}, nil},
		{"unknown help topic", []string{"help", "nosuch"}, 2, []string{"nosuch"}, nil},
		{"summary of 10^24 elements", []string{"summary", "overflow.mdl"}, 1, []string{"overflow.mdl:1:"}, nil},
		{"ir of 100,000 nested calls", []string{"ir", "nested.mdl"}, 1, []string{"nesting"}, nil},
		{"fmt of 100,000 nested calls", []string{"fmt", "nested.mdl"}, 1, []string{"nesting"}, nil},
		{"fmt of /dev/zero", []string{"fmt", "/dev/zero"}, 1, []string{"/dev/zero"}, nil},
		{"fmt of a FIFO", []string{"fmt", "fifo.mdl"}, 1, []string{"fifo.mdl"}, nil},
		{"bench with a batch of ten million", []string{"bench", cnn, "--batch", "10000000"}, 1, tooBig, nil},
		{"gen with a batch of ten million", []string{"gen", "-o", "pkg", "--batch", "10000000", cnn}, 1, tooBig, nil},
		{"plan of exponential blocks", []string{"plan", "blocks.mdl"}, 1, []string{"nodes"}, nil},
		{"weights from /dev/zero", []string{"run", cnn, "--weights", "/dev/zero"}, 1, []string{"/dev/zero"}, nil},
		{"weights from a FIFO", []string{"run", cnn, "--weights", "fifo.npy"}, 1, []string{"fifo.npy"}, nil},
		{"labels from /dev/zero", []string{"run", cnn, "--labels", "/dev/zero"}, 1, []string{"/dev/zero"}, nil},
		{"weights map from /dev/zero", []string{"run", cnn, "--weights", "lenet.safetensors", "--weights-map", "/dev/zero"}, 1, []string{"/dev/zero"}, nil},
		{"weights map without weights", []string{"run", cnn, "--weights-layout", "torch"}, 1, []string{"--weights"}, nil},
		{"train on tokens from /dev/zero", []string{"train", "--data", "tokens:/dev/zero", "textcnn"}, 1, []string{"/dev/zero"}, nil},
		{"train on 20 million empty lines", []string{"train", "--data", "tokens:flood.txt", "--max-memory", "256MiB", "textcnn"}, 1, tooBig, nil},
		{"train a language model on /dev/zero", []string{"train", "--data", "next-token:/dev/zero", "gpt"}, 1, []string{"/dev/zero"}, nil},
		{"train a language model on 20 million empty lines", []string{"train", "--data", "next-token:flood.txt", "--max-memory", "256MiB", "gpt"}, 1, tooBig, nil},
		{"train on IDX from /dev/zero", []string{"train", "--data", "idx:/dev/zero,/dev/zero", "lenet"}, 1, []string{"/dev/zero"}, nil},
		{"train on an .npz FIFO", []string{"train", "--data", "npz:fifo.npy", "lenet"}, 1, []string{"fifo.npy"}, nil},
		{"evaluate on CIFAR batches that are not there", []string{"evaluate", "--data", "cifar10:.", "cnn"}, 1, []string{"data_batch_1.bin"}, nil},
		{"resume from /dev/zero", []string{"train", "--data", "tokens:one.txt", "--resume", "/dev/zero", "textcnn"}, 1, []string{"/dev/zero"}, nil},
		{"export with an unknown flag", []string{"export", "--frobnicate", cnn}, 2, []string{"--frobnicate"}, nil},
		{"export a tiny --max-memory", []string{"export", cnn, "-o", "cnn.onnx", "--max-memory", "64KiB"}, 1, tooBig, nil},
		{"export weights from /dev/zero", []string{"export", cnn, "--weights", "/dev/zero", "-o", "cnn.onnx"}, 1, []string{"/dev/zero"}, nil},
		{"export into a folder that is not there", []string{"export", cnn, "-o", "no/such/cnn.onnx"}, 1, []string{"no/such"}, nil},
		{"gen over a user's file", []string{"gen", "-o", ".", "--pkg", "cnn", cnn}, 1, []string{"cnn.go exists and was not written by mdlc gen"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runLimited(t, dir, "", c.args...)
			t.Logf("exit %d in %v, max RSS %.1f MB", r.code, r.elapsed.Round(time.Millisecond), float64(r.rss)/(1<<20))
			assert.Equal(t, c.code, r.code, "stderr:\n%s", clip(r.stderr))
			for _, w := range c.want {
				assert.Contains(t, r.stderr, w)
			}
			for _, w := range c.notWant {
				assert.NotContains(t, r.stderr+r.stdout, w)
			}
			assert.NotContains(t, r.stderr, "goroutine ", "a goroutine dump")
			assert.NotContains(t, r.stderr, "internal error")
			assert.Less(t, r.elapsed, timeLimit)
			assert.Less(t, r.rss, int64(maxRSS), "peak resident memory")
			assert.Less(t, len(r.stderr), 64<<10, "stderr is bounded")
		})
	}
	user, err := os.ReadFile(filepath.Join(dir, "cnn.go"))
	require.NoError(t, err)
	assert.Contains(t, string(user), "My own code", "gen overwrote a user's file")
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}
