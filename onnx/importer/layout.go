package importer

import (
	"fmt"
	"math"
	"strings"

	"github.com/mdlc/mdlc/tensor"
)

// logical is v held in ONNX's layout, transposed once if it was not.
func (im *importer) logical(v *val) (*val, error) {
	if v.c != nil && v.ref == "" {
		return v, nil
	}
	if !v.channelsLast {
		return v, nil
	}
	if v.other == nil {
		if err := im.physicalOK(v); err != nil {
			return nil, err
		}
		out := im.w.name(v.ref + "_nchw")
		im.w.add(&stmt{outs: []string{out}, call: "transpose", in: v.ref, args: []string{intList(permToLogical(v.rank()))}})
		v.other = &val{ref: out, shape: v.shape, isInt: v.isInt, other: v}
	}
	return v.other, nil
}

// channelsLastOf is v held with its channels last, transposed once if it
// was not.
func (im *importer) channelsLastOf(v *val) (*val, error) {
	if v.channelsLast {
		return v, nil
	}
	if v.rank() < 3 {
		return nil, fmt.Errorf("needs an image of rank 3 or more, got %s", shapeString(v.shape))
	}
	if v.ref == "" {
		ref, err := im.tensorRef(v, true)
		return &val{ref: ref, shape: v.shape, channelsLast: true}, err
	}
	if v.other == nil {
		ref, err := im.tensorRef(v, false)
		if err != nil {
			return nil, err
		}
		perm := permToChannelsLast(v.rank())
		if y := undoTranspose(v, perm); y != nil && !y.channelsLast {
			// NHWC data transposed to NCHW (tf2onnx's graphs): the data as
			// it came is what the layer takes.
			v.other = &val{ref: y.ref, shape: v.shape, isInt: v.isInt, channelsLast: true, other: v}
			return v.other, nil
		}
		if v.transposeOf != nil && !v.transposeOf.channelsLast {
			// Two transposes in a row are one.
			ref, perm = v.transposeOf.ref, composePerm(v.transposePerm, perm)
		}
		out := im.w.name(ref + "_nhwc")
		im.w.add(&stmt{outs: []string{out}, call: "transpose", in: ref, args: []string{intList(perm)}})
		v.other = &val{ref: out, shape: v.shape, isInt: v.isInt, channelsLast: true, other: v}
	}
	return v.other, nil
}

// inLayout is v in the layout asked for.
func (im *importer) inLayout(v *val, channelsLast bool) (*val, error) {
	if channelsLast {
		return im.channelsLastOf(v)
	}
	return im.logical(v)
}

// physicalOK checks that the program can declare v's physical shape.
func (im *importer) physicalOK(v *val) error {
	for _, d := range v.shape {
		if _, ok := d.mdl(); !ok {
			return fmt.Errorf("the shape %s has a dimension that is a multiple of a symbol, which mdlc's types cannot hold (fix the dimension with --dim)", shapeString(v.shape))
		}
	}
	return nil
}

// tensorRef is v as an operand of a statement: its name, or, for a
// constant, a variable holding its values in the layout asked for (the
// constant's rank padded to rank with leading ones first, as ONNX
// broadcasting aligns shapes on the right, then leading ones dropped).
func (im *importer) tensorRef(v *val, channelsLast bool) (string, error) {
	if v.ref != "" || v.c == nil {
		if v.channelsLast != channelsLast {
			o, err := im.inLayout(v, channelsLast)
			if err != nil {
				return "", err
			}
			return o.ref, nil
		}
		return v.ref, nil
	}
	dims := make([]int, len(v.shape))
	for i, d := range v.shape {
		dims[i] = int(d.n)
	}
	data := v.floats()
	if channelsLast && len(dims) >= 3 {
		data = tensor.Permute(data, dims, permToChannelsLast(len(dims)))
		dims = toChannelsLast(dims)
	}
	for len(dims) > 1 && dims[0] == 1 {
		dims = dims[1:]
	}
	if len(dims) == 0 {
		dims = []int{1}
	}
	name := im.w.name(im.constName())
	if err := im.weight(name+".value", dims, data); err != nil {
		return "", err
	}
	im.w.add(&stmt{outs: []string{name}, call: "variable", args: []string{intList(dims)}, as: name})
	return name, nil
}

// constName names a constant after the node that reads it.
func (im *importer) constName() string {
	if im.node != nil && im.node.Name != "" {
		return strings.TrimPrefix(im.node.Name, "/") + "_const"
	}
	return "const"
}

// operand is v as an argument of an elementwise op: a number when it is a
// constant with one value, else a tensor in the layout given, its constant
// values shaped for broadcasting against a result of rank rank.
func (im *importer) operand(v *val, rank int, channelsLast bool) (string, error) {
	// The language's numbers are finite: an infinity (a mask's -inf) is a
	// tensor constant.
	if s, ok := v.scalarValue(); ok && v.ref == "" && !math.IsInf(s, 0) {
		return number(s), nil
	}
	if v.ref == "" && channelsLast && v.rank() < rank {
		// [C, 1, 1] against [N, C, H, W]: pad to the result's rank so that
		// the channel axis is found and moved.
		w := *v
		w.shape = append(make([]dim, rank-v.rank()), v.shape...)
		for i := range rank - v.rank() {
			w.shape[i] = known(1)
		}
		v = &w
	}
	if v.ref != "" && v.rank() < rank && channelsLast {
		return "", fmt.Errorf("cannot broadcast %s against an NHWC image in the program", shapeString(v.shape))
	}
	return im.tensorRef(v, channelsLast && v.rank() >= 3)
}
