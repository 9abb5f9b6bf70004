package importer

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/mdlc/mdlc/internal/f16"
	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/onnx"
	"github.com/mdlc/mdlc/tensor"
)

func init() {
	register("Constant", 1, constant)
	register("Shape", 1, shapeOf)
	register("Size", 1, sizeOf)
	register("Cast", 1, cast)
	register("CastLike", 15, castLike)
	register("Reshape", 5, reshape)
	register("Flatten", 1, flatten)
	register("Transpose", 1, transpose)
	register("Squeeze", 1, squeeze)
	register("Squeeze", 13, squeeze)
	register("Unsqueeze", 1, unsqueeze)
	register("Unsqueeze", 13, unsqueeze)
	register("Concat", 1, concat)
	register("Gather", 1, gather)
	register("GatherElements", 11, gatherElements)
	register("GatherND", 11, gatherND)
	register("ScatterElements", 11, scatterElements)
	register("Scatter", 9, scatterElements) // ScatterElements' name until opset 11
	register("Slice", 1, slice)
	register("Slice", 10, slice)
	register("Range", 11, rangeOp)
	register("ConstantOfShape", 9, constantOfShape)
	register("EyeLike", 9, eyeLike)
	register("Expand", 8, expand)
	register("Split", 1, split)
	register("Split", 13, split)
	register("DepthToSpace", 1, depthToSpace(true))
	register("SpaceToDepth", 1, depthToSpace(false))
}

func constant(im *importer, n *onnx.Node) error {
	for _, a := range n.Attrs {
		switch a.Name {
		case "value":
			v, err := fromTensor(a.T)
			if err != nil {
				return err
			}
			im.set(n, 0, v)
		case "value_float":
			im.set(n, 0, &val{c: &konst{f: []float32{a.F}}})
		case "value_floats":
			im.set(n, 0, &val{shape: []dim{known(int64(len(a.Floats)))}, c: &konst{f: a.Floats}})
		case "value_int":
			im.set(n, 0, &val{isInt: true, c: &konst{i: []dim{known(a.I)}}})
		case "value_ints":
			v := &val{isInt: true, shape: []dim{known(int64(len(a.Ints)))}, c: &konst{i: make([]dim, len(a.Ints))}}
			for i, x := range a.Ints {
				v.c.i[i] = known(x)
			}
			im.set(n, 0, v)
		default:
			return fmt.Errorf("a constant given as %s, which mdlc does not read", a.Name)
		}
		return nil
	}
	return fmt.Errorf("it has no value")
}

func intVal(ds []dim) *val {
	return &val{shape: []dim{known(int64(len(ds)))}, isInt: true, c: &konst{i: ds}}
}

func shapeOf(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	r := int64(x.rank())
	start, end := attrInt(n, "start", 0), attrInt(n, "end", r)
	start, end = clampIndex(start, r), clampIndex(end, r)
	im.set(n, 0, intVal(slices.Clone(x.shape[start:max(start, end)])))
	return nil
}

func sizeOf(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	d := known(1)
	for _, s := range x.shape {
		if d, err = dimOp("Mul", d, s); err != nil {
			return err
		}
	}
	im.set(n, 0, &val{isInt: true, c: &konst{i: []dim{d}}})
	return nil
}

func cast(im *importer, n *onnx.Node) error {
	return im.castTo(n, onnx.DataType(attrInt(n, "to", int64(onnx.Float))))
}

// castLike casts to the element type of its second input, which must be
// one the importer knows: a model input's or a constant's.
func castLike(im *importer, n *onnx.Node) error {
	like, err := im.need(n, 1)
	if err != nil {
		return err
	}
	if like.elem == 0 {
		return fmt.Errorf("its target type is that of %q, which a node computes; mdlc knows the element types of inputs and constants only (write a Cast)", n.Inputs[1])
	}
	return im.castTo(n, like.elem)
}

// castTo is Cast to the element type to.
func (im *importer) castTo(n *onnx.Node, to onnx.DataType) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	if x.ref == "" {
		out, err := im.foldCast(x, to)
		if err != nil {
			return err
		}
		im.set(n, 0, out)
		return nil
	}
	switch {
	case to == onnx.Float16 || to == onnx.BFloat16:
		return fmt.Errorf("a cast to %s at run time rounds every value; mdlc computes in float32 and has no such rounding layer", to)
	case to == onnx.Bool:
		// Any nonzero value is true.
		v := im.emit(n, "nonzero", "not_equal", x.ref, []string{"0.0"}, x.shape, x.channelsLast)
		v.isInt = true
		im.set(n, 0, v)
		return nil
	case isFloat(to) && !x.isInt, x.isInt:
		// mdlc holds comparisons' masks and ids as they are; a cast between
		// integer types or to float of a 0/1 mask changes no value.
		out := *x
		out.isInt = !isFloat(to)
		im.set(n, 0, &out)
		return nil
	}
	return fmt.Errorf("a cast of float values to %s at run time: mdlc has no such layer", to)
}

// foldCast is Cast of a constant to the element type to, as numpy's
// astype does it: floats rounded to the type's precision, truncated toward
// zero to integers, integers wrapped to the type's width, any nonzero value
// true. Dynamic dimensions stay symbols through casts that cannot change a
// size (to an integer type of 32 bits or more).
func (im *importer) foldCast(x *val, to onnx.DataType) (*val, error) {
	if err := checkKonst(x); err != nil {
		return nil, err
	}
	count := int64(max(len(x.c.f), len(x.c.i)))
	if err := im.fold(count); err != nil {
		return nil, err
	}
	out := &val{shape: x.shape, elem: to, c: &konst{}}
	if isFloat(to) {
		f, err := numbers(x)
		if err != nil {
			return nil, err
		}
		out.c.f = make([]float32, len(f))
		for i, v := range f {
			switch to {
			case onnx.Float16:
				v = f16.RoundHalf(v)
			case onnx.BFloat16:
				v = f16.RoundBFloat(v)
			}
			out.c.f[i] = v
		}
		return out, nil
	}
	wrap, ok := intWidths[to]
	if !ok {
		return nil, fmt.Errorf("a cast to %s, which mdlc does not hold", to)
	}
	out.isInt, out.c.i = true, make([]dim, count)
	for i := range count {
		var d dim
		if x.c.i != nil {
			d = x.c.i[i]
		} else {
			switch f := float64(x.c.f[i]); {
			case to == onnx.Bool && f != 0: // NaN too
				d = known(1)
			case to == onnx.Bool:
				d = known(0)
			case math.IsNaN(f) || math.Abs(f) >= 1<<63:
				return nil, fmt.Errorf("the constant %g has no value as %s (ONNX leaves it undefined)", f, to)
			default:
				d = known(int64(f)) // Go's conversion truncates toward zero, as ONNX's Cast
			}
		}
		switch {
		case to == onnx.Uint64 && d.n < 0:
			return nil, fmt.Errorf("a cast of %s to uint64, whose value is above the int64 range mdlc's constants hold", d)
		case d.isKnown():
			d = known(wrap(d.n))
		case to == onnx.Bool && d.n != 0:
			d = known(1) // a dimension is at least 1
		case to != onnx.Int32 && to != onnx.Int64 && to != onnx.Uint32 && to != onnx.Uint64:
			return nil, fmt.Errorf("a cast of the dynamic dimension %s to %s, which may not hold it (fix it with --dim)", d, to)
		}
		out.c.i[i] = d
	}
	return out, nil
}

// intWidths are the integer element types mdlc's constants hold, each with
// the wrap of an int64 to its width (two's complement, as a C cast and
// numpy's astype do); bool is any nonzero value.
var intWidths = map[onnx.DataType]func(int64) int64{
	onnx.Bool: func(n int64) int64 {
		if n != 0 {
			return 1
		}
		return 0
	},
	onnx.Int8:   func(n int64) int64 { return int64(int8(n)) },
	onnx.Uint8:  func(n int64) int64 { return int64(uint8(n)) },
	onnx.Int16:  func(n int64) int64 { return int64(int16(n)) },
	onnx.Uint16: func(n int64) int64 { return int64(uint16(n)) },
	onnx.Int32:  func(n int64) int64 { return int64(int32(n)) },
	onnx.Uint32: func(n int64) int64 { return int64(uint32(n)) },
	onnx.Int64:  func(n int64) int64 { return n },
	onnx.Uint64: func(n int64) int64 { return n }, // foldCast refuses what lies above int64's range

}

// sameOrder reports whether v's elements lie in memory in logical order,
// though v is held channels last: true when the axes moved are all ones.
func sameOrder(v *val) bool {
	if !v.channelsLast {
		return true
	}
	if v.shape[1] == known(1) {
		return true
	}
	for _, d := range v.shape[2:] {
		if d != known(1) {
			return false
		}
	}
	return true
}

// rowMajor is v held in logical element order: itself when its layout does
// not change the order, else transposed.
func (im *importer) rowMajor(v *val) (*val, error) {
	if sameOrder(v) {
		return v, nil
	}
	return im.logical(v)
}

// product multiplies dimensions: a number times the symbols, sorted.
func product(ds []dim) (int64, []string) {
	n := int64(1)
	var syms []string
	for _, d := range ds {
		n *= d.n
		if d.sym != "" {
			syms = append(syms, d.sym)
		}
	}
	sort.Strings(syms)
	return n, syms
}

// reshapeTo resolves ONNX's target shape (0 copies, -1 is inferred) and
// writes the reshape, keeping the batch axis as mdlc's reshape does.
func (im *importer) reshapeTo(n *onnx.Node, x *val, target []dim, allowZero bool) (*val, error) {
	out := make([]dim, len(target))
	infer := -1
	for i, d := range target {
		switch {
		case d == known(0) && !allowZero:
			if i >= x.rank() {
				return nil, fmt.Errorf("0 at position %d copies an axis %s does not have", i, shapeString(x.shape))
			}
			out[i] = x.shape[i]
		case d == known(-1):
			if infer >= 0 {
				return nil, fmt.Errorf("two -1 in the shape %s", shapeString(target))
			}
			infer = i
		case d.isKnown() && d.n < 0:
			return nil, fmt.Errorf("size %d in the shape %s", d.n, shapeString(target))
		default:
			out[i] = d
		}
	}
	inN, inSyms := product(x.shape)
	if infer >= 0 {
		rest := slices.Delete(slices.Clone(out), infer, infer+1)
		outN, outSyms := product(rest)
		syms := slices.Clone(inSyms)
		for _, s := range outSyms {
			i := slices.Index(syms, s)
			if i < 0 {
				return nil, fmt.Errorf("cannot infer -1 of %s from %s", shapeString(target), shapeString(x.shape))
			}
			syms = slices.Delete(syms, i, i+1)
		}
		if outN == 0 || inN%outN != 0 || len(syms) > 1 {
			return nil, fmt.Errorf("cannot infer -1 of %s from %s", shapeString(target), shapeString(x.shape))
		}
		out[infer] = known(inN / outN)
		if len(syms) == 1 {
			out[infer].sym = syms[0]
		}
	}
	if outN, outSyms := product(out); outN != inN || !slices.Equal(outSyms, inSyms) {
		return nil, fmt.Errorf("cannot reshape %s to %s", shapeString(x.shape), shapeString(out))
	}
	if x.ref == "" {
		return &val{shape: out, isInt: x.isInt, c: x.c}, nil
	}
	if sameShape(out, x.shape) {
		return x, nil
	}
	src, err := im.rowMajor(x)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 || x.rank() == 0 || out[0] != x.shape[0] {
		// The first axis changes: a reshape of every axis, whose sizes must
		// then be known.
		all := make([]int, len(out))
		for i, d := range out {
			if !d.isKnown() {
				return nil, fmt.Errorf("it reshapes %s to %s, changing the first axis while a size is dynamic; fix it with --dim", shapeString(x.shape), shapeString(out))
			}
			all[i] = int(d.n)
		}
		if _, syms := product(x.shape); len(syms) > 0 {
			return nil, fmt.Errorf("it reshapes %s to %s, changing the first axis while a size is dynamic; fix it with --dim", shapeString(x.shape), shapeString(out))
		}
		return im.emit(n, "reshape", "reshape", src.ref, []string{intList(all), "keep_batch=false"}, out, false), nil
	}
	args := make([]int, len(out)-1)
	for i, d := range out[1:] {
		switch {
		case d.isKnown():
			args[i] = int(d.n)
		case i+1 < x.rank() && x.shape[i+1] == d:
			args[i] = 0
		default:
			return nil, fmt.Errorf("it reshapes %s to %s, moving the dynamic size %s; fix it with --dim", shapeString(x.shape), shapeString(out), d)
		}
	}
	return im.emit(n, "reshape", "reshape", src.ref, []string{intList(args)}, out, false), nil
}

func reshape(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	s, err := im.need(n, 1)
	if err != nil {
		return err
	}
	if s.ref != "" || s.c == nil {
		return fmt.Errorf("its shape is computed at run time from values, not shapes; mdlc needs it known when compiling")
	}
	v, err := im.reshapeTo(n, x, s.c.i, attrInt(n, "allowzero", 0) == 1)
	if err != nil {
		return err
	}
	im.set(n, 0, v)
	return nil
}

func flatten(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	axis := attrInt(n, "axis", 1)
	if axis < 0 {
		axis += int64(x.rank())
	}
	if axis < 0 || axis > int64(x.rank()) {
		return fmt.Errorf("axis %d of %s", axis, shapeString(x.shape))
	}
	a, b := known(1), known(1)
	for i, d := range x.shape {
		p := &a
		if int64(i) >= axis {
			p = &b
		}
		if *p, err = dimOp("Mul", *p, d); err != nil {
			return err
		}
	}
	if v := im.flattenForDense(n, x, axis); v != nil {
		im.set(n, 0, v)
		return nil
	}
	v, err := im.reshapeTo(n, x, []dim{a, b}, false)
	if err != nil {
		return err
	}
	im.set(n, 0, v)
	return nil
}

// flattenForDense flattens an NHWC image as it lies, without transposing
// it back to NCHW first, when the one node reading the result is a dense
// product with a constant weight (Gemm, or MatMul by a matrix): that
// layer's kernel rows are permuted instead, once, at import (the value's
// rowOrder). nil when that does not apply.
func (im *importer) flattenForDense(n *onnx.Node, x *val, axis int64) *val {
	if x.ref == "" || !x.channelsLast || x.rank() != 4 || axis != 1 || sameOrder(x) {
		return nil
	}
	c, h, w := x.shape[1], x.shape[2], x.shape[3]
	if !c.isKnown() || !h.isKnown() || !w.isKnown() {
		return nil
	}
	out := n.Outputs[0]
	dense := im.sole(out, "Gemm")
	if dense != nil && (attrInt(dense, "transA", 0) != 0 || dense.Inputs[0] != out) {
		dense = nil
	}
	if dense == nil {
		if m := im.sole(out, "MatMul"); m != nil && m.Inputs[0] == out {
			dense = m
		}
	}
	if dense == nil || len(dense.Inputs) < 2 {
		return nil
	}
	if b := im.vals[dense.Inputs[1]]; b == nil || b.ref != "" || b.rank() != 2 {
		return nil
	}
	C, H, W := int(c.n), int(h.n), int(w.n)
	order := make([]int, C*H*W)
	for y := range H {
		for x := range W {
			for ch := range C {
				order[(y*W+x)*C+ch] = (ch*H+y)*W + x
			}
		}
	}
	flat := known(int64(C * H * W))
	v := im.emit(n, "flattened", "reshape", x.ref, []string{intList([]int{C * H * W})}, []dim{x.shape[0], flat}, false)
	v.rowOrder = order
	return v
}

// axesOf reads a list of axes (attribute or, from opset since, input 1),
// normalised against rank.
func axesOf(im *importer, n *onnx.Node, inputSince int64, input int, rank int) ([]int, bool, error) {
	var raw []int64
	has := false
	if im.opset >= inputSince {
		if v := im.in(n, input); v != nil {
			ints, ok := v.ints()
			if !ok || v.ref != "" {
				return nil, false, fmt.Errorf("its axes are computed at run time")
			}
			raw, has = ints, true
		}
	} else if a, ok := attrInts(n, "axes"); ok {
		raw, has = a, true
	}
	out := make([]int, len(raw))
	for i, a := range raw {
		if a < 0 {
			a += int64(rank)
		}
		if a < 0 || a >= int64(rank) {
			return nil, false, fmt.Errorf("axis %d is outside rank %d", raw[i], rank)
		}
		out[i] = int(a)
	}
	return out, has, nil
}

func transpose(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	r := x.rank()
	perm := make([]int, r)
	if p, ok := attrInts(n, "perm"); ok {
		if len(p) != r {
			return fmt.Errorf("perm %v does not fit rank %d", p, r)
		}
		seen := make([]bool, r)
		for i, a := range p {
			if a < 0 || a >= int64(r) || seen[a] {
				return fmt.Errorf("perm %v is not a permutation", p)
			}
			seen[a] = true
			perm[i] = int(a)
		}
	} else {
		for i := range perm {
			perm[i] = r - 1 - i
		}
	}
	shape := make([]dim, r)
	for i, p := range perm {
		shape[i] = x.shape[p]
	}
	if x.ref == "" {
		dims := make([]int, r)
		for i, d := range x.shape {
			dims[i] = int(d.n)
		}
		c := &konst{}
		if x.c.f != nil {
			c.f = tensor.Permute(x.c.f, dims, perm)
		} else {
			c.i = tensor.Permute(x.c.i, dims, perm)
		}
		im.set(n, 0, &val{shape: shape, isInt: x.isInt, c: c})
		return nil
	}
	// Transposing NHWC data to logical order and then by perm is one
	// transpose of the data as held.
	phys := make([]int, r)
	for i, p := range perm {
		phys[i] = x.physicalAxis(p)
	}
	if slices.IsSorted(phys) {
		im.set(n, 0, &val{ref: x.ref, shape: shape, isInt: x.isInt})
		return nil
	}
	if x.channelsLast && slices.Equal(perm, permToChannelsLast(r)) {
		return identityAs(im, n, x, shape)
	}
	if !x.channelsLast {
		if y := undoTranspose(x, perm); y != nil {
			im.set(n, 0, y)
			return nil
		}
	}
	src := x
	if !x.channelsLast && x.transposeOf != nil {
		// Two transposes in a row are one.
		src, perm = x.transposeOf, composePerm(x.transposePerm, perm)
		phys = perm
	}
	v := im.emit(n, "transpose", "transpose", src.ref, []string{intList(phys)}, shape, false)
	v.isInt = x.isInt
	if !src.channelsLast {
		v.transposeOf, v.transposePerm = src, perm
	}
	im.set(n, 0, v)
	return nil
}

// identityAs records x, unchanged in memory, as the node's output of the
// given logical shape (a transpose undoing the layout the program chose).
func identityAs(im *importer, n *onnx.Node, x *val, shape []dim) error {
	im.set(n, 0, &val{ref: x.ref, shape: shape, isInt: x.isInt})
	return nil
}

func squeeze(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	axes, has, err := axesOf(im, n, 13, 1, x.rank())
	if err != nil {
		return err
	}
	if !has {
		for i, d := range x.shape {
			if d == known(1) {
				axes = append(axes, i)
			}
		}
	}
	var shape []dim
	for i, d := range x.shape {
		if slices.Contains(axes, i) {
			if d != known(1) {
				return fmt.Errorf("axis %d of %s is not 1", i, shapeString(x.shape))
			}
			continue
		}
		shape = append(shape, d)
	}
	return im.restack(n, x, shape)
}

// restack gives x the new shape, which only adds or removes axes of size
// 1: for a constant or a value held in logical order, a change of type.
func (im *importer) restack(n *onnx.Node, x *val, shape []dim) error {
	if x.ref == "" {
		im.set(n, 0, &val{shape: shape, isInt: x.isInt, c: x.c})
		return nil
	}
	v, err := im.reshapeTo(n, x, shape, false)
	if err != nil {
		return err
	}
	im.set(n, 0, v)
	return nil
}

func unsqueeze(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	var raw []int64
	if im.opset >= 13 {
		a, err := im.need(n, 1)
		if err != nil {
			return err
		}
		var ok bool
		if raw, ok = a.ints(); !ok || a.ref != "" {
			return fmt.Errorf("its axes are computed at run time")
		}
	} else {
		raw, _ = attrInts(n, "axes")
	}
	r := x.rank() + len(raw)
	ones := make([]bool, r)
	for _, a := range raw {
		if a < 0 {
			a += int64(r)
		}
		if a < 0 || a >= int64(r) || ones[a] {
			return fmt.Errorf("axes %v do not fit rank %d", raw, r)
		}
		ones[a] = true
	}
	shape := make([]dim, 0, r)
	j := 0
	for i := range r {
		if ones[i] {
			shape = append(shape, known(1))
		} else {
			shape = append(shape, x.shape[j])
			j++
		}
	}
	if x.ref != "" && (len(shape) == 0 || ones[0]) {
		// A new first axis: mdlc's reshape keeps the batch axis, but
		// expand_dims may add one.
		src, err := im.rowMajor(x)
		if err != nil {
			return err
		}
		v := src
		for i := range r {
			if ones[i] {
				v = im.emit(n, "unsqueeze", "expand_dims", v.ref, []string{"axis=" + strconv.Itoa(i)}, nil, false)
			}
		}
		v.shape = shape
		im.set(n, 0, v)
		return nil
	}
	return im.restack(n, x, shape)
}

func concat(im *importer, n *onnx.Node) error {
	var xs []*val
	for i := range n.Inputs {
		x, err := im.need(n, i)
		if err != nil {
			return err
		}
		xs = append(xs, x)
	}
	if len(xs) == 0 {
		return fmt.Errorf("it has no inputs")
	}
	r := xs[0].rank()
	axis := attrInt(n, "axis", 0)
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || axis >= int64(r) {
		return fmt.Errorf("axis %d is outside rank %d", axis, r)
	}
	shape := slices.Clone(xs[0].shape)
	allConst := true
	for _, x := range xs[1:] {
		if x.rank() != r {
			return fmt.Errorf("inputs of ranks %d and %d", r, x.rank())
		}
		for i := range r {
			if i != int(axis) && x.shape[i] != shape[i] {
				return fmt.Errorf("shapes %s and %s differ off the axis", shapeString(xs[0].shape), shapeString(x.shape))
			}
		}
		var err error
		if shape[axis], err = dimOp("Add", shape[axis], x.shape[axis]); err != nil {
			return err
		}
	}
	for _, x := range xs {
		allConst = allConst && x.ref == ""
	}
	if allConst {
		im.set(n, 0, concatConst(xs, int(axis), shape))
		return nil
	}
	cl := false
	for _, x := range xs {
		cl = cl || x.ref != "" && x.channelsLast
	}
	var args []string
	for _, x := range xs {
		if x.ref == "" && x.c != nil {
			if total, _ := numel(x.shape); total == 0 {
				continue
			}
		}
		ref, err := im.tensorRef(x, cl)
		if err != nil {
			return err
		}
		args = append(args, ref)
	}
	pa := int(axis)
	if cl {
		pa = channelsLastAxis(pa, r)
	}
	args = append(args, "axis="+strconv.Itoa(pa))
	v := im.emit(n, "concat", "concat", "", args, shape, cl)
	im.set(n, 0, v)
	return nil
}

// concatConst joins constants (shape vectors, mostly).
func concatConst(xs []*val, axis int, shape []dim) *val {
	outer := int64(1)
	for _, d := range shape[:axis] {
		outer *= d.n
	}
	out := &val{shape: shape, isInt: true, c: &konst{}}
	for _, x := range xs {
		out.isInt = out.isInt && x.isInt
	}
	for o := range outer {
		for _, x := range xs {
			inner := int64(1)
			for _, d := range x.shape[axis:] {
				inner *= d.n
			}
			if out.isInt {
				out.c.i = append(out.c.i, x.c.i[o*inner:(o+1)*inner]...)
			} else {
				out.c.f = append(out.c.f, x.floats()[o*inner:(o+1)*inner]...)
			}
		}
	}
	return out
}

func gather(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	idx, err := im.need(n, 1)
	if err != nil {
		return err
	}
	r := x.rank()
	axis := attrInt(n, "axis", 0)
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || axis >= int64(r) {
		return fmt.Errorf("axis %d is outside rank %d", axis, r)
	}
	shape := append(slices.Clone(x.shape[:axis]), idx.shape...)
	shape = append(shape, x.shape[axis+1:]...)
	if x.ref == "" && idx.ref == "" {
		v, err := gatherConst(x, idx, int(axis), shape)
		im.set(n, 0, v)
		return err
	}
	if x.ref == "" && axis == 0 && r == 2 && idx.ids != "" {
		// A table of vectors indexed by token ids: an embedding layer.
		name := im.layerName(n, 0)
		if err := im.weight(name+".embeddings", []int{int(x.shape[0].n), int(x.shape[1].n)}, x.floats()); err != nil {
			return err
		}
		out := im.w.name(name)
		im.w.add(&stmt{outs: []string{out}, call: "embedding", in: idx.ids, args: []string{strconv.Itoa(int(x.shape[0].n)), strconv.Itoa(int(x.shape[1].n))}, as: name, comment: comment(n)})
		im.set(n, 0, &val{ref: out, shape: shape})
		return nil
	}
	xr, err := im.tensorRef(x, false)
	if err != nil {
		return err
	}
	if idx.ref == "" {
		ids, ok := idx.ints()
		if !ok || idx.rank() > 1 {
			return fmt.Errorf("indices of shape %s: mdlc gathers with a list of indices", shapeString(idx.shape))
		}
		v := im.emit(n, "gather", "gather", "", []string{xr, int64List(ids), "axis=" + strconv.Itoa(int(axis))}, nil, false)
		if idx.rank() == 0 {
			v = im.emit(n, "gather", "squeeze", v.ref, []string{"axes=[" + strconv.Itoa(int(axis)) + "]"}, nil, false)
		}
		v.shape, v.isInt = shape, x.isInt
		im.set(n, 0, v)
		return nil
	}
	v := im.emit(n, "gather", "gather", "", []string{xr, idx.ref, "axis=" + strconv.Itoa(int(axis))}, shape, false)
	v.isInt = x.isInt
	im.set(n, 0, v)
	return nil
}

// gatherElements picks, for every index, the element of data at that
// index along axis and the index's own position on the other axes. The
// indices become a one-hot mask over a last axis of the axis' size, which
// multiplies data with its axis moved last (and each other axis cut to the
// indices'), summed over that last axis:
//
//	out[..., j, ...] = Σ_c data[..., c, ...]·[idx[..., j, ...] = c]
//
// a negative index counting from the end first.
func gatherElements(im *importer, n *onnx.Node) error {
	data, err := im.need(n, 0)
	if err != nil {
		return err
	}
	idx, err := im.need(n, 1)
	if err != nil {
		return err
	}
	r := data.rank()
	axis := attrInt(n, "axis", 0)
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || axis >= int64(r) || idx.rank() != r {
		return fmt.Errorf("data %s, indices %s and axis %d: ONNX needs indices of the data's rank and an axis inside it", shapeString(data.shape), shapeString(idx.shape), attrInt(n, "axis", 0))
	}
	if data.ref == "" && idx.ref == "" {
		return fmt.Errorf("its data and indices are constants; mdlc does not fold GatherElements")
	}
	size := data.shape[axis]
	if !size.isKnown() {
		return fmt.Errorf("its axis has the dynamic size %s: fix it with --dim", size)
	}
	for a := range r {
		if a == int(axis) || idx.shape[a] == data.shape[a] {
			continue
		}
		if !idx.shape[a].isKnown() || !data.shape[a].isKnown() || idx.shape[a].n > data.shape[a].n {
			return fmt.Errorf("indices %s do not fit data %s on axis %d", shapeString(idx.shape), shapeString(data.shape), a)
		}
	}
	src, err := im.tensorRef(data, false)
	if err != nil {
		return err
	}
	// data with each other axis cut to the indices' and axis moved last.
	ref, shape := src, slices.Clone(data.shape)
	for a := range r {
		if a != int(axis) && shape[a] != idx.shape[a] {
			ref = im.emit(n, "cut", "slice", ref, []string{"0", strconv.FormatInt(idx.shape[a].n, 10), "axis=" + strconv.Itoa(a)}, nil, false).ref
			shape[a] = idx.shape[a]
		}
	}
	perm := make([]int, 0, r)
	for a := range r {
		if a != int(axis) {
			perm = append(perm, a)
		}
	}
	perm = append(perm, int(axis))
	moved := slices.Insert(slices.Clone(idx.shape), r, size)
	if int(axis) != r-1 {
		ref = im.emit(n, "moved", "transpose", ref, []string{intList(perm)}, nil, false).ref
	}
	// [..., 1 at axis, ..., size]
	rows := im.emit(n, "rows", "expand_dims", ref, []string{"axis=" + strconv.FormatInt(axis, 10)}, nil, false)
	iref, err := im.tensorRef(idx, false)
	if err != nil {
		return err
	}
	if err := im.fold(size.n); err != nil {
		return err
	}
	neg := im.emit(n, "negative", "less", iref, []string{"0.0"}, idx.shape, false)
	wrapped := im.emit(n, "wrapped", "add", iref, []string{number(float64(size.n))}, idx.shape, false)
	at := im.emit(n, "index", "where", "", []string{neg.ref, wrapped.ref, iref}, idx.shape, false)
	col := im.emit(n, "index", "expand_dims", at.ref, []string{"axis=" + strconv.Itoa(r)}, slices.Insert(slices.Clone(idx.shape), r, known(1)), false)
	pos := make([]float32, size.n)
	for i := range pos {
		pos[i] = float32(i)
	}
	hot, err := im.elementwise(n, "equal", []*val{col, {shape: []dim{size}, c: &konst{f: pos}}}, moved)
	if err != nil {
		return err
	}
	picked := im.emit(n, "picked", "mul", "", []string{hot.ref, rows.ref}, moved, false)
	v := im.emit(n, "gathered", "reduce_sum", picked.ref, []string{intList([]int{r})}, idx.shape, false)
	v.isInt = data.isInt
	im.set(n, 0, v)
	return nil
}

// gatherConst is Gather over constants.
func gatherConst(x, idx *val, axis int, shape []dim) (*val, error) {
	ids, ok := idx.ints()
	if !ok {
		return nil, fmt.Errorf("its indices are not known")
	}
	outer, inner := int64(1), int64(1)
	for _, d := range x.shape[:axis] {
		outer *= d.n
	}
	for _, d := range x.shape[axis+1:] {
		inner *= d.n
	}
	size := x.shape[axis].n
	out := &val{shape: shape, isInt: x.isInt, c: &konst{}}
	for o := range outer {
		for _, id := range ids {
			if id < 0 {
				id += size
			}
			if id < 0 || id >= size {
				return nil, fmt.Errorf("index %d is outside an axis of %d", id, size)
			}
			from := (o*size + id) * inner
			if x.isInt {
				out.c.i = append(out.c.i, x.c.i[from:from+inner]...)
			} else {
				out.c.f = append(out.c.f, x.c.f[from:from+inner]...)
			}
		}
	}
	return out, nil
}

// slice takes starts, ends, axes (and steps of 1) from attributes before
// opset 10 and from inputs after.
func slice(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	var starts, ends, axes, steps []int64
	if im.opset < 10 {
		starts, _ = attrInts(n, "starts")
		ends, _ = attrInts(n, "ends")
		axes, _ = attrInts(n, "axes")
	} else {
		for i, p := range []*[]int64{&starts, &ends, &axes, &steps} {
			v := im.in(n, i+1)
			if v == nil {
				continue
			}
			ints, ok := v.ints()
			if !ok || v.ref != "" {
				return fmt.Errorf("its input %d is computed at run time or holds a dynamic size; mdlc needs slices known when compiling", i+1)
			}
			*p = ints
		}
	}
	if len(starts) != len(ends) || axes != nil && len(axes) != len(starts) || steps != nil && len(steps) != len(starts) {
		return fmt.Errorf("starts, ends, axes and steps differ in length")
	}
	r := int64(x.rank())
	shape := slices.Clone(x.shape)
	type cut struct{ axis, start, end int64 }
	var cuts []cut
	for i := range starts {
		a := int64(i)
		if axes != nil {
			a = axes[i]
		}
		if a < 0 {
			a += r
		}
		if a < 0 || a >= r {
			return fmt.Errorf("axis %d is outside rank %d", a, r)
		}
		if steps != nil && steps[i] != 1 {
			return fmt.Errorf("step %d: mdlc slices with step 1", steps[i])
		}
		d := x.shape[a]
		s, e := starts[i], ends[i]
		if !d.isKnown() {
			if s == 0 && e >= math.MaxInt32 {
				continue // all of a dynamic axis
			}
			return fmt.Errorf("it slices the dynamic axis %s; fix it with --dim", d)
		}
		s, e = clampIndex(s, d.n), clampIndex(e, d.n)
		e = max(e, s)
		if s == 0 && e == d.n {
			continue
		}
		shape[a] = known(e - s)
		cuts = append(cuts, cut{a, s, e})
	}
	if x.ref == "" {
		v := x
		for _, c := range cuts {
			idx := make([]dim, c.end-c.start)
			for i := range idx {
				idx[i] = known(c.start + int64(i))
			}
			s := slices.Clone(v.shape[:c.axis])
			s = append(append(s, known(c.end-c.start)), v.shape[c.axis+1:]...)
			if v, err = gatherConst(v, intVal(idx), int(c.axis), s); err != nil {
				return err
			}
		}
		im.set(n, 0, &val{shape: shape, isInt: x.isInt, c: v.c})
		return nil
	}
	v := x
	for _, c := range cuts {
		nv := im.emit(n, "slice", "slice", v.ref, []string{strconv.FormatInt(c.start, 10), strconv.FormatInt(c.end, 10), "axis=" + strconv.Itoa(x.physicalAxis(int(c.axis)))}, nil, x.channelsLast)
		v = nv
	}
	out := &val{ref: v.ref, shape: shape, channelsLast: x.channelsLast, isInt: x.isInt}
	im.set(n, 0, out)
	return nil
}

// clampIndex is ONNX's clamping of a slice bound (or Shape's start and
// end) into [0, size], negative ones counting from the end.
func clampIndex(i, size int64) int64 {
	if i < 0 {
		i += size
	}
	return min(max(i, 0), size)
}

func rangeOp(im *importer, n *onnx.Node) error {
	var v [3]float64
	isInt := true
	for i := range 3 {
		x, err := im.need(n, i)
		if err != nil {
			return err
		}
		s, ok := x.scalarValue()
		if !ok || x.ref != "" {
			return fmt.Errorf("its bounds depend on run-time values or dynamic sizes (fix them with --dim)")
		}
		v[i], isInt = s, isInt && x.isInt
	}
	if v[2] == 0 {
		return fmt.Errorf("delta is 0")
	}
	count := max(int64(math.Ceil((v[1]-v[0])/v[2])), 0)
	if err := im.fold(count); err != nil {
		return err
	}
	out := &val{shape: []dim{known(count)}, isInt: isInt, c: &konst{}}
	for i := range count {
		x := v[0] + float64(i)*v[2]
		if isInt {
			out.c.i = append(out.c.i, known(int64(x)))
		} else {
			out.c.f = append(out.c.f, float32(x))
		}
	}
	im.set(n, 0, out)
	return nil
}

func constantOfShape(im *importer, n *onnx.Node) error {
	s, err := im.need(n, 0)
	if err != nil {
		return err
	}
	dims, ok := s.ints()
	if !ok {
		return fmt.Errorf("its shape depends on a dynamic size; fix it with --dim")
	}
	shape := make([]dim, len(dims))
	for i, d := range dims {
		shape[i] = known(d)
	}
	total, ok := numel(shape)
	if !ok {
		return fmt.Errorf("shape %v is too large", dims)
	}
	if err := im.fold(total); err != nil {
		return err
	}
	fill := &val{c: &konst{f: []float32{0}}}
	if a := n.Attr("value"); a != nil && a.T != nil {
		if fill, err = fromTensor(a.T); err != nil {
			return err
		}
	}
	out := &val{shape: shape, isInt: fill.isInt, c: &konst{}}
	if fill.isInt {
		out.c.i = make([]dim, total)
		for i := range out.c.i {
			out.c.i[i] = fill.c.i[0]
		}
	} else {
		out.c.f = make([]float32, total)
		for i := range out.c.f {
			out.c.f[i] = fill.c.f[0]
		}
	}
	im.set(n, 0, out)
	return nil
}

// expand broadcasts x to a shape: for a run-time x, adding zeros of the
// shape does it with mdlc's broadcasting.
func expand(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	s, err := im.need(n, 1)
	if err != nil {
		return err
	}
	if s.ref != "" {
		return fmt.Errorf("its shape is computed at run time")
	}
	shape, err := broadcast(x.shape, s.c.i)
	if err != nil {
		return err
	}
	if sameShape(shape, x.shape) {
		im.set(n, 0, x)
		return nil
	}
	total, ok := numel(shape)
	if !ok {
		return fmt.Errorf("it expands to %s, which mdlc needs known", shapeString(shape))
	}
	if err := im.fold(total); err != nil {
		return err
	}
	zeros := &val{shape: shape, c: &konst{f: make([]float32, total)}}
	if x.ref == "" {
		out, err := im.foldBinary("Add", x, zeros, shape)
		if err != nil {
			return err
		}
		if x.isInt {
			out = &val{shape: shape, isInt: true, c: &konst{i: make([]dim, total)}}
			ones := &val{shape: shape, isInt: true, c: &konst{i: make([]dim, total)}}
			if out, err = im.foldBinary("Add", x, ones, shape); err != nil {
				return err
			}
		}
		im.set(n, 0, out)
		return nil
	}
	v, err := im.elementwise(n, "add", []*val{x, zeros}, shape)
	if err != nil {
		return err
	}
	im.set(n, 0, v)
	return nil
}

func split(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	r := x.rank()
	axis := attrInt(n, "axis", 0)
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || axis >= int64(r) || !x.shape[axis].isKnown() {
		return fmt.Errorf("axis %d of %s", axis, shapeString(x.shape))
	}
	var sizes []int64
	if im.opset >= 13 {
		if v := im.in(n, 1); v != nil {
			var ok bool
			if sizes, ok = v.ints(); !ok || v.ref != "" {
				return fmt.Errorf("its sizes are computed at run time")
			}
		}
	} else {
		sizes, _ = attrInts(n, "split")
	}
	total := x.shape[axis].n
	if sizes == nil {
		parts := int64(len(n.Outputs))
		if k := attrInt(n, "num_outputs", 0); k > 0 {
			parts = k
		}
		chunk := (total + parts - 1) / parts
		for s := int64(0); s < total; s += chunk {
			sizes = append(sizes, min(chunk, total-s))
		}
	}
	var sum int64
	for _, s := range sizes {
		sum += s
	}
	if sum != total || len(sizes) != len(n.Outputs) {
		return fmt.Errorf("sizes %v do not split an axis of %d into %d outputs", sizes, total, len(n.Outputs))
	}
	if x.ref == "" {
		start := int64(0)
		for i, s := range sizes {
			idx := make([]dim, s)
			for j := range idx {
				idx[j] = known(start + int64(j))
			}
			shape := slices.Clone(x.shape)
			shape[axis] = known(s)
			v, err := gatherConst(x, intVal(idx), int(axis), shape)
			if err != nil {
				return err
			}
			im.set(n, i, v)
			start += s
		}
		return nil
	}
	outs := make([]string, len(sizes))
	for i := range outs {
		outs[i] = im.w.name("split")
	}
	ints := make([]int, len(sizes))
	for i, s := range sizes {
		ints[i] = int(s)
	}
	im.w.add(&stmt{outs: outs, call: "split", in: x.ref, args: []string{"sizes=" + intList(ints), "axis=" + strconv.Itoa(x.physicalAxis(int(axis)))}})
	for i, s := range sizes {
		shape := slices.Clone(x.shape)
		shape[axis] = known(s)
		im.set(n, i, &val{ref: outs[i], shape: shape, channelsLast: x.channelsLast, isInt: x.isInt})
	}
	return nil
}

// depthToSpace moves channels into blocks of pixels (and spaceToDepth
// back) through a reshape to six axes, a transpose and a reshape, as the
// operators' definitions do; DCR and CRD differ in the channel split.
func depthToSpace(toSpace bool) rule {
	return func(im *importer, n *onnx.Node) error {
		x, err := im.need(n, 0)
		if err != nil {
			return err
		}
		b := attrInt(n, "blocksize", 0)
		if x.rank() != 4 || b < 1 {
			return fmt.Errorf("input %s, blocksize %d: mdlc moves blocks of images", shapeString(x.shape), b)
		}
		c, h, w := x.shape[1], x.shape[2], x.shape[3]
		if !c.isKnown() || !h.isKnown() || !w.isKnown() {
			return fmt.Errorf("input %s: channels, height and width must be known", shapeString(x.shape))
		}
		bd := known(b)
		var mid, final []dim
		var perm []int
		switch {
		case toSpace && c.n%(b*b) != 0:
			return fmt.Errorf("%d channels are not a multiple of %d²", c.n, b)
		case toSpace && attrString(n, "mode", "DCR") == "CRD":
			mid, perm = []dim{x.shape[0], known(c.n / (b * b)), bd, bd, h, w}, []int{0, 1, 4, 2, 5, 3}
		case toSpace:
			mid, perm = []dim{x.shape[0], bd, bd, known(c.n / (b * b)), h, w}, []int{0, 3, 4, 1, 5, 2}
		case h.n%b != 0 || w.n%b != 0:
			return fmt.Errorf("height %d and width %d are not multiples of %d", h.n, w.n, b)
		default:
			mid, perm = []dim{x.shape[0], c, known(h.n / b), bd, known(w.n / b), bd}, []int{0, 3, 5, 1, 2, 4}
		}
		if toSpace {
			final = []dim{x.shape[0], known(c.n / (b * b)), known(h.n * b), known(w.n * b)}
		} else {
			final = []dim{x.shape[0], known(c.n * b * b), known(h.n / b), known(w.n / b)}
		}
		v, err := im.reshapeTo(n, x, mid, false)
		if err != nil {
			return err
		}
		if v, err = im.transposed(n, v, perm); err != nil {
			return err
		}
		if v, err = im.reshapeTo(n, v, final, false); err != nil {
			return err
		}
		im.set(n, 0, v)
		return nil
	}
}

// eyeLike is a constant: ones on diagonal k of a matrix of the input's
// shape, which must be known.
func eyeLike(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	if x.rank() != 2 || !x.shape[0].isKnown() || !x.shape[1].isKnown() {
		return fmt.Errorf("input %s: ONNX's EyeLike takes a matrix, whose sizes mdlc needs (fix them with --dim)", shapeString(x.shape))
	}
	rows, cols := x.shape[0].n, x.shape[1].n
	total, ok := size.Mul(rows, cols)
	if !ok {
		return size.Overflow("EyeLike's matrix")
	}
	if err := im.fold(total); err != nil {
		return err
	}
	k := attrInt(n, "k", 0)
	eye := make([]float32, total)
	for i := range rows {
		if j := i + k; j >= 0 && j < cols {
			eye[i*cols+j] = 1
		}
	}
	to := onnx.DataType(attrInt(n, "dtype", int64(x.elem)))
	v := &val{shape: x.shape, c: &konst{f: eye}, elem: to}
	if to != 0 && !isFloat(to) {
		v.isInt, v.c = true, &konst{i: make([]dim, total)}
		for i, f := range eye {
			v.c.i[i] = known(int64(f))
		}
	}
	im.set(n, 0, v)
	return nil
}

// scatterElements writes each update at its index along axis (and its own
// position on the other axes, which must span data's): with the axis moved
// last and the indices as a one-hot mask H[..., j, c] = [idx[..., j] = c],
//
//	sent[..., c] = Σ_j H·upd[..., j]   hit[..., c] = max_j H
//	none: where(hit, sent, data)   add: data + sent
//
// (duplicate indices, which reduction none leaves undefined, add up).
func scatterElements(im *importer, n *onnx.Node) error {
	var in [3]*val
	for i := range in {
		v, err := im.need(n, i)
		if err != nil {
			return err
		}
		in[i] = v
	}
	data, idx, upd := in[0], in[1], in[2]
	reduction := attrString(n, "reduction", "none")
	if reduction != "none" && reduction != "add" {
		return fmt.Errorf("reduction %q: mdlc imports none and add", reduction)
	}
	r := data.rank()
	axis := attrInt(n, "axis", 0)
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || axis >= int64(r) || idx.rank() != r || !sameShape(idx.shape, upd.shape) {
		return fmt.Errorf("data %s, indices %s, updates %s and axis %d: ONNX needs indices and updates of one shape, of the data's rank", shapeString(data.shape), shapeString(idx.shape), shapeString(upd.shape), attrInt(n, "axis", 0))
	}
	for a := range r {
		if a != int(axis) && idx.shape[a] != data.shape[a] {
			return fmt.Errorf("indices %s do not span data %s on axis %d; mdlc scatters along whole other axes", shapeString(idx.shape), shapeString(data.shape), a)
		}
	}
	size := data.shape[axis]
	if !size.isKnown() {
		return fmt.Errorf("its axis has the dynamic size %s: fix it with --dim", size)
	}
	if err := im.fold(size.n); err != nil {
		return err
	}
	perm := make([]int, 0, r)
	for a := range r {
		if a != int(axis) {
			perm = append(perm, a)
		}
	}
	perm = append(perm, int(axis))
	last := func(v *val) (*val, error) { // v with the axis moved last
		ref, err := im.tensorRef(v, false)
		if err != nil {
			return nil, err
		}
		shape := make([]dim, r)
		for i, p := range perm {
			shape[i] = v.shape[p]
		}
		if int(axis) == r-1 {
			return &val{ref: ref, shape: shape}, nil
		}
		return im.emit(n, "moved", "transpose", ref, []string{intList(perm)}, shape, false), nil
	}
	d, err := last(data)
	if err != nil {
		return err
	}
	i, err := last(idx)
	if err != nil {
		return err
	}
	u, err := last(upd)
	if err != nil {
		return err
	}
	neg := im.emit(n, "negative", "less", i.ref, []string{"0.0"}, i.shape, false)
	wrapped := im.emit(n, "wrapped", "add", i.ref, []string{number(float64(size.n))}, i.shape, false)
	at := im.emit(n, "index", "where", "", []string{neg.ref, wrapped.ref, i.ref}, i.shape, false)
	col := slices.Insert(slices.Clone(i.shape), r, known(1))
	ie := im.emit(n, "index", "expand_dims", at.ref, []string{"axis=" + strconv.Itoa(r)}, col, false)
	ue := im.emit(n, "update", "expand_dims", u.ref, []string{"axis=" + strconv.Itoa(r)}, col, false)
	pos := make([]float32, size.n)
	for c := range pos {
		pos[c] = float32(c)
	}
	hotShape := slices.Insert(slices.Clone(i.shape), r, size)
	hot, err := im.elementwise(n, "equal", []*val{ie, {shape: []dim{size}, c: &konst{f: pos}}}, hotShape)
	if err != nil {
		return err
	}
	each := im.emit(n, "sent", "mul", "", []string{hot.ref, ue.ref}, hotShape, false)
	sent := im.emit(n, "sent", "reduce_sum", each.ref, []string{intList([]int{r - 1})}, d.shape, false)
	var out *val
	if reduction == "add" {
		out = im.emit(n, "scattered", "add", "", []string{d.ref, sent.ref}, d.shape, false)
	} else {
		hit := im.emit(n, "hit", "reduce_max", hot.ref, []string{intList([]int{r - 1})}, d.shape, false)
		out = im.emit(n, "scattered", "where", "", []string{hit.ref, sent.ref, d.ref}, d.shape, false)
	}
	if int(axis) != r-1 {
		back := make([]int, r)
		for j, p := range perm {
			back[p] = j
		}
		out = im.emit(n, "scattered", "transpose", out.ref, []string{intList(back)}, data.shape, false)
	}
	out.shape, out.isInt = data.shape, data.isInt && upd.isInt
	im.set(n, 0, out)
	return nil
}

// gatherND picks, for each index tuple (the last axis of the indices), the
// slice of data it names: data's leading q axes flattened into one, each
// tuple turned into its row there, Σ_i idx[i]·stride[i] (a negative index
// counting from its axis' end), and a gather of those rows.
func gatherND(im *importer, n *onnx.Node) error {
	data, err := im.need(n, 0)
	if err != nil {
		return err
	}
	idx, err := im.need(n, 1)
	if err != nil {
		return err
	}
	if b := attrInt(n, "batch_dims", 0); b != 0 {
		return fmt.Errorf("batch_dims %d: mdlc imports GatherND without batch axes", b)
	}
	rank := idx.rank()
	if rank < 1 || !idx.shape[rank-1].isKnown() || idx.shape[rank-1].n < 1 || idx.shape[rank-1].n > int64(data.rank()) {
		return fmt.Errorf("indices %s do not fit data %s: their last axis must give at most one index per data axis", shapeString(idx.shape), shapeString(data.shape))
	}
	q := int(idx.shape[rank-1].n)
	rows := int64(1)
	strides := make([]float32, q)
	sizes := make([]float32, q)
	for a := q - 1; a >= 0; a-- {
		d := data.shape[a]
		if !d.isKnown() {
			return fmt.Errorf("data %s: the axes indexed must have known sizes (fix them with --dim)", shapeString(data.shape))
		}
		strides[a], sizes[a] = float32(rows), float32(d.n)
		if rows *= d.n; rows > 1<<24 {
			return fmt.Errorf("data %s: more rows than float32 indices count exactly", shapeString(data.shape))
		}
	}
	src, err := im.tensorRef(data, false)
	if err != nil {
		return err
	}
	flat := append([]dim{known(rows)}, data.shape[q:]...)
	if q != 1 {
		dims := []int{int(rows)}
		for _, d := range data.shape[q:] {
			if !d.isKnown() {
				return fmt.Errorf("data %s: mdlc flattens its indexed axes, which needs every size known (fix it with --dim)", shapeString(data.shape))
			}
			dims = append(dims, int(d.n))
		}
		src = im.emit(n, "rows", "reshape", src, []string{intList(dims), "keep_batch=false"}, flat, false).ref
	}
	iref, err := im.tensorRef(idx, false)
	if err != nil {
		return err
	}
	sz := &val{shape: []dim{known(int64(q))}, c: &konst{f: sizes}}
	neg := im.emit(n, "negative", "less", iref, []string{"0.0"}, idx.shape, false)
	wrapped, err := im.elementwise(n, "add", []*val{{ref: iref, shape: idx.shape}, sz}, idx.shape)
	if err != nil {
		return err
	}
	at := im.emit(n, "index", "where", "", []string{neg.ref, wrapped.ref, iref}, idx.shape, false)
	scaled, err := im.elementwise(n, "mul", []*val{at, {shape: []dim{known(int64(q))}, c: &konst{f: strides}}}, idx.shape)
	if err != nil {
		return err
	}
	shape := append(slices.Clone(idx.shape[:rank-1]), data.shape[q:]...)
	var v *val
	if rank == 1 {
		// One tuple: a row of one, gathered, then the row axis dropped.
		row := im.emit(n, "row", "reduce_sum", scaled.ref, []string{"[0]", "keepdims=true"}, []dim{known(1)}, false)
		v = im.emit(n, "gathered", "gather", "", []string{src, row.ref, "axis=0"}, nil, false)
		v = im.emit(n, "gathered", "squeeze", v.ref, []string{"axes=[0]"}, shape, false)
	} else {
		row := im.emit(n, "row", "reduce_sum", scaled.ref, []string{intList([]int{rank - 1})}, idx.shape[:rank-1], false)
		v = im.emit(n, "gathered", "gather", "", []string{src, row.ref, "axis=0"}, shape, false)
	}
	v.isInt = data.isInt
	im.set(n, 0, v)
	return nil
}
