package onnx

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mdlc/mdlc/internal/size"
)

// field is one record of a message: its number, wire type and value bytes
// as protowire.ConsumeFieldValue delimits them (a varint's bytes, a
// length-delimited field's length prefix and payload, ...).
type field struct {
	num protowire.Number
	typ protowire.Type
	val []byte
}

// fields calls fn for each record of the message encoded in b, in order.
// Records of numbers fn does not know it returns nil for: that is how
// unknown fields are skipped.
func fields(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(m))
		}
		if err := fn(field{num, typ, b[:m]}); err != nil {
			return err
		}
		b = b[m:]
	}
	return nil
}

var wireNames = map[protowire.Type]string{
	protowire.VarintType: "varint", protowire.Fixed32Type: "fixed32", protowire.Fixed64Type: "fixed64",
	protowire.BytesType: "length-delimited", protowire.StartGroupType: "group",
}

func (f field) wrongType() error {
	return fmt.Errorf("wrong wire type (%s)", wireNames[f.typ])
}

func (f field) uvarint() (uint64, error) {
	if f.typ != protowire.VarintType {
		return 0, f.wrongType()
	}
	v, _ := protowire.ConsumeVarint(f.val) // valid: ConsumeFieldValue checked it
	return v, nil
}

func (f field) int64() (int64, error) {
	v, err := f.uvarint()
	return int64(v), err
}

// int32 truncates as protobuf does: an int32 is sent sign-extended to 64 bits.
func (f field) int32() (int32, error) {
	v, err := f.uvarint()
	return int32(v), err
}

func (f field) bytes() ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, f.wrongType()
	}
	v, _ := protowire.ConsumeBytes(f.val)
	return v[:len(v):len(v)], nil // full slice: an append never writes into the file's buffer
}

func (f field) string() (string, error) {
	v, err := f.bytes()
	return string(v), err
}

func (f field) float32() (float32, error) {
	if f.typ != protowire.Fixed32Type {
		return 0, f.wrongType()
	}
	v, _ := protowire.ConsumeFixed32(f.val)
	return math.Float32frombits(v), nil
}

// pathError is a decoding error with the field path that led to it, e.g.
// graph.node[12].attribute[3].t.dims. Each message level prepends its field
// as the error returns through it, so paths cost nothing on success.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// at prefixes err's path with name; nil stays nil.
func at(name string, err error) error {
	if err == nil {
		return nil
	}
	if pe, ok := err.(*pathError); ok {
		sep := "."
		if pe.path[0] == '[' {
			sep = ""
		}
		pe.path = name + sep + pe.path
		return pe
	}
	return &pathError{path: name, err: err}
}

// atIndex is at for element i of a repeated field.
func atIndex(name string, i int, err error) error {
	if err == nil {
		return nil
	}
	return at(name+"["+strconv.Itoa(i)+"]", err)
}

// decoder holds what one decoding shares: the budget every allocation a
// field causes is charged against, and the tensors whose values lie in
// other files.
type decoder struct {
	budget   size.Budget
	used     int64
	external []*Tensor
}

// charge counts n more bytes held by the decoded model. Every message,
// repeated number and copied byte is charged before it is allocated, so a
// file of tiny records (a 2-byte empty node becomes a struct of hundreds of
// bytes) cannot turn into more memory than the budget.
func (d *decoder) charge(n int64) error {
	u, ok := size.Add(d.used, n)
	if !ok {
		return size.Overflow("the decoded model")
	}
	d.used = u
	return d.budget.Check("the decoded model", u)
}

// varints appends the values of a repeated varint field, packed (one
// length-delimited record) or not (one varint record per value), each
// converted by conv.
func (d *decoder) varints(dst []int64, f field, conv func(uint64) int64) ([]int64, error) {
	switch f.typ {
	case protowire.VarintType:
		v, _ := f.uvarint()
		return append(dst, conv(v)), d.charge(8)
	case protowire.BytesType:
		b, _ := f.bytes()
		// Each varint ends in the one byte of it below 0x80: count them to
		// allocate once.
		n := 0
		for _, c := range b {
			if c < 0x80 {
				n++
			}
		}
		if len(b) > 0 && b[len(b)-1] >= 0x80 {
			return nil, errors.New("packed varints: truncated")
		}
		if err := d.charge(8 * int64(n)); err != nil {
			return nil, err
		}
		dst = growInts(dst, n)
		for len(b) > 0 {
			v, k := protowire.ConsumeVarint(b)
			if k < 0 {
				return nil, fmt.Errorf("packed varints: %w", protowire.ParseError(k))
			}
			dst = append(dst, conv(v))
			b = b[k:]
		}
		return dst, nil
	}
	return nil, f.wrongType()
}

func growInts(s []int64, n int) []int64 {
	if cap(s)-len(s) >= n {
		return s
	}
	return append(make([]int64, 0, len(s)+n), s...)
}

// fixed appends the little-endian values of a repeated fixed32 or fixed64
// field (width 4 or 8). The first packed record is referenced, not copied:
// packed floats are already the raw little-endian bytes.
func (d *decoder) fixed(dst []byte, f field, width int) ([]byte, error) {
	want := protowire.Fixed32Type
	if width == 8 {
		want = protowire.Fixed64Type
	}
	switch f.typ {
	case want:
		if err := d.charge(int64(width)); err != nil {
			return nil, err
		}
		return append(dst, f.val...), nil // f.val is the value's width bytes, little-endian
	case protowire.BytesType:
		b, _ := f.bytes()
		if len(b)%width != 0 {
			return nil, fmt.Errorf("packed %d-byte values: %d bytes", width, len(b))
		}
		if dst == nil {
			return b, nil
		}
		if err := d.charge(int64(len(b))); err != nil {
			return nil, err
		}
		return append(dst, b...), nil
	}
	return nil, f.wrongType()
}

func identity(v uint64) int64     { return int64(v) }
func signExtend32(v uint64) int64 { return int64(int32(v)) }
