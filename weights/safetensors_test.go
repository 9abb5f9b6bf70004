package weights

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/tensor"
)

// stFile builds a safetensors file from a literal header and data buffer.
func stFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func le32(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func le16(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

func readBytes(b []byte) (map[string]*tensor.Tensor, error) {
	return Read(bytes.NewReader(b), int64(len(b)))
}

func TestWriteKnownBytes(t *testing.T) {
	ts := map[string]*tensor.Tensor{
		"b": {Shape: []int{2}, Data: []float32{1, 2}},
		"a": {Shape: []int{}, Data: []float32{3}},
	}
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, ts, map[string]string{"format": "mdlc"}))
	// What safetensors' serialize() writes: a 140-byte header padded to 144.
	want := "\x90\x00\x00\x00\x00\x00\x00\x00" +
		`{"__metadata__":{"format":"mdlc"},` +
		`"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},` +
		`"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}` + "    " +
		"\x00\x00\x40\x40" + "\x00\x00\x80\x3f" + "\x00\x00\x00\x40"
	assert.Equal(t, want, buf.String())

	buf.Reset()
	require.NoError(t, Write(&buf, nil, nil))
	assert.Equal(t, "\x08\x00\x00\x00\x00\x00\x00\x00{}      ", buf.String())
}

func TestRoundTrip(t *testing.T) {
	big := tensor.New(300, 1000) // more than one read chunk
	for i := range big.Data {
		big.Data[i] = float32(i) - 0.5
	}
	ts := map[string]*tensor.Tensor{
		"conv2d.kernel":        {Shape: []int{3, 3, 1, 2}, Data: make([]float32, 18)},
		"res1.bn1.moving_mean": {Shape: []int{2}, Data: []float32{float32(math.NaN()), float32(math.Copysign(0, -1))}},
		"scalar":               {Shape: []int{}, Data: []float32{float32(math.Inf(1))}},
		"empty":                {Shape: []int{0, 5}, Data: []float32{}},
		"big":                  big,
	}
	for i := range ts["conv2d.kernel"].Data {
		ts["conv2d.kernel"].Data[i] = float32(i) / 7
	}
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, ts, nil))
	got, err := readBytes(buf.Bytes())
	require.NoError(t, err)
	assertSameTensors(t, ts, got)

	path := filepath.Join(t.TempDir(), "w.safetensors")
	require.NoError(t, WriteFile(path, ts, map[string]string{"k": "v"}))
	got, err = ReadFile(path)
	require.NoError(t, err)
	assertSameTensors(t, ts, got)

	// A failed write leaves the existing file and no temporary behind.
	err = WriteFile(path, map[string]*tensor.Tensor{"x": nil}, nil)
	assert.EqualError(t, err, `safetensors: tensor "x" is nil`)
	got, err = ReadFile(path)
	require.NoError(t, err)
	assertSameTensors(t, ts, got)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

func assertSameTensors(t *testing.T, want, got map[string]*tensor.Tensor) {
	t.Helper()
	require.Len(t, got, len(want))
	for name, w := range want {
		g := got[name]
		require.NotNil(t, g, name)
		assert.Equal(t, w.Shape, g.Shape, name)
		require.Len(t, g.Data, len(w.Data), name)
		for i := range w.Data {
			if math.Float32bits(w.Data[i]) != math.Float32bits(g.Data[i]) {
				t.Fatalf("%s[%d] = %v, want %v", name, i, g.Data[i], w.Data[i])
			}
		}
	}
}

func TestReadConversions(t *testing.T) {
	f64 := binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.1))
	f64 = binary.LittleEndian.AppendUint64(f64, math.Float64bits(-1e300))
	header := `{"h":{"dtype":"F16","shape":[9],"data_offsets":[0,18]},` +
		`"b":{"dtype":"BF16","shape":[3],"data_offsets":[18,24]},` +
		`"d":{"dtype":"F64","shape":[2],"data_offsets":[24,40]},` +
		`"__metadata__":{"format":"pt"}}`
	data := slices.Concat(
		le16(0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x8000, 0x7c00, 0x3555, 0xfe01),
		le16(0x3f80, 0xc0a0, 0xff80),
		f64)
	got, err := readBytes(stFile(header, data))
	require.NoError(t, err)
	h := got["h"].Data
	assert.Equal(t, []float32{1, -2, 65504, 0x1p-24, 0x3ffp-24, 0, float32(math.Inf(1)), 0x1.554p-2}, h[:8])
	assert.True(t, math.Signbit(float64(h[5])), "-0 keeps its sign")
	assert.Equal(t, uint32(0xffc02000), math.Float32bits(h[8]), "NaN keeps sign and payload")
	assert.Equal(t, []float32{1, -5, float32(math.Inf(-1))}, got["b"].Data)
	assert.Equal(t, []float32{0.1, float32(math.Inf(-1))}, got["d"].Data)
	assert.Equal(t, []int{9}, got["h"].Shape)

	got, err = readBytes(stFile(`{"__metadata__":null}`, nil))
	require.NoError(t, err)
	assert.Empty(t, got)

	// Integers, as checkpoints keep them beside their weights, by value.
	ints := `{"l":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},` +
		`"i":{"dtype":"I32","shape":[1],"data_offsets":[16,20]},` +
		`"s":{"dtype":"I16","shape":[1],"data_offsets":[20,22]},` +
		`"c":{"dtype":"I8","shape":[1],"data_offsets":[22,23]},` +
		`"u":{"dtype":"U8","shape":[1],"data_offsets":[23,24]},` +
		`"t":{"dtype":"BOOL","shape":[2],"data_offsets":[24,26]}}`
	data = slices.Concat(
		binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 100), uint64(1<<64-3)), // 100, -3
		binary.LittleEndian.AppendUint32(nil, uint32(1<<32-7)),                                        // -7
		le16(0x8000),             // -32768
		[]byte{0xfe, 0xff, 1, 0}) // -2, 255, true, false
	got, err = readBytes(stFile(ints, data))
	require.NoError(t, err)
	assert.Equal(t, []float32{100, -3}, got["l"].Data)
	assert.Equal(t, []float32{-7}, got["i"].Data)
	assert.Equal(t, []float32{-32768}, got["s"].Data)
	assert.Equal(t, []float32{-2}, got["c"].Data)
	assert.Equal(t, []float32{255}, got["u"].Data)
	assert.Equal(t, []float32{1, 0}, got["t"].Data)
}

func TestReadErrors(t *testing.T) {
	entry := func(name, dtype, shape, offsets string) string {
		return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offsets + `}`
	}
	one := func(dtype, shape, offsets string, data []byte) []byte {
		return stFile("{"+entry("a", dtype, shape, offsets)+"}", data)
	}
	lenOnly := func(n uint64, rest string) []byte {
		return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
	}
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "file is 3 bytes, too short for the 8-byte header length"},
		{"header past end", lenOnly(100, "{}"), "header length 100 exceeds the 2 bytes after it"},
		{"header huge", lenOnly(1<<62, "{}"), "header length 4611686018427387904 exceeds the 104857600 byte limit: not a safetensors file?"},
		{"not utf8", stFile("{\"\xff\":1}", nil), "header is not valid UTF-8"},
		{"not object", stFile(`[1]`, nil), "header is not a JSON object: header byte 1: found [, want \"{\""},
		{"bad json", stFile(`{"a" 1}`, nil), `tensor "a": header byte 5: invalid character '1' after object key`},
		{"truncated json", stFile(`{"a":`, nil), `tensor "a": header byte 5: unexpected EOF`},
		{"after object", stFile(`{} x`, nil), "header byte 3: unexpected data after the JSON object"},
		{"duplicate", stFile("{"+entry("a", "F32", "[]", "[0,4]")+","+entry("a", "F32", "[]", "[4,8]")+"}", le32(1, 2)),
			`header byte 56: duplicate key "a"`},
		{"entry type", stFile(`{"a":[]}`, nil), `tensor "a": header byte 6: found [, want "{"`},
		{"missing field", stFile(`{"a":{"dtype":"F32","shape":[]}}`, nil), `tensor "a": missing "data_offsets"`},
		{"unknown field", stFile(`{"a":{"dtype":"F32","strides":[]}}`, nil), `tensor "a": unknown field "strides"`},
		{"duplicate field", stFile(`{"a":{"dtype":"F32","dtype":"F32"}}`, nil), `tensor "a": duplicate field "dtype"`},
		{"dtype type", stFile(`{"a":{"dtype":4}}`, nil), `tensor "a": "dtype" must be a string`},
		{"unknown dtype", one("U16", "[2]", "[0,4]", make([]byte, 4)), `tensor "a": dtype "U16" is not supported (want F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL)`},
		{"negative dim", one("F32", "[-1]", "[0,0]", nil), `tensor "a": "shape": -1 is negative`},
		{"float dim", one("F32", "[1.5]", "[0,4]", le32(1)), `tensor "a": "shape": 1.5 is not an integer`},
		{"string dim", one("F32", `["1"]`, "[0,4]", le32(1)), `tensor "a": "shape": 1 is not an integer`},
		{"dim too large", one("F32", "[99999999999999999999]", "[0,4]", le32(1)), `tensor "a": "shape": 99999999999999999999 is too large`},
		{"rank", one("F32", "["+strings.Repeat("1,", 64)+"1]", "[0,4]", le32(1)), `tensor "a": "shape": more than 64 values`},
		{"size overflow", one("F32", "[4611686018427387904,4]", "[0,16]", make([]byte, 16)), `tensor "a": shape [4611686018427387904,4] is too large`},
		{"offsets count", one("F32", "[1]", "[0,4,8]", le32(1)), `tensor "a": "data_offsets": more than 2 values`},
		{"offsets short", one("F32", "[1]", "[4]", le32(1)), `tensor "a": "data_offsets" must be [begin, end]`},
		{"offsets reversed", one("F32", "[1]", "[8,4]", le32(1, 2)), `tensor "a": data_offsets [8, 4] end before they begin`},
		{"byte size", one("F32", "[3]", "[0,8]", le32(1, 2)), `tensor "a": data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs 12`},
		{"out of bounds", one("F32", "[2]", "[0,8]", le32(1)), `tensor "a": data_offsets [0, 8] run past the 4-byte data buffer`},
		{"overlap", stFile("{"+entry("a", "F32", "[2]", "[0,8]")+","+entry("b", "F32", "[2]", "[4,12]")+"}", le32(1, 2, 3)),
			`tensors "a" and "b" overlap at data bytes [4, 8)`},
		{"gap", stFile("{"+entry("a", "F32", "[1]", "[0,4]")+","+entry("b", "F32", "[1]", "[8,12]")+"}", le32(1, 2, 3)),
			`data bytes [4, 8) before tensor "b" belong to no tensor`},
		{"trailing", one("F32", "[2]", "[0,8]", le32(1, 2, 3)), "4 trailing bytes after the last tensor"},
		{"metadata type", stFile(`{"__metadata__":[]}`, nil), "__metadata__ must be an object of strings"},
		{"metadata value", stFile(`{"__metadata__":{"epochs":3}}`, nil), `__metadata__: value of "epochs" must be a string`},
		{"metadata duplicate", stFile(`{"__metadata__":{"k":"1","k":"2"}}`, nil), `__metadata__: duplicate key "k"`},
	} {
		_, err := readBytes(tc.file)
		if assert.Error(t, err, tc.name) {
			assert.Equal(t, "safetensors: "+tc.want, err.Error(), tc.name)
		}
	}
}

// eofReaderAt reports io.EOF with a read that reaches the end, as
// io.ReaderAt allows.
type eofReaderAt []byte

func (r eofReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := bytes.NewReader(r).ReadAt(p, off)
	if err == nil && off+int64(n) == int64(len(r)) {
		err = io.EOF
	}
	return n, err
}

func TestReadAtEnd(t *testing.T) {
	file := stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, le32(1, 2))
	got, err := Read(eofReaderAt(file), int64(len(file)))
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 2}, got["a"].Data)

	// A reader holding less than the size it was given.
	_, err = Read(bytes.NewReader(file[:len(file)-2]), int64(len(file)))
	assert.EqualError(t, err, `safetensors: tensor "a": reading byte 62: unexpected EOF`)
}

func TestReadFileErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	require.NoError(t, os.WriteFile(path, stFile(`{"a":{"dtype":"U32","shape":[],"data_offsets":[0,4]}}`, []byte{1, 0, 0, 0}), 0o644))
	_, err := ReadFile(path)
	assert.EqualError(t, err, path+`: tensor "a": dtype "U32" is not supported (want F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL)`)
	_, err = ReadFile(path + ".missing")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		ts   map[string]*tensor.Tensor
		want string
	}{
		{map[string]*tensor.Tensor{"a": nil}, `safetensors: tensor "a" is nil`},
		{map[string]*tensor.Tensor{"a": {Shape: []int{2, 2}, Data: []float32{1}}}, `safetensors: tensor "a" of shape [2,2] has 1 values, want 4`},
		{map[string]*tensor.Tensor{"a": {Shape: []int{-1}}}, `safetensors: tensor "a" has invalid shape [-1]`},
		{map[string]*tensor.Tensor{"__metadata__": tensor.New()}, `safetensors: "__metadata__" cannot be a tensor name`},
		{map[string]*tensor.Tensor{"\xff": tensor.New()}, `safetensors: tensor name "\xff" is not valid UTF-8`},
	} {
		var buf bytes.Buffer
		assert.EqualError(t, Write(&buf, tc.ts, nil), tc.want)
		assert.Zero(t, buf.Len(), "nothing written on error")
	}
}

// Names are escaped as serde_json does and come back unchanged.
func TestNameEscaping(t *testing.T) {
	name := "a\"b\\c\n\x01<é>\u2028"
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, map[string]*tensor.Tensor{name: tensor.New()}, nil))
	assert.Contains(t, buf.String(), `"a\"b\\c\n\u0001<é>`+"\u2028"+`":`)
	got, err := readBytes(buf.Bytes())
	require.NoError(t, err)
	assert.Contains(t, got, name)
}

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, map[string]*tensor.Tensor{
		"dense.kernel": {Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}},
		"dense.bias":   {Shape: []int{2}, Data: []float32{5, 6}},
	}, map[string]string{"format": "mdlc"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(stFile(`{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[],"data_offsets":[2,4]}}`, le16(1, 2)))
	f.Add(stFile(`{"a":{"dtype":"F64","shape":[0,3],"data_offsets":[0,0]},"__metadata__":null}`, nil))
	f.Add(stFile(`{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}`, make([]byte, 16)))
	f.Add(stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)))
	// Shapes whose bytes, or float32s decoded from them, overflow int64.
	f.Add(stFile(`{"a":{"dtype":"F16","shape":[3037000500,3037000500],"data_offsets":[0,0]}}`, nil))
	f.Add(stFile(`{"a":{"dtype":"BF16","shape":[2305843009213693952],"data_offsets":[0,4611686018427387904]}}`, nil))
	f.Add(stFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}`, nil))
	f.Add(binary.LittleEndian.AppendUint64(nil, 1<<40))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := readBytes(data)
		if err != nil {
			return
		}
		for name, x := range ts {
			if len(x.Data) != tensor.Numel(x.Shape) {
				t.Fatalf("%q: shape %v with %d values", name, x.Shape, len(x.Data))
			}
		}
		var out bytes.Buffer
		if err := Write(&out, ts, nil); err != nil {
			t.Fatal(err)
		}
		again, err := readBytes(out.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		assertSameTensors(t, ts, again)
	})
}
