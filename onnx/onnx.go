// Package onnx decodes ONNX models (ModelProto files, .onnx) and tensors
// (TensorProto files, the .pb of ONNX's test data) into plain Go structs,
// without trusting them: every size is overflow-checked and charged against a
// memory budget before it is allocated, element counts are checked against
// the data present, nesting is bounded, and external data is read only from
// regular files inside the model's folder. Encode writes such structs back
// as a model file, for mdlc's exporter (encode.go).
//
// The decoder is written by hand over protowire, the wire-format layer of
// google.golang.org/protobuf, rather than generated from onnx.proto: the
// subset of ONNX a model uses is a few hundred lines to decode, needs no
// reflection or generated code (which would be ten times larger), and only a
// hand-written decoder can check limits while it reads, where generated
// code would first allocate whatever the file declares.
//
// Field numbers and meanings are those of onnx/onnx.proto3 (IR version 10).
// Unknown fields are skipped, as protobuf requires; a known field with the
// wrong wire type is an error naming its path, e.g.
// graph.node[12].attribute[3].t.dims. Tensor values are not copied:
// raw_data and packed float_data/double_data are slices of the file's
// buffer, converted once when Float32s or Int64s is asked for.
package onnx

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/size"
)

// MaxFile is the largest .onnx file read: protobuf's own limit on a message
// (2 GiB); larger models keep their weights in external data files.
const MaxFile = 2 << 30

// MaxGraphDepth bounds graphs nested in attributes (If, Loop, Scan bodies).
// Real models nest a few levels; the bound keeps a hostile file from
// recursing the decoder, and later passes, without limit.
const MaxGraphDepth = 32

// Model is a decoded ModelProto.
type Model struct {
	IRVersion       int64
	Opsets          []OpsetID
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	Doc             string
	Graph           *Graph
	Metadata        []KeyValue // metadata_props, in file order
	Functions       []*Function
}

// OpsetID is an OperatorSetIdProto: the version of an operator domain the
// model's nodes follow. Domain "" is the default domain, ai.onnx.
type OpsetID struct {
	Domain  string
	Version int64
}

// Opset is the version of the operator set the model imports for domain
// ("" or "ai.onnx" for the default one), or false when it imports none.
func (m *Model) Opset(domain string) (int64, bool) {
	if domain == "ai.onnx" {
		domain = ""
	}
	for _, o := range m.Opsets {
		d := o.Domain
		if d == "ai.onnx" {
			d = ""
		}
		if d == domain {
			return o.Version, true
		}
	}
	return 0, false
}

// KeyValue is a StringStringEntryProto.
type KeyValue struct{ Key, Value string }

// Graph is a GraphProto: nodes in the file's order (ONNX requires a
// topological one), and the weights (initializers) they read.
type Graph struct {
	Name               string
	Nodes              []*Node
	Initializers       []*Tensor
	SparseInitializers []*SparseTensor
	Inputs             []*ValueInfo
	Outputs            []*ValueInfo
	ValueInfo          []*ValueInfo // types of intermediate values, where the producer recorded them
	Doc                string
}

// Node is a NodeProto: one operator application. An empty input name is an
// optional input left out.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string
	Outputs []string
	Attrs   []*Attribute
}

// Attr is the node's attribute called name, or nil.
func (n *Node) Attr(name string) *Attribute {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// AttrType is AttributeProto.AttributeType: which of an attribute's fields
// holds its value.
type AttrType int32

// The attribute types of onnx.proto, with its numbers.
const (
	AttrUndefined     AttrType = 0
	AttrFloat         AttrType = 1
	AttrInt           AttrType = 2
	AttrString        AttrType = 3
	AttrTensor        AttrType = 4
	AttrGraph         AttrType = 5
	AttrFloats        AttrType = 6
	AttrInts          AttrType = 7
	AttrStrings       AttrType = 8
	AttrTensors       AttrType = 9
	AttrGraphs        AttrType = 10
	AttrSparseTensor  AttrType = 11
	AttrSparseTensors AttrType = 12
	AttrTypeProto     AttrType = 13
	AttrTypeProtos    AttrType = 14
)

// Attribute is an AttributeProto. Type says which field holds the value
// (files from before IR version 4 may leave it undefined). RefAttrName,
// inside functions, names the function attribute this one takes its value
// from. Type protos (13, 14) are not decoded.
type Attribute struct {
	Name          string
	Type          AttrType
	RefAttrName   string
	F             float32
	I             int64
	S             []byte
	T             *Tensor
	G             *Graph
	SparseTensor  *SparseTensor
	Floats        []float32
	Ints          []int64
	Strings       [][]byte
	Tensors       []*Tensor
	Graphs        []*Graph
	SparseTensors []*SparseTensor
}

// SparseTensor is a SparseTensorProto: Values (1-D) at Indices (1-D linear,
// or 2-D [nnz, rank] coordinates) in a dense tensor of shape Dims.
type SparseTensor struct {
	Values  *Tensor
	Indices *Tensor
	Dims    []int64
}

// ValueInfo is a ValueInfoProto: a graph input, output or intermediate
// value, and its type when known (nil when the producer left it out).
type ValueInfo struct {
	Name string
	Type *Type
	Doc  string
}

// Function is a FunctionProto: a model-local operator defined by a body of
// nodes. Decoded enough to list them and say which a model uses.
type Function struct {
	Name       string
	Domain     string
	Inputs     []string
	Outputs    []string
	Attributes []string // names of the attributes it takes
	Nodes      []*Node
	Opsets     []OpsetID
	Doc        string
}

// ReadFile reads and decodes the model at path, and the external data files
// its tensors name, which must lie in path's folder or below it. The file,
// and everything decoded from it, must fit budget.
func ReadFile(path string, budget size.Budget) (*Model, error) {
	data, err := readCapped(path, budget)
	if err != nil {
		return nil, err
	}
	m, d, err := decodeModel(data, budget)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := d.loadExternal(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Decode decodes a model from data, which the model's tensors keep slices
// of: data must not change afterwards. Tensors in external data files are
// left unloaded (their Float32s and Int64s fail); ReadFile loads them.
func Decode(data []byte, budget size.Budget) (*Model, error) {
	m, _, err := decodeModel(data, budget)
	return m, err
}

// ReadTensorFile reads and decodes a file holding one TensorProto, as ONNX's
// test data stores inputs and expected outputs (input_0.pb, output_0.pb).
func ReadTensorFile(path string, budget size.Budget) (*Tensor, error) {
	data, err := readCapped(path, budget)
	if err != nil {
		return nil, err
	}
	t, err := DecodeTensor(data, budget)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// DecodeTensor decodes one TensorProto from data, which the tensor keeps a
// slice of. A tensor naming external data is refused: there is no model
// folder to find it in.
func DecodeTensor(data []byte, budget size.Budget) (*Tensor, error) {
	d := &decoder{budget: budget}
	if err := d.charge(int64(len(data))); err != nil {
		return nil, err
	}
	t, err := d.tensor(data)
	if err != nil {
		return nil, fmt.Errorf("onnx tensor: %w", err)
	}
	if t.External != nil {
		return nil, fmt.Errorf("onnx tensor %q: its values are in an external file (%s), which a lone tensor file cannot name", t.Name, t.External.Location)
	}
	return t, nil
}

// readCapped reads the regular file at path whole, if it is at most MaxFile
// bytes and fits budget.
func readCapped(path string, budget size.Budget) ([]byte, error) {
	f, st, err := safeio.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > MaxFile {
		return nil, fmt.Errorf("%s is %s, more than protobuf's limit of 2 GiB on a message: that is not an ONNX file", path, size.Format(st.Size()))
	}
	if err := budget.Check(path, st.Size()); err != nil {
		return nil, err
	}
	// Read one byte past the size stat'ed, to notice a file that grew.
	data := make([]byte, st.Size()+1)
	n, err := io.ReadFull(f, data)
	switch {
	case err == nil:
		return nil, fmt.Errorf("%s grew while it was read", path)
	case !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF):
		return nil, err
	}
	return data[:n:n], nil
}
