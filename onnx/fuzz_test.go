package onnx

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode: no input makes the decoder panic, and every tensor it accepts
// holds exactly as many values as its dims say.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"node/test_if", "node/test_conv_with_strides_padding", "node/test_constant", "pytorch-converted/test_Conv1d", "node/test_cast_FLOAT_to_FLOAT16"} {
		if data, err := os.ReadFile(filepath.Join(testData, name, "model.onnx")); err == nil {
			f.Add(data)
		}
		if data, err := os.ReadFile(filepath.Join(testData, name, "test_data_set_0", "input_0.pb")); err == nil {
			f.Add(data)
		}
	}
	f.Add(initializer(packed(1, 2, 3), varint(2, 1), bytesField(9, le32(1, 2, 3, 4, 5, 6))))
	f.Add(initializer(packed(1, 3), varint(2, 7), packed(7, -1, 0, 1)))
	f.Add(initializer(packed(1, 3), varint(2, 22), packed(5, 1, 2)))
	f.Add(initializer(packed(1, 1<<32, 1<<32), varint(2, 1)))
	f.Add(initializer(external("x", "w.bin", []int64{2}, kv("length", "8"))))
	f.Add(model(bytesField(1, str(4, "If"), bytesField(5, str(1, "g"), bytesField(6, bytesField(1, str(4, "Identity")))))))
	f.Add(cat(packed(1, 2), varint(2, 10), packed(5, 0x3c00, 0xc000)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := Decode(data, 1<<24); err == nil {
			walk(m, func(x *Tensor) { checkTensor(t, x) })
		}
		if x, err := DecodeTensor(data, 1<<24); err == nil {
			checkTensor(t, x)
		}
	})
}

// checkTensor checks that x holds numel values where they are kept and as
// Float32s and Int64s return them.
func checkTensor(t *testing.T, x *Tensor) {
	n, err := numel(x.Dims)
	if err != nil || n != x.Numel() {
		t.Fatalf("tensor %q: dims %v, numel %d: %v", x.Name, x.Dims, x.Numel(), err)
	}
	want, _ := rawSize(x.DataType, n)
	switch {
	case x.from == fromRaw && x.raw != nil && int64(len(x.raw)) != want:
		t.Fatalf("tensor %q: %d raw bytes for %s dims %v", x.Name, len(x.raw), x.DataType, x.Dims)
	case x.from == fromInts && dataTypes[x.DataType].bits >= 8 && int64(len(x.ints)) != n:
		t.Fatalf("tensor %q: %d ints for dims %v", x.Name, len(x.ints), x.Dims)
	case x.from == fromStrings && int64(len(x.strs)) != n:
		t.Fatalf("tensor %q: %d strings for dims %v", x.Name, len(x.strs), x.Dims)
	}
	checkValues(t, x)
}

// walk calls fn for every tensor of m: initializers, sparse ones' parts,
// attribute values, in graphs nested at any depth and in functions.
func walk(m *Model, fn func(*Tensor)) {
	var graph func(*Graph)
	var nodes func([]*Node)
	sparse := func(s *SparseTensor) {
		fn(s.Values)
		fn(s.Indices)
	}
	nodes = func(ns []*Node) {
		for _, n := range ns {
			for _, a := range n.Attrs {
				for _, x := range append(a.Tensors, a.T) {
					if x != nil {
						fn(x)
					}
				}
				for _, g := range append(a.Graphs, a.G) {
					if g != nil {
						graph(g)
					}
				}
				for _, s := range append(a.SparseTensors, a.SparseTensor) {
					if s != nil {
						sparse(s)
					}
				}
			}
		}
	}
	graph = func(g *Graph) {
		for _, x := range g.Initializers {
			fn(x)
		}
		for _, s := range g.SparseInitializers {
			sparse(s)
		}
		nodes(g.Nodes)
	}
	graph(m.Graph)
	for _, f := range m.Functions {
		nodes(f.Nodes)
	}
}
