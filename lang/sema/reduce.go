package sema

import (
	"maps"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/nn"
)

// The reduction, global pooling, axis, selection and comparison layers;
// none has weights.
func init() { maps.Copy(layerTable, axisLayers()) }

var keepdims = paramSpec{name: "keepdims", kind: aBool, def: false}

func axisLayers() map[string]layer {
	reduce := func(op ir.Op, what string) layer {
		return layer{doc: what + " over axes (negative count from the end); keepdims=true leaves each reduced axis with size 1",
			specs: []paramSpec{input, {name: "axes", kind: aInts}, keepdims},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return nn.Reduce{Op: op, Axes: a.ints("axes"), KeepDims: a.bool("keepdims")}.Apply(l, a.tensor("x"))
			}}
	}
	global := func(isMax bool) func(*nn.Layer, *bound) (*ir.Value, error) {
		return func(l *nn.Layer, a *bound) (*ir.Value, error) {
			return nn.GlobalPool{Max: isMax, KeepDims: a.bool("keepdims")}.Apply(l, a.tensor("x"))
		}
	}
	return map[string]layer{
		"reduce_sum":  reduce(ir.OpReduceSum, "sum"),
		"reduce_mean": reduce(ir.OpReduceMean, "mean"),
		"reduce_max":  reduce(ir.OpReduceMax, "max (NaN if any is)"),
		"reduce_min":  reduce(ir.OpReduceMin, "min (NaN if any is)"),
		"global_avgpool2d": {doc: "mean over height and width: (N,H,W,C) -> (N,C), or (N,1,1,C) with keepdims=true",
			specs: []paramSpec{input, keepdims}, build: global(false)},
		"global_maxpool2d": {doc: "max over height and width: (N,H,W,C) -> (N,C), or (N,1,1,C) with keepdims=true",
			specs: []paramSpec{input, keepdims}, build: global(true)},
		"squeeze": {doc: "removes axes of size 1: the given axes, or every axis of size 1; a view, no copy",
			specs: []paramSpec{input, {name: "axes", kind: aInts, def: unset{}, doc: "all of size 1"}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				var axes []int
				if a.has("axes") {
					axes = a.ints("axes")
				}
				return nn.Squeeze{Axes: axes}.Apply(l, a.tensor("x"))
			}},
		"argmax": {doc: "position of the first max along an axis (a NaN counts as the max), as f32: exact up to 2^24 positions",
			specs: []paramSpec{input, lastAxis, keepdims},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return nn.ArgMax{Axis: a.int("axis"), KeepDims: a.bool("keepdims")}.Apply(l, a.tensor("x"))
			}},
		"gather": {doc: "slices of x along axis at indices: a tensor of integral values (checked when the model runs) or a constant list; " +
			"negative indices count from the end; batch_dims leading axes are matched between x and the indices",
			specs: []paramSpec{input, {name: "indices", kind: aIndices}, {name: "axis", kind: aInt}, {name: "batch_dims", kind: aInt, def: 0}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				g := nn.Gather{Axis: a.int("axis"), BatchDims: a.int("batch_dims")}
				switch i := a.vals["indices"].(type) {
				case *ir.Value:
					return g.Apply(l, a.tensor("x"), i)
				case indices:
					g.Indices, g.IndexShape = i.data, i.shape
				}
				return g.Apply(l, a.tensor("x"), nil)
			}},
		"where": {doc: "a where cond is not 0, else b, with broadcasting; cond is usually a comparison's 0/1 mask",
			specs: []paramSpec{{name: "cond", kind: aTensor}, {name: "a", kind: aTensor}, {name: "b", kind: aTensor}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return l.Node(ir.OpWhere, nil, a.tensor("cond"), a.tensor("a"), a.tensor("b"))
			}},
		"greater":       {doc: "1 where a > b, else 0, with broadcasting", specs: binarySpec, build: binary(ir.OpGreater)},
		"greater_equal": {doc: "1 where a >= b, else 0, with broadcasting", specs: binarySpec, build: binary(ir.OpGreaterEqual)},
		"less":          {doc: "1 where a < b, else 0, with broadcasting", specs: binarySpec, build: binary(ir.OpLess)},
		"less_equal":    {doc: "1 where a <= b, else 0, with broadcasting", specs: binarySpec, build: binary(ir.OpLessEqual)},
		"equal":         {doc: "1 where a == b, else 0 (NaN equals nothing), with broadcasting", specs: binarySpec, build: binary(ir.OpEqual)},
		"floor":         {doc: "the largest integer not above x (NaN and infinities kept)", specs: []paramSpec{input}, build: simple(ir.OpFloor, nil)},
		"not_equal":     {doc: "1 where a != b, else 0 (NaN differs from everything), with broadcasting", specs: binarySpec, build: binary(ir.OpNotEqual)},
		"expand_dims": {doc: "inserts an axis of size 1 at axis of the result (-1: after the last); a view, no copy",
			specs: []paramSpec{input, {name: "axis", kind: aInt}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return nn.ExpandDims{Axis: a.int("axis")}.Apply(l, a.tensor("x"))
			}},
	}
}
