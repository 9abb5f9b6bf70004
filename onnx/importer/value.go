package importer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/onnx"
)

// dim is one size of an ONNX shape: n, or n times the symbol sym (a dynamic
// dimension such as the batch), which is what shape arithmetic in exported
// graphs (Shape → Gather → Mul → Concat → Reshape) produces.
type dim struct {
	n   int64
	sym string
}

func known(n int64) dim { return dim{n: n} }

func (d dim) isKnown() bool { return d.sym == "" }

func (d dim) String() string {
	switch {
	case d.sym == "":
		return strconv.FormatInt(d.n, 10)
	case d.n == 1:
		return d.sym
	}
	return fmt.Sprintf("%d*%s", d.n, d.sym)
}

// mdl is the dimension as a .mdl type writes it; only a plain symbol or a
// size can be written.
func (d dim) mdl() (string, bool) {
	if d.sym != "" && d.n != 1 {
		return "", false
	}
	return d.String(), true
}

func shapeString(s []dim) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// sameShape reports whether two shapes are equal, symbols included.
func sameShape(a, b []dim) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// numel is the product of a shape known at import time.
func numel(s []dim) (int64, bool) {
	n := int64(1)
	for _, d := range s {
		if !d.isKnown() || d.n < 0 {
			return 0, false
		}
		n *= d.n
		if n > 1<<40 {
			return 0, false
		}
	}
	return n, true
}

// val is an ONNX value as the importer holds it: its logical (ONNX) shape,
// and either a name in the program (a tensor at run time) or its contents,
// known now (an initializer, a Constant, or a shape computation folded).
type val struct {
	shape []dim
	// isInt is true for integer and boolean values (shapes, indices, ids).
	isInt bool
	// elem is the ONNX element type of a model input or a tensor constant,
	// 0 where the importer does not track it (what a node computed).
	elem onnx.DataType
	// ref is the value's name in the program; "" while only known here.
	ref string
	// ids names the same value as the program's integers (an i32 or i64
	// model input), where ref is its to_float: embedding reads ids, every
	// other layer ref.
	ids string
	// channelsLast: the program holds the value with its channel axis (ONNX
	// axis 1) last, as mdlc's convolutions take and give images: [N, C, H,
	// W] is held as [N, H, W, C]. Only values of rank 3 or more.
	channelsLast bool
	c            *konst
	// other is the same value in the other layout, once one was made.
	other *val
	// transposeOf and transposePerm say that the value is a transpose of
	// another held in logical order, so that a transpose back is no
	// transpose at all.
	transposeOf   *val
	transposePerm []int
	// rowOrder, when set, says the value is an NHWC image flattened as it
	// lies, for the dense layer that alone reads it: its column p holds
	// the ONNX (NCHW-flattened) column rowOrder[p], which the layer's
	// kernel rows are permuted to match.
	rowOrder []int
}

// konst is a value known at import time: floats, or integers, which may
// hold dynamic dimensions.
type konst struct {
	f []float32
	i []dim
}

func (v *val) rank() int { return len(v.shape) }

// physical is the shape the program holds the value in.
func (v *val) physical() []dim {
	if !v.channelsLast {
		return v.shape
	}
	return toChannelsLast(v.shape)
}

// physicalAxis is where logical axis a (non-negative) is held.
func (v *val) physicalAxis(a int) int {
	if !v.channelsLast {
		return a
	}
	return channelsLastAxis(a, v.rank())
}

func channelsLastAxis(a, rank int) int {
	switch {
	case a == 0:
		return 0
	case a == 1:
		return rank - 1
	}
	return a - 1
}

func toChannelsLast[T any](s []T) []T {
	if len(s) < 3 {
		return s
	}
	out := append([]T{s[0]}, s[2:]...)
	return append(out, s[1])
}

// permToChannelsLast and permToLogical are the transposes between layouts.
func permToChannelsLast(rank int) []int {
	p := []int{0}
	for a := 2; a < rank; a++ {
		p = append(p, a)
	}
	return append(p, 1)
}

func permToLogical(rank int) []int {
	p := []int{0, rank - 1}
	for a := 1; a < rank-1; a++ {
		p = append(p, a)
	}
	return p
}

// scalarValue is a constant's single value, when it has exactly one.
func (v *val) scalarValue() (float64, bool) {
	if v.c == nil {
		return 0, false
	}
	switch {
	case len(v.c.f) == 1:
		return float64(v.c.f[0]), true
	case len(v.c.i) == 1 && v.c.i[0].isKnown():
		return float64(v.c.i[0].n), true
	}
	return 0, false
}

// ints is a constant's values as known integers.
func (v *val) ints() ([]int64, bool) {
	if v.c == nil {
		return nil, false
	}
	if v.c.i == nil && v.c.f != nil {
		out := make([]int64, len(v.c.f))
		for i, f := range v.c.f {
			out[i] = int64(f)
			if float32(out[i]) != f {
				return nil, false
			}
		}
		return out, true
	}
	out := make([]int64, len(v.c.i))
	for i, d := range v.c.i {
		if !d.isKnown() {
			return nil, false
		}
		out[i] = d.n
	}
	return out, true
}

// floats is a constant's values as float32.
func (v *val) floats() []float32 {
	if v.c.f != nil || v.c.i == nil {
		return v.c.f
	}
	out := make([]float32, len(v.c.i))
	for i, d := range v.c.i {
		out[i] = float32(d.n)
	}
	return out
}

// fromTensor reads an initializer or a Constant's tensor.
func fromTensor(t *onnx.Tensor) (*val, error) {
	v := &val{shape: make([]dim, len(t.Dims)), elem: t.DataType}
	for i, d := range t.Dims {
		v.shape[i] = known(d)
	}
	switch t.DataType {
	case onnx.Float, onnx.Float16, onnx.BFloat16, onnx.Double:
		f, err := t.Float32s()
		if err != nil {
			return nil, err
		}
		v.c = &konst{f: f}
	default:
		ints, err := t.Int64s()
		if err != nil {
			return nil, fmt.Errorf("%w: mdlc reads float and integer tensors", err)
		}
		v.isInt = true
		v.c = &konst{i: make([]dim, len(ints))}
		for i, n := range ints {
			v.c.i[i] = known(n)
		}
	}
	return v, nil
}

// isFloat reports whether an ONNX element type is read as float32.
func isFloat(t onnx.DataType) bool {
	return t == onnx.Float || t == onnx.Float16 || t == onnx.BFloat16 || t == onnx.Double
}

// numbers is a constant's values as float32, refused where one is a
// dynamic dimension, whose number is not known until run time.
func numbers(v *val) ([]float32, error) {
	for _, d := range v.c.i {
		if !d.isKnown() {
			return nil, fmt.Errorf("a value of %s is the dynamic dimension %s, which arithmetic with floats needs known (fix it with --dim)", shapeString(v.shape), d)
		}
	}
	return v.floats(), nil
}

// checkKonst makes sure each constant holds as many values as its shape
// has elements, before folding indexes into them.
func checkKonst(vs ...*val) error {
	for _, v := range vs {
		n, ok := numel(v.shape)
		if !ok {
			return fmt.Errorf("a constant of shape %s, whose size is not known", shapeString(v.shape))
		}
		if got := int64(max(len(v.c.f), len(v.c.i))); got != n {
			return fmt.Errorf("a constant of shape %s holds %d values", shapeString(v.shape), got)
		}
	}
	return nil
}

// broadcastIndex is the index into a tensor of shape from, broadcast to
// shape to (numpy's rule: from's axes align with to's last ones, and an
// axis of size 1 repeats), of the element at row-major index i of to.
func broadcastIndex(from, to []dim, i int64) int64 {
	idx, stride := int64(0), int64(1)
	for d := len(to) - 1; d >= 0; d-- {
		coord := i % to[d].n
		i /= to[d].n
		if j := len(from) - len(to) + d; j >= 0 {
			if from[j].n != 1 {
				idx += coord * stride
			}
			stride *= from[j].n
		}
	}
	return idx
}
