package tensor

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/internal/atomicfile"
	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/size"
)

// The .npy format is specified in numpy/lib/format.py: a magic string, a
// version, a header length, a Python dict literal describing the array, then
// the raw elements.

const (
	npyMagic = "\x93NUMPY"
	// maxNpyHeader bounds what an untrusted file can make us read before the
	// data; NumPy itself refuses headers over 10000 bytes by default.
	maxNpyHeader = 1 << 20
	// maxNpyRank is NumPy 2's NPY_MAXDIMS.
	maxNpyRank = 64
	// maxNpyDepth bounds nesting in the header literal, which a hostile file
	// could otherwise use to recurse without limit.
	maxNpyDepth = 8
)

// npyType is an element type ReadNpy reads: floats into float32, integers
// into int64.
type npyType struct {
	size   int
	floats func(dst []float32, src []byte, bo binary.ByteOrder)
	ints   func(dst []int64, src []byte, bo binary.ByteOrder)
}

// npyTypes is keyed by the descr without its byte-order character.
var npyTypes = map[string]npyType{
	"f4": {size: 4, floats: func(dst []float32, src []byte, bo binary.ByteOrder) {
		for i := range dst {
			dst[i] = math.Float32frombits(bo.Uint32(src[4*i:]))
		}
	}},
	"f8": {size: 8, floats: func(dst []float32, src []byte, bo binary.ByteOrder) {
		for i := range dst {
			dst[i] = float32(math.Float64frombits(bo.Uint64(src[8*i:])))
		}
	}},
	"i4": {size: 4, ints: func(dst []int64, src []byte, bo binary.ByteOrder) {
		for i := range dst {
			dst[i] = int64(int32(bo.Uint32(src[4*i:])))
		}
	}},
	"i8": {size: 8, ints: func(dst []int64, src []byte, bo binary.ByteOrder) {
		for i := range dst {
			dst[i] = int64(bo.Uint64(src[8*i:]))
		}
	}},
	"u1": {size: 1, ints: func(dst []int64, src []byte, _ binary.ByteOrder) {
		for i := range dst {
			dst[i] = int64(src[i])
		}
	}},
}

// ReadNpy reads one array in NumPy .npy format (versions 1.0 to 3.0):
// element types f4 and f8 (either byte order) as float32, i4, i8 and u1 as
// an integer tensor (Ints; Floats converts it); Fortran order and structured dtypes are not. It reads
// exactly the array's bytes, so r may hold more after it. The array must fit
// the default memory budget (size.Default).
func ReadNpy(r io.Reader) (*Tensor, error) {
	return readNpy(r, -1, size.Default())
}

// ReadNpyWithin is ReadNpy within budget, from r holding n bytes (n < 0 if
// unknown): a known size lets a forged shape be refused before anything is
// allocated, as for a file (a .npz member states its size).
func ReadNpyWithin(r io.Reader, n int64, budget size.Budget) (*Tensor, error) {
	return readNpy(r, n, budget)
}

// ReadNpyFile is ReadNpyFileWithin the default memory budget (size.Default).
func ReadNpyFile(path string) (*Tensor, error) {
	return ReadNpyFileWithin(path, size.Default())
}

// ReadNpyFileWithin reads a .npy file holding exactly one array. Only a
// regular file is read (not /dev/zero or a FIFO), and the array's size, from
// the header, is checked against the file's and against budget before
// anything is allocated for it.
func ReadNpyFileWithin(path string, budget size.Budget) (*Tensor, error) {
	f, st, err := safeio.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := readNpy(bufio.NewReader(f), st.Size(), budget)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// npyChunk is how many bytes of array data are read and decoded at a time, so
// the raw bytes never need a second array-sized buffer.
const npyChunk = 1 << 20

// readNpy reads from r, which holds fileSize bytes, or an unknown number if
// fileSize < 0.
func readNpy(r io.Reader, fileSize int64, budget size.Budget) (*Tensor, error) {
	var pre [12]byte
	if _, err := io.ReadFull(r, pre[:10]); err != nil {
		return nil, fmt.Errorf("npy: not a .npy file: %w", noEOF(err))
	}
	if string(pre[:6]) != npyMagic {
		return nil, fmt.Errorf("npy: not a .npy file: bad magic %q", pre[:6])
	}
	major, minor := pre[6], pre[7]
	var hlen int64
	start := int64(10)
	switch {
	case major == 1 && minor == 0:
		hlen = int64(binary.LittleEndian.Uint16(pre[8:]))
	case (major == 2 || major == 3) && minor == 0:
		if _, err := io.ReadFull(r, pre[10:12]); err != nil {
			return nil, fmt.Errorf("npy: reading header length: %w", noEOF(err))
		}
		hlen = int64(binary.LittleEndian.Uint32(pre[8:]))
		start = 12
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d.%d", major, minor)
	}
	if hlen > maxNpyHeader {
		return nil, fmt.Errorf("npy: header length %d exceeds the %d byte limit", hlen, maxNpyHeader)
	}
	if fileSize >= 0 && start+hlen > fileSize {
		return nil, fmt.Errorf("npy: header length %d at byte 8 runs past the end of the %d-byte file", hlen, fileSize)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, fmt.Errorf("npy: reading %d-byte header at byte %d: %w", hlen, start, noEOF(err))
	}
	h, err := parseNpyHeader(string(header), int(start))
	if err != nil {
		return nil, err
	}

	// An integer array is held as int64s, a float one as float32s.
	elem := 4
	if h.typ.ints != nil {
		elem = 8
	}
	need, okNeed := size.Mul(h.n, int64(h.typ.size))
	held, okHeld := size.Mul(h.n, int64(elem))
	if !okNeed || !okHeld || held > math.MaxInt {
		return nil, fmt.Errorf("npy: shape %s is too large", ShapeString(h.shape))
	}
	dataStart := start + hlen
	truncated := func(got int64) error {
		return fmt.Errorf("npy: data truncated: shape %s of %s needs %d bytes from byte %d, got %d",
			ShapeString(h.shape), h.descr, need, dataStart, got)
	}
	if fileSize >= 0 {
		// The file size is known, so a forged shape is caught before allocating.
		switch got := fileSize - dataStart; {
		case got < need:
			return nil, truncated(got)
		case got > need:
			return nil, fmt.Errorf("npy: %d trailing bytes after the %d data bytes at byte %d", got-need, need, dataStart)
		}
	}
	if err := budget.Check(fmt.Sprintf("npy: array %s of %s", ShapeString(h.shape), h.descr), held); err != nil {
		return nil, err
	}
	// A file holds every byte the header claims, so the array is allocated
	// once; a stream's grows chunk by chunk with the data actually present.
	capacity := int(h.n)
	if fileSize < 0 {
		capacity = min(capacity, npyChunk/h.typ.size)
	}
	t := &Tensor{Shape: h.shape}
	if h.typ.ints != nil {
		t.Ints = make([]int64, 0, capacity)
	} else {
		t.Data = make([]float32, 0, capacity)
	}
	buf := make([]byte, min(need, npyChunk/int64(h.typ.size)*int64(h.typ.size)))
	for done := int64(0); done < need; {
		chunk := buf[:min(int64(len(buf)), need-done)]
		if n, err := io.ReadFull(r, chunk); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, truncated(done + int64(n))
			}
			return nil, fmt.Errorf("npy: reading data at byte %d: %w", dataStart+done, err)
		}
		k := len(chunk) / h.typ.size
		if h.typ.ints != nil {
			t.Ints = slices.Grow(t.Ints, k)[:len(t.Ints)+k]
			h.typ.ints(t.Ints[len(t.Ints)-k:], chunk, h.order)
		} else {
			t.Data = slices.Grow(t.Data, k)[:len(t.Data)+k]
			h.typ.floats(t.Data[len(t.Data)-k:], chunk, h.order)
		}
		done += int64(len(chunk))
	}
	return t, nil
}

// noEOF turns a bare EOF, which reads as success in many contexts, into
// ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

type npyHeader struct {
	descr string
	typ   npyType
	order binary.ByteOrder
	shape []int
	n     int64
}

// parseNpyHeader interprets the header dict; base is its offset in the file.
func parseNpyHeader(s string, base int) (*npyHeader, error) {
	p := &pyParser{s: s, base: base}
	dict, err := p.dict()
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if _, ok := dict[k]; !ok {
			return nil, fmt.Errorf("npy: header has no '%s'", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(dict)) {
		if k != "descr" && k != "fortran_order" && k != "shape" {
			return nil, fmt.Errorf("npy: header has unexpected key %q", k)
		}
	}

	h := &npyHeader{}
	descr, ok := dict["descr"].(string)
	if !ok {
		return nil, fmt.Errorf("npy: descr %s is not supported (want a plain dtype string such as '<f4')", pyRepr(dict["descr"]))
	}
	h.descr = descr
	if h.typ, h.order, err = npyDescr(descr); err != nil {
		return nil, err
	}
	switch fo := dict["fortran_order"].(type) {
	case bool:
		if fo {
			return nil, errors.New("npy: fortran_order=True is not supported; save a C-ordered array (np.ascontiguousarray)")
		}
	default:
		return nil, fmt.Errorf("npy: fortran_order %s is not a bool", pyRepr(fo))
	}
	shape, ok := dict["shape"].(pyTuple)
	if !ok {
		return nil, fmt.Errorf("npy: shape %s is not a tuple", pyRepr(dict["shape"]))
	}
	if len(shape) > maxNpyRank {
		return nil, fmt.Errorf("npy: shape has %d dimensions, more than %d", len(shape), maxNpyRank)
	}
	// Zero dims are left out of the product so that an overflow among the
	// others is still caught.
	h.shape = make([]int, len(shape))
	n, zero := int64(1), false
	for i, v := range shape {
		d, ok := v.(int)
		if !ok {
			return nil, fmt.Errorf("npy: shape %s has a non-integer dimension", pyRepr(shape))
		}
		if d < 0 {
			return nil, fmt.Errorf("npy: shape %s has a negative dimension", pyRepr(shape))
		}
		h.shape[i] = d
		if d == 0 {
			zero = true
			continue
		}
		if n, ok = size.Mul(n, int64(d)); !ok {
			return nil, fmt.Errorf("npy: shape %s is too large", pyRepr(shape))
		}
	}
	if zero {
		n = 0
	}
	h.n = n
	return h, nil
}

// npyDescr maps a dtype string such as '<f4' to its decoder.
func npyDescr(descr string) (npyType, binary.ByteOrder, error) {
	bad := func() (npyType, binary.ByteOrder, error) {
		return npyType{}, nil, fmt.Errorf("npy: unsupported dtype %q (want <f4, <f8, <i4, <i8 or |u1; big-endian is accepted too)", descr)
	}
	if len(descr) < 2 {
		return bad()
	}
	typ, ok := npyTypes[descr[1:]]
	if !ok {
		return bad()
	}
	switch descr[0] {
	case '<':
		return typ, binary.LittleEndian, nil
	case '>':
		return typ, binary.BigEndian, nil
	case '|':
		if typ.size == 1 {
			return typ, binary.LittleEndian, nil
		}
	}
	return bad()
}

// WriteNpy writes t as a version 1.0, little-endian float32 (int64 for an
// integer tensor), C-order .npy array, byte for byte as numpy.save does.
func WriteNpy(w io.Writer, t *Tensor) error {
	if err := checkTensor(t); err != nil {
		return err
	}
	descr := "<f4"
	if t.IsInt() {
		descr = "<i8"
	}
	if _, err := w.Write(npyHeaderBytes(descr, t.Shape)); err != nil {
		return err
	}
	if t.IsInt() {
		return writeInt64s(w, t.Ints)
	}
	return WriteFloat32s(w, t.Data)
}

func writeInt64s(w io.Writer, data []int64) error {
	var buf [1 << 14]byte
	for len(data) > 0 {
		n := min(len(data), len(buf)/8)
		for i, v := range data[:n] {
			binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
		}
		if _, err := w.Write(buf[:8*n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// WriteFloat32s writes data as raw little-endian float32, the layout of both
// .npy and safetensors payloads, through a small buffer.
func WriteFloat32s(w io.Writer, data []float32) error {
	var buf [1 << 14]byte
	for len(data) > 0 {
		n := min(len(data), len(buf)/4)
		for i, v := range data[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(buf[:4*n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// WriteNpyFile writes t to path through a temporary file, so an existing
// file is replaced only by a complete one.
func WriteNpyFile(path string, t *Tensor) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return WriteNpy(w, t) })
}

func checkTensor(t *Tensor) error {
	if t == nil {
		return errors.New("npy: nil tensor")
	}
	n := 1
	for _, d := range t.Shape {
		if d < 0 || (d > 0 && n > math.MaxInt/d) {
			return fmt.Errorf("npy: invalid shape %s", ShapeString(t.Shape))
		}
		n *= d
	}
	if t.IsInt() && t.Data != nil {
		return errors.New("npy: a tensor holds both floats and integers")
	}
	if n != t.Len() {
		return fmt.Errorf("npy: tensor of shape %s has %d values, want %d", ShapeString(t.Shape), t.Len(), n)
	}
	return nil
}

// npyHeaderBytes follows numpy's _write_array_header: sorted keys, repr of
// the shape tuple, spare room for the first axis to grow to 21 digits, then
// spaces and a newline up to a multiple of 64 bytes.
func npyHeaderBytes(descr string, shape []int) []byte {
	var b strings.Builder
	b.WriteString("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (")
	for i, d := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		b.WriteByte(',')
	}
	b.WriteString("), }")
	if len(shape) > 0 {
		b.WriteString(strings.Repeat(" ", 21-len(strconv.Itoa(shape[0]))))
	}
	hlen := b.Len() + 1
	// Version 2.0, with a 4-byte length, only when 1.0's 2 bytes do not do.
	prefix := 10
	pad := 64 - (prefix+hlen)%64
	if hlen+pad > math.MaxUint16 {
		prefix = 12
		pad = 64 - (prefix+hlen)%64
	}
	out := make([]byte, 0, prefix+hlen+pad)
	out = append(out, npyMagic...)
	if prefix == 10 {
		out = append(out, 1, 0)
		out = binary.LittleEndian.AppendUint16(out, uint16(hlen+pad))
	} else {
		out = append(out, 2, 0)
		out = binary.LittleEndian.AppendUint32(out, uint32(hlen+pad))
	}
	out = append(out, b.String()...)
	for range pad {
		out = append(out, ' ')
	}
	return append(out, '\n')
}
