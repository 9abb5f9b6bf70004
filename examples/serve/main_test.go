package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClassify: the example answers an infer request with a distribution
// over fashion_cnn's ten classes.
func TestClassify(t *testing.T) {
	s, err := newServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	img := make([]float32, 28*28)
	for i := range img {
		img[i] = float32(i%28) / 27
	}
	body, err := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "image", "datatype": "FP32", "shape": []int{1, 28, 28, 1}, "data": img}}})
	require.NoError(t, err)
	resp, err := http.Post(srv.URL+"/v2/models/fashion_cnn/infer", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var r struct {
		Outputs []struct {
			Name  string    `json:"name"`
			Shape []int     `json:"shape"`
			Data  []float32 `json:"data"`
		} `json:"outputs"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	require.Len(t, r.Outputs, 1)
	assert.Equal(t, "probs", r.Outputs[0].Name)
	assert.Equal(t, []int{1, 10}, r.Outputs[0].Shape)
	var sum float32
	for _, p := range r.Outputs[0].Data {
		sum += p
	}
	assert.InDelta(t, 1, sum, 1e-5)
}
