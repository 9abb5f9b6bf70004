package tensor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/size"
)

// npyFile builds a .npy file around a header dict, padded as NumPy pads it.
func npyFile(major byte, dict string, data []byte) []byte {
	prefix := 10
	if major > 1 {
		prefix = 12
	}
	hlen := len(dict) + 1
	pad := 64 - (prefix+hlen)%64
	b := append([]byte(npyMagic), major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(hlen+pad))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(hlen+pad))
	}
	b = append(b, dict...)
	b = append(b, bytes.Repeat([]byte(" "), pad)...)
	b = append(b, '\n')
	return append(b, data...)
}

func f32le(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// numpy.save(f, np.arange(6, dtype=np.float32).reshape(2, 3)) with NumPy >= 1.23,
// written out by hand: 20 spaces of growth room for the first axis, 38 of padding.
var numpy23 = []byte("\x93NUMPY\x01\x00\x76\x00" +
	"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" +
	strings.Repeat(" ", 58) + "\n" +
	string(f32le(0, 1, 2, 3, 4, 5)))

func TestWriteNpyMatchesNumpy(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteNpy(&buf, &Tensor{Shape: []int{2, 3}, Data: []float32{0, 1, 2, 3, 4, 5}}))
	assert.Equal(t, numpy23, buf.Bytes())
	assert.Equal(t, 128, bytes.IndexByte(buf.Bytes(), '\n')+1, "data starts at a multiple of 64")

	// 0-d arrays have no growth room; 1-d shapes are written (n,).
	buf.Reset()
	require.NoError(t, WriteNpy(&buf, &Tensor{Shape: []int{}, Data: []float32{7}}))
	assert.Equal(t, "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (), }"+
		strings.Repeat(" ", 62)+"\n"+string(f32le(7)), buf.String())
	buf.Reset()
	require.NoError(t, WriteNpy(&buf, &Tensor{Shape: []int{1}, Data: []float32{7}}))
	assert.Equal(t, "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"+
		strings.Repeat(" ", 60)+"\n"+string(f32le(7)), buf.String())
}

func TestReadNpyNumpyBytes(t *testing.T) {
	got, err := ReadNpy(bytes.NewReader(numpy23))
	require.NoError(t, err)
	assert.Equal(t, &Tensor{Shape: []int{2, 3}, Data: []float32{0, 1, 2, 3, 4, 5}}, got)

	// NumPy < 1.23 wrote no growth room and aligned to 16 bytes.
	old := []byte("\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" +
		strings.Repeat(" ", 10) + "\n" + string(f32le(0, 1, 2, 3, 4, 5)))
	got, err = ReadNpy(bytes.NewReader(old))
	require.NoError(t, err)
	assert.Equal(t, []float32{0, 1, 2, 3, 4, 5}, got.Data)
}

func TestNpyRoundTrip(t *testing.T) {
	ramp := func(shape ...int) *Tensor {
		t := New(shape...)
		for i := range t.Data {
			t.Data[i] = float32(i)*0.25 - 3
		}
		return t
	}
	for _, tc := range []*Tensor{
		{Shape: []int{}, Data: []float32{3.5}},
		{Shape: []int{0}, Data: []float32{}},
		{Shape: []int{3, 0, 2}, Data: []float32{}},
		{Shape: []int{4}, Data: []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), math.MaxFloat32}},
		ramp(2, 3, 4),
		ramp(5000), // more than one write chunk
	} {
		var buf bytes.Buffer
		require.NoError(t, WriteNpy(&buf, tc))
		assert.Equal(t, 63, bytes.IndexByte(buf.Bytes(), '\n')%64, "data starts at a multiple of 64")
		got, err := ReadNpy(&buf)
		require.NoError(t, err, "shape %v", tc.Shape)
		assert.True(t, equalBits(tc, got), "shape %v", tc.Shape)
	}
}

func TestReadNpyDTypes(t *testing.T) {
	var le, be []byte
	for _, v := range []int64{-2, 0, 3} {
		le = binary.LittleEndian.AppendUint64(le, uint64(v))
		be = binary.BigEndian.AppendUint64(be, uint64(v))
	}
	f8 := binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.1))
	f8 = binary.LittleEndian.AppendUint64(f8, math.Float64bits(-1e300))
	for _, tc := range []struct {
		descr string
		data  []byte
		want  []float32
		ints  []int64
	}{
		{descr: "<f4", data: f32le(1.5, -2), want: []float32{1.5, -2}},
		{descr: ">f4", data: binary.BigEndian.AppendUint32(nil, math.Float32bits(1.5)), want: []float32{1.5}},
		{descr: "<f8", data: f8, want: []float32{0.1, float32(math.Inf(-1))}},
		{descr: "<i4", data: binary.LittleEndian.AppendUint32(nil, 0xfffffffe), ints: []int64{-2}},
		{descr: ">i4", data: []byte{0, 0, 1, 0}, ints: []int64{256}},
		{descr: "<i8", data: le, ints: []int64{-2, 0, 3}},
		{descr: ">i8", data: be, ints: []int64{-2, 0, 3}},
		{descr: "|u1", data: []byte{0, 7, 255}, ints: []int64{0, 7, 255}},
		// Integers beyond float32's 2^24 stay exact: token ids of a large vocabulary.
		{descr: "<i8", data: binary.LittleEndian.AppendUint64(nil, 1<<24+1), ints: []int64{1<<24 + 1}},
	} {
		n := max(len(tc.want), len(tc.ints))
		dict := "{'descr': '" + tc.descr + "', 'fortran_order': False, 'shape': (" + strconv.Itoa(n) + ",), }"
		got, err := ReadNpy(bytes.NewReader(npyFile(1, dict, tc.data)))
		require.NoError(t, err, tc.descr)
		assert.Equal(t, []int{n}, got.Shape, tc.descr)
		assert.Equal(t, tc.want, got.Data, tc.descr)
		assert.Equal(t, tc.ints, got.Ints, tc.descr)
		assert.Equal(t, tc.ints != nil, got.IsInt(), tc.descr)
	}
}

// TestNpyInts: integer tensors are written as <i8 and read back exactly, and
// Floats converts them.
func TestNpyInts(t *testing.T) {
	ids := &Tensor{Shape: []int{2, 2}, Ints: []int64{0, 50256, -1, 1 << 40}}
	var buf bytes.Buffer
	require.NoError(t, WriteNpy(&buf, ids))
	assert.Contains(t, buf.String(), "'descr': '<i8'")
	got, err := ReadNpy(&buf)
	require.NoError(t, err)
	assert.Equal(t, ids, got)
	assert.Equal(t, []float32{0, 50256, -1, 1 << 40}, got.Floats().Data)
	require.EqualError(t, WriteNpy(&buf, &Tensor{Shape: []int{1}, Data: []float32{1}, Ints: []int64{1}}), "npy: a tensor holds both floats and integers")
}

func TestReadNpyHeaderSyntax(t *testing.T) {
	data := f32le(1, 2, 3, 4, 5, 6)
	for _, dict := range []string{
		"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
		`{"shape": (2,3), "descr": "<f4", "fortran_order": False}`,
		"{ 'fortran_order' : False ,\n'shape':(2 , 3,),'descr':'<f4',}",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", // Python 2
		"{'descr': ('<f4'), 'fortran_order': False, 'shape': ((2), 3)}", // (x) is x
	} {
		got, err := ReadNpy(bytes.NewReader(npyFile(1, dict, data)))
		require.NoError(t, err, dict)
		assert.Equal(t, []int{2, 3}, got.Shape, dict)
	}
	for _, major := range []byte{2, 3} {
		got, err := ReadNpy(bytes.NewReader(npyFile(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", data)))
		require.NoError(t, err, "version %d", major)
		assert.Equal(t, []float32{1, 2, 3, 4, 5, 6}, got.Data)
	}
}

func TestReadNpyErrors(t *testing.T) {
	dict := func(descr, fo, shape string) string {
		return "{'descr': " + descr + ", 'fortran_order': " + fo + ", 'shape': " + shape + ", }"
	}
	ok := func(d string) []byte { return npyFile(1, d, f32le(1, 2)) }
	huge := append([]byte(npyMagic), 2, 0, 0xff, 0xff, 0xff, 0xff)
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "not a .npy file: unexpected EOF"},
		{"magic", []byte("PK\x03\x04 this is a zip file"), `bad magic "PK\x03\x04 t"`},
		{"version", append([]byte(npyMagic), 4, 0, 0, 0), "unsupported format version 4.0"},
		{"header length", huge, "header length 4294967295 exceeds the 1048576 byte limit"},
		{"short header", append([]byte(npyMagic), 1, 0, 100, 0, '{'), "reading 100-byte header at byte 10: unexpected EOF"},
		{"not a dict", ok("['descr']"), "header byte 10: header is not a dict literal"},
		{"fortran", ok(dict("'<f4'", "True", "(2,)")), "fortran_order=True is not supported"},
		{"fortran type", ok(dict("'<f4'", "1", "(2,)")), "fortran_order 1 is not a bool"},
		{"dtype", ok(dict("'<c8'", "False", "(2,)")), `unsupported dtype "<c8"`},
		{"no byte order", ok(dict("'|f4'", "False", "(2,)")), `unsupported dtype "|f4"`},
		{"structured", ok(dict("[('x', '<f4')]", "False", "(2,)")), "descr [('x', '<f4')] is not supported"},
		{"shape list", ok(dict("'<f4'", "False", "[2]")), "shape [2] is not a tuple"},
		{"shape type", ok(dict("'<f4'", "False", "('2',)")), "shape ('2',) has a non-integer dimension"},
		{"negative", ok(dict("'<f4'", "False", "(-2, 3)")), "shape (-2, 3) has a negative dimension"},
		{"overflow", ok(dict("'<f4'", "False", "(4611686018427387904, 4)")), "shape (4611686018427387904, 4) is too large"},
		{"overflow past a zero", ok(dict("'<f4'", "False", "(0, 4611686018427387904, 4)")), "is too large"},
		{"bytes overflow", ok(dict("'<f8'", "False", "(4611686018427387904,)")), "shape [4611686018427387904] is too large"},
		{"big int", ok(dict("'<f4'", "False", "(99999999999999999999,)")), "integer too large"},
		{"float dim", ok(dict("'<f4'", "False", "(2.0,)")), "malformed number"},
		{"missing key", ok("{'descr': '<f4', 'shape': (2,)}"), "header has no 'fortran_order'"},
		{"extra key", ok(dict("'<f4'", "False", "(2,)")[:len(dict("'<f4'", "False", "(2,)"))-1] + "'x': 1}"), `unexpected key "x"`},
		{"duplicate key", ok("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"), `header byte 27: duplicate key "descr"`},
		{"int key", ok("{1: 2}"), "dict key 1 is not a string"},
		{"unterminated", ok("{'descr: '<f4'}"), "expected ':'"},
		{"newline in string", ok("{'descr\n': 1}"), "newline in string"},
		{"name", ok("{'descr': float32}"), `unexpected name "float32"`},
		{"garbage after", ok(dict("'<f4'", "False", "(2,)") + " x"), `unexpected 'x' after the header dict`},
		{"deep", ok("{'descr': " + strings.Repeat("(", 20) + "}"), "nested too deeply"},
		{"nested dict", ok("{'descr': {}}"), "unexpected '{'"},
		{"truncated", npyFile(1, dict("'<f4'", "False", "(2, 3)"), f32le(1, 2, 3)),
			"data truncated: shape [2,3] of <f4 needs 24 bytes from byte 128, got 12"},
	} {
		_, err := ReadNpy(bytes.NewReader(tc.file))
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
		assert.True(t, strings.HasPrefix(err.Error(), "npy: "), tc.name)
	}
}

func TestReadNpyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.npy")
	want := &Tensor{Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}
	require.NoError(t, WriteNpyFile(path, want))
	got, err := ReadNpyFile(path)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b[:len(b)-3], 0o644))
	_, err = ReadNpyFile(path)
	assert.EqualError(t, err, path+": npy: data truncated: shape [2,2] of <f4 needs 16 bytes from byte 128, got 13")

	// A second array appended by repeated np.save calls is not silently ignored.
	require.NoError(t, os.WriteFile(path, append(b, b...), 0o644))
	_, err = ReadNpyFile(path)
	assert.EqualError(t, err, path+": npy: 144 trailing bytes after the 16 data bytes at byte 128")

	require.NoError(t, os.WriteFile(path, b[:20], 0o644))
	_, err = ReadNpyFile(path)
	assert.EqualError(t, err, path+": npy: header length 118 at byte 8 runs past the end of the 20-byte file")

	_, err = ReadNpyFile(filepath.Join(dir, "missing.npy"))
	assert.True(t, errors.Is(err, fs.ErrNotExist))

	assert.EqualError(t, WriteNpyFile(path, &Tensor{Shape: []int{3}, Data: []float32{1}}),
		"npy: tensor of shape [3] has 1 values, want 3")
	got, err = ReadNpyFile(path)
	require.Error(t, err, "the failed write left the old file alone")
	assert.Contains(t, err.Error(), "runs past the end")
}

// Several arrays in one stream, as repeated np.save(f, ...) calls write them.
func TestReadNpyStream(t *testing.T) {
	var buf bytes.Buffer
	a := &Tensor{Shape: []int{1}, Data: []float32{1}}
	b := &Tensor{Shape: []int{2}, Data: []float32{2, 3}}
	require.NoError(t, WriteNpy(&buf, a))
	require.NoError(t, WriteNpy(&buf, b))
	got, err := ReadNpy(&buf)
	require.NoError(t, err)
	assert.Equal(t, a, got)
	got, err = ReadNpy(&buf)
	require.NoError(t, err)
	assert.Equal(t, b, got)
}

func FuzzReadNpy(f *testing.F) {
	f.Add(numpy23)
	f.Add(npyFile(2, "{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)))
	f.Add(npyFile(3, "{'descr': '|u1', 'fortran_order': False, 'shape': (), }", []byte{9}))
	f.Add(npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", nil))
	f.Add(npyFile(1, "{'descr': [('a', '<f4')], 'fortran_order': True, 'shape': [2L], }", nil))
	f.Add(numpy23[:100])
	f.Add([]byte(npyMagic + "\x02\x00\xff\xff\xff\x00"))
	// Claims over the budget below (4 bytes per byte of input), held as
	// float32s and as int64s, and a claim of 2 GiB with 8 bytes of data.
	f.Add(npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1024, 1024), }", nil))
	f.Add(npyFile(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (100,), }", make([]byte, 100)))
	f.Add(npyFile(3, "{'descr': '<i8', 'fortran_order': False, 'shape': (268435456,), }", make([]byte, 8)))
	f.Fuzz(func(t *testing.T, data []byte) {
		budget := size.Budget(4 * len(data))
		if held, err := readNpy(bytes.NewReader(data), -1, budget); err == nil && heldBytes(held) > int64(budget) {
			t.Fatalf("shape %v holds %d bytes, over the budget of %d", held.Shape, heldBytes(held), budget)
		}
		got, err := ReadNpy(bytes.NewReader(data))
		if err != nil {
			return
		}
		if got.Len() != Numel(got.Shape) {
			t.Fatalf("shape %v with %d values", got.Shape, len(got.Data))
		}
		var buf bytes.Buffer
		if err := WriteNpy(&buf, got); err != nil {
			t.Fatal(err)
		}
		again, err := ReadNpy(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if !equalBits(got, again) {
			t.Fatalf("round trip changed %v", got.Shape)
		}
	})
}

func heldBytes(t *Tensor) int64 {
	if t.IsInt() {
		return 8 * int64(len(t.Ints))
	}
	return 4 * int64(len(t.Data))
}

func equalBits(a, b *Tensor) bool {
	if !slices.Equal(a.Shape, b.Shape) || len(a.Data) != len(b.Data) || !slices.Equal(a.Ints, b.Ints) {
		return false
	}
	for i := range a.Data {
		if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
			return false
		}
	}
	return true
}
