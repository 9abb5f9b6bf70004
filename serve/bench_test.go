package serve

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
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
