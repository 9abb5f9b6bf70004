package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/tensor"
)

// TestBuildServe: `mdlc build --serve` makes one binary that serves the
// model, its weights embedded, over the same protocol as mdlc serve: it
// answers what `mdlc run` computes, bit for bit (both run the generic
// kernels here, the binary by the environment it inherits), takes the
// serving flags, and on SIGTERM lets the request in flight finish before it
// exits 0.
func TestBuildServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary and runs it")
	}
	t.Setenv("MDLC_KERNELS", "generic")
	dir := t.TempDir()
	const fixture = "../../testdata/pytorch/cnn/"
	want := filepath.Join(dir, "want.npy")
	code, _, errs := mdlc(t, "run", "../../stdlib/cnn.mdl", "--weights", fixture+"weights.safetensors", "--input", fixture+"input.npy", "--output", want)
	require.Equal(t, 0, code, errs)
	wantT, err := tensor.ReadNpyFile(want)
	require.NoError(t, err)
	in, err := tensor.ReadNpyFile(fixture + "input.npy")
	require.NoError(t, err)
	in = in.Floats()

	bin := filepath.Join(dir, "cnn-server")
	code, _, errs = mdlc(t, "build", "--serve", "-o", bin, "--weights", fixture+"weights.safetensors", "../../stdlib/cnn.mdl")
	require.Equal(t, 0, code, errs)

	out, err := exec.Command(bin, "extra").CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	assert.Equal(t, 2, exit.ExitCode())
	assert.Contains(t, string(out), "the model is embedded: no arguments are taken")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	// A long queue delay, so that a lone request is still queued when
	// SIGTERM comes, below.
	cmd := exec.Command(bin, "--addr", addr, "--model-name", "clf", "--max-batch", "4", "--max-queue-delay", "3s", "--drain", "20s")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	url := "http://" + addr
	require.Eventually(t, func() bool { return healthy(url) == nil }, 60*time.Second, 20*time.Millisecond, "the server never became ready")

	header, err := json.Marshal(map[string]any{
		"inputs":  []any{map[string]any{"name": "image", "datatype": "FP32", "shape": in.Shape, "parameters": map[string]any{"binary_data_size": 4 * len(in.Data)}}},
		"outputs": []any{map[string]any{"name": "probs", "parameters": map[string]any{"binary_data": true}}},
	})
	require.NoError(t, err)
	body := append([]byte{}, header...)
	for _, v := range in.Data {
		body = binary.LittleEndian.AppendUint32(body, math.Float32bits(v))
	}
	type answer struct {
		status int
		out    []float32
		err    error
	}
	infer := func() answer {
		req, err := http.NewRequest(http.MethodPost, url+"/v2/models/clf/infer", bytes.NewReader(body))
		if err != nil {
			return answer{err: err}
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(header)))
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			return answer{err: err}
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			return answer{status: resp.StatusCode, err: err}
		}
		n, err := strconv.Atoi(resp.Header.Get("Inference-Header-Content-Length"))
		if err != nil || n > len(b) {
			return answer{status: resp.StatusCode, err: err}
		}
		out := make([]float32, (len(b)-n)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[n+4*i:]))
		}
		return answer{status: resp.StatusCode, out: out}
	}
	got := infer()
	require.NoError(t, got.err)
	require.Equal(t, 200, got.status)
	assert.Equal(t, wantT.Data, got.out, "the binary answers mdlc run's outputs")

	// SIGTERM while a request waits in the queue: it is answered, then the
	// server exits 0.
	done := make(chan answer, 1)
	go func() { done <- infer() }()
	require.Eventually(t, func() bool { return pending(url) == 1 }, 20*time.Second, 5*time.Millisecond, "the request never queued")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	drained := <-done
	require.NoError(t, drained.err)
	assert.Equal(t, 200, drained.status, "the request in flight is drained")
	assert.Equal(t, wantT.Data, drained.out)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		require.NoError(t, err, "exit status; logs:\n%s", logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not exit after SIGTERM; logs:\n%s", logs.String())
	}
	assert.Contains(t, logs.String(), `"msg":"shutting down: draining requests in flight"`)
	assert.Contains(t, logs.String(), `"msg":"stopped"`)
}

// pending is the server's nv_inference_pending_request_count, -1 if it
// cannot be read.
func pending(url string) int {
	resp, err := (&http.Client{Timeout: time.Second}).Get(url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "nv_inference_pending_request_count{"); ok {
			_, v, _ := strings.Cut(rest, "} ")
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil {
				return n
			}
		}
	}
	return -1
}
