package ir

import (
	"fmt"
	"strconv"
	"strings"
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
// them is symbolic.
func (s Shape) KnownProduct(start int) (n int, ok bool) {
	n = 1
	for _, d := range s[start:] {
		if !d.Known() {
			return 0, false
		}
		n *= d.Size
	}
	return n, true
}

// Bind replaces symbols by their run-time sizes.
func (s Shape) Bind(env map[string]int) ([]int, error) {
	out := make([]int, len(s))
	for i, d := range s {
		if d.Known() {
			out[i] = d.Size
			continue
		}
		v, ok := env[d.Sym]
		if !ok {
			return nil, fmt.Errorf("dimension %s is not bound", d.Sym)
		}
		out[i] = v
	}
	return out, nil
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
