package ir

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/internal/size"
)

// DType is the element type of a tensor.
type DType uint8

const (
	F32 DType = iota + 1
	I32
	I64
)

var dtypeNames = [...]string{F32: "f32", I32: "i32", I64: "i64"}

func (d DType) String() string {
	if int(d) < len(dtypeNames) && dtypeNames[d] != "" {
		return dtypeNames[d]
	}
	return fmt.Sprintf("dtype(%d)", d)
}

// Size is the number of bytes of one element.
func (d DType) Size() int {
	switch d {
	case I64:
		return 8
	default:
		return 4
	}
}

// ParseDType maps the language's spelling to a DType.
func ParseDType(s string) (DType, bool) {
	for d, n := range dtypeNames {
		if n != "" && n == s {
			return DType(d), true
		}
	}
	return 0, false
}

// Dim is one axis of a shape: a known size, or a symbol (batch N, sequence T)
// that is bound when the model runs.
type Dim struct {
	Size int
	Sym  string
}

// Known reports whether the size is fixed at compile time.
func (d Dim) Known() bool { return d.Sym == "" }

func (d Dim) String() string {
	if d.Sym != "" {
		return d.Sym
	}
	return strconv.Itoa(d.Size)
}

// D is a known dimension; S a symbolic one.
func D(n int) Dim      { return Dim{Size: n} }
func S(sym string) Dim { return Dim{Sym: sym} }

// Shape lists a tensor's dimensions, outermost first (NHWC for images).
type Shape []Dim

func (s Shape) Rank() int { return len(s) }

// Equal compares dimension by dimension; symbols are equal when named alike.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// KnownProduct multiplies the known dims from axis start on; ok is false if any of
// them is symbolic or the product overflows (shape inference refuses such
// types, so a checked graph's products never do).
func (s Shape) KnownProduct(start int) (n int, ok bool) {
	p := int64(1)
	for _, d := range s[start:] {
		if !d.Known() {
			return 0, false
		}
		if p, ok = size.Mul(p, int64(d.Size)); !ok {
			return 0, false
		}
	}
	return int(p), true
}

// MaxElements bounds the element count of every tensor type, with each symbol
// taken as 1, and of every shape once bound. 2^40 f32 elements are 4 TiB, more
// than any machine mdlc runs on; the bound also keeps sums and products of a
// few element counts far from int64 overflow.
const MaxElements = 1 << 40

// perExample is the element count with every symbolic dimension (batch,
// sequence) taken as 1; ok is false when a dimension is negative or the
// product overflows. A zero dimension leaves the others' product checked, so
// f32[0, 2^62, 2^62] is as wrong as f32[2^62, 2^62].
func perExample(s Shape) (n int64, ok bool) {
	n, zero := 1, false
	for _, d := range s {
		switch {
		case !d.Known():
		case d.Size == 0:
			zero = true
		default:
			if n, ok = size.Mul(n, int64(d.Size)); !ok {
				return 0, false
			}
		}
	}
	if zero {
		return 0, true
	}
	return n, true
}

// CheckTypeSize refuses a type no tensor can have: a negative dimension, or
// known dimensions whose product (each symbol taken as 1) overflows or
// exceeds MaxElements. The error is a *TypeError, so the checker shows it at
// the layer, or the model input, that declared the type. Shape inference
// applies it to every operand and result; the checker must call it on each
// model input's declared type, since an input no layer reads is never an
// operand.
func CheckTypeSize(t Type) error {
	n, ok := perExample(t.Shape)
	if ok && n <= MaxElements {
		return nil
	}
	help := "no machine holds a tensor this large (2^40 f32 elements are 4 TiB): check the dimensions"
	perEx := ""
	if slices.ContainsFunc(t.Shape, func(d Dim) bool { return !d.Known() }) {
		perEx = " with every symbol taken as 1"
	}
	switch {
	case !ok && hasNegative(t.Shape):
		return typeErr("dimensions are sizes: 0 or more", "%s has a negative dimension", t)
	case !ok:
		return typeErr(help, "%s has too many elements: its dimensions multiply to more than 64-bit arithmetic holds%s", t, perEx)
	}
	return typeErr(help, "%s has %d elements%s, more than the limit of 2^40", t, n, perEx)
}

func hasNegative(s Shape) bool {
	for _, d := range s {
		if d.Known() && d.Size < 0 {
			return true
		}
	}
	return false
}

// Bind replaces symbols by their run-time sizes. A size bound to a negative
// number, or a bound shape of more than MaxElements elements (an overflowing
// product included), is an error: no tensor of it can be allocated.
func (s Shape) Bind(env map[string]int) ([]int, error) {
	out := make([]int, len(s))
	n := int64(1)
	ok := true
	for i, d := range s {
		out[i] = d.Size
		if !d.Known() {
			v, bound := env[d.Sym]
			if !bound {
				return nil, fmt.Errorf("dimension %s is not bound", d.Sym)
			}
			out[i] = v
		}
		if out[i] < 0 {
			return nil, fmt.Errorf("dimension %s of %s is %d: sizes are 0 or more", d, s, out[i])
		}
		if ok {
			n, ok = size.Mul(n, int64(out[i]))
		}
	}
	if !ok || n > MaxElements {
		return nil, fmt.Errorf("shape %s bound to %s has more than 2^40 elements: no machine holds a tensor this large", s, boundString(out))
	}
	return out, nil
}

func boundString(dims []int) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Type is a tensor type: element type and shape.
type Type struct {
	DType DType
	Shape Shape
}

func (t Type) String() string { return t.DType.String() + t.Shape.String() }

func (t Type) Equal(o Type) bool { return t.DType == o.DType && t.Shape.Equal(o.Shape) }

// T builds an f32 type from dims given as ints (known) or strings (symbols).
func T(dims ...any) Type {
	s := make(Shape, len(dims))
	for i, d := range dims {
		switch v := d.(type) {
		case int:
			s[i] = D(v)
		case string:
			s[i] = S(v)
		case Dim:
			s[i] = v
		default:
			panic(fmt.Sprintf("ir.T: dimension %v of type %T", d, d))
		}
	}
	return Type{DType: F32, Shape: s}
}
