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
	if attrInt(n, "select_last_index", 0) == 1 {
		return fmt.Errorf("select_last_index: mdlc's argmax takes the first maximum")
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
	if n.OpType == "ArgMin" {
		// The first minimum of x is the first maximum of -x.
		src = im.emit(n, "negated", "neg", src.ref, nil, x.shape, false)
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
	v.isInt = true
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
			return fmt.Errorf("axis %d is outside rank %d", axis, r)
		}
		if im.opset < 13 {
			for _, d := range x.shape[axis+1:] {
				if d != known(1) {
					return fmt.Errorf("axis %d of %s before opset 13 normalises over several axes at once; mdlc's %s takes one", axis, shapeString(x.shape), call)
				}
			}
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
	if axis != r-1 {
		return fmt.Errorf("axis %d normalises over several axes; mdlc's layernorm takes the last", axis)
	}
	if len(n.Outputs) > 1 && (im.uses[n.Outputs[1]] > 0 || len(n.Outputs) > 2 && im.uses[n.Outputs[2]] > 0) {
		return fmt.Errorf("its mean or inverse deviation output is used")
	}
	src, err := im.logical(x)
	if err != nil {
		return err
	}
	features := int(x.shape[axis].n)
	name := im.layerName(n, 1)
	gamma, beta := ones(features), make([]float32, features)
	if g := im.in(n, 1); g != nil {
		if g.ref != "" || len(g.floats()) != features {
			return fmt.Errorf("its scale is not a weight of %d values", features)
		}
		gamma = g.floats()
	}
	if b := im.in(n, 2); b != nil {
		if b.ref != "" || len(b.floats()) != features {
			return fmt.Errorf("its bias is not a weight of %d values", features)
		}
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
