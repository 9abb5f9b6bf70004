package onnx

// The encoder is the decoder's mirror: each function below writes one
// message of onnx.proto3 with the field numbers decode.go reads, fields in
// ascending number order and repeated fields in slice order, so that the
// same Model always encodes to the same bytes (no maps are walked). Numbers
// are written packed, as proto3 does; a zero scalar is left out, as proto3
// leaves it out, except where ONNX gives zero a meaning of its own (a
// dimension's dim_value, an INT attribute's i, an opset's version).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mdlc/mdlc/internal/size"
)

// Encode writes m as a ModelProto. It refuses what it cannot write as the
// decoder would read it back: tensors whose values stay in external files
// (their bytes were never loaded), type protos it does not model, and a
// message past protobuf's 2 GiB limit.
func Encode(m *Model) ([]byte, error) {
	if m.Graph == nil {
		return nil, errors.New("onnx: a model without a graph")
	}
	b, err := encodeModel(nil, m)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFile {
		return nil, fmt.Errorf("onnx: the model encodes to %s, past protobuf's limit of 2 GiB on a message: ONNX keeps larger weights in external data, which mdlc does not write", size.Format(int64(len(b))))
	}
	return b, nil
}

// NewFloatTensor is a FLOAT tensor of the given dims holding v, row-major.
func NewFloatTensor(name string, dims []int64, v []float32) (*Tensor, error) {
	raw := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	return newRawTensor(name, Float, dims, raw)
}

// NewIntTensor is an INT32 or INT64 tensor of the given dims holding v,
// row-major; an INT32 value out of range is an error.
func NewIntTensor(name string, dt DataType, dims []int64, v []int64) (*Tensor, error) {
	var raw []byte
	switch dt {
	case Int64:
		raw = make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
		}
	case Int32:
		raw = make([]byte, 4*len(v))
		for i, x := range v {
			if x != int64(int32(x)) {
				return nil, fmt.Errorf("onnx tensor %q: %d does not fit int32", name, x)
			}
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(x))
		}
	default:
		return nil, fmt.Errorf("onnx tensor %q: NewIntTensor makes int32 or int64 tensors, not %s", name, dt)
	}
	return newRawTensor(name, dt, dims, raw)
}

// newRawTensor checks that raw holds exactly the values dims calls for.
func newRawTensor(name string, dt DataType, dims []int64, raw []byte) (*Tensor, error) {
	n, err := numel(dims)
	if err != nil {
		return nil, fmt.Errorf("onnx tensor %q: %w", name, err)
	}
	if want, _ := rawSize(dt, n); want != int64(len(raw)) {
		return nil, fmt.Errorf("onnx tensor %q: %d bytes of values for dims %v, which need %d", name, len(raw), dims, want)
	}
	return &Tensor{Name: name, Dims: dims, DataType: dt, numel: n, raw: raw}, nil
}

// Appenders of one field each, named after the wire type they write.

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendMessage writes a length-delimited sub-message made by enc.
func appendMessage(b []byte, num protowire.Number, enc func([]byte) ([]byte, error)) ([]byte, error) {
	sub, err := enc(nil)
	if err != nil {
		return nil, err
	}
	return appendBytes(b, num, sub), nil
}

// appendInts writes a repeated int64 (or int32: the same varints, sign
// extended) field packed.
func appendInts(b []byte, num protowire.Number, v []int64) []byte {
	if len(v) == 0 {
		return b
	}
	var packed []byte
	for _, x := range v {
		packed = protowire.AppendVarint(packed, uint64(x))
	}
	return appendBytes(b, num, packed)
}

func appendFloats(b []byte, num protowire.Number, v []float32) []byte {
	if len(v) == 0 {
		return b
	}
	packed := make([]byte, 0, 4*len(v))
	for _, f := range v {
		packed = protowire.AppendFixed32(packed, math.Float32bits(f))
	}
	return appendBytes(b, num, packed)
}

func encodeModel(b []byte, m *Model) ([]byte, error) {
	var err error
	b = appendVarint(b, 1, uint64(m.IRVersion))
	b = appendString(b, 2, m.ProducerName)
	b = appendString(b, 3, m.ProducerVersion)
	b = appendString(b, 4, m.Domain)
	if m.ModelVersion != 0 {
		b = appendVarint(b, 5, uint64(m.ModelVersion))
	}
	b = appendString(b, 6, m.Doc)
	if b, err = appendMessage(b, 7, func(b []byte) ([]byte, error) { return encodeGraph(b, m.Graph, 0) }); err != nil {
		return nil, at("graph", err)
	}
	for _, o := range m.Opsets {
		sub := appendString(nil, 1, o.Domain)
		sub = appendVarint(sub, 2, uint64(o.Version))
		b = appendBytes(b, 8, sub)
	}
	for _, kv := range m.Metadata {
		b = appendBytes(b, 14, encodeKeyValue(kv))
	}
	if len(m.Functions) > 0 {
		return nil, errors.New("onnx: model-local functions are not encoded")
	}
	return b, nil
}

func encodeKeyValue(kv KeyValue) []byte {
	return appendString(appendString(nil, 1, kv.Key), 2, kv.Value)
}

func encodeGraph(b []byte, g *Graph, depth int) ([]byte, error) {
	if depth > MaxGraphDepth {
		return nil, fmt.Errorf("graphs nested more than %d deep", MaxGraphDepth)
	}
	if len(g.SparseInitializers) > 0 {
		return nil, errors.New("sparse initializers are not encoded")
	}
	var err error
	for i, n := range g.Nodes {
		if b, err = appendMessage(b, 1, func(b []byte) ([]byte, error) { return encodeNode(b, n, depth) }); err != nil {
			return nil, atIndex("node", i, err)
		}
	}
	b = appendString(b, 2, g.Name)
	for i, t := range g.Initializers {
		if b, err = appendMessage(b, 5, func(b []byte) ([]byte, error) { return encodeTensor(b, t) }); err != nil {
			return nil, atIndex("initializer", i, err)
		}
	}
	b = appendString(b, 10, g.Doc)
	for _, list := range []struct {
		num  protowire.Number
		name string
		vis  []*ValueInfo
	}{{11, "input", g.Inputs}, {12, "output", g.Outputs}, {13, "value_info", g.ValueInfo}} {
		for i, vi := range list.vis {
			if b, err = appendMessage(b, list.num, func(b []byte) ([]byte, error) { return encodeValueInfo(b, vi) }); err != nil {
				return nil, atIndex(list.name, i, err)
			}
		}
	}
	return b, nil
}

func encodeNode(b []byte, n *Node, depth int) ([]byte, error) {
	for _, in := range n.Inputs {
		// An empty name is an optional input left out: it must be written,
		// or the inputs after it would move.
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, in)
	}
	for _, out := range n.Outputs {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, out)
	}
	b = appendString(b, 3, n.Name)
	b = appendString(b, 4, n.OpType)
	var err error
	for i, a := range n.Attrs {
		if b, err = appendMessage(b, 5, func(b []byte) ([]byte, error) { return encodeAttribute(b, a, depth) }); err != nil {
			return nil, atIndex("attribute", i, err)
		}
	}
	return appendString(b, 7, n.Domain), nil
}

func encodeAttribute(b []byte, a *Attribute, depth int) ([]byte, error) {
	b = appendString(b, 1, a.Name)
	var err error
	switch a.Type {
	case AttrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case AttrInt:
		b = appendVarint(b, 3, uint64(a.I))
	case AttrString:
		b = appendBytes(b, 4, a.S)
	case AttrTensor:
		if a.T == nil {
			return nil, errors.New("a TENSOR attribute without its tensor")
		}
		b, err = appendMessage(b, 5, func(b []byte) ([]byte, error) { return encodeTensor(b, a.T) })
	case AttrGraph:
		if a.G == nil {
			return nil, errors.New("a GRAPH attribute without its graph")
		}
		b, err = appendMessage(b, 6, func(b []byte) ([]byte, error) { return encodeGraph(b, a.G, depth+1) })
	case AttrFloats:
		b = appendFloats(b, 7, a.Floats)
	case AttrInts:
		b = appendInts(b, 8, a.Ints)
	case AttrStrings:
		for _, s := range a.Strings {
			b = appendBytes(b, 9, s)
		}
	case AttrTensors:
		for i, t := range a.Tensors {
			if b, err = appendMessage(b, 10, func(b []byte) ([]byte, error) { return encodeTensor(b, t) }); err != nil {
				return nil, atIndex("tensors", i, err)
			}
		}
	case AttrGraphs:
		for i, g := range a.Graphs {
			if b, err = appendMessage(b, 11, func(b []byte) ([]byte, error) { return encodeGraph(b, g, depth+1) }); err != nil {
				return nil, atIndex("graphs", i, err)
			}
		}
	default:
		return nil, fmt.Errorf("attribute %q of type %d is not encoded", a.Name, a.Type)
	}
	if err != nil {
		return nil, err
	}
	b = appendVarint(b, 20, uint64(a.Type))
	return appendString(b, 21, a.RefAttrName), nil
}

// encodeTensor writes the values where the decoder found them: raw bytes
// as raw_data, integers in their type's field, strings in string_data.
func encodeTensor(b []byte, t *Tensor) ([]byte, error) {
	if t.External != nil {
		return nil, fmt.Errorf("tensor %q: values in external data (%s) are not encoded", t.Name, t.External.Location)
	}
	b = appendInts(b, 1, t.Dims)
	b = appendVarint(b, 2, uint64(t.DataType))
	switch t.from {
	case fromInts:
		if !t.DataType.known() {
			return nil, fmt.Errorf("tensor %q: %s", t.Name, t.DataType)
		}
		num := map[store]protowire.Number{inInt32: 5, inInt64: 7, inUint64: 11}[dataTypes[t.DataType].store]
		b = appendInts(b, num, t.ints)
	case fromStrings:
		for _, s := range t.strs {
			b = appendBytes(b, 6, s)
		}
	}
	b = appendString(b, 8, t.Name)
	if t.from == fromRaw && len(t.raw) > 0 {
		b = appendBytes(b, 9, t.raw)
	}
	return b, nil
}

func encodeValueInfo(b []byte, vi *ValueInfo) ([]byte, error) {
	b = appendString(b, 1, vi.Name)
	if vi.Type != nil {
		t := vi.Type
		if t.Kind != KindTensor {
			return nil, fmt.Errorf("value %q: type %s is not encoded; only tensor types are", vi.Name, t)
		}
		tensorType := appendVarint(nil, 1, uint64(t.Elem))
		if t.HasShape {
			var shape []byte
			for _, d := range t.Shape {
				var dim []byte
				switch {
				case d.Param != "":
					dim = appendString(dim, 2, d.Param)
				case d.Known:
					dim = appendVarint(dim, 1, uint64(d.Value))
				}
				shape = appendBytes(shape, 1, dim)
			}
			tensorType = appendBytes(tensorType, 2, shape)
		}
		b = appendBytes(b, 2, appendBytes(nil, 1, tensorType))
	}
	return appendString(b, 3, vi.Doc), nil
}
