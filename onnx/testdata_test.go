package onnx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ONNX's test data, as Debian's libonnx-testdata installs it: a model.onnx
// per operator test and per converted PyTorch model, with inputs and
// expected outputs as TensorProto files in test_data_set_*/.
const testData = "/usr/share/libonnx-testdata/data"

var testDataSets = []string{"node", "pytorch-converted", "pytorch-operator", "simple"}

func testModels(t testing.TB) []string {
	var paths []string
	for _, set := range testDataSets {
		err := filepath.WalkDir(filepath.Join(testData, set), func(p string, e os.DirEntry, err error) error {
			if err == nil && e.Name() == "model.onnx" {
				paths = append(paths, p)
			}
			return err
		})
		if os.IsNotExist(err) {
			t.Skipf("no ONNX test data (apt-get install libonnx-testdata): %v", err)
		}
		require.NoError(t, err)
	}
	slices.Sort(paths)
	return paths
}

// TestDecodesTestData decodes every model of the test data and every input
// and expected output beside it, checking each tensor file against the type
// the model declares for that input or output.
func TestDecodesTestData(t *testing.T) {
	models, tensors := 0, 0
	for _, path := range testModels(t) {
		m, err := ReadFile(path, 1<<30)
		if !assert.NoError(t, err) {
			continue
		}
		models++
		inits := map[string]bool{}
		for _, x := range m.Graph.Initializers {
			inits[x.Name] = true
			checkValues(t, x)
		}
		var inputs []*ValueInfo
		for _, v := range m.Graph.Inputs {
			if !inits[v.Name] {
				inputs = append(inputs, v)
			}
		}
		sets, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "test_data_set_*"))
		for _, set := range sets {
			for kind, vals := range map[string][]*ValueInfo{"input": inputs, "output": m.Graph.Outputs} {
				for i, v := range vals {
					pb := filepath.Join(set, fmt.Sprintf("%s_%d.pb", kind, i))
					if v.Type == nil || v.Type.Kind != KindTensor {
						continue // a sequence or optional: a SequenceProto or OptionalProto, not a tensor
					}
					x, err := ReadTensorFile(pb, 1<<30)
					if os.IsNotExist(err) {
						continue
					}
					if !assert.NoError(t, err) {
						continue
					}
					tensors++
					checkValues(t, x)
					// Two quirks of the test data itself, which onnx's Python
					// package reads the same way: bfloat16 values stored as
					// uint16 (numpy has no bfloat16), and CastLike's second
					// input, which only lends its type, stored with dims [1].
					if v.Type.Elem == BFloat16 && x.DataType == Uint16 || strings.Contains(pb, "castlike") && kind == "input" && i == 1 {
						continue
					}
					assert.Equal(t, v.Type.Elem, x.DataType, "%s: %s", pb, v.Type)
					if v.Type.HasShape && assert.Len(t, x.Dims, len(v.Type.Shape), "%s: %s", pb, v.Type) {
						for j, d := range v.Type.Shape {
							if d.Known && d.Param == "" {
								assert.Equal(t, d.Value, x.Dims[j], "%s: %s", pb, v.Type)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d models, %d input and output tensors decoded", models, tensors)
	assert.Greater(t, models, 1000)
	assert.Greater(t, tensors, 2000)
}

// checkValues reads x's values where its type can be read, and checks there
// are Numel of them.
func checkValues(t testing.TB, x *Tensor) {
	t.Helper()
	if f, err := x.Float32s(); err == nil {
		if int64(len(f)) != x.Numel() {
			t.Fatalf("tensor %q: %d float32s for numel %d", x.Name, len(f), x.Numel())
		}
	}
	if v, err := x.Int64s(); err == nil {
		if int64(len(v)) != x.Numel() {
			t.Fatalf("tensor %q: %d int64s for numel %d", x.Name, len(v), x.Numel())
		}
	}
}

// TestAgainstPythonONNX compares what this decoder reads from every test
// model with what onnx's Python package reads (testdata/summary.py): ops,
// attributes, graph inputs and outputs with their types, nested graphs, and
// the values of every initializer and constant, by checksum.
func TestAgainstPythonONNX(t *testing.T) {
	models := testModels(t)
	if exec.Command("/usr/bin/python3", "-c", "import onnx").Run() != nil {
		t.Skip("no onnx Python package (apt-get install python3-onnx)")
	}
	cmd := exec.Command("/usr/bin/python3", "testdata/summary.py")
	cmd.Stdin = strings.NewReader(strings.Join(models, "\n"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	var want map[string]any
	require.NoError(t, json.Unmarshal(out, &want))
	require.Len(t, want, len(models))

	mismatches := 0
	for _, path := range models {
		m, err := ReadFile(path, 1<<30)
		require.NoError(t, err)
		ops := []any{}
		for _, o := range m.Opsets {
			ops = append(ops, []any{o.Domain, o.Version})
		}
		got := roundTrip(t, map[string]any{"ir": m.IRVersion, "producer": m.ProducerName, "opsets": ops, "graph": summarize(t, m.Graph)})
		if !assert.Equal(t, want[path], got, path) {
			if mismatches++; mismatches > 5 {
				t.Fatal("more mismatches left out")
			}
		}
	}
}

// roundTrip makes v what json.Unmarshal of Python's output gives.
func roundTrip(t testing.TB, v any) any {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

type obj = map[string]any

func summarize(t testing.TB, g *Graph) obj {
	nodes := []any{}
	for _, n := range g.Nodes {
		attrs := []any{}
		for _, a := range n.Attrs {
			strs := []string{}
			for _, s := range a.Strings {
				strs = append(strs, fmt.Sprintf("%x", s))
			}
			floats := []float64{}
			for _, f := range a.Floats {
				floats = append(floats, float64(f))
			}
			x := obj{"name": a.Name, "type": a.Type, "f": float64(a.F), "i": a.I, "s": fmt.Sprintf("%x", a.S),
				"floats": floats, "ints": orEmpty(a.Ints), "strings": strs, "tensors": tensorSums(t, a.Tensors), "graphs": []any{}}
			if a.T != nil {
				x["t"] = tensorSum(t, a.T)
			}
			if a.G != nil {
				x["g"] = summarize(t, a.G)
			}
			for _, sub := range a.Graphs {
				x["graphs"] = append(x["graphs"].([]any), summarize(t, sub))
			}
			attrs = append(attrs, x)
		}
		nodes = append(nodes, obj{"name": n.Name, "op": n.OpType, "domain": n.Domain, "in": orEmpty(n.Inputs), "out": orEmpty(n.Outputs), "attrs": attrs})
	}
	return obj{"name": g.Name, "nodes": nodes, "inits": tensorSums(t, g.Initializers),
		"inputs": valueInfos(g.Inputs), "outputs": valueInfos(g.Outputs), "value_info": valueInfos(g.ValueInfo)}
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func valueInfos(vs []*ValueInfo) []any {
	out := []any{}
	for _, v := range vs {
		typ := "none"
		if v.Type != nil {
			typ = pyType(v.Type)
		}
		out = append(out, obj{"name": v.Name, "type": typ})
	}
	return out
}

// pyType is Type.String with element types as numbers, as summary.py
// writes them.
func pyType(t *Type) string {
	inner := "none"
	if t.Inner != nil {
		inner = pyType(t.Inner)
	}
	switch t.Kind {
	case KindTensor:
		s := fmt.Sprintf("tensor(%d)", t.Elem)
		if t.HasShape {
			dims := []string{}
			for _, d := range t.Shape {
				switch {
				case d.Param != "":
					dims = append(dims, d.Param)
				case d.Known:
					dims = append(dims, strconv.FormatInt(d.Value, 10))
				default:
					dims = append(dims, "?")
				}
			}
			s += "[" + strings.Join(dims, ",") + "]"
		}
		return s
	case KindSequence:
		return "seq(" + inner + ")"
	case KindMap:
		return fmt.Sprintf("map(%d,%s)", t.Key, inner)
	case KindOptional:
		return "optional(" + inner + ")"
	case KindSparseTensor:
		return "sparse_tensor_type"
	}
	return "none"
}

func tensorSums(t testing.TB, xs []*Tensor) []any {
	out := []any{}
	for _, x := range xs {
		out = append(out, tensorSum(t, x))
	}
	return out
}

// tensorSum is a tensor's name, dims, type, and for float and integer types
// the count and wrapping sum of its values' bits (float32 bits for floats).
func tensorSum(t testing.TB, x *Tensor) obj {
	o := obj{"name": x.Name, "dims": orEmpty(x.Dims), "type": x.DataType}
	var sum uint64
	if f, err := x.Float32s(); err == nil {
		for _, v := range f {
			sum += uint64(math.Float32bits(v))
		}
		o["n"], o["sum"] = len(f), strconv.FormatUint(sum, 10)
	} else if v, err := x.Int64s(); err == nil {
		for _, v := range v {
			sum += uint64(v)
		}
		o["n"], o["sum"] = len(v), strconv.FormatUint(sum, 10)
	}
	return o
}
