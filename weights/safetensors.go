// Package weights stores a model's weights, keyed by IR parameter name
// (conv2d.kernel, res1.bn1.moving_mean), as safetensors files, checks them
// against a graph, and creates Keras's default initial weights.
package weights

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/mdlc/mdlc/internal/atomicfile"
	"github.com/mdlc/mdlc/internal/f16"
	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// The safetensors format (github.com/huggingface/safetensors): a little-endian
// u64 header length N, N bytes of JSON header mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// data buffer) plus an optional "__metadata__" string map, then the data buffer.

const (
	// maxHeader bounds the JSON we read before validating anything; the
	// reference implementation's limit is 100 MB.
	maxHeader = 100 << 20
	// maxRank keeps a hostile shape array from costing memory out of
	// proportion to its meaning.
	maxRank     = 64
	metadataKey = "__metadata__"
)

// A dtype is an element type Read converts to float32. Integer tensors are
// read as float32 too, exact to 2^24 in magnitude: checkpoints keep
// integer buffers beside their weights (PyTorch's batch norm counts batches
// in I64), which a rename map or the torch layout drops, and a weight saved
// as integers is read by value.
type dtype struct {
	size   int
	decode func(dst []float32, src []byte)
}

var dtypes = map[string]dtype{
	"F32": {4, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	}},
	"F16": {2, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = f16.Half(binary.LittleEndian.Uint16(src[2*i:]))
		}
	}},
	"BF16": {2, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = f16.BFloat(binary.LittleEndian.Uint16(src[2*i:]))
		}
	}},
	"F64": {8, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	}},
	"I64": {8, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = float32(int64(binary.LittleEndian.Uint64(src[8*i:])))
		}
	}},
	"I32": {4, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = float32(int32(binary.LittleEndian.Uint32(src[4*i:])))
		}
	}},
	"I16": {2, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = float32(int16(binary.LittleEndian.Uint16(src[2*i:])))
		}
	}},
	"I8": {1, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = float32(int8(src[i]))
		}
	}},
	"U8": {1, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = float32(src[i])
		}
	}},
	"BOOL": {1, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = float32(min(src[i], 1))
		}
	}},
}

type entry struct {
	name       string
	dtypeName  string
	dtype      dtype
	shape      []int
	numel      int64
	begin, end int64
}

// Read reads a safetensors file of fileSize bytes. F32 tensors are read as is;
// F16, BF16 and F64 are converted to float32. The file is validated fully:
// header size and syntax, shapes, and that the tensors tile the data buffer
// exactly, without overlaps, gaps or trailing bytes. The tensors must fit the
// default memory budget (size.Default).
func Read(r io.ReaderAt, fileSize int64) (map[string]*tensor.Tensor, error) {
	ts, _, err := read(r, fileSize, readOptions{budget: size.Default()})
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return ts, nil
}

// ReadFile is ReadFileWithin the default memory budget (size.Default).
func ReadFile(path string) (map[string]*tensor.Tensor, error) {
	return ReadFileWithin(path, size.Default())
}

// ReadFileWithin reads a safetensors file, a regular file only, if its
// tensors decoded to float32 fit budget; errors start with the path.
func ReadFileWithin(path string, budget size.Budget) (map[string]*tensor.Tensor, error) {
	ts, _, err := readFile(path, readOptions{budget: budget})
	return ts, err
}

// ReadModel reads the safetensors file in r (size bytes) as g's weights,
// checked as LoadWithin checks a file, and returns its metadata too.
func ReadModel(r io.ReaderAt, size int64, g *ir.Graph, budget size.Budget) (map[string]*tensor.Tensor, map[string]string, error) {
	return read(r, size, readOptions{budget: budget, model: g})
}

// ReadFileMetadata is ReadFileWithin that also returns the header's
// __metadata__ (nil if it has none).
func ReadFileMetadata(path string, budget size.Budget) (map[string]*tensor.Tensor, map[string]string, error) {
	return readFile(path, readOptions{budget: budget})
}

// readOptions say what read checks before it decodes any tensor: the
// tensors' total against budget, and, if model is set, their names and
// shapes against its parameters. path, if known, names the file in errors.
type readOptions struct {
	budget size.Budget
	model  *ir.Graph
	path   string
}

func readFile(path string, o readOptions) (map[string]*tensor.Tensor, map[string]string, error) {
	f, st, err := safeio.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	o.path = path
	ts, meta, err := read(f, st.Size(), o)
	// A list of mismatches and a budget error name the path already.
	var mismatch *mismatchError
	var over *size.Error
	if err != nil && !errors.As(err, &mismatch) && !errors.As(err, &over) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return ts, meta, err
}

func read(r io.ReaderAt, fileSize int64, o readOptions) (map[string]*tensor.Tensor, map[string]string, error) {
	if fileSize < 8 {
		return nil, nil, fmt.Errorf("file is %d bytes, too short for the 8-byte header length", fileSize)
	}
	var lenBuf [8]byte
	if err := readAt(r, lenBuf[:], 0); err != nil {
		return nil, nil, fmt.Errorf("reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader {
		return nil, nil, fmt.Errorf("header length %d exceeds the %d byte limit: not a safetensors file?", n, maxHeader)
	}
	if n > uint64(fileSize-8) {
		return nil, nil, fmt.Errorf("header length %d exceeds the %d bytes after it", n, fileSize-8)
	}
	header := make([]byte, n)
	if err := readAt(r, header, 8); err != nil {
		return nil, nil, fmt.Errorf("reading %d-byte header at byte 8: %w", n, err)
	}
	entries, meta, err := parseHeader(header)
	if err != nil {
		return nil, nil, err
	}
	dataStart := 8 + int64(n)
	if err := checkLayout(entries, fileSize-dataStart); err != nil {
		return nil, nil, err
	}
	// Everything below is known from the header: a file of another model,
	// or one too large to hold, is refused before a tensor is decoded.
	if o.model != nil {
		shapes := make(map[string]*tensor.Tensor, len(entries))
		for _, e := range entries {
			shapes[e.name] = &tensor.Tensor{Shape: e.shape}
		}
		if err := check(o.model, shapes, cmp.Or(o.path, "weights"), false); err != nil {
			return nil, nil, err
		}
	}
	what := fmt.Sprintf("reading the %d tensors", len(entries))
	if o.path != "" {
		what += " of " + o.path
	}
	what += " as float32"
	decoded := int64(0)
	for _, e := range entries {
		var ok bool
		if decoded, ok = size.Add(decoded, e.numel*4); !ok {
			return nil, nil, size.Overflow(what)
		}
	}
	if err := o.budget.Check(what, decoded); err != nil {
		return nil, nil, err
	}

	// Data is read in chunks so the raw bytes never need a second
	// tensor-sized buffer.
	const chunk = 1 << 20
	ts := make(map[string]*tensor.Tensor, len(entries))
	var buf []byte
	for _, e := range entries {
		t := &tensor.Tensor{Shape: e.shape, Data: make([]float32, e.numel)}
		for done := 0; done < len(t.Data); {
			k := min(len(t.Data)-done, chunk/e.dtype.size)
			buf = slices.Grow(buf[:0], k*e.dtype.size)[:k*e.dtype.size]
			off := dataStart + e.begin + int64(done*e.dtype.size)
			if err := readAt(r, buf, off); err != nil {
				return nil, nil, fmt.Errorf("tensor %q: reading byte %d: %w", e.name, off, err)
			}
			e.dtype.decode(t.Data[done:done+k], buf)
			done += k
		}
		ts[e.name] = t
	}
	return ts, meta, nil
}

// readAt fills buf; ReaderAt may report EOF alongside a complete read.
func readAt(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	switch {
	case n == len(buf):
		return nil
	case err == nil || err == io.EOF:
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseHeader decodes the JSON header strictly: an object, no duplicate keys,
// exactly the three fields per tensor, integers where integers belong.
func parseHeader(h []byte) ([]entry, map[string]string, error) {
	if !utf8.Valid(h) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(h))
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, nil, fmt.Errorf("header is not a JSON object: %w", err)
	}
	var entries []entry
	var meta map[string]string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, headerErr(dec, err)
		}
		name := tok.(string) // object keys are always strings
		if seen[name] {
			return nil, nil, fmt.Errorf("header byte %d: duplicate key %q", dec.InputOffset(), name)
		}
		seen[name] = true
		if name == metadataKey {
			if meta, err = readMetadata(dec); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := parseEntry(dec, name)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, headerErr(dec, err)
	}
	// The writer pads the header with spaces to a multiple of 8 bytes.
	end := dec.InputOffset()
	if rest := bytes.TrimLeft(h[end:], " \t\r\n"); len(rest) > 0 {
		return nil, nil, fmt.Errorf("header byte %d: unexpected data after the JSON object", len(h)-len(rest))
	}
	return entries, meta, nil
}

func headerErr(dec *json.Decoder, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("header byte %d: %w", dec.InputOffset(), err)
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return headerErr(dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("header byte %d: found %v, want %q", dec.InputOffset(), tok, string(want))
	}
	return nil
}

// readMetadata reads __metadata__, which must be null or a string-to-string
// object.
func readMetadata(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, headerErr(dec, err)
	}
	if tok == nil {
		return nil, nil
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("%s must be an object of strings", metadataKey)
	}
	meta := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, headerErr(dec, err)
		}
		key := tok.(string)
		if _, dup := meta[key]; dup {
			return nil, fmt.Errorf("%s: duplicate key %q", metadataKey, key)
		}
		if tok, err = dec.Token(); err != nil {
			return nil, headerErr(dec, err)
		}
		value, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s: value of %q must be a string", metadataKey, key)
		}
		meta[key] = value
	}
	_, err = dec.Token()
	return meta, err
}

func parseEntry(dec *json.Decoder, name string) (entry, error) {
	e := entry{name: name}
	fail := func(format string, args ...any) (entry, error) {
		return entry{}, fmt.Errorf("tensor %q: %s", name, fmt.Sprintf(format, args...))
	}
	if err := expectDelim(dec, '{'); err != nil {
		return fail("%v", err)
	}
	seen := map[string]bool{}
	var offsets []int64
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail("%v", headerErr(dec, err))
		}
		field := tok.(string)
		if seen[field] {
			return fail("duplicate field %q", field)
		}
		seen[field] = true
		switch field {
		case "dtype":
			tok, err := dec.Token()
			if err != nil {
				return fail("%v", headerErr(dec, err))
			}
			s, ok := tok.(string)
			if !ok {
				return fail(`"dtype" must be a string`)
			}
			if e.dtype, ok = dtypes[s]; !ok {
				return fail("dtype %q is not supported (want F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL)", s)
			}
			e.dtypeName = s
		case "shape":
			dims, err := intArray(dec, maxRank)
			if err != nil {
				return fail(`"shape": %v`, err)
			}
			e.shape = make([]int, len(dims))
			for i, d := range dims {
				if d > math.MaxInt {
					return fail("dimension %d is too large", d)
				}
				e.shape[i] = int(d)
			}
		case "data_offsets":
			if offsets, err = intArray(dec, 2); err != nil {
				return fail(`"data_offsets": %v`, err)
			}
			if len(offsets) != 2 {
				return fail(`"data_offsets" must be [begin, end]`)
			}
		default:
			return fail("unknown field %q", field)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail("%v", headerErr(dec, err))
	}
	for _, f := range []string{"dtype", "shape", "data_offsets"} {
		if !seen[f] {
			return fail("missing %q", f)
		}
	}
	e.begin, e.end = offsets[0], offsets[1]
	if e.begin > e.end {
		return fail("data_offsets [%d, %d] end before they begin", e.begin, e.end)
	}
	// The byte size must equal the shape's, computed without overflow, and
	// the float32s it decodes to must be countable too; the bound by MaxInt
	// keeps the element count an int on 32-bit platforms.
	numel, ok := size.Numel(e.shape)
	n, okBytes := size.Bytes(e.shape, e.dtype.size)
	if _, okDecoded := size.Mul(numel, 4); !ok || !okBytes || !okDecoded || n > math.MaxInt {
		return fail("shape %s is too large", tensor.ShapeString(e.shape))
	}
	e.numel = numel
	if got := e.end - e.begin; got != n {
		return fail("data_offsets [%d, %d] hold %d bytes, but shape %s of %s needs %d",
			e.begin, e.end, got, tensor.ShapeString(e.shape), e.dtypeName, n)
	}
	return e, nil
}

// intArray reads a JSON array of at most limit non-negative integers.
func intArray(dec *json.Decoder, limit int) ([]int64, error) {
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	var out []int64
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, headerErr(dec, err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%v is not an integer", tok)
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) && num[0] != '-':
			return nil, fmt.Errorf("%s is too large", num)
		case err != nil:
			return nil, fmt.Errorf("%s is not an integer", num)
		case v < 0:
			return nil, fmt.Errorf("%d is negative", v)
		}
		if len(out) == limit {
			return nil, fmt.Errorf("more than %d values", limit)
		}
		out = append(out, v)
	}
	_, err := dec.Token()
	return out, err
}

// checkLayout checks that the tensors tile the data buffer exactly, as the
// reference implementation requires.
func checkLayout(entries []entry, dataLen int64) error {
	for _, e := range entries {
		if e.end > dataLen {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] run past the %d-byte data buffer", e.name, e.begin, e.end, dataLen)
		}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end))
	})
	pos := int64(0)
	prev := ""
	for _, e := range entries {
		switch {
		case e.begin < pos:
			return fmt.Errorf("tensors %q and %q overlap at data bytes [%d, %d)", prev, e.name, e.begin, min(pos, e.end))
		case e.begin > pos:
			return fmt.Errorf("data bytes [%d, %d) before tensor %q belong to no tensor", pos, e.begin, e.name)
		}
		pos, prev = e.end, e.name
	}
	if pos < dataLen {
		return fmt.Errorf("%d trailing bytes after the last tensor", dataLen-pos)
	}
	return nil
}

// Write writes ts as a safetensors file of F32 tensors, byte for byte as the
// reference implementation writes it: compact JSON with __metadata__ first
// (its keys sorted here, where Rust's order is unspecified), then tensors
// sorted by name, each {"dtype","shape","data_offsets"} in that order, the
// header padded with spaces to a multiple of 8, data in the same order.
func Write(w io.Writer, ts map[string]*tensor.Tensor, metadata map[string]string) error {
	names := slices.Sorted(maps.Keys(ts))
	var h bytes.Buffer
	h.WriteByte('{')
	if len(metadata) > 0 {
		jsonString(&h, metadataKey)
		h.WriteString(":{")
		for i, k := range slices.Sorted(maps.Keys(metadata)) {
			if !utf8.ValidString(k) || !utf8.ValidString(metadata[k]) {
				return fmt.Errorf("safetensors: metadata %q is not valid UTF-8", k)
			}
			if i > 0 {
				h.WriteByte(',')
			}
			jsonString(&h, k)
			h.WriteByte(':')
			jsonString(&h, metadata[k])
		}
		h.WriteByte('}')
	}
	offset := int64(0)
	for i, name := range names {
		t := ts[name]
		if err := checkWritable(name, t); err != nil {
			return err
		}
		if i > 0 || len(metadata) > 0 {
			h.WriteByte(',')
		}
		jsonString(&h, name)
		h.WriteString(`:{"dtype":"F32","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		end := offset + 4*int64(len(t.Data))
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}

	if err := binary.Write(w, binary.LittleEndian, uint64(h.Len())); err != nil {
		return err
	}
	if _, err := w.Write(h.Bytes()); err != nil {
		return err
	}
	for _, name := range names {
		if err := tensor.WriteFloat32s(w, ts[name].Data); err != nil {
			return err
		}
	}
	return nil
}

func checkWritable(name string, t *tensor.Tensor) error {
	switch {
	case name == metadataKey:
		return fmt.Errorf("safetensors: %q cannot be a tensor name", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", name)
	case t == nil:
		return fmt.Errorf("safetensors: tensor %q is nil", name)
	}
	n := 1
	for _, d := range t.Shape {
		if d < 0 || (d > 0 && n > math.MaxInt/d) {
			return fmt.Errorf("safetensors: tensor %q has invalid shape %s", name, tensor.ShapeString(t.Shape))
		}
		n *= d
	}
	if n != len(t.Data) {
		return fmt.Errorf("safetensors: tensor %q of shape %s has %d values, want %d", name, tensor.ShapeString(t.Shape), len(t.Data), n)
	}
	return nil
}

// jsonString quotes s as serde_json does: only ", \ and control characters
// are escaped, the latter as \b \t \n \f \r or \u00xx.
func jsonString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// WriteFile writes ts to path through a temporary file in the same
// directory, renamed into place only when complete.
func WriteFile(path string, ts map[string]*tensor.Tensor, metadata map[string]string) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return Write(w, ts, metadata) })
}
