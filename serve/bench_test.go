package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"testing"
)

// A 224×224×3 image in the JSON form is 150,528 numbers; decoding it must
// cost little beside the model (see the README's serving figures).
func imageRequest(b *testing.B) ([]byte, []byte, int) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]float32, 224*224*3)
	for i := range data {
		data[i] = float32(rng.IntN(256)) / 255
	}
	js, err := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "image", "datatype": "FP32", "shape": []int{1, 224, 224, 3}, "data": data}}})
	if err != nil {
		b.Fatal(err)
	}
	head, err := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "image", "datatype": "FP32", "shape": []int{1, 224, 224, 3}, "parameters": map[string]any{"binary_data_size": 4 * len(data)}}}})
	if err != nil {
		b.Fatal(err)
	}
	bin := append([]byte{}, head...)
	for _, v := range data {
		bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(v))
	}
	return js, bin, len(head)
}

func BenchmarkDecodeJSON224(b *testing.B) {
	js, _, _ := imageRequest(b)
	b.SetBytes(int64(len(js)))
	for b.Loop() {
		req, err := parseInferRequest(js, -1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := decodeInput(&req.Inputs[0], 224*224*3); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBinary224(b *testing.B) {
	_, bin, hlen := imageRequest(b)
	b.SetBytes(int64(len(bin)))
	for b.Loop() {
		req, err := parseInferRequest(bin, hlen)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := decodeInput(&req.Inputs[0], 224*224*3); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInfer224 is one infer request of cnn224 through the handler, no
// network: decoding, queueing, the run and the answer. Beside the plan's
// own time (mdlc bench cnn224) it is the server's overhead.
func BenchmarkInfer224(b *testing.B) {
	js, bin, hlen := imageRequest(b)
	specs, err := SpecsFromFiles([]string{"cnn224"})
	if err != nil {
		b.Fatal(err)
	}
	o := DefaultOptions()
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(specs, o)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Load(); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		name   string
		body   []byte
		header map[string]string
	}{
		{"binary", bin, map[string]string{"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": strconv.Itoa(hlen)}},
		{"json", js, map[string]string{"Content-Type": "application/json"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest("POST", "/v2/models/cnn224/infer", bytes.NewReader(c.body))
				for k, v := range c.header {
					r.Header.Set(k, v)
				}
				w := httptest.NewRecorder()
				s.Handler().ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatal(w.Body.String())
				}
			}
		})
	}
}
