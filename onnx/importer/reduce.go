package importer

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/mdlc/mdlc/onnx"
)

func init() {
	for op, call := range map[string]string{"ReduceMean": "reduce_mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max", "ReduceMin": "reduce_min"} {
		// ReduceSum's axes became an input at opset 13, the others' at 18.
		since := int64(18)
		if op == "ReduceSum" {
			since = 13
		}
		register(op, 1, reduce(call, since))
	}
	// Reductions mdlc writes with the ones it has: sum of squares, L1, L2,
	// log-sum and log-sum-exp (unshifted: exp may overflow where ONNX
	// Runtime's would too).
	for op, pre := range map[string][]string{"ReduceSumSquare": {"square"}, "ReduceL1": {"abs"}, "ReduceL2": {"square"}, "ReduceLogSum": nil, "ReduceLogSumExp": {"exp"}} {
		post := map[string]string{"ReduceL2": "sqrt", "ReduceLogSum": "log", "ReduceLogSumExp": "log"}[op]
		register(op, 1, composedReduce(pre, post))
	}
	register("ArgMax", 1, argMax)
	register("ArgMin", 1, argMax)
	register("Hardmax", 1, hardmax)
	register("ReduceProd", 1, reduceProd)
	register("CumSum", 11, cumSum)
	register("Softmax", 1, softmax("softmax"))
	register("LogSoftmax", 1, softmax("log_softmax"))
	register("LayerNormalization", 17, layerNorm)
}

func reduce(call string, axesInputSince int64) rule {
	return func(im *importer, n *onnx.Node) error {
		x, err := im.need(n, 0)
		if err != nil {
			return err
		}
		if call == "reduce_mean" && im.layerNormPattern(n, x) {
			return nil
		}
		v, err := im.reduction(n, x, call, axesInputSince)
		if err != nil {
			return err
		}
		im.set(n, 0, v)
		return nil
	}
}

// reduction writes call over x along the node's axes, with its keepdims and
// noop_with_empty_axes.
func (im *importer) reduction(n *onnx.Node, x *val, call string, axesInputSince int64) (*val, error) {
	if x.ref == "" {
		return nil, fmt.Errorf("mdlc does not fold reductions of constants")
	}
	axes, has, err := axesOf(im, n, axesInputSince, 1, x.rank())
	if err != nil {
		return nil, err
	}
	if !has || len(axes) == 0 {
		if attrInt(n, "noop_with_empty_axes", 0) == 1 {
			return x, nil
		}
		axes = nil
		for a := range x.rank() {
			axes = append(axes, a)
		}
	}
	slices.Sort(axes)
	keep := attrInt(n, "keepdims", 1) == 1
	var shape []dim
	for a, d := range x.shape {
		switch {
		case !slices.Contains(axes, a):
			shape = append(shape, d)
		case keep:
			shape = append(shape, known(1))
		}
	}
	src := x
	if !keep && x.channelsLast && !slices.Contains(axes, 1) {
		// The channel axis stays and the result has no layout of its own:
		// reduce in logical order.
		if src, err = im.logical(x); err != nil {
			return nil, err
		}
	}
	phys := make([]int, len(axes))
	for i, a := range axes {
		phys[i] = src.physicalAxis(a)
	}
	slices.Sort(phys)
	args := []string{intList(phys)}
	if keep {
		args = append(args, "keepdims=true")
	}
	return im.emit(n, call, call, src.ref, args, shape, keep && src.channelsLast), nil
}

// composedReduce applies pre to each element, ReduceSum (with its axes
// rules: an input from opset 18), then post.
func composedReduce(pre []string, post string) rule {
	return func(im *importer, n *onnx.Node) error {
		x, err := im.need(n, 0)
		if err != nil {
			return err
		}
		y := x
		for _, p := range pre {
			if p == "square" {
				y = im.emit(n, "squared", "mul", "", []string{x.ref, x.ref}, x.shape, x.channelsLast)
			} else {
				y = im.emit(n, p, p, y.ref, nil, x.shape, x.channelsLast)
			}
		}
		r, err := im.reduction(n, y, "reduce_sum", 18)
		if err != nil {
			return err
		}
		if post != "" {
			r = im.emit(n, post, post, r.ref, nil, r.shape, r.channelsLast)
		}
		im.set(n, 0, r)
		return nil
	}
}

// sole is the one node reading name, if it is an op of the given type and
// nothing else (no graph output) reads name.
func (im *importer) sole(name, op string) *onnx.Node {
	if im.uses[name] != 1 || len(im.users[name]) != 1 || im.users[name][0].OpType != op {
		return nil
	}
	return im.users[name][0]
}

// other is the input of a two-input node that is not name.
func other(n *onnx.Node, name string) string {
	if len(n.Inputs) != 2 {
		return ""
	}
	if n.Inputs[0] == name {
		return n.Inputs[1]
	}
	return n.Inputs[0]
}

// layerNormPattern recognises layer normalisation over the last axis as
// exporters decompose it, starting at its first ReduceMean:
//
//	m = ReduceMean(x)   d = x - m   v = ReduceMean(d^2)
//	y = d / Sqrt(v + ε)  [· gamma]  [+ beta]
//
// and writes one layernorm layer for it.
func (im *importer) layerNormPattern(mean *onnx.Node, x *val) bool {
	last := int64(x.rank() - 1)
	axesOK := func(n *onnx.Node) bool {
		axes, has, err := axesOf(im, n, 18, 1, x.rank())
		return err == nil && has && len(axes) == 1 && int64(axes[0]) == last && attrInt(n, "keepdims", 1) == 1
	}
	if x.ref == "" || x.channelsLast || !axesOK(mean) {
		return false
	}
	sub := im.sole(mean.Outputs[0], "Sub")
	if sub == nil || sub.Inputs[0] != mean.Inputs[0] || sub.Inputs[1] != mean.Outputs[0] {
		return false
	}
	d := sub.Outputs[0]
	var pow, div *onnx.Node
	for _, u := range im.users[d] {
		switch u.OpType {
		case "Pow":
			pow = u
		case "Div":
			div = u
		}
	}
	if pow == nil || div == nil || len(im.users[d]) != 2 || im.uses[d] != 2 || pow.Inputs[0] != d || div.Inputs[0] != d {
		return false
	}
	if e := im.in(pow, 1); e == nil || e.ref != "" {
		return false
	} else if s, ok := e.scalarValue(); !ok || s != 2 {
		return false
	}
	vmean := im.sole(pow.Outputs[0], "ReduceMean")
	if vmean == nil || !axesOK(vmean) {
		return false
	}
	add := im.sole(vmean.Outputs[0], "Add")
	if add == nil {
		return false
	}
	epsVal := im.vals[other(add, vmean.Outputs[0])]
	if epsVal == nil || epsVal.ref != "" {
		return false
	}
	eps, ok := epsVal.scalarValue()
	if !ok {
		return false
	}
	sqrt := im.sole(add.Outputs[0], "Sqrt")
	if sqrt == nil || div.Inputs[1] != sqrt.Outputs[0] || im.uses[sqrt.Outputs[0]] != 1 {
		return false
	}
	features := int(x.shape[last].n)
	gamma, beta := ones(features), make([]float32, features)
	nodes := []*onnx.Node{sub, pow, vmean, add, sqrt, div}
	out := div.Outputs[0]
	if mul := im.sole(out, "Mul"); mul != nil {
		if g := im.vals[other(mul, out)]; g != nil && g.ref == "" && len(g.floats()) == features && g.rank() == 1 {
			gamma, out = g.floats(), mul.Outputs[0]
			nodes = append(nodes, mul)
			if add := im.sole(out, "Add"); add != nil {
				if b := im.vals[other(add, out)]; b != nil && b.ref == "" && len(b.floats()) == features && b.rank() == 1 {
					beta, out = b.floats(), add.Outputs[0]
					nodes = append(nodes, add)
				}
			}
		}
	}
	name := im.w.layer(modulePath(mean.Name))
	if im.weight(name+".gamma", []int{features}, gamma) != nil || im.weight(name+".beta", []int{features}, beta) != nil {
		return false
	}
	for _, n := range nodes {
		im.skip[n] = true
	}
	ref := im.w.name(name)
	im.w.add(&stmt{outs: []string{ref}, call: "layernorm", in: x.ref, args: []string{"epsilon=" + number(eps)}, as: name, comment: "onnx: " + mean.Name + " to " + nodes[len(nodes)-1].Name})
	im.vals[out] = &val{ref: ref, shape: x.shape}
	return true
}

func ones(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

func argMax(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	r := int64(x.rank())
	axis := attrInt(n, "axis", 0)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return fmt.Errorf("axis %d is outside rank %d", axis, r)
	}
	keep := attrInt(n, "keepdims", 1) == 1
	src, err := im.logical(x)
	if err != nil {
		return err
	}
	if x.ref == "" {
		return fmt.Errorf("its input is a constant, which mdlc does not fold through %s", n.OpType)
	}
	if n.OpType == "ArgMin" {
		// The first minimum of x is the first maximum of -x.
		src = im.emit(n, "negated", "neg", src.ref, nil, x.shape, false)
	}
	last := attrInt(n, "select_last_index", 0) == 1
	size := x.shape[axis]
	if last {
		// The last maximum is the first of the axis reversed, counted
		// from the end: size-1 - argmax(reversed).
		if !size.isKnown() {
			return fmt.Errorf("select_last_index over the dynamic size %s: mdlc reverses the axis, which needs its size (fix it with --dim)", size)
		}
		if err := im.fold(size.n); err != nil {
			return err
		}
		back := make([]int64, size.n)
		for i := range back {
			back[i] = size.n - 1 - int64(i)
		}
		src = im.emit(n, "reversed", "gather", "", []string{src.ref, int64List(back), "axis=" + strconv.FormatInt(axis, 10)}, x.shape, false)
	}
	shape := slices.Clone(x.shape)
	if keep {
		shape[axis] = known(1)
	} else {
		shape = slices.Delete(shape, int(axis), int(axis)+1)
	}
	args := []string{"axis=" + strconv.FormatInt(axis, 10)}
	if keep {
		args = append(args, "keepdims=true")
	}
	v := im.emit(n, "argmax", "argmax", src.ref, args, shape, false)
	if last {
		v = im.emit(n, "argmax", "sub", "", []string{number(float64(size.n - 1)), v.ref}, shape, false)
	}
	v.isInt = true
	im.set(n, 0, v)
	return nil
}

// hardmax is 1 at the first maximum along axis, 0 elsewhere: argmax
// compared with the positions of the axis. Before opset 13 the input is a
// matrix of the axes before axis by those from it on, which is the same
// when every axis after axis has size 1.
func hardmax(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	if x.ref == "" {
		return fmt.Errorf("its input is a constant, which mdlc does not fold through Hardmax")
	}
	axis, err := im.softmaxAxis(n, x, "takes the maximum over several axes at once; mdlc's argmax takes one")
	if err != nil {
		return err
	}
	size := x.shape[axis]
	if !size.isKnown() {
		return fmt.Errorf("Hardmax over the dynamic size %s: fix it with --dim", size)
	}
	src, err := im.logical(x)
	if err != nil {
		return err
	}
	if err := im.fold(size.n); err != nil {
		return err
	}
	at := slices.Clone(x.shape)
	at[axis] = known(1)
	am := im.emit(n, "argmax", "argmax", src.ref, []string{"axis=" + strconv.FormatInt(axis, 10), "keepdims=true"}, at, false)
	pos := make([]float32, size.n)
	for i := range pos {
		pos[i] = float32(i)
	}
	posShape := slices.Repeat([]dim{known(1)}, x.rank()-int(axis))
	posShape[0] = size
	v, err := im.elementwise(n, "equal", []*val{am, {shape: posShape, c: &konst{f: pos}}}, x.shape)
	if err != nil {
		return err
	}
	im.set(n, 0, v)
	return nil
}

// softmax: before opset 13 the input is seen as a matrix of the axes
// before axis by those from it on, which is softmax over the last axis
// when axis is the last one or every axis after it has size 1.
func softmax(call string) rule {
	return func(im *importer, n *onnx.Node) error {
		x, err := im.need(n, 0)
		if err != nil {
			return err
		}
		axis, err := im.softmaxAxis(n, x, "normalises over several axes at once; mdlc's "+call+" takes one")
		if err != nil {
			return err
		}
		im.set(n, 0, im.emit(n, call, call, x.ref, []string{"axis=" + strconv.Itoa(x.physicalAxis(int(axis)))}, x.shape, x.channelsLast))
		return nil
	}
}

func layerNorm(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	r := int64(x.rank())
	axis := attrInt(n, "axis", -1)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return fmt.Errorf("axis %d is outside rank %d", attrInt(n, "axis", -1), r)
	}
	if x.ref == "" {
		return fmt.Errorf("its input is a constant; mdlc imports normalisations of values computed at run time")
	}
	src, err := im.logical(x)
	if err != nil {
		return err
	}
	statsUsed := len(n.Outputs) > 1 && (im.uses[n.Outputs[1]] > 0 || len(n.Outputs) > 2 && im.uses[n.Outputs[2]] > 0)
	g, b := im.in(n, 1), im.in(n, 2)
	weight := func(v *val) bool {
		return v == nil || v.ref == "" && v.rank() == 1 && len(v.floats()) == int(x.shape[axis].n)
	}
	if axis != r-1 || statsUsed || !x.shape[axis].isKnown() || !weight(g) || !weight(b) {
		return im.composedLayerNorm(n, src, int(axis))
	}
	features := int(x.shape[axis].n)
	name := im.layerName(n, 1)
	gamma, beta := ones(features), make([]float32, features)
	if g != nil {
		gamma = g.floats()
	}
	if b != nil {
		beta = b.floats()
	}
	if err := im.weight(name+".gamma", []int{features}, gamma); err != nil {
		return err
	}
	if err := im.weight(name+".beta", []int{features}, beta); err != nil {
		return err
	}
	out := im.w.name(name)
	im.w.add(&stmt{outs: []string{out}, call: "layernorm", in: src.ref, args: []string{"epsilon=" + number(float64(attrFloat(n, "epsilon", 1e-5)))}, as: name, comment: comment(n)})
	im.set(n, 0, &val{ref: out, shape: x.shape})
	return nil
}

// composedLayerNorm is LayerNormalization where mdlc's layernorm does not
// fit (several axes, a scale computed at run time, the statistics used),
// over the axes from axis on of x in logical order:
//
//	mean = E[x]   d = x - mean   invstd = 1/√(E[d²] + ε)   y = d·invstd·scale + bias
//
// with outputs 1 and 2 mean and invstd, their reduced axes kept as ones.
func (im *importer) composedLayerNorm(n *onnx.Node, x *val, axis int) error {
	var axes []int
	stat := slices.Clone(x.shape)
	for a := axis; a < x.rank(); a++ {
		axes = append(axes, a)
		stat[a] = known(1)
	}
	reduceArgs := []string{intList(axes), "keepdims=true"}
	mean := im.emit(n, "mean", "reduce_mean", x.ref, reduceArgs, stat, false)
	d := im.emit(n, "centred", "sub", "", []string{x.ref, mean.ref}, x.shape, false)
	sq := im.emit(n, "squared", "mul", "", []string{d.ref, d.ref}, x.shape, false)
	variance := im.emit(n, "variance", "reduce_mean", sq.ref, reduceArgs, stat, false)
	eps := im.emit(n, "variance", "add", variance.ref, []string{number(float64(attrFloat(n, "epsilon", 1e-5)))}, stat, false)
	inv := im.emit(n, "invstd", "rsqrt", eps.ref, nil, stat, false)
	y := im.emit(n, "normalised", "mul", "", []string{d.ref, inv.ref}, x.shape, false)
	for i, call := range []string{"mul", "add"} {
		p := im.in(n, i+1)
		if p == nil {
			continue
		}
		if out, err := broadcast(x.shape, p.shape); err != nil || !sameShape(out, x.shape) {
			return fmt.Errorf("its %s %s does not broadcast to the input %s", []string{"scale", "bias"}[i], shapeString(p.shape), shapeString(x.shape))
		}
		var err error
		if y, err = im.elementwise(n, call, []*val{y, p}, x.shape); err != nil {
			return err
		}
	}
	im.set(n, 0, y)
	im.set(n, 1, mean)
	im.set(n, 2, inv)
	return nil
}

// reduceProd multiplies, along each axis reduced, its slices in order:
// mdlc has no product reduction, and a product through logarithms would
// lose zeros' and signs' exactness. The axes' sizes must be known, and
// their sum is bounded so that the program stays readable.
func reduceProd(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	if x.ref == "" {
		return fmt.Errorf("mdlc does not fold reductions of constants")
	}
	axes, has, err := axesOf(im, n, 18, 1, x.rank())
	if err != nil {
		return err
	}
	if !has || len(axes) == 0 {
		if attrInt(n, "noop_with_empty_axes", 0) == 1 {
			im.set(n, 0, x)
			return nil
		}
		axes = nil
		for a := range x.rank() {
			axes = append(axes, a)
		}
	}
	slices.Sort(axes)
	steps := 0
	for _, a := range axes {
		if !x.shape[a].isKnown() {
			return fmt.Errorf("axis %d has the dynamic size %s; mdlc multiplies its slices, which needs the size (fix it with --dim)", a, x.shape[a])
		}
		steps += int(min(x.shape[a].n, 1<<20))
	}
	if steps > 1024 {
		return fmt.Errorf("a product over %d slices; mdlc writes it slice by slice and imports up to 1024", steps)
	}
	src, err := im.logical(x)
	if err != nil {
		return err
	}
	v, shape := src, slices.Clone(x.shape)
	for _, a := range axes {
		shape[a] = known(1)
		var acc *val
		for i := range x.shape[a].n {
			s := im.emit(n, "slice", "slice", v.ref, []string{strconv.FormatInt(i, 10), strconv.FormatInt(i+1, 10), "axis=" + strconv.Itoa(a)}, slices.Clone(shape), false)
			if acc == nil {
				acc = s
				continue
			}
			acc = im.emit(n, "product", "mul", "", []string{acc.ref, s.ref}, slices.Clone(shape), false)
		}
		v = acc
	}
	if attrInt(n, "keepdims", 1) == 0 {
		var kept []dim
		for a, d := range shape {
			if !slices.Contains(axes, a) {
				kept = append(kept, d)
			}
		}
		v = im.emit(n, "product", "squeeze", v.ref, []string{"axes=" + intList(axes)}, kept, false)
	}
	v.isInt = x.isInt
	im.set(n, 0, v)
	return nil
}

// cumSum is a product with a 0/1 triangle along its axis (moved last):
//
//	y[..., j] = Σ_i x[..., i]·T[i, j],  T[i, j] = [i ≤ j]
//
// with i < j when exclusive, and the triangle turned for reverse.
func cumSum(im *importer, n *onnx.Node) error {
	x, err := im.need(n, 0)
	if err != nil {
		return err
	}
	av, err := im.need(n, 1)
	if err != nil {
		return err
	}
	if x.ref == "" {
		return fmt.Errorf("its input is a constant; mdlc does not fold CumSum")
	}
	ax, ok := av.scalarValue()
	if !ok || av.ref != "" {
		return fmt.Errorf("its axis is computed at run time; mdlc needs it when importing")
	}
	r := x.rank()
	axis := int(ax)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return fmt.Errorf("axis %d is outside rank %d", int(ax), r)
	}
	size := x.shape[axis]
	if !size.isKnown() {
		return fmt.Errorf("its axis has the dynamic size %s: fix it with --dim", size)
	}
	cells, ok := size.n*size.n, size.n < 1<<20
	if !ok {
		return fmt.Errorf("an axis of %d: its %d×%d triangle is too large", size.n, size.n, size.n)
	}
	if err := im.fold(cells); err != nil {
		return err
	}
	exclusive, reverse := attrInt(n, "exclusive", 0) == 1, attrInt(n, "reverse", 0) == 1
	tri := make([]float32, cells)
	for i := range size.n {
		for j := range size.n {
			in := i <= j
			if reverse {
				in = i >= j
			}
			if in && !(exclusive && i == j) {
				tri[i*size.n+j] = 1
			}
		}
	}
	src, err := im.logical(x)
	if err != nil {
		return err
	}
	perm := make([]int, 0, r)
	for a := range r {
		if a != axis {
			perm = append(perm, a)
		}
	}
	perm = append(perm, axis)
	moved := src
	if axis != r-1 {
		moved = im.emit(n, "moved", "transpose", src.ref, []string{intList(perm)}, nil, false)
	}
	if r == 1 {
		// matmul takes matrices: a vector is a row.
		moved = im.emit(n, "row", "expand_dims", moved.ref, []string{"axis=0"}, nil, false)
	}
	t, err := im.tensorRef(&val{shape: []dim{size, size}, c: &konst{f: tri}}, false)
	if err != nil {
		return err
	}
	v := im.emit(n, "cumsum", "matmul", "", []string{moved.ref, t}, x.shape, false)
	if r == 1 {
		v = im.emit(n, "cumsum", "squeeze", v.ref, []string{"axes=[0]"}, x.shape, false)
	}
	if axis != r-1 {
		back := make([]int, r)
		for i, p := range perm {
			back[p] = i
		}
		v = im.emit(n, "cumsum", "transpose", v.ref, []string{intList(back)}, x.shape, false)
	}
	v.isInt = x.isInt
	im.set(n, 0, v)
	return nil
}

// softmaxAxis is the axis of a Softmax, LogSoftmax or Hardmax node: -1 by
// default from opset 13, 1 before, when the op took every axis from it on
// as one; mdlc's layers take one axis, so before opset 13 the axes after it
// must be of size 1 (several says what the op would do otherwise).
func (im *importer) softmaxAxis(n *onnx.Node, x *val, several string) (int64, error) {
	r := int64(x.rank())
	def := int64(-1)
	if im.opset < 13 {
		def = 1
	}
	axis := attrInt(n, "axis", def)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return 0, fmt.Errorf("axis %d is outside rank %d", axis, r)
	}
	if im.opset < 13 {
		for _, d := range x.shape[axis+1:] {
			if d != known(1) {
				return 0, fmt.Errorf("axis %d of %s before opset 13 %s", axis, shapeString(x.shape), several)
			}
		}
	}
	return axis, nil
}
