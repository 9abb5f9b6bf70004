package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/examples/serve/cnn"
)

func pngBytes(t *testing.T, shade uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			img.Set(x, y, color.RGBA{R: shade, G: uint8(x * 6), B: uint8(y * 8), A: 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// TestClassify: concurrent requests get the answer the model gives directly.
func TestClassify(t *testing.T) {
	h, err := newHandler()
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	bodies := make([][]byte, 8)
	answers := make([]response, len(bodies))
	codes := make([]int, len(bodies))
	errs := make([]error, len(bodies))
	var wg sync.WaitGroup
	for i := range bodies {
		bodies[i] = pngBytes(t, uint8(30*i))
		wg.Go(func() {
			resp, err := http.Post(srv.URL, "image/png", bytes.NewReader(bodies[i]))
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			codes[i] = resp.StatusCode
			errs[i] = json.NewDecoder(resp.Body).Decode(&answers[i])
		})
	}
	wg.Wait()
	for i, body := range bodies {
		require.NoError(t, errs[i])
		require.Equal(t, http.StatusOK, codes[i])
		in, err := decode(body)
		require.NoError(t, err)
		want := make([]float32, cnn.ProbsSize)
		require.NoError(t, h.m.Run(in, want))
		require.Equal(t, want, answers[i].Probs)
		for _, p := range want {
			require.LessOrEqual(t, p, want[answers[i].Top])
		}
	}
}

func TestClassifyBadRequests(t *testing.T) {
	h, err := newHandler()
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp, err = http.Post(srv.URL, "text/plain", bytes.NewReader([]byte("not an image")))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
