package onnx

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mdlc/mdlc/internal/size"
)

// Facts about two test models, as onnx's Python package prints them.
func TestKnownFacts(t *testing.T) {
	testModels(t)
	m, err := ReadFile(filepath.Join(testData, "pytorch-converted/test_Conv2d/model.onnx"), 1<<30)
	require.NoError(t, err)
	assert.Equal(t, int64(3), m.IRVersion)
	assert.Equal(t, "pytorch", m.ProducerName)
	v, ok := m.Opset("ai.onnx")
	assert.True(t, ok)
	assert.Equal(t, int64(6), v)
	require.Len(t, m.Graph.Nodes, 1)
	conv := m.Graph.Nodes[0]
	assert.Equal(t, "Conv", conv.OpType)
	assert.Equal(t, []string{"0", "1", "2"}, conv.Inputs)
	assert.Equal(t, []int64{3, 2}, conv.Attr("kernel_shape").Ints)
	assert.Equal(t, AttrInts, conv.Attr("kernel_shape").Type)
	assert.Equal(t, []int64{0, 0, 0, 0}, conv.Attr("pads").Ints)
	assert.Equal(t, int64(1), conv.Attr("group").I)
	assert.Nil(t, conv.Attr("auto_pad"))
	w := m.Graph.Initializers[0]
	assert.Equal(t, "1", w.Name)
	assert.Equal(t, []int64{4, 3, 3, 2}, w.Dims)
	assert.Equal(t, Float, w.DataType)
	f, err := w.Float32s()
	require.NoError(t, err)
	assert.Equal(t, []float32{-0.1429409235715866, -0.08505815267562866, -0.0018995553255081177}, f[:3])
	assert.Equal(t, "tensor(float)[2,3,7,5]", m.Graph.Inputs[0].Type.String())

	m, err = ReadFile(filepath.Join(testData, "node/test_if/model.onnx"), 1<<30)
	require.NoError(t, err)
	assert.Equal(t, "If", m.Graph.Nodes[0].OpType)
	assert.Equal(t, "Constant", m.Graph.Nodes[0].Attr("else_branch").G.Nodes[0].OpType)
}

// Builders of protobuf records, for the hand-made files below.
func tag(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }

func varint(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(tag(num, protowire.VarintType), v)
}

func bytesField(num protowire.Number, parts ...[]byte) []byte {
	return protowire.AppendBytes(tag(num, protowire.BytesType), cat(parts...))
}

func str(num protowire.Number, s string) []byte { return bytesField(num, []byte(s)) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func packed(num protowire.Number, vs ...int64) []byte {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return bytesField(num, b)
}

func le32(fs ...float32) []byte {
	var b []byte
	for _, f := range fs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

// model wraps a graph's fields in a model with opset 17.
func model(graph ...[]byte) []byte {
	return cat(varint(1, 8), bytesField(8, varint(2, 17)), bytesField(7, graph...))
}

// initializer is a model whose graph has one initializer of these fields.
func initializer(fields ...[]byte) []byte { return model(bytesField(5, fields...)) }

func TestTensorValues(t *testing.T) {
	for _, c := range []struct {
		name   string
		tensor []byte
		floats []float32
		ints   []int64
	}{
		{"float raw", cat(packed(1, 2), varint(2, 1), bytesField(9, le32(1.5, -2))), []float32{1.5, -2}, nil},
		{"float_data packed", cat(packed(1, 2), varint(2, 1), bytesField(4, le32(1.5, -2))), []float32{1.5, -2}, nil},
		{"float_data unpacked", cat(varint(1, 2), varint(2, 1),
			tag(4, protowire.Fixed32Type), le32(1.5), tag(4, protowire.Fixed32Type), le32(-2)), []float32{1.5, -2}, nil},
		{"float16 raw", cat(packed(1, 2), varint(2, 10), bytesField(9, []byte{0x00, 0x3c, 0x00, 0xc0})), []float32{1, -2}, nil},
		{"float16 int32_data", cat(packed(1, 2), varint(2, 10), packed(5, 0x3c00, 0xc000)), []float32{1, -2}, nil},
		{"bfloat16 raw", cat(packed(1, 1), varint(2, 16), bytesField(9, []byte{0x80, 0x3f})), []float32{1}, nil},
		{"double_data", cat(varint(2, 11), bytesField(10, binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.1)))), []float32{0.1}, nil},
		{"int64_data", cat(packed(1, 3), varint(2, 7), packed(7, -1, 0, 1<<40)), nil, []int64{-1, 0, 1 << 40}},
		{"int64 raw", cat(packed(1, 1), varint(2, 7), bytesField(9, binary.LittleEndian.AppendUint64(nil, 1<<40))), nil, []int64{1 << 40}},
		{"int32_data negative", cat(packed(1, 2), varint(2, 6), packed(5, -7, 3)), nil, []int64{-7, 3}},
		{"int8 raw", cat(packed(1, 2), varint(2, 3), bytesField(9, []byte{0xff, 5})), nil, []int64{-1, 5}},
		{"uint8 raw", cat(packed(1, 2), varint(2, 2), bytesField(9, []byte{0xff, 5})), nil, []int64{255, 5}},
		{"int16 int32_data", cat(packed(1, 1), varint(2, 5), packed(5, -300)), nil, []int64{-300}},
		{"uint16 raw", cat(packed(1, 1), varint(2, 4), bytesField(9, []byte{0xff, 0xff})), nil, []int64{65535}},
		{"bool int32_data", cat(packed(1, 2), varint(2, 9), packed(5, 1, 0)), nil, []int64{1, 0}},
		{"empty", cat(packed(1, 0, 3), varint(2, 1)), []float32{}, nil},
		// dims arrive packed and unpacked in one tensor: both are one list.
		{"dims mixed", cat(varint(1, 1), packed(1, 2), varint(2, 1), bytesField(9, le32(1, 2))), []float32{1, 2}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			x, err := DecodeTensor(c.tensor, 1<<20)
			require.NoError(t, err)
			f, ferr := x.Float32s()
			v, ierr := x.Int64s()
			if c.floats != nil {
				require.NoError(t, ferr)
				assert.InDeltaSlice(t, c.floats, f, 0)
				assert.ErrorContains(t, ierr, "not read as integers")
			} else {
				require.NoError(t, ierr)
				assert.Equal(t, c.ints, v)
				assert.ErrorContains(t, ferr, "not read as float32")
			}
		})
	}
	x, err := DecodeTensor(cat(str(8, "s"), packed(1, 1), varint(2, 8), str(6, "hello")), 1<<20)
	require.NoError(t, err)
	_, err = x.Float32s()
	assert.EqualError(t, err, `tensor "s" holds string values, which are not read as float32`)
	x, err = DecodeTensor(cat(packed(1, 1), varint(2, 14), bytesField(4, le32(1, 2))), 1<<20)
	require.NoError(t, err)
	_, err = x.Int64s()
	assert.ErrorContains(t, err, "holds complex64 values")
}

// Hostile or broken files: each is refused with an error that says where,
// never a panic or an allocation of what the file declares.
func TestRefusesBrokenFiles(t *testing.T) {
	huge := cat(tag(7, protowire.BytesType), protowire.AppendVarint(nil, 1<<62))
	deep := bytesField(1, str(4, "Identity"))
	for range MaxGraphDepth + 2 {
		deep = bytesField(1, str(4, "If"), bytesField(5, str(1, "then_branch"), bytesField(6, deep)))
	}
	deepType := bytesField(1, varint(1, 1))
	for range MaxTypeDepth + 1 {
		deepType = bytesField(4, bytesField(1, deepType))
	}
	for _, c := range []struct {
		name, file, err string
	}{
		{"empty", "", "no graph"},
		{"huge length", string(huge), "unexpected EOF"},
		{"truncated varint", "\x08\xff", "unexpected EOF"},
		{"end group alone", "\x0c", "end group"},
		{"dims overflow", string(initializer(packed(1, 1<<32, 1<<32, 1<<32), varint(2, 1))), "overflows"},
		{"negative dim", string(initializer(packed(1, 2, -1), varint(2, 1))), "dimension 1 is -1"},
		{"raw_data short", string(initializer(str(8, "w"), packed(1, 2, 3), varint(2, 1), bytesField(9, le32(1, 2)))),
			`graph.initializer[0]: tensor "w": raw_data of 8 bytes for a float tensor of dims [2 3], which needs 24`},
		{"float_data short", string(initializer(str(8, "w"), packed(1, 3), varint(2, 1), bytesField(4, le32(1, 2)))),
			`tensor "w": 2 values in float_data for dims [3], which need 3`},
		{"float_data ragged", string(initializer(str(8, "w"), packed(1, 3), varint(2, 1), bytesField(4, []byte{1, 2, 3}))),
			"graph.initializer[0].float_data: packed 4-byte values: 3 bytes"},
		{"no values", string(initializer(str(8, "w"), packed(1, 3), varint(2, 1))), `tensor "w": no values for dims [3]`},
		{"two fields", string(initializer(packed(1, 1), varint(2, 1), bytesField(4, le32(1)), bytesField(9, le32(1)))), "more than one field"},
		{"wrong field", string(initializer(packed(1, 1), varint(2, 1), packed(7, 1))), "float values in int64_data"},
		{"unknown data type", string(initializer(varint(2, 99))), "data type 99 is not an element type"},
		{"wrong wire type", string(model(bytesField(1, str(4, "Constant"), bytesField(5, str(1, "value"), bytesField(5, tag(1, protowire.Fixed32Type), le32(1)))))),
			"onnx model: graph.node[0].attribute[0].t.dims: wrong wire type (fixed32)"},
		{"wrong wire type scalar", string(model(bytesField(1, str(4, "X"), bytesField(5, varint(2, 7))))), "graph.node[0].attribute[0].f: wrong wire type (varint)"},
		{"deep graphs", string(model(deep)), "graphs nested more than 32 deep"},
		{"deep types", string(model(bytesField(11, str(1, "x"), bytesField(2, deepType)))), "types nested more than 32 deep"},
		{"bad location", string(initializer(packed(1, 1), varint(2, 1), varint(14, 7))), "data_location 7"},
		{"external without location", string(initializer(packed(1, 1), varint(2, 1), varint(14, 1))), "external data without a location"},
		{"external length", string(initializer(packed(1, 1), varint(2, 1), varint(14, 1),
			bytesField(13, str(1, "location"), str(2, "w.bin")), bytesField(13, str(1, "length"), str(2, "8")))), "external data of 8 bytes for a float tensor of dims [1], which needs 4"},
		{"external offset", string(initializer(packed(1, 1), varint(2, 1), varint(14, 1),
			bytesField(13, str(1, "location"), str(2, "w.bin")), bytesField(13, str(1, "offset"), str(2, "-1")))), `offset "-1" is not a byte count`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode([]byte(c.file), 1<<20)
			assert.ErrorContains(t, err, c.err)
		})
	}
}

// Every prefix of a real model is decoded without a panic (most are errors:
// a cut inside a record; a few end between records and decode).
func TestTruncated(t *testing.T) {
	testModels(t)
	data, err := os.ReadFile(filepath.Join(testData, "node/test_if/model.onnx"))
	require.NoError(t, err)
	failed := 0
	for n := range len(data) {
		if _, err := Decode(data[:n], 1<<20); err != nil {
			failed++
		}
	}
	assert.Greater(t, failed, len(data)*9/10)
}

func TestBudget(t *testing.T) {
	// 100,000 empty nodes: 200 KB of file, a Node struct each decoded.
	nodes := []byte(strings.Repeat("\x0a\x00", 100_000))
	_, err := Decode(model(nodes), 1<<20)
	var se *size.Error
	require.ErrorAs(t, err, &se)
	assert.Contains(t, err.Error(), "the decoded model needs")
	_, err = Decode(model(nodes), 64<<20)
	assert.NoError(t, err)

	// 1 MB of packed varints would be 8 MB of int64s.
	ints := bytesField(8, make([]byte, 1<<20))
	_, err = Decode(model(bytesField(1, bytesField(5, str(1, "a"), ints))), 4<<20)
	assert.ErrorAs(t, err, &se)

	// 1 MB of BOOL raw_data: 8 MB once read as int64s, charged when decoded.
	bools := cat(str(8, "mask"), packed(1, 1<<20), varint(2, 9), bytesField(9, make([]byte, 1<<20)))
	_, err = DecodeTensor(bools, 4<<20)
	assert.ErrorAs(t, err, &se)
	x, err := DecodeTensor(bools, 16<<20)
	require.NoError(t, err)
	v, err := x.Int64s()
	require.NoError(t, err)
	assert.Len(t, v, 1<<20)
}

// writeModel writes a model whose graph has these initializers to
// dir/model.onnx and returns its path.
func writeModel(t *testing.T, dir string, inits ...[]byte) string {
	var g []byte
	for _, x := range inits {
		g = append(g, bytesField(5, x)...)
	}
	p := filepath.Join(dir, "model.onnx")
	require.NoError(t, os.WriteFile(p, model(g), 0o644))
	return p
}

func external(name, loc string, dims []int64, extra ...[]byte) []byte {
	return cat(str(8, name), packed(1, dims...), varint(2, 1), varint(14, 1), bytesField(13, str(1, "location"), str(2, loc)), cat(extra...))
}

func kv(k, v string) []byte { return bytesField(13, str(1, k), str(2, v)) }

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "weights"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "weights", "w.bin"), cat(le32(9), le32(1, 2, 3), le32(4, 5)), 0o644))
	m, err := ReadFile(writeModel(t, dir,
		external("a", "weights/w.bin", []int64{3}, kv("offset", "4"), kv("length", "12")),
		external("b", "weights/w.bin", []int64{2}, kv("offset", "16"))), 1<<20)
	require.NoError(t, err)
	a, err := m.Graph.Initializers[0].Float32s()
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 2, 3}, a)
	b, err := m.Graph.Initializers[1].Float32s()
	require.NoError(t, err)
	assert.Equal(t, []float32{4, 5}, b)
	assert.Equal(t, &External{Location: "weights/w.bin", Offset: 16, Length: 8, HasLength: true}, m.Graph.Initializers[1].External)

	// Decode alone leaves them unloaded.
	data, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	require.NoError(t, err)
	m, err = Decode(data, 1<<20)
	require.NoError(t, err)
	_, err = m.Graph.Initializers[0].Float32s()
	assert.EqualError(t, err, `tensor "a": its values are in weights/w.bin, which was not loaded`)

	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), le32(1), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link")))
	require.NoError(t, os.Symlink("../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "rel")))
	for _, c := range []struct{ name, loc, err string }{
		{"dot-dot", "../" + filepath.Base(outside) + "/secret", "is not a path inside the model's folder"},
		{"dot-dot inside", "weights/../weights/w.bin", "is not a path inside the model's folder"},
		{"backslash dot-dot", `..\secret`, "is not a path inside the model's folder"},
		{"absolute", filepath.Join(outside, "secret"), "is not a path inside the model's folder"},
		{"symlink out", "link", "escapes"},
		{"relative symlink out", "rel", "escapes"},
		{"directory", "weights", "is a directory"},
		{"missing", "nothing.bin", "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadFile(writeModel(t, dir, external("x", c.loc, []int64{1})), 1<<20)
			assert.ErrorContains(t, err, c.err)
		})
	}
	for _, c := range []struct {
		name  string
		dims  []int64
		extra [][]byte
		err   string
	}{
		{"offset past end", []int64{1}, [][]byte{kv("offset", "100")}, "offset 100 is past the end of weights/w.bin (24 bytes)"},
		{"length past end", []int64{4}, [][]byte{kv("offset", "16"), kv("length", "16")}, "16 bytes at offset 16 run past the end"},
		{"rest too long", []int64{1}, [][]byte{kv("offset", "4")}, "20 bytes in weights/w.bin for a float tensor of dims [1], which needs 4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadFile(writeModel(t, dir, external("x", "weights/w.bin", c.dims, c.extra...)), 1<<20)
			assert.ErrorContains(t, err, c.err)
		})
	}

	// The external tensors together are checked against the budget before
	// any is read: six 1 MiB views of one sparse 1 MiB file.
	big := filepath.Join(dir, "big.bin")
	require.NoError(t, os.WriteFile(big, nil, 0o644))
	require.NoError(t, os.Truncate(big, 1<<20))
	var inits [][]byte
	for range 6 {
		inits = append(inits, external("big", "big.bin", []int64{1 << 18}))
	}
	_, err = ReadFile(writeModel(t, dir, inits...), 4<<20)
	var se *size.Error
	assert.ErrorAs(t, err, &se)
}

func TestReadFileRefusesSpecialFiles(t *testing.T) {
	_, err := ReadFile(t.TempDir(), 1<<20)
	assert.ErrorContains(t, err, "is a directory")
	_, err = ReadTensorFile("/dev/zero", 1<<20)
	assert.Error(t, err)
	p := filepath.Join(t.TempDir(), "m.onnx")
	require.NoError(t, os.WriteFile(p, make([]byte, 1000), 0o644))
	_, err = ReadFile(p, 100)
	var se *size.Error
	assert.True(t, errors.As(err, &se))
}

// Types an importer refuses are decoded enough to name in its message.
func TestTypeString(t *testing.T) {
	tensor := bytesField(1, varint(1, 1), bytesField(2, bytesField(1, str(2, "N")), bytesField(1, varint(1, 3)), bytesField(1)))
	m, err := Decode(model(
		bytesField(11, str(1, "a"), bytesField(2, tensor)),
		bytesField(11, str(1, "b"), bytesField(2, bytesField(4, bytesField(1, tensor)))),
		bytesField(11, str(1, "c"), bytesField(2, bytesField(5, varint(1, 8), bytesField(2, bytesField(1, varint(1, 7)))))),
		bytesField(11, str(1, "d"), bytesField(2, bytesField(9, bytesField(1, bytesField(8, varint(1, 10)))))),
		bytesField(11, str(1, "e")),
	), 1<<20)
	require.NoError(t, err)
	var got []string
	for _, v := range m.Graph.Inputs[:4] {
		got = append(got, v.Type.String())
	}
	assert.Equal(t, []string{"tensor(float)[N,3,?]", "seq(tensor(float)[N,3,?])", "map(string,tensor(int64))", "optional(sparse_tensor(float16))"}, got)
	assert.Nil(t, m.Graph.Inputs[4].Type)
}
