package nn

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// Axis maps a NumPy-style axis (negative counts from the end) to 0..rank-1.
func Axis(axis, rank int) (int, error) {
	if axis < -rank || axis >= rank {
		return 0, &ir.TypeError{Msg: "axis " + itoa(axis) + " is out of range for rank " + itoa(rank),
			Help: "axes run from " + itoa(-rank) + " to " + itoa(rank-1)}
	}
	if axis < 0 {
		axis += rank
	}
	return axis, nil
}

// Slice keeps positions Start..End-1 of an axis; negative axes and
// positions count from the end.
type Slice struct {
	Axis, Start, End int
}

// Apply adds the slice op.
func (s Slice) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	axis, err := Axis(s.Axis, x.Type.Shape.Rank())
	if err != nil {
		return nil, err
	}
	start, end := s.Start, s.End
	if d := x.Type.Shape[axis]; d.Known() {
		if start < 0 {
			start += d.Size
		}
		if end < 0 {
			end += d.Size
		}
	}
	return l.Node(ir.OpSlice, &ir.SliceAttrs{Axis: axis, Start: start, End: end}, x)
}

// Split cuts an axis of known size into Parts parts of equal size, or into
// parts of the given Sizes: exactly one of the two is set.
type Split struct {
	Axis  int
	Parts int
	Sizes []int
}

// Apply adds one slice op per part.
func (s Split) Apply(l *Layer, x *ir.Value) ([]*ir.Value, error) {
	axis, err := Axis(s.Axis, x.Type.Shape.Rank())
	if err != nil {
		return nil, err
	}
	d := x.Type.Shape[axis]
	if !d.Known() {
		return nil, &ir.TypeError{Msg: fmt.Sprintf("split: axis %d of %s has no known size", axis, x.Type)}
	}
	var sizes []int
	switch {
	case (s.Parts != 0) == (s.Sizes != nil):
		return nil, &ir.TypeError{Msg: "split takes parts or sizes", Help: "split(x, 3) cuts into 3 equal parts, split(x, sizes=[2, 6]) into those sizes"}
	case s.Sizes != nil:
		if err := positive("split", "sizes", s.Sizes...); err != nil {
			return nil, err
		}
		sizes = s.Sizes
		if sum := sumInts(sizes); sum != d.Size {
			return nil, &ir.TypeError{Msg: fmt.Sprintf("split: sizes %v add up to %d, but axis %d of %s has %d", sizes, sum, axis, x.Type, d.Size)}
		}
	default:
		n := s.Parts
		if err := positive("split", "parts", n); err != nil {
			return nil, err
		}
		if d.Size%n != 0 {
			return nil, &ir.TypeError{Msg: fmt.Sprintf("split: %d parts do not divide axis %d of %s (size %d)", n, axis, x.Type, d.Size),
				Help: "give sizes=[...] for parts of unequal size"}
		}
		for range n {
			sizes = append(sizes, d.Size/n)
		}
	}
	var outs []*ir.Value
	start := 0
	for _, n := range sizes {
		v, err := l.Node(ir.OpSlice, &ir.SliceAttrs{Axis: axis, Start: start, End: start + n}, x)
		if err != nil {
			return nil, err
		}
		outs = append(outs, v)
		start += n
	}
	return outs, nil
}

func sumInts(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// Concat joins tensors along an axis.
type Concat struct {
	Axis int
}

// Apply adds the concat op on xs.
func (c Concat) Apply(l *Layer, xs ...*ir.Value) (*ir.Value, error) {
	if len(xs) == 0 {
		return nil, &ir.TypeError{Msg: "concat needs at least one tensor"}
	}
	axis, err := Axis(c.Axis, xs[0].Type.Shape.Rank())
	if err != nil {
		return nil, err
	}
	return l.Node(ir.OpConcat, &ir.AxisAttrs{Axis: axis}, xs...)
}

// Reshape reshapes all but the batch axis to Shape, where one size may be -1,
// inferred from the others, and 0 keeps the input's size on that axis (ONNX's
// rule), which is how a size known only at run time, such as a sequence
// length T, passes through.
//
// With Whole, Shape gives every axis, the batch axis too: for graphs that
// fold the batch into another axis, such as imported attention layers,
// whose sizes are then known.
type Reshape struct {
	Shape []int
	Whole bool
}

// Apply adds the reshape op, with the batch axis of x first.
func (r Reshape) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if x.Type.Shape.Rank() < 1 && !r.Whole {
		return nil, &ir.TypeError{Msg: "reshape needs a batch axis, got " + x.Type.String()}
	}
	in, shape := x.Type.Shape, ir.Shape{}
	if !r.Whole {
		in, shape = x.Type.Shape[1:], ir.Shape{x.Type.Shape[0]}
	}
	copied := make([]bool, len(in))
	for i, d := range r.Shape {
		if d == 0 {
			if i >= len(in) {
				return nil, &ir.TypeError{Msg: "reshape: 0 at position " + itoa(i) + " copies an axis " + x.Type.String() + " does not have after its batch axis"}
			}
			copied[i] = true
		}
	}
	total := 1
	for i, d := range in {
		if copied[i] {
			continue
		}
		if !d.Known() {
			return nil, &ir.TypeError{Msg: "reshape needs known sizes, but for the batch axis and those it keeps with 0, got " + x.Type.String(),
				Help: "write 0 at the position of " + d.String() + " to keep it"}
		}
		total *= d.Size
	}
	lead := len(shape)
	infer, prod := -1, 1
	for i, d := range r.Shape {
		switch {
		case d == 0:
			shape = append(shape, in[i])
			continue
		case d == -1 && infer < 0:
			infer = i
		case d < 1:
			return nil, &ir.TypeError{Msg: "reshape: dimension " + itoa(d) + " is not a size", Help: "sizes are positive; one may be -1 to be inferred, and 0 keeps the input's"}
		default:
			prod *= d
		}
		shape = append(shape, ir.D(d))
	}
	if infer >= 0 {
		if prod == 0 || total%prod != 0 {
			return nil, &ir.TypeError{Msg: "reshape: cannot infer -1 for " + x.Type.String() + " into " + ints(r.Shape)}
		}
		shape[infer+lead] = ir.D(total / prod)
	}
	return l.Node(ir.OpReshape, &ir.ReshapeAttrs{Shape: shape}, x)
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = itoa(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// Dropout drops a fraction Rate of the units in training; it is the
// identity at inference.
type Dropout struct {
	Rate float64
}

// Apply adds the dropout op.
func (d Dropout) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	if !(d.Rate >= 0 && d.Rate < 1) {
		return nil, &ir.TypeError{Msg: "dropout: rate must be in [0, 1), got " + strconv.FormatFloat(d.Rate, 'g', -1, 64), Help: "rate is the fraction of units dropped in training"}
	}
	return l.Node(ir.OpDropout, &ir.DropoutAttrs{Rate: float32(d.Rate)}, x)
}
