package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/stdlib"
)

// TestEmbeddedModel: a model served from memory (a program's text and its
// weights' bytes, as a binary of mdlc build --serve carries them) answers
// what the model read from its files answers.
func TestEmbeddedModel(t *testing.T) {
	src, ok := stdlib.Source("fashion_cnn")
	require.True(t, ok)
	w, ok := stdlib.Trained("fashion_cnn")
	require.True(t, ok)
	o := DefaultOptions()
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New([]Spec{{Name: "clothes", Version: "1", Path: "fashion_cnn.mdl", Embedded: &Embedded{Model: "fashion_cnn", Program: src, Weights: w}}}, o)
	require.NoError(t, err)
	require.NoError(t, s.Load())
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	_, want := runOutputs(t, "fashion_cnn", coat)
	img, err := os.ReadFile(coat)
	require.NoError(t, err)
	resp, b := post(t, ts.URL+"/v2/models/clothes/infer", "image/png", img, nil)
	require.Equal(t, 200, resp.StatusCode, string(b))
	var r testResponse
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, want.Data, r.Outputs[0].Data)

	// Weights that are not the model's are refused at load.
	bad, err := New([]Spec{{Name: "clothes", Version: "1", Path: "fashion_cnn.mdl", Embedded: &Embedded{Model: "fashion_cnn", Program: src, Weights: []byte("not safetensors")}}}, o)
	require.NoError(t, err)
	assert.ErrorContains(t, bad.Load(), "the embedded weights")
}

// TestMainUsage: the served binary's command line refuses what it cannot
// take with exit status 2, before loading anything.
func TestMainUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"srv", "model.mdl"}, "the model is embedded: no arguments are taken"},
		{[]string{"srv", "--model-name", "a b"}, `--model-name "a b"`},
		{[]string{"srv", "--max-batch", "0"}, "must be a whole number of at least 1"},
		{[]string{"srv", "--max-body", "2MiB", "--max-body-inflight", "1MiB"}, "--max-body-inflight (1048576 bytes) must be at least --max-body"},
		{[]string{"srv", "--request-timeout", "0s"}, "--request-timeout must be positive"},
		{[]string{"srv", "--bogus"}, "flag provided but not defined: -bogus"},
	} {
		var stderr bytes.Buffer
		code := Main(c.args, "m", "devel", &Embedded{Model: "m"}, &stderr)
		assert.Equal(t, 2, code, strings.Join(c.args, " "))
		assert.Contains(t, stderr.String(), c.msg)
	}
	var stderr bytes.Buffer
	assert.Equal(t, 0, Main([]string{"srv", "--help"}, "m", "devel", &Embedded{Model: "m"}, &stderr))
	assert.Contains(t, stderr.String(), "Serves model m, embedded in this binary")
}
