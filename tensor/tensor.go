// Package tensor holds dense float32 tensors and their file formats (.npy,
// images). It knows nothing of graphs.
package tensor

import (
	"fmt"
	"math"
	"strings"
)

// Tensor is a dense row-major float32 array.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// Numel is the number of elements of a shape.
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
