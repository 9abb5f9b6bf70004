package ir

import (
	"fmt"
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
