package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unsafe"

	"github.com/mdlc/mdlc/internal/f16"
	"github.com/mdlc/mdlc/internal/size"
)

// DataType is TensorProto.DataType, the element type of a tensor.
type DataType int32

// The element types of onnx.proto, with its numbers.
const (
	Undefined     DataType = 0
	Float         DataType = 1
	Uint8         DataType = 2
	Int8          DataType = 3
	Uint16        DataType = 4
	Int16         DataType = 5
	Int32         DataType = 6
	Int64         DataType = 7
	String        DataType = 8
	Bool          DataType = 9
	Float16       DataType = 10
	Double        DataType = 11
	Uint32        DataType = 12
	Uint64        DataType = 13
	Complex64     DataType = 14
	Complex128    DataType = 15
	BFloat16      DataType = 16
	Float8E4M3FN  DataType = 17
	Float8E4M3FNZ DataType = 18
	Float8E5M2    DataType = 19
	Float8E5M2FNZ DataType = 20
	Uint4         DataType = 21
	Int4          DataType = 22
	Float4E2M1    DataType = 23
	Float8E8M0    DataType = 24
)

// store is the TensorProto field that holds a type's values when raw_data
// does not.
type store uint8

const (
	inInt32  store = iota // int32_data: one value (or, below 8 bits, one packed byte) per entry
	inFloat               // float_data
	inDouble              // double_data
	inInt64               // int64_data
	inUint64              // uint64_data
	inString              // string_data
)

var storeNames = [...]string{inInt32: "int32_data", inFloat: "float_data", inDouble: "double_data", inInt64: "int64_data", inUint64: "uint64_data", inString: "string_data"}

// dataTypes is what the decoder knows of each element type: its name in
// ONNX's type notation, its size in raw_data, the typed field that otherwise
// holds it, and the conversions Float32s and Int64s make from its bits
// (little-endian in raw_data; the field's value in int32_data or
// int64_data). A type without toFloat or toInt cannot be read as such.
var dataTypes = [...]struct {
	name    string
	bits    int64 // per element in raw_data; 0 for strings
	store   store
	toFloat func(uint64) float32
	toInt   func(uint64) int64
}{
	Float:         {"float", 32, inFloat, func(u uint64) float32 { return math.Float32frombits(uint32(u)) }, nil},
	Uint8:         {"uint8", 8, inInt32, nil, func(u uint64) int64 { return int64(uint8(u)) }},
	Int8:          {"int8", 8, inInt32, nil, func(u uint64) int64 { return int64(int8(u)) }},
	Uint16:        {"uint16", 16, inInt32, nil, func(u uint64) int64 { return int64(uint16(u)) }},
	Int16:         {"int16", 16, inInt32, nil, func(u uint64) int64 { return int64(int16(u)) }},
	Int32:         {"int32", 32, inInt32, nil, func(u uint64) int64 { return int64(int32(u)) }},
	Int64:         {"int64", 64, inInt64, nil, func(u uint64) int64 { return int64(u) }},
	String:        {"string", 0, inString, nil, nil},
	Bool:          {"bool", 8, inInt32, nil, func(u uint64) int64 { return int64(u & 1) }},
	Float16:       {"float16", 16, inInt32, func(u uint64) float32 { return f16.Half(uint16(u)) }, nil},
	Double:        {"double", 64, inDouble, func(u uint64) float32 { return float32(math.Float64frombits(u)) }, nil},
	Uint32:        {"uint32", 32, inUint64, nil, nil},
	Uint64:        {"uint64", 64, inUint64, nil, nil},
	Complex64:     {"complex64", 64, inFloat, nil, nil},
	Complex128:    {"complex128", 128, inDouble, nil, nil},
	BFloat16:      {"bfloat16", 16, inInt32, func(u uint64) float32 { return f16.BFloat(uint16(u)) }, nil},
	Float8E4M3FN:  {"float8e4m3fn", 8, inInt32, nil, nil},
	Float8E4M3FNZ: {"float8e4m3fnuz", 8, inInt32, nil, nil},
	Float8E5M2:    {"float8e5m2", 8, inInt32, nil, nil},
	Float8E5M2FNZ: {"float8e5m2fnuz", 8, inInt32, nil, nil},
	Uint4:         {"uint4", 4, inInt32, nil, nil},
	Int4:          {"int4", 4, inInt32, nil, nil},
	Float4E2M1:    {"float4e2m1", 4, inInt32, nil, nil},
	Float8E8M0:    {"float8e8m0", 8, inInt32, nil, nil},
}

func (t DataType) known() bool { return t > Undefined && int(t) < len(dataTypes) }

func (t DataType) String() string {
	if t.known() {
		return dataTypes[t].name
	}
	return "data type " + strconv.Itoa(int(t))
}

// Tensor is a TensorProto: a weight, a constant, or a test's input or
// expected output. Its values are checked to be exactly as many as Dims
// says and are read, converted, with Float32s or Int64s.
type Tensor struct {
	Name     string
	Dims     []int64
	DataType DataType
	// External is where the values are when the file keeps them in another
	// file (data_location EXTERNAL); nil when they are in the tensor.
	External *External

	numel int64
	raw   []byte    // raw_data or float_data/double_data: little-endian values; nil until external data is loaded
	ints  []int64   // int32_data, int64_data or uint64_data, when they hold the values
	strs  [][]byte  // string_data
	from  dataField // which of them holds the values
}

// dataField is where a tensor's values were found.
type dataField uint8

const (
	fromRaw dataField = iota // raw (raw_data, float_data, double_data, or loaded external data)
	fromInts
	fromStrings
)

// External is an external_data reference: the values are Length bytes (when
// HasLength; else all that follow Offset) at Offset of Location, a path
// relative to the model's folder.
type External struct {
	Location  string
	Offset    int64
	Length    int64
	HasLength bool
}

// Numel is the number of elements Dims describes (1 for a scalar).
func (t *Tensor) Numel() int64 { return t.numel }

// Float32s returns the values of a FLOAT tensor, or of a FLOAT16, BFLOAT16
// or DOUBLE one converted to float32 (doubles rounded to nearest). The slice
// is new: changing it changes nothing else.
func (t *Tensor) Float32s() ([]float32, error) {
	if !t.DataType.known() || dataTypes[t.DataType].toFloat == nil {
		return nil, fmt.Errorf("tensor %q holds %s values, which are not read as float32", t.Name, t.DataType)
	}
	return values(t, dataTypes[t.DataType].toFloat)
}

// Int64s returns the values of an INT64, INT32, INT16, UINT16, INT8, UINT8 or
// BOOL tensor as int64 (BOOL as 0 and 1): what shapes, axes and indices are
// given as. The slice is new.
func (t *Tensor) Int64s() ([]int64, error) {
	if !t.DataType.known() || dataTypes[t.DataType].toInt == nil {
		return nil, fmt.Errorf("tensor %q holds %s values, which are not read as integers", t.Name, t.DataType)
	}
	return values(t, dataTypes[t.DataType].toInt)
}

// values converts each of t's numel values from its bits.
func values[T any](t *Tensor, conv func(uint64) T) ([]T, error) {
	if t.External != nil && t.raw == nil && t.numel > 0 {
		return nil, fmt.Errorf("tensor %q: its values are in %s, which was not loaded", t.Name, t.External.Location)
	}
	out := make([]T, t.numel)
	if t.from == fromInts {
		for i, v := range t.ints {
			out[i] = conv(uint64(v))
		}
		return out, nil
	}
	width := int(dataTypes[t.DataType].bits / 8)
	var buf [8]byte
	for i := range out {
		copy(buf[:], t.raw[i*width:(i+1)*width]) // the rest of buf stays zero: widths are 1, 2, 4 or 8 here
		out[i] = conv(binary.LittleEndian.Uint64(buf[:]))
	}
	return out, nil
}

func float32At(b []byte, i int) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
}

// numel is the product of dims, which must be non-negative, overflow-checked.
func numel(dims []int64) (int64, error) {
	n := int64(1)
	for i, d := range dims {
		var ok bool
		if d < 0 {
			return 0, fmt.Errorf("dimension %d is %d", i, d)
		}
		if n, ok = size.Mul(n, d); !ok {
			return 0, size.Overflow(fmt.Sprintf("a tensor of dims %v", dims))
		}
	}
	return n, nil
}

func (d *decoder) tensorField(f field) (*Tensor, error) {
	b, err := f.bytes()
	if err != nil {
		return nil, err
	}
	return d.tensor(b)
}

// tensor decodes a TensorProto and checks that it holds exactly the values
// its dims and data type say, in the one field its type allows (or
// raw_data, or an external file).
func (d *decoder) tensor(b []byte) (*Tensor, error) {
	if err := d.charge(int64(unsafe.Sizeof(Tensor{}))); err != nil {
		return nil, err
	}
	t := &Tensor{}
	var (
		raw, floats, doubles []byte
		ints                 []int64
		present              []store // the typed fields seen, in order
		hasRaw, external     bool
		location             int32
		entries              []KeyValue
	)
	saw := func(s store) {
		if len(present) == 0 || present[len(present)-1] != s {
			present = append(present, s)
		}
	}
	err := fields(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			t.Dims, err = d.varints(t.Dims, f, identity)
			return at("dims", err)
		case 2:
			dt, err := f.int32()
			t.DataType = DataType(dt)
			return at("data_type", err)
		case 4:
			saw(inFloat)
			floats, err = d.fixed(floats, f, 4)
			return at("float_data", err)
		case 5:
			saw(inInt32)
			ints, err = d.varints(ints, f, signExtend32)
			return at("int32_data", err)
		case 6:
			saw(inString)
			s, err := f.bytes()
			t.strs = append(t.strs, s)
			if err == nil {
				err = d.charge(int64(unsafe.Sizeof(s)))
			}
			return atIndex("string_data", len(t.strs)-1, err)
		case 7:
			saw(inInt64)
			ints, err = d.varints(ints, f, identity)
			return at("int64_data", err)
		case 8:
			t.Name, err = f.string()
			return at("name", err)
		case 9:
			hasRaw = true
			raw, err = f.bytes()
			return at("raw_data", err)
		case 10:
			saw(inDouble)
			doubles, err = d.fixed(doubles, f, 8)
			return at("double_data", err)
		case 11:
			saw(inUint64)
			ints, err = d.varints(ints, f, identity)
			return at("uint64_data", err)
		case 13:
			kv, err := d.keyValue(f)
			entries = append(entries, kv)
			return atIndex("external_data", len(entries)-1, err)
		case 14:
			location, err = f.int32()
			external = location == 1
			return at("data_location", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := t.check(raw, floats, doubles, ints, present, hasRaw, external, location, entries); err != nil {
		name := t.Name
		if name == "" {
			name = "(unnamed)"
		}
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	// Float32s and Int64s make a new slice of every value: charged now, at
	// the widest they give, so that no conversion of a small element type
	// (a BOOL tensor read as int64 is eight times its bytes) outgrows the
	// budget.
	width := int64(0)
	switch info := dataTypes[t.DataType]; {
	case info.toInt != nil:
		width = 8
	case info.toFloat != nil:
		width = 4
	}
	converted, ok := size.Mul(t.numel, width)
	if !ok {
		return nil, size.Overflow(fmt.Sprintf("the values of tensor %q", t.Name))
	}
	if err := d.charge(converted); err != nil {
		return nil, err
	}
	if t.External != nil {
		d.external = append(d.external, t)
	}
	return t, nil
}

// check validates what tensor decoded and keeps the values in t.
func (t *Tensor) check(raw, floats, doubles []byte, ints []int64, present []store, hasRaw, external bool, location int32, entries []KeyValue) error {
	if !t.DataType.known() {
		return fmt.Errorf("%s is not an element type ONNX defines", t.DataType)
	}
	n, err := numel(t.Dims)
	if err != nil {
		return err
	}
	t.numel = n
	info := dataTypes[t.DataType]
	switch {
	case location != 0 && location != 1:
		return fmt.Errorf("data_location %d is neither DEFAULT (0) nor EXTERNAL (1)", location)
	case len(present) > 1 || len(present) == 1 && (hasRaw || external):
		return errors.New("values in more than one field: a tensor holds them in exactly one")
	case len(present) == 1 && present[0] != info.store:
		return fmt.Errorf("%s values in %s; ONNX keeps them in %s or raw_data", t.DataType, storeNames[present[0]], storeNames[info.store])
	case external && hasRaw:
		return errors.New("raw_data and external data both: a tensor holds its values in one place")
	case (hasRaw || external) && t.DataType == String:
		return errors.New("strings in raw_data or external data: ONNX keeps them in string_data")
	}
	rawBytes, ok := rawSize(t.DataType, n)
	if !ok {
		return size.Overflow(fmt.Sprintf("a %s tensor of dims %v", t.DataType, t.Dims))
	}
	perField := n
	if 0 < info.bits && info.bits < 8 {
		perField = rawBytes // int32_data holds one packed byte per entry, as raw_data does
	}
	if t.DataType == Complex64 || t.DataType == Complex128 {
		perField *= 2 // real and imaginary parts: cannot overflow, rawBytes did not
	}
	count := func(have int, what string) error {
		if int64(have) != perField {
			return fmt.Errorf("%d values in %s for dims %v, which need %d", have, what, t.Dims, perField)
		}
		return nil
	}
	switch {
	case external:
		ext, err := parseExternal(entries)
		if err != nil {
			return err
		}
		if ext.HasLength && ext.Length != rawBytes {
			return fmt.Errorf("external data of %d bytes for a %s tensor of dims %v, which needs %d", ext.Length, t.DataType, t.Dims, rawBytes)
		}
		t.External = ext
	case hasRaw:
		if int64(len(raw)) != rawBytes {
			return fmt.Errorf("raw_data of %d bytes for a %s tensor of dims %v, which needs %d", len(raw), t.DataType, t.Dims, rawBytes)
		}
		t.raw = raw
	case len(present) == 0:
		if n != 0 {
			return fmt.Errorf("no values for dims %v (%d elements)", t.Dims, n)
		}
		t.raw = []byte{}
	case present[0] == inFloat:
		t.raw = floats
		return count(len(floats)/4, "float_data")
	case present[0] == inDouble:
		t.raw = doubles
		return count(len(doubles)/8, "double_data")
	case present[0] == inString:
		t.from = fromStrings
		return count(len(t.strs), "string_data")
	default:
		t.ints, t.from = ints, fromInts
		return count(len(ints), storeNames[present[0]])
	}
	return nil
}

// rawSize is the bytes n values of type dt take in raw_data: n×bits/8,
// rounded up for the 4-bit types packed two to a byte; false on overflow.
func rawSize(dt DataType, n int64) (int64, bool) {
	bits, ok := size.Mul(n, dataTypes[dt].bits)
	return bits/8 + min(bits%8, 1), ok
}

// parseExternal reads external_data's entries: location (required), offset
// and length (decimal byte counts); others (checksum) are ignored.
func parseExternal(entries []KeyValue) (*External, error) {
	e := &External{}
	for _, kv := range entries {
		switch kv.Key {
		case "location":
			e.Location = kv.Value
		case "offset", "length":
			v, err := strconv.ParseInt(kv.Value, 10, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("external data %s %q is not a byte count", kv.Key, kv.Value)
			}
			if kv.Key == "offset" {
				e.Offset = v
			} else {
				e.Length, e.HasLength = v, true
			}
		}
	}
	if e.Location == "" {
		return nil, errors.New("external data without a location")
	}
	return e, nil
}
