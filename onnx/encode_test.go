package onnx

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEncodeRoundTrip: a model built in Go encodes, decodes to the same
// structs, and encodes again to the same bytes.
func TestEncodeRoundTrip(t *testing.T) {
	w, err := NewFloatTensor("w", []int64{2, 3}, []float32{1, -2, 3.5, 0, 1e-30, -7})
	require.NoError(t, err)
	shape, err := NewIntTensor("shape", Int64, []int64{2}, []int64{-1, 3})
	require.NoError(t, err)
	pad, err := NewIntTensor("pad", Int32, nil, []int64{-5})
	require.NoError(t, err)
	m := &Model{
		IRVersion:    8,
		Opsets:       []OpsetID{{Version: 17}},
		ProducerName: "mdlc",
		Graph: &Graph{
			Name: "g",
			Nodes: []*Node{
				{Name: "mm", OpType: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"y"}},
				{Name: "r", OpType: "Reshape", Inputs: []string{"y", "shape"}, Outputs: []string{"z"}, Attrs: []*Attribute{{Name: "allowzero", Type: AttrInt, I: 0}}},
				{Name: "c", OpType: "Clip", Inputs: []string{"z", "", "hi"}, Outputs: []string{"out"}, Attrs: []*Attribute{
					{Name: "f", Type: AttrFloat, F: 0.5},
					{Name: "s", Type: AttrString, S: []byte("SAME_UPPER")},
					{Name: "is", Type: AttrInts, Ints: []int64{0, -3, 1 << 40}},
					{Name: "fs", Type: AttrFloats, Floats: []float32{1, 2}},
					{Name: "t", Type: AttrTensor, T: w},
				}},
			},
			Initializers: []*Tensor{w, shape, pad},
			Inputs:       []*ValueInfo{{Name: "x", Type: &Type{Kind: KindTensor, Elem: Float, HasShape: true, Shape: []Dim{{Param: "N"}, {Value: 2, Known: true}}}}},
			Outputs:      []*ValueInfo{{Name: "out", Type: &Type{Kind: KindTensor, Elem: Float, HasShape: true, Shape: []Dim{{Param: "N"}, {Value: 0, Known: true}}}}},
		},
		Metadata: []KeyValue{{"source", "cnn.mdl"}},
	}
	b, err := Encode(m)
	require.NoError(t, err)
	got, err := Decode(b, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, m, got)
	v, err := got.Graph.Initializers[2].Int64s()
	require.NoError(t, err)
	assert.Equal(t, []int64{-5}, v)
	again, err := Encode(got)
	require.NoError(t, err)
	assert.Equal(t, b, again, "encoding is deterministic")

	_, err = NewIntTensor("big", Int32, []int64{1}, []int64{1 << 40})
	assert.ErrorContains(t, err, "does not fit int32")
	_, err = NewFloatTensor("short", []int64{3}, []float32{1})
	assert.ErrorContains(t, err, "need 12")
}

// TestEncodeTestData: every model of ONNX's own test data that the decoder
// reads encodes to bytes that decode to the same model.
func TestEncodeTestData(t *testing.T) {
	paths := testModels(t)
	encoded := 0
	for _, p := range paths {
		m, err := ReadFile(p, 1<<30)
		if err != nil {
			continue
		}
		b, err := Encode(m)
		if err != nil {
			// Sequence, map and optional types are decoded only to be named.
			require.ErrorContains(t, err, "not encoded", p)
			continue
		}
		got, err := Decode(b, 1<<30)
		require.NoError(t, err, p)
		require.Equal(t, m, got, p)
		encoded++
	}
	assert.Greater(t, encoded, len(paths)*9/10, "models encoded of %d", len(paths))
}
