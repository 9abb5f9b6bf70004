package exporter

import (
	"fmt"
	"math"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/onnx"
)

// rule exports one op: fn writes the ONNX nodes of an mdlc node and records
// its result (e.nhwc or e.nchw); an op without fn has why, the reason it
// cannot be exported, which the error shows.
type rule struct {
	fn  func(e *exporter, n *ir.Node) error
	why string
}

// Reasons shared by several ops.
const (
	lowered  = "the lower pass rewrites it into primitive ops before export (passes.Pipeline), so an exported graph never holds it"
	fused    = "a fused op of mdlc's kernels, made after the pass export reads (AfterPass)"
	training = "it exists only in training graphs, which are not exported"
)

// rules is the exporter's one table, indexed by op. Each entry's comment is
// the ONNX it writes.
var rules = [ir.OpLast]rule{
	ir.OpInvalid:         {why: "not an operation"},
	ir.OpConv2D:          {fn: conv2D},          // Conv on the NCHW twin, kernel HWIO -> OIHW once
	ir.OpConv2DTranspose: {fn: conv2DTranspose}, // ConvTranspose, kernel [kh,kw,out,in] -> [in,out,kh,kw]
	ir.OpDense:           {why: lowered},
	ir.OpBatchNorm:       {why: "the lower pass folds it into a scale and shift, and simplify into the convolution before it, once its statistics are bound; an exported graph never holds it"},
	ir.OpPositional:      {fn: positional}, // Add of the first T rows of the table, or of the sinusoid as a constant
	ir.OpEmbedding:       {fn: embedding},  // Gather(table, ids, axis=0)
	ir.OpLayerNorm:       {fn: layerNorm},  // LayerNormalization(axis=-1)
	ir.OpRMSNorm:         {fn: rmsNorm},    // x / Sqrt(ReduceMean(x·x) + ε) · γ
	ir.OpMatMul:          {fn: matMul},     // MatMul, transposed operands transposed first
	ir.OpAttention:       {fn: attention},  // Softmax(q·kᵀ·scale + mask)·v as MatMul, Mul, Add, Softmax, MatMul
	ir.OpRecurrent:       {fn: recurrent},  // LSTM / GRU (linear_before_reset) / RNN, gates reordered
	ir.OpMaxPool2D:       {fn: pool("MaxPool")},
	ir.OpAvgPool2D:       {fn: pool("AveragePool")},
	ir.OpGlobalAvgPool2D: {fn: globalAvgPool}, // GlobalAveragePool + Flatten on a twin, else ReduceMean over H, W

	ir.OpAdd:     {fn: binary("Add")},
	ir.OpSub:     {fn: binary("Sub")},
	ir.OpMul:     {fn: binary("Mul")},
	ir.OpDiv:     {fn: binary("Div")},
	ir.OpMinimum: {fn: binary("Min")},
	ir.OpMaximum: {fn: binary("Max")},

	ir.OpRelu:      {fn: unary("Relu")},
	ir.OpSigmoid:   {fn: unary("Sigmoid")},
	ir.OpTanh:      {fn: unary("Tanh")},
	ir.OpSelu:      {fn: unary("Selu")}, // ONNX's default alpha and gamma are SELU's
	ir.OpHardSwish: {fn: unary("HardSwish")},
	ir.OpSoftplus:  {fn: unary("Softplus")},
	ir.OpSoftsign:  {fn: unary("Softsign")},
	ir.OpExp:       {fn: unary("Exp")},
	ir.OpLog:       {fn: unary("Log")},
	ir.OpSqrt:      {fn: unary("Sqrt")},
	ir.OpAbs:       {fn: unary("Abs")},
	ir.OpNeg:       {fn: unary("Neg")},
	ir.OpErf:       {fn: unary("Erf")},
	ir.OpFloor:     {fn: unary("Floor")},
	// to_float(ids) is the ids as numbers: a Cast.
	ir.OpToFloat: {fn: elementwise(func(e *exporter, _ *ir.Node, in []string) string {
		return e.emit("Cast", in, attrInt("to", int64(onnx.Float)))
	})},
	ir.OpLeakyRelu: {fn: elementwise(func(e *exporter, n *ir.Node, in []string) string {
		return e.emit("LeakyRelu", in, attrFloat("alpha", n.Attrs.(*ir.LeakyReluAttrs).Alpha))
	})},
	ir.OpElu: {fn: elementwise(func(e *exporter, n *ir.Node, in []string) string {
		return e.emit("Elu", in, attrFloat("alpha", n.Attrs.(*ir.EluAttrs).Alpha))
	})},
	// HardSigmoid(alpha, beta=0.5) is clip(alpha·x + 0.5, 0, 1).
	ir.OpHardSigmoid: {fn: elementwise(func(e *exporter, n *ir.Node, in []string) string {
		return e.emit("HardSigmoid", in, attrFloat("alpha", n.Attrs.(*ir.HardSigmoidAttrs).Alpha), attrFloat("beta", 0.5))
	})},
	// Clip(x, min, max), bounds as inputs since opset 11; relu6 is clip 0..6.
	ir.OpClip: {fn: elementwise(func(e *exporter, n *ir.Node, in []string) string {
		a := n.Attrs.(*ir.ClipAttrs)
		return e.emit("Clip", []string{in[0], e.scalar("min", a.Min), e.scalar("max", a.Max)})
	})},
	// gelu(x) = x·(1 + erf(x/√2))/2; tanh: x·(1 + tanh(√(2/π)·(x + 0.044715x³)))/2.
	// Gelu is an op only from opset 20.
	ir.OpGelu: {fn: elementwise(func(e *exporter, n *ir.Node, in []string) string {
		x := in[0]
		var inner string
		if n.Attrs.(*ir.GeluAttrs).Approximate {
			x3 := e.emit("Mul", []string{e.emit("Mul", []string{x, x}), x})
			poly := e.emit("Add", []string{x, e.emit("Mul", []string{x3, e.scalar("c", 0.044715)})})
			inner = e.emit("Tanh", []string{e.emit("Mul", []string{poly, e.scalar("sqrt_2_over_pi", float32(math.Sqrt(2/math.Pi)))})})
		} else {
			inner = e.emit("Erf", []string{e.emit("Div", []string{x, e.scalar("sqrt2", math.Sqrt2)})})
		}
		half := e.emit("Mul", []string{x, e.emit("Add", []string{inner, e.scalar("one", 1)})})
		return e.emit("Mul", []string{half, e.scalar("half", 0.5)})
	})},
	// silu(x) = x·sigmoid(x).
	ir.OpSilu: {fn: elementwise(func(e *exporter, _ *ir.Node, in []string) string {
		return e.emit("Mul", []string{in[0], e.emit("Sigmoid", in)})
	})},
	// mish(x) = x·tanh(softplus(x)); Mish is an op only from opset 18.
	ir.OpMish: {fn: elementwise(func(e *exporter, _ *ir.Node, in []string) string {
		return e.emit("Mul", []string{in[0], e.emit("Tanh", []string{e.emit("Softplus", in)})})
	})},
	// rsqrt(x) = 1/√x.
	ir.OpRsqrt: {fn: elementwise(func(e *exporter, _ *ir.Node, in []string) string {
		return e.emit("Div", []string{e.scalar("one", 1), e.emit("Sqrt", in)})
	})},
	// Pow(x, exponent) with the exponent a scalar initializer.
	ir.OpPow: {fn: elementwise(func(e *exporter, n *ir.Node, in []string) string {
		return e.emit("Pow", []string{in[0], e.scalar("exponent", n.Attrs.(*ir.PowAttrs).Exponent)})
	})},
	ir.OpDropout: {why: lowered},

	ir.OpSoftmax:    {fn: axisOp("Softmax")},
	ir.OpLogSoftmax: {fn: axisOp("LogSoftmax")},

	ir.OpFlatten:   {why: lowered},
	ir.OpReshape:   {fn: reshape},   // Reshape, 0 where a symbolic dimension stays, -1 for one that changes
	ir.OpTranspose: {fn: transpose}, // Transpose(perm)
	ir.OpConcat:    {fn: concat},    // Concat, on twins when every operand has one; a bidirectional layer's two loops become one node
	ir.OpSlice:     {fn: slice},     // Slice(starts, ends, axes)
	ir.OpPad:       {fn: pad},       // Pad(mode constant, reflect or edge), an image's on its NCHW twin
	ir.OpResize:    {fn: resize},    // Resize on the NCHW twin with scales

	ir.OpPaddingMask: {fn: paddingMask}, // Unsqueeze(Where(Equal(ids, pad), -inf, 0), [1, 2])

	ir.OpReduceSum:  {fn: reduce("ReduceSum")},
	ir.OpReduceMean: {fn: reduce("ReduceMean")},
	ir.OpReduceMax:  {fn: reduce("ReduceMax")},
	ir.OpReduceMin:  {fn: reduce("ReduceMin")},
	ir.OpArgMax:     {fn: argMax}, // Cast(ArgMax, FLOAT): mdlc's positions are f32
	// Where(Not(Equal(cond, 0)), a, b): mdlc's cond is a 0/1 (or any) f32
	// mask, ONNX's a BOOL; NaN != 0 picks a in both.
	ir.OpWhere: {fn: elementwise(func(e *exporter, _ *ir.Node, in []string) string {
		keep := e.emit("Not", []string{e.emit("Equal", []string{in[0], e.scalar("zero", 0)})})
		return e.emit("Where", []string{keep, in[1], in[2]})
	})},
	ir.OpGather: {fn: gather}, // Gather(x, Cast(indices, INT64), axis)
	// Comparisons make BOOL in ONNX and 0/1 in mdlc: Cast to FLOAT.
	ir.OpGreater:      {fn: compare("Greater")},
	ir.OpGreaterEqual: {fn: compare("GreaterOrEqual")},
	ir.OpLess:         {fn: compare("Less")},
	ir.OpLessEqual:    {fn: compare("LessOrEqual")},
	ir.OpEqual:        {fn: compare("Equal")},
	ir.OpNotEqual: {fn: elementwise(func(e *exporter, _ *ir.Node, in []string) string {
		return e.emit("Cast", []string{e.emit("Not", []string{e.emit("Equal", in)})}, attrInt("to", int64(onnx.Float)))
	})},

	ir.OpFusedConv2D: {why: fused},
	ir.OpFusedMatMul: {why: fused},
	ir.OpElementwise: {why: fused},

	ir.OpSumTo:                     {why: training},
	ir.OpUnaryGrad:                 {why: training},
	ir.OpConv2DGradInput:           {why: training},
	ir.OpConv2DGradFilter:          {why: training},
	ir.OpMaxPool2DGrad:             {why: training},
	ir.OpAvgPool2DGrad:             {why: training},
	ir.OpEmbeddingGrad:             {why: training},
	ir.OpGatherGrad:                {why: training},
	ir.OpRecurrentGrad:             {why: training},
	ir.OpAttentionGrad:             {why: training},
	ir.OpSoftmaxCrossEntropy:       {why: training},
	ir.OpSparseSoftmaxCrossEntropy: {why: training},
	ir.OpBatchVariance:             {why: training},
	ir.OpDropoutTrain:              {why: training},
}

// elementwise exports an elementwise op through build, which writes the
// ONNX of it on its operands' names. The op runs on NCHW twins when the
// result is 4-D, some operand already has a twin, and every operand is 4-D
// or a constant (padded and permuted to broadcast the same way): so a
// relu or a residual add between convolutions adds no transposes.
func elementwise(build func(e *exporter, n *ir.Node, in []string) string) func(*exporter, *ir.Node) error {
	return func(e *exporter, n *ir.Node) error {
		res := n.Outputs[0]
		twins, others := false, true
		for _, v := range n.Inputs {
			twins = twins || v.Kind != ir.Const && e.hasTwin(v)
			others = others && (v.Kind == ir.Const && v.Type.Shape.Rank() <= 4 || v.Type.Shape.Rank() == 4)
		}
		get := e.val
		if res.Type.Shape.Rank() == 4 && twins && others {
			get = e.valNCHW
		}
		in, err := names(n.Inputs, get)
		if err != nil {
			return err
		}
		out := build(e, n, in)
		if res.Type.Shape.Rank() == 4 && twins && others {
			e.nchw[res] = out
		} else {
			e.nhwc[res] = out
		}
		return nil
	}
}

func names(vs []*ir.Value, get func(*ir.Value) (string, error)) ([]string, error) {
	out := make([]string, len(vs))
	for i, v := range vs {
		var err error
		if out[i], err = get(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func unary(opType string) func(*exporter, *ir.Node) error {
	return elementwise(func(e *exporter, _ *ir.Node, in []string) string { return e.emit(opType, in) })
}

func binary(opType string) func(*exporter, *ir.Node) error {
	return elementwise(func(e *exporter, _ *ir.Node, in []string) string { return e.emit(opType, in) })
}

func compare(opType string) func(*exporter, *ir.Node) error {
	return elementwise(func(e *exporter, _ *ir.Node, in []string) string {
		return e.emit("Cast", []string{e.emit(opType, in)}, attrInt("to", int64(onnx.Float)))
	})
}

// window is a 2-D window's ONNX attributes: kernel_shape, strides,
// dilations (when withDilation), and explicit pads [top, left, bottom,
// right] where the input's height and width are known, else auto_pad
// SAME_UPPER (TensorFlow's same: the extra cell at the bottom and right).
func (e *exporter) window(w ir.Window2D, x ir.Type, kh, kw int, withDilation bool) ([]*onnx.Attribute, error) {
	attrs := []*onnx.Attribute{attrInts("kernel_shape", int64(kh), int64(kw)), attrInts("strides", int64(w.Stride[0]), int64(w.Stride[1]))}
	if withDilation {
		attrs = append(attrs, attrInts("dilations", int64(w.Dilation[0]), int64(w.Dilation[1])))
	} else if w.Dilation != [2]int{1, 1} && w.Dilation != [2]int{} {
		return nil, fmt.Errorf("dilation %v: ONNX's AveragePool takes dilations only from opset 19", w.Dilation)
	}
	h, hok := e.size(x.Shape[1])
	wd, wok := e.size(x.Shape[2])
	switch {
	case hok && wok:
		p := w.PadsFor(h, wd, kh, kw)
		attrs = append(attrs, attrInts("pads", int64(p[0]), int64(p[2]), int64(p[1]), int64(p[3])))
	case w.Padding == ir.Same:
		attrs = append(attrs, attrString("auto_pad", "SAME_UPPER"))
	case w.Padding == ir.Explicit:
		p := w.Pads
		attrs = append(attrs, attrInts("pads", int64(p[0]), int64(p[2]), int64(p[1]), int64(p[3])))
	}
	return attrs, nil
}

// permuted is v with its axes permuted: a constant once, as an
// initializer; anything else through a Transpose.
//
// A transpose of a transpose only this one reads is one Transpose of the
// first's input, the permutations composed (the first, now unread, is
// pruned): attention's kᵀ of heads split by a transpose is one node.
func (e *exporter) permuted(v *ir.Value, perm ...int) (string, error) {
	if v.Kind == ir.Const {
		return e.constant(v, perm)
	}
	if d := v.Def; d != nil && d.Op == ir.OpTranspose && e.uses[v] == 1 {
		inner := d.Attrs.(*ir.TransposeAttrs).Perm
		composed := make([]int, len(perm))
		for i, p := range perm {
			composed[i] = inner[p]
		}
		v, perm = d.Inputs[0], composed
	}
	x, err := e.val(v)
	if err != nil {
		return "", err
	}
	p := make([]int64, len(perm))
	for i, a := range perm {
		p[i] = int64(a)
	}
	return e.emit("Transpose", []string{x}, attrInts("perm", p...)), nil
}

// convInputs are a convolution's ONNX inputs: x in NCHW, the kernel
// permuted by [3,2,0,1] (HWIO [kh,kw,in/g,out] to OIHW, and a transposed
// convolution's [kh,kw,out,in] to [in,out,kh,kw]), and the bias if any.
func (e *exporter) convInputs(n *ir.Node) ([]string, error) {
	x, err := e.valNCHW(n.Inputs[0])
	if err != nil {
		return nil, err
	}
	w, err := e.permuted(n.Inputs[1], 3, 2, 0, 1)
	if err != nil {
		return nil, err
	}
	in := []string{x, w}
	if len(n.Inputs) == 3 {
		b, err := e.val(n.Inputs[2])
		if err != nil {
			return nil, err
		}
		in = append(in, b)
	}
	return in, nil
}

// conv2D: Conv(x NCHW, kernel OIHW[, bias]).
func conv2D(e *exporter, n *ir.Node) error {
	a := n.Attrs.(*ir.ConvAttrs)
	k := n.Inputs[1].Type.Shape
	in, err := e.convInputs(n)
	if err != nil {
		return err
	}
	attrs, err := e.window(a.Window2D, n.Inputs[0].Type, k[0].Size, k[1].Size, true)
	if err != nil {
		return err
	}
	attrs = append(attrs, attrInt("group", int64(max(a.Groups, 1))))
	e.nchw[n.Outputs[0]] = e.emit("Conv", in, attrs...)
	return nil
}

// conv2DTranspose: ConvTranspose with mdlc's crop as pads and whatever
// the output lacks after them as output_padding; kernel [kh,kw,out,in] is
// permuted to ONNX's [in,out,kh,kw].
func conv2DTranspose(e *exporter, n *ir.Node) error {
	a := n.Attrs.(*ir.ConvTransposeAttrs)
	xt, k := n.Inputs[0].Type, n.Inputs[1].Type.Shape
	h, err := e.needSize(xt.Shape[1], "the input's height")
	if err != nil {
		return err
	}
	wd, err := e.needSize(xt.Shape[2], "the input's width")
	if err != nil {
		return err
	}
	kh, kw := k[0].Size, k[1].Size
	crop, oh, ow := a.Geometry(h, wd, kh, kw)
	full := func(in, k, axis int) int { return (in-1)*a.Stride[axis] + (k-1)*a.Dilation[axis] + 1 }
	outPad := [2]int{oh - (full(h, kh, 0) - crop[0] - crop[1]), ow - (full(wd, kw, 1) - crop[2] - crop[3])}
	in, err := e.convInputs(n)
	if err != nil {
		return err
	}
	e.nchw[n.Outputs[0]] = e.emit("ConvTranspose", in,
		attrInts("kernel_shape", int64(kh), int64(kw)),
		attrInts("strides", int64(a.Stride[0]), int64(a.Stride[1])),
		attrInts("dilations", int64(a.Dilation[0]), int64(a.Dilation[1])),
		attrInts("pads", int64(crop[0]), int64(crop[2]), int64(crop[1]), int64(crop[3])),
		attrInts("output_padding", int64(outPad[0]), int64(outPad[1])))
	return nil
}

// pool: MaxPool, or AveragePool counting padded cells only with CountPad.
func pool(opType string) func(*exporter, *ir.Node) error {
	return func(e *exporter, n *ir.Node) error {
		a := n.Attrs.(*ir.PoolAttrs)
		x, err := e.valNCHW(n.Inputs[0])
		if err != nil {
			return err
		}
		attrs, err := e.window(a.Window2D, n.Inputs[0].Type, a.Size[0], a.Size[1], opType == "MaxPool")
		if err != nil {
			return err
		}
		if opType == "AveragePool" {
			attrs = append(attrs, attrInt("count_include_pad", map[bool]int64{false: 0, true: 1}[a.CountPad]))
		}
		e.nchw[n.Outputs[0]] = e.emit(opType, []string{x}, attrs...)
		return nil
	}
}

// globalAvgPool: [N,H,W,C] -> [N,C].
func globalAvgPool(e *exporter, n *ir.Node) error {
	x := n.Inputs[0]
	if e.hasTwin(x) {
		twin, _ := e.valNCHW(x)
		e.nhwc[n.Outputs[0]] = e.emit("Flatten", []string{e.emit("GlobalAveragePool", []string{twin})}, attrInt("axis", 1))
		return nil
	}
	v, err := e.val(x)
	if err != nil {
		return err
	}
	e.nhwc[n.Outputs[0]] = e.emit("ReduceMean", []string{v}, attrInts("axes", 1, 2), attrInt("keepdims", 0))
	return nil
}

// lastTwo swaps the last two axes of a rank-r tensor.
func lastTwo(r int) []int {
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	perm[r-2], perm[r-1] = r-1, r-2
	return perm
}

func matMul(e *exporter, n *ir.Node) error {
	a := n.Attrs.(*ir.MatMulAttrs)
	in := make([]string, 2)
	for i, trans := range []bool{a.TransA, a.TransB} {
		v := n.Inputs[i]
		var err error
		if trans {
			in[i], err = e.permuted(v, lastTwo(v.Type.Shape.Rank())...)
		} else {
			in[i], err = e.val(v)
		}
		if err != nil {
			return err
		}
	}
	e.nhwc[n.Outputs[0]] = e.emit("MatMul", in)
	return nil
}

// attention: s = q·kᵀ·scale (+ mask); causal keeps the lower triangle
// (query i sees keys j <= i): a constant 0/-inf mask added when both
// lengths are known, else Trilu over a tensor of ones shaped like s, which
// holds for any length; out = Softmax(s)·v.
func attention(e *exporter, n *ir.Node) error {
	a := n.Attrs.(*ir.AttentionAttrs)
	in, err := names(n.Inputs, e.val)
	if err != nil {
		return err
	}
	q := n.Inputs[0].Type.Shape
	scale := a.Scale
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(q[len(q)-1].Size)))
	}
	kt, err := e.permuted(n.Inputs[1], lastTwo(q.Rank())...)
	if err != nil {
		return err
	}
	s := e.emit("Mul", []string{e.emit("MatMul", []string{in[0], kt}), e.scalar("scale", scale)})
	if len(in) == 4 {
		s = e.emit("Add", []string{s, in[3]})
	}
	tq, qok := e.size(q[q.Rank()-2])
	tk, kok := e.size(n.Inputs[1].Type.Shape[q.Rank()-2])
	switch {
	case a.Causal && qok && kok:
		if err := e.table("the causal mask", tq, tk); err != nil {
			return err
		}
		mask := make([]float32, tq*tk)
		for i := range tq {
			for j := i + 1; j < tk; j++ {
				mask[i*tk+j] = negInf
			}
		}
		m, err := e.floats(layerOf(n)+".causal_mask", []int64{int64(tq), int64(tk)}, mask)
		if err != nil {
			return err
		}
		s = e.emit("Add", []string{s, m})
	case a.Causal:
		ones := e.emit("ConstantOfShape", []string{e.emit("Shape", []string{s})}, &onnx.Attribute{Name: "value", Type: onnx.AttrTensor, T: mustFloat([]float32{1})})
		keep := e.emit("Cast", []string{e.emit("Trilu", []string{ones}, attrInt("upper", 0))}, attrInt("to", int64(onnx.Bool)))
		s = e.emit("Where", []string{keep, s, e.scalar("neg_inf", negInf)})
	}
	p := e.emit("Softmax", []string{s}, attrInt("axis", -1))
	e.nhwc[n.Outputs[0]] = e.emit("MatMul", []string{p, in[2]})
	return nil
}

// mustFloat is a one-dimensional FLOAT tensor of v, for attributes.
func mustFloat(v []float32) *onnx.Tensor {
	t, _ := onnx.NewFloatTensor("", []int64{int64(len(v))}, v) // dims match v: cannot fail
	return t
}

func axisOp(opType string) func(*exporter, *ir.Node) error {
	return func(e *exporter, n *ir.Node) error {
		x, err := e.val(n.Inputs[0])
		if err != nil {
			return err
		}
		e.nhwc[n.Outputs[0]] = e.emit(opType, []string{x}, attrInt("axis", int64(n.Attrs.(*ir.AxisAttrs).Axis)))
		return nil
	}
}

// reshape writes the output shape with 0 (copy the input's) where a
// symbolic dimension is where it was in the input, and -1 for at most one
// other symbolic dimension; sizes fixed by Options.Dims are written as
// sizes.
func reshape(e *exporter, n *ir.Node) error {
	x := n.Inputs[0]
	in := x.Type.Shape
	shape := make([]int64, 0, n.Outputs[0].Type.Shape.Rank())
	inferred := false
	for i, d := range n.Outputs[0].Type.Shape {
		if s, ok := e.size(d); ok {
			shape = append(shape, int64(s))
			continue
		}
		switch {
		case i < len(in) && in[i] == d:
			shape = append(shape, 0)
		case !inferred:
			inferred = true
			shape = append(shape, -1)
		default:
			return fmt.Errorf("the shape %s has two symbolic dimensions ONNX's Reshape cannot infer: fix one with --dim", n.Outputs[0].Type.Shape)
		}
	}
	v, err := e.val(x)
	if err != nil {
		return err
	}
	e.nhwc[n.Outputs[0]] = e.emit("Reshape", []string{v, e.int64s("shape", shape...)})
	return nil
}

func transpose(e *exporter, n *ir.Node) error {
	v, err := e.permuted(n.Inputs[0], n.Attrs.(*ir.TransposeAttrs).Perm...)
	if err != nil {
		return err
	}
	e.nhwc[n.Outputs[0]] = v
	return nil
}

// nchwAxis is where NHWC axis a is in NCHW.
var nchwAxis = [4]int64{0, 2, 3, 1}

func concat(e *exporter, n *ir.Node) error {
	axis := n.Attrs.(*ir.AxisAttrs).Axis
	res := n.Outputs[0]
	if loops, ok := e.bidirectional(n); ok {
		out, err := e.recurrentNode(loops)
		if err != nil {
			return err
		}
		e.nhwc[res] = out
		return nil
	}
	twins := res.Type.Shape.Rank() == 4
	for _, v := range n.Inputs {
		twins = twins && e.hasTwin(v)
	}
	if twins {
		in, _ := names(n.Inputs, e.valNCHW) // each has a twin: cannot fail
		e.nchw[res] = e.emit("Concat", in, attrInt("axis", nchwAxis[axis]))
		return nil
	}
	in, err := names(n.Inputs, e.val)
	if err != nil {
		return err
	}
	e.nhwc[res] = e.emit("Concat", in, attrInt("axis", int64(axis)))
	return nil
}

func slice(e *exporter, n *ir.Node) error {
	a := n.Attrs.(*ir.SliceAttrs)
	x, err := e.val(n.Inputs[0])
	if err != nil {
		return err
	}
	e.nhwc[n.Outputs[0]] = e.emit("Slice", []string{x, e.int64s("starts", int64(a.Start)), e.int64s("ends", int64(a.End)), e.int64s("axes", int64(a.Axis))})
	return nil
}

// pad: ONNX's pads are every axis's before, then every axis's after. An
// image (mdlc pads only its height and width) is padded as its NCHW twin,
// as the convolution it usually precedes reads it.
func pad(e *exporter, n *ir.Node) error {
	a := n.Attrs.(*ir.PadAttrs)
	v := n.Inputs[0]
	pads := make([]int64, 2*len(a.Pads))
	image := len(a.Pads) == 4 && a.Pads[0] == [2]int{} && a.Pads[3] == [2]int{}
	for i, p := range a.Pads {
		at := i
		if image {
			at = int(nchwAxis[i])
		}
		pads[at], pads[len(a.Pads)+at] = int64(p[0]), int64(p[1])
	}
	get := e.val
	if image {
		get = e.valNCHW
	}
	x, err := get(v)
	if err != nil {
		return err
	}
	mode := map[ir.PadMode]string{ir.PadConstant: "constant", ir.PadReflect: "reflect", ir.PadEdge: "edge"}[a.Mode]
	in := []string{x, e.int64s("pads", pads...)}
	if a.Mode == ir.PadConstant {
		in = append(in, e.scalar("value", a.Value))
	}
	out := e.emit("Pad", in, attrString("mode", mode))
	if image {
		e.nchw[n.Outputs[0]] = out
	} else {
		e.nhwc[n.Outputs[0]] = out
	}
	return nil
}

// resize: Resize on the NCHW twin to mdlc's size, whose ratio out/in
// ONNX's coordinate rules use as mdlc's do; nearest reads floor for asymmetric
// coordinates and rounds half up otherwise (ir.Coordinates).
func resize(e *exporter, n *ir.Node) error {
	a := n.Attrs.(*ir.ResizeAttrs)
	xt := n.Inputs[0].Type
	h, err := e.needSize(xt.Shape[1], "the input's height")
	if err != nil {
		return err
	}
	w, err := e.needSize(xt.Shape[2], "the input's width")
	if err != nil {
		return err
	}
	x, err := e.valNCHW(n.Inputs[0])
	if err != nil {
		return err
	}
	// With the batch (and channels) known, sizes; else scales, which ONNX
	// reads as the ratio mdlc's coordinates use.
	in := []string{x, ""}
	batch, bok := e.size(xt.Shape[0])
	channels, cok := e.size(xt.Shape[3])
	if bok && cok {
		in = append(in, "", e.int64s("sizes", int64(batch), int64(channels), int64(a.Size[0]), int64(a.Size[1])))
	} else {
		scales, err := e.floats(layerOf(n)+"/scales", []int64{4}, []float32{1, 1, resizeScale(h, a.Size[0]), resizeScale(w, a.Size[1])})
		if err != nil {
			return err
		}
		in = append(in, scales)
	}
	attrs := []*onnx.Attribute{attrString("coordinate_transformation_mode", a.Coordinates.String())}
	if a.Mode == ir.Nearest {
		nearest := "round_prefer_ceil"
		if a.Coordinates == ir.Asymmetric {
			nearest = "floor"
		}
		attrs = append(attrs, attrString("mode", "nearest"), attrString("nearest_mode", nearest))
	} else {
		attrs = append(attrs, attrString("mode", "linear"))
	}
	e.nchw[n.Outputs[0]] = e.emit("Resize", in, attrs...)
	return nil
}

// resizeScale is the float32 nearest above out/in whose product with in
// is at least out in float32 and float64 both: ONNX sizes the output
// floor(in·scale), and out/in rounded down would lose a row (5·1.4 <
// 7). An ulp more moves no sampling position by more than float32's own
// rounding of out/in.
func resizeScale(in, out int) float32 {
	s := float32(out) / float32(in)
	for float32(in)*s < float32(out) || float64(in)*float64(s) < float64(out) {
		s = math.Nextafter32(s, float32(math.Inf(1)))
	}
	return s
}

// paddingMask: ids [N,T] -> [N,1,1,T], -inf where the id is the pad id.
func paddingMask(e *exporter, n *ir.Node) error {
	ids := n.Inputs[0]
	x, err := e.val(ids)
	if err != nil {
		return err
	}
	dt := map[ir.DType]onnx.DataType{ir.I32: onnx.Int32, ir.I64: onnx.Int64}[ids.Type.DType]
	padID, err := onnx.NewIntTensor(layerOf(n)+"/pad_id", dt, nil, []int64{int64(n.Attrs.(*ir.PaddingMaskAttrs).Pad)})
	if err != nil {
		return err
	}
	is := e.emit("Equal", []string{x, e.initializer(padID)})
	mask := e.emit("Where", []string{is, e.scalar("neg_inf", negInf), e.scalar("zero", 0)})
	e.nhwc[n.Outputs[0]] = e.emit("Unsqueeze", []string{mask, e.int64s("axes", 1, 2)})
	return nil
}

// reduce: ReduceSum takes its axes as an input from opset 13, the others
// as an attribute until opset 18.
func reduce(opType string) func(*exporter, *ir.Node) error {
	return func(e *exporter, n *ir.Node) error {
		a := n.Attrs.(*ir.ReduceAttrs)
		x, err := e.val(n.Inputs[0])
		if err != nil {
			return err
		}
		axes := make([]int64, len(a.Axes))
		for i, ax := range a.Axes {
			axes[i] = int64(ax)
		}
		keep := attrInt("keepdims", map[bool]int64{false: 0, true: 1}[a.KeepDims])
		if opType == "ReduceSum" {
			e.nhwc[n.Outputs[0]] = e.emit(opType, []string{x, e.int64s("axes", axes...)}, keep)
		} else {
			e.nhwc[n.Outputs[0]] = e.emit(opType, []string{x}, attrInts("axes", axes...), keep)
		}
		return nil
	}
}

func argMax(e *exporter, n *ir.Node) error {
	a := n.Attrs.(*ir.ArgAttrs)
	x, err := e.val(n.Inputs[0])
	if err != nil {
		return err
	}
	am := e.emit("ArgMax", []string{x}, attrInt("axis", int64(a.Axis)), attrInt("keepdims", map[bool]int64{false: 0, true: 1}[a.KeepDims]))
	e.nhwc[n.Outputs[0]] = e.emit("Cast", []string{am}, attrInt("to", int64(onnx.Float)))
	return nil
}

func gather(e *exporter, n *ir.Node) error {
	a := n.Attrs.(*ir.GatherAttrs)
	if a.BatchDims != 0 {
		return fmt.Errorf("batch_dims=%d: ONNX's Gather has no batch axes (GatherND's differ in meaning)", a.BatchDims)
	}
	in, err := names(n.Inputs, e.val)
	if err != nil {
		return err
	}
	idx := e.emit("Cast", in[1:], attrInt("to", int64(onnx.Int64)))
	e.nhwc[n.Outputs[0]] = e.emit("Gather", []string{in[0], idx}, attrInt("axis", int64(a.Axis)))
	return nil
}

func embedding(e *exporter, n *ir.Node) error {
	in, err := names(n.Inputs, e.val)
	if err != nil {
		return err
	}
	e.nhwc[n.Outputs[0]] = e.emit("Gather", []string{in[1], in[0]}, attrInt("axis", 0))
	return nil
}

// positional adds the encoding of x [N,T,d]'s T positions: the first T
// rows of the learned table (sliced at export when T is known, by
// Shape→Slice otherwise), or the sinusoid computed here for a known T.
func positional(e *exporter, n *ir.Node) error {
	xv := n.Inputs[0]
	x, err := e.val(xv)
	if err != nil {
		return err
	}
	d := xv.Type.Shape[2].Size
	t, known := e.size(xv.Type.Shape[1])
	var enc string
	switch {
	case len(n.Inputs) == 2 && known && n.Inputs[1].Kind == ir.Const:
		if rows := n.Inputs[1].Type.Shape[0].Size; t > rows {
			return fmt.Errorf("a sequence of T = %d positions, but the learned table has %d", t, rows)
		}
		enc, err = e.floats(n.Inputs[1].Name, []int64{int64(t), int64(d)}, n.Inputs[1].Data[:t*d])
	case len(n.Inputs) == 2:
		table, terr := e.val(n.Inputs[1])
		if terr != nil {
			return terr
		}
		length := e.emit("Shape", []string{x}, attrInt("start", 1), attrInt("end", 2))
		enc = e.emit("Slice", []string{table, e.int64s("starts", 0), length, e.int64s("axes", 0)})
	case known:
		if err := e.table("the sinusoidal encoding", t, d); err != nil {
			return err
		}
		table := make([]float32, t*d)
		for i := range table {
			table[i] = float32(ir.Sinusoid(i/d, i%d, d))
		}
		enc, err = e.floats(layerOf(n)+".sinusoid", []int64{int64(t), int64(d)}, table)
	default:
		_, err = e.needSize(xv.Type.Shape[1], "the sequence length of a sinusoidal encoding")
	}
	if err != nil {
		return err
	}
	e.nhwc[n.Outputs[0]] = e.emit("Add", []string{x, enc})
	return nil
}

func layerNorm(e *exporter, n *ir.Node) error {
	in, err := names(n.Inputs, e.val)
	if err != nil {
		return err
	}
	e.nhwc[n.Outputs[0]] = e.emit("LayerNormalization", in, attrInt("axis", -1), attrFloat("epsilon", n.Attrs.(*ir.NormAttrs).Epsilon))
	return nil
}

func rmsNorm(e *exporter, n *ir.Node) error {
	in, err := names(n.Inputs, e.val)
	if err != nil {
		return err
	}
	x := in[0]
	ms := e.emit("ReduceMean", []string{e.emit("Mul", []string{x, x})}, attrInts("axes", -1), attrInt("keepdims", 1))
	rms := e.emit("Sqrt", []string{e.emit("Add", []string{ms, e.scalar("epsilon", n.Attrs.(*ir.NormAttrs).Epsilon)})})
	e.nhwc[n.Outputs[0]] = e.emit("Mul", []string{e.emit("Div", []string{x, rms}), in[1]})
	return nil
}
