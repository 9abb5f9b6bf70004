// Package mask computes comparisons as 0/1 masks and selects by a mask
// (where), with NumPy broadcasting, and rounds down (floor, the other step
// function, elementwise). Broadcasting: each operand has a stride per axis of
// the output, 0 where it broadcasts. Rows of the output's last axis are
// the unit of work: an operand's offset is found once a row, then the row
// runs with each operand's last stride (1, or 0 for a broadcast value).
// Generic Go only; nothing allocates after the plan is built.
package mask

import (
	"fmt"
	"math"
)

// Kind is a comparison.
type Kind uint8

const (
	Greater Kind = iota
	GreaterEqual
	Less
	LessEqual
	Equal
	NotEqual
)

var kindNames = [...]string{"Greater", "GreaterEqual", "Less", "LessEqual", "Equal", "NotEqual"}

// GoString names the constant, for generated code.
func (k Kind) GoString() string {
	if int(k) < len(kindNames) {
		return "mask." + kindNames[k]
	}
	return fmt.Sprintf("mask.Kind(%d)", k)
}

// Shape is the output's shape and each operand's strides over it.
type Shape struct {
	Out     []int
	Strides [][]int
}

// offsets sets off[k] to operand k's offset at the start of row (a
// position of all axes but the last).
func (s *Shape) offsets(row int, off *[3]int) {
	*off = [3]int{}
	for d := len(s.Out) - 2; d >= 0; d-- {
		i := row % s.Out[d]
		row /= s.Out[d]
		for k, st := range s.Strides {
			off[k] += i * st[d]
		}
	}
}

// Compare writes out[i] = 1 if a op b at position i, else 0.
type Compare struct {
	Kind  Kind
	Shape Shape
}

// Run compares a and b into out.
func (c *Compare) Run(a, b, out []float32) {
	n := c.Shape.Out[len(c.Shape.Out)-1]
	sa, sb := c.Shape.Strides[0][len(c.Shape.Out)-1], c.Shape.Strides[1][len(c.Shape.Out)-1]
	var off [3]int
	for row := range len(out) / n {
		c.Shape.offsets(row, &off)
		o := out[row*n : (row+1)*n]
		ia, ib := off[0], off[1]
		for i := range o {
			o[i] = c.Kind.of(a[ia], b[ib])
			ia += sa
			ib += sb
		}
	}
}

func (k Kind) of(a, b float32) float32 {
	var t bool
	switch k {
	case Greater:
		t = a > b
	case GreaterEqual:
		t = a >= b
	case Less:
		t = a < b
	case LessEqual:
		t = a <= b
	case Equal:
		t = a == b
	case NotEqual:
		t = a != b
	}
	if t {
		return 1
	}
	return 0
}

// Where is out[i] = a[i] where cond[i] != 0, else b[i].
type Where struct {
	Shape Shape
}

// Run selects from a and b by cond into out.
func (w *Where) Run(cond, a, b, out []float32) {
	last := len(w.Shape.Out) - 1
	n := w.Shape.Out[last]
	sc, sa, sb := w.Shape.Strides[0][last], w.Shape.Strides[1][last], w.Shape.Strides[2][last]
	var off [3]int
	for row := range len(out) / n {
		w.Shape.offsets(row, &off)
		o := out[row*n : (row+1)*n]
		ic, ia, ib := off[0], off[1], off[2]
		for i := range o {
			if cond[ic] != 0 {
				o[i] = a[ia]
			} else {
				o[i] = b[ib]
			}
			ic += sc
			ia += sa
			ib += sb
		}
	}
}

// Floor writes each x rounded down into out, which may be x.
func Floor(x, out []float32) {
	for i, v := range x {
		out[i] = float32(math.Floor(float64(v)))
	}
}
