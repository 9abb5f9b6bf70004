// Package tensor holds dense float32 tensors and their file formats (.npy,
// images). It knows nothing of graphs.
package tensor

import (
	"fmt"
	"math"
	"strings"
)

// Tensor is a dense row-major array: float32 elements in Data, or, for an
// integer tensor (token ids), int64 elements in Ints and no Data.
type Tensor struct {
	Shape []int
	Data  []float32
	Ints  []int64
}

// New returns a zero tensor of the given shape, whose size the caller has
// checked (size.Budget.CheckShape): New itself cannot refuse one.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// NewInts returns a zero integer tensor of the given shape, whose size the
// caller has checked, as for New.
func NewInts(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Ints: make([]int64, Numel(shape))}
}

// IsInt reports whether t holds integers.
func (t *Tensor) IsInt() bool { return t.Ints != nil }

// Len is the number of elements t holds.
func (t *Tensor) Len() int {
	if t.IsInt() {
		return len(t.Ints)
	}
	return len(t.Data)
}

// Floats returns t as float32: t itself, or an integer tensor converted
// (exactly up to 2^24 in magnitude), for inputs such as raw uint8 pixels.
func (t *Tensor) Floats() *Tensor {
	if !t.IsInt() {
		return t
	}
	f := &Tensor{Shape: t.Shape, Data: make([]float32, len(t.Ints))}
	for i, v := range t.Ints {
		f.Data[i] = float32(v)
	}
	return f
}

// Numel is the number of elements of a shape that is known to be small
// enough; size.Numel checks one that is not.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// ShapeString formats a shape as [a,b,c].
func ShapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// IndexString is the position of row-major element i of shape, as [a,b,c].
func IndexString(i int, shape []int) string {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
	return ShapeString(idx)
}

// BroadcastStrides returns the row-major strides of a tensor of shape s
// broadcast into shape out (NumPy rules): right-aligned, 0 along the axes s
// lacks or has as 1.
func BroadcastStrides(s, out []int) []int {
	st := make([]int, len(out))
	n := 1
	for i := 1; i <= len(s); i++ {
		if d := s[len(s)-i]; d != 1 {
			st[len(out)-i] = n
			n *= d
		}
	}
	return st
}

// MaxRelErr is max |a-b| / max(|b|, floor) over all elements: the error measure
// used to compare a result against an oracle b. The floor keeps elements near
// zero from dominating.
func MaxRelErr(a, b []float32, floor float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	worst := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if a[i] == b[i] {
			continue // equal, infinities and zeros included
		}
		den := math.Max(math.Abs(float64(b[i])), floor)
		if e := d / den; e > worst || math.IsNaN(e) {
			if math.IsNaN(e) {
				return math.Inf(1)
			}
			worst = e
		}
	}
	return worst
}
