package nn

import (
	"fmt"
	"slices"

	"github.com/mdlc/mdlc/ir"
)

// Axes maps NumPy-style axes to 0..rank-1, sorted; an axis named twice
// (2 and -1 of a rank-3 tensor are the same) is an error.
func Axes(layer string, axes []int, rank int) ([]int, error) {
	out := make([]int, len(axes))
	for i, a := range axes {
		ax, err := Axis(a, rank)
		if err != nil {
			return nil, err
		}
		if j := slices.Index(out[:i], ax); j >= 0 {
			return nil, &ir.TypeError{Msg: fmt.Sprintf("%s: axes %d and %d are both axis %d of a rank-%d tensor", layer, axes[j], a, ax, rank),
				Help: "name each axis once"}
		}
		out[i] = ax
	}
	slices.Sort(out)
	return out, nil
}

// Reduce is a reduction (Op one of ir.OpReduceSum, OpReduceMean,
// OpReduceMax, OpReduceMin) over Axes, which may be negative.
type Reduce struct {
	Op       ir.Op
	Axes     []int
	KeepDims bool
}

// Apply adds the reduction.
func (r Reduce) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	axes, err := Axes(r.Op.String(), r.Axes, x.Type.Shape.Rank())
	if err != nil {
		return nil, err
	}
	return l.Node(r.Op, &ir.ReduceAttrs{Axes: axes, KeepDims: r.KeepDims}, x)
}

// GlobalPool is the mean (or, with Max, the max) over height and width of
// (N, H, W, C): (N, C), or (N, 1, 1, C) with KeepDims, which broadcasts
// against the input (squeeze-and-excitation's gate).
type GlobalPool struct {
	Max, KeepDims bool
}

// Apply adds global_avgpool2d (its own kernel) and, with KeepDims, a
// reshape view; or reduce_max over axes 1 and 2.
func (g GlobalPool) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	name := map[bool]string{false: "global_avgpool2d", true: "global_maxpool2d"}[g.Max]
	if x.Type.Shape.Rank() != 4 {
		return nil, &ir.TypeError{Msg: fmt.Sprintf("%s expects a rank-4 input (N, height, width, channels), got %s", name, x.Type),
			Help: "use reduce_mean or reduce_max with axes= for other layouts"}
	}
	if g.Max {
		return l.Node(ir.OpReduceMax, &ir.ReduceAttrs{Axes: []int{1, 2}, KeepDims: g.KeepDims}, x)
	}
	y, err := l.Node(ir.OpGlobalAvgPool2D, nil, x)
	if err != nil || !g.KeepDims {
		return y, err
	}
	s := x.Type.Shape
	return l.Node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{s[0], ir.D(1), ir.D(1), s[3]}}, y)
}

// Squeeze removes axes of size 1: Axes (negative count from the end), or,
// if none are given, every axis of known size 1. It is a reshape: a view,
// no copy.
type Squeeze struct {
	Axes []int
}

// Apply adds the reshape.
func (s Squeeze) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	shape := x.Type.Shape
	var axes []int
	if len(s.Axes) > 0 {
		var err error
		if axes, err = Axes("squeeze", s.Axes, shape.Rank()); err != nil {
			return nil, err
		}
		for _, a := range axes {
			if shape[a] != ir.D(1) {
				return nil, &ir.TypeError{Msg: fmt.Sprintf("squeeze: axis %d of %s has size %s, not 1", a, x.Type, shape[a]),
					Help: "squeeze removes axes of size 1; reshape changes other sizes"}
			}
		}
	}
	var out ir.Shape
	for d, dim := range shape {
		if dim == ir.D(1) && (len(axes) == 0 || slices.Contains(axes, d)) {
			continue
		}
		out = append(out, dim)
	}
	return l.Node(ir.OpReshape, &ir.ReshapeAttrs{Shape: out}, x)
}

// ExpandDims inserts an axis of size 1 at Axis of the result (-1 is after
// the last). It is a reshape: a view, no copy.
type ExpandDims struct {
	Axis int
}

// Apply adds the reshape.
func (e ExpandDims) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	shape := x.Type.Shape
	axis, err := Axis(e.Axis, shape.Rank()+1)
	if err != nil {
		te := err.(*ir.TypeError)
		return nil, &ir.TypeError{Msg: "expand_dims: " + te.Msg + ", the result's", Help: te.Help}
	}
	out := slices.Insert(slices.Clone(shape), axis, ir.D(1))
	return l.Node(ir.OpReshape, &ir.ReshapeAttrs{Shape: out}, x)
}

// ArgMax is the first position of the max along Axis (negative counts from
// the end), as an f32: exact for axes of up to 2^24 positions, which the
// IR enforces.
type ArgMax struct {
	Axis     int
	KeepDims bool
}

// Apply adds the argmax.
func (a ArgMax) Apply(l *Layer, x *ir.Value) (*ir.Value, error) {
	axis, err := Axis(a.Axis, x.Type.Shape.Rank())
	if err != nil {
		return nil, err
	}
	return l.Node(ir.OpArgMax, &ir.ArgAttrs{Axis: axis, KeepDims: a.KeepDims}, x)
}

// Gather takes slices of x along Axis (negative counts from the end) at
// the positions of an f32 tensor of integral values, checked when the model
// runs, or of constant Indices of shape IndexShape, checked here and added
// as the constant Name.indices. See ir.GatherAttrs for BatchDims.
type Gather struct {
	Axis, BatchDims int
	Indices         []int
	IndexShape      []int
}

// Apply adds the gather of x at indices, or at the constant Indices if
// indices is nil.
func (g Gather) Apply(l *Layer, x, indices *ir.Value) (*ir.Value, error) {
	axis, err := Axis(g.Axis, x.Type.Shape.Rank())
	if err != nil {
		return nil, err
	}
	attrs := &ir.GatherAttrs{Axis: axis, BatchDims: g.BatchDims}
	if indices != nil {
		return l.Node(ir.OpGather, attrs, x, indices)
	}
	d := x.Type.Shape[axis]
	data := make([]float32, len(g.Indices))
	for k, i := range g.Indices {
		if d.Known() {
			if _, ok := ir.GatherIndex(float32(i), d.Size); !ok {
				return nil, &ir.TypeError{Msg: fmt.Sprintf("gather: index %d is out of range for axis %d of %s", i, axis, x.Type),
					Help: fmt.Sprintf("indices run from %d to %d (negative count from the end)", -d.Size, d.Size-1)}
			}
		}
		data[k] = float32(i)
	}
	shape := make(ir.Shape, len(g.IndexShape))
	for k, s := range g.IndexShape {
		shape[k] = ir.D(s)
	}
	c := l.G.AddConst(ir.Qualified(l.Name, "indices"), ir.Type{DType: ir.F32, Shape: shape}, data)
	y, err := l.Node(ir.OpGather, attrs, x, c)
	if err != nil {
		l.G.Consts = l.G.Consts[:len(l.G.Consts)-1]
	}
	return y, err
}
