package ir

import (
	"fmt"
	"math"
	"slices"
)

// ReduceAttrs: the reduction runs over Axes, which are non-negative, strictly
// increasing and at least one (the checker normalises NumPy-style negative
// axes and rejects duplicates). KeepDims leaves each reduced axis in the
// result with size 1, so that it broadcasts against the input.
type ReduceAttrs struct {
	Axes     []int
	KeepDims bool
}

func (a *ReduceAttrs) String() string {
	return fmt.Sprintf("axes=%s keepdims=%t", ints(a.Axes), a.KeepDims)
}

func (*ReduceAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &ReduceAttrs{}
	return a, p.fields(req("axes", intsVal(&a.Axes)), req("keepdims", boolVal(&a.KeepDims, "true", "false")))
}

// Reduced reports, for each axis of a rank-r tensor, whether the reduction
// runs over it.
func (a *ReduceAttrs) Reduced(r int) []bool {
	red := make([]bool, r)
	for _, ax := range a.Axes {
		red[ax] = true
	}
	return red
}

func inferReduce(a Attrs, in []Type) (Type, error) {
	at, x := a.(*ReduceAttrs), in[0]
	r := x.Shape.Rank()
	if len(at.Axes) == 0 {
		return Type{}, typeErr("name the axes to reduce, e.g. axes=[1, 2]", "a reduction needs at least one axis")
	}
	for i, ax := range at.Axes {
		if err := checkAxis(ax, r); err != nil {
			return Type{}, err
		}
		if i > 0 && ax <= at.Axes[i-1] {
			return Type{}, typeErr("name each axis once, in increasing order", "reduction axes %s are not strictly increasing", ints(at.Axes))
		}
	}
	var out Shape
	for d, dim := range x.Shape {
		switch {
		case !slices.Contains(at.Axes, d):
			out = append(out, dim)
		case at.KeepDims:
			out = append(out, D(1))
		}
	}
	return Type{DType: x.DType, Shape: out}, nil
}

// MaxExactIndex is the largest position argmax can give exactly: results
// are f32, which holds every integer only up to 2^24.
const MaxExactIndex = 1 << 24

// ArgAttrs: argmax along Axis (non-negative; the checker normalises it),
// which KeepDims leaves in the result with size 1.
type ArgAttrs struct {
	Axis     int
	KeepDims bool
}

func (a *ArgAttrs) String() string { return fmt.Sprintf("axis=%d keepdims=%t", a.Axis, a.KeepDims) }

func (*ArgAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &ArgAttrs{}
	return a, p.fields(req("axis", intVal(&a.Axis)), req("keepdims", boolVal(&a.KeepDims, "true", "false")))
}

// inferArgMax: the axis has a known size of at most 2^24 positions, so that
// every position is an exact f32.
func inferArgMax(a Attrs, in []Type) (Type, error) {
	at, x := a.(*ArgAttrs), in[0]
	if err := checkAxis(at.Axis, x.Shape.Rank()); err != nil {
		return Type{}, err
	}
	d := x.Shape[at.Axis]
	if !d.Known() {
		return Type{}, typeErr("give the axis a fixed size: positions are f32, exact only up to 2^24",
			"argmax: axis %d of %s must have a known size", at.Axis, x)
	}
	if d.Size > MaxExactIndex {
		return Type{}, typeErr("positions are f32, exact only up to 2^24 = 16777216: reshape the axis into parts first",
			"argmax: axis %d of %s has %d positions, more than 2^24", at.Axis, x, d.Size)
	}
	out := slices.Clone(x.Shape)
	if at.KeepDims {
		out[at.Axis] = D(1)
	} else {
		out = slices.Delete(out, at.Axis, at.Axis+1)
	}
	return Type{DType: x.DType, Shape: out}, nil
}

// inferWhere: cond, a and b broadcast together.
func inferWhere(_ Attrs, in []Type) (Type, error) {
	s, ok := broadcastShapes(in[0].Shape, in[1].Shape)
	if ok {
		s, ok = broadcastShapes(s, in[2].Shape)
	}
	if !ok {
		return Type{}, typeErr("shapes must match, or one dimension must be 1 (NumPy broadcasting)",
			"where: the condition %s and the values %s and %s do not broadcast", in[0], in[1], in[2])
	}
	return Type{DType: in[1].DType, Shape: s}, nil
}

// GatherAttrs: gather(x, indices) takes slices of x along Axis at the
// positions indices holds (f32 values that must be integers in -size..size-1,
// negative counting from the end; a run that meets another is an error).
// The first BatchDims axes of x and indices are matched, not gathered over:
// with x viewed as [B, P, A, R] (B the batch axes, A = Axis) and indices as
// [B, I], out[b, p, i, r] = x[b, p, indices[b, i], r], of shape
// x[:Axis] + indices[BatchDims:] + x[Axis+1:].
type GatherAttrs struct {
	Axis, BatchDims int
}

func (a *GatherAttrs) String() string {
	return fmt.Sprintf("axis=%d batch_dims=%d", a.Axis, a.BatchDims)
}

func (*GatherAttrs) parseAttrs(p *parser) (Attrs, error) {
	a := &GatherAttrs{}
	return a, p.fields(req("axis", intVal(&a.Axis)), req("batch_dims", intVal(&a.BatchDims)))
}

func inferGather(a Attrs, in []Type) (Type, error) {
	at, x, idx := a.(*GatherAttrs), in[0], in[1]
	if err := checkAxis(at.Axis, x.Shape.Rank()); err != nil {
		return Type{}, err
	}
	if at.BatchDims < 0 || at.BatchDims > at.Axis || at.BatchDims > idx.Shape.Rank() {
		return Type{}, typeErr("batch_dims counts leading axes shared by x and the indices, before the gathered axis",
			"gather: batch_dims=%d must be 0 to %d for axis %d and indices %s", at.BatchDims, min(at.Axis, idx.Shape.Rank()), at.Axis, idx)
	}
	if !x.Shape[:at.BatchDims].Equal(idx.Shape[:at.BatchDims]) {
		return Type{}, typeErr("the first batch_dims axes of x and the indices must be the same",
			"gather: the batch axes of %s and the indices %s differ", x, idx)
	}
	out := slices.Concat(x.Shape[:at.Axis], idx.Shape[at.BatchDims:], x.Shape[at.Axis+1:])
	return Type{DType: x.DType, Shape: out}, nil
}

// GatherIndex is the position along an axis of size n that index v names,
// or false if v is not an integer in -n..n-1.
func GatherIndex(v float32, n int) (int, bool) {
	f := float64(v)
	if f != math.Trunc(f) || f < float64(-n) || f >= float64(n) {
		return 0, false
	}
	i := int(f)
	if i < 0 {
		i += n
	}
	return i, true
}
