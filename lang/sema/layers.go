package sema

import (
	"errors"
	"maps"
	"slices"
	"strconv"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/syntax"
	"github.com/mdlc/mdlc/nn"
)

// layer is a built-in layer: its argument specs and how it lowers to IR. The
// language's layer names become ir.Ops here and nowhere else.
type layer struct {
	doc   string
	specs []paramSpec
	build func(l *nn.Layer, a *bound) (*ir.Value, error)
	// results builds a layer of several results instead (split).
	results func(l *nn.Layer, a *bound) ([]*ir.Value, error)
}

var (
	input     = paramSpec{name: "x", kind: aTensor}
	activ     = paramSpec{name: "activation", kind: aActivation, def: nn.Linear}
	useBias   = paramSpec{name: "use_bias", kind: aBool, def: true}
	strides1  = paramSpec{name: "strides", kind: aPair, def: [2]int{1, 1}}
	validPad  = paramSpec{name: "padding", kind: aPadding, def: padArg{mode: ir.Valid}}
	dilation1 = paramSpec{name: "dilation", kind: aPair, def: [2]int{1, 1}}
	lastAxis  = paramSpec{name: "axis", kind: aInt, def: -1}
	poolSpecs = []paramSpec{input, {name: "pool", kind: aPair, def: [2]int{2, 2}}, {name: "strides", kind: aPair, def: unset{}, doc: "pool"}, validPad}
	// count_include_pad is PyTorch's name; false is Keras's rule.
	avgPoolSpecs = append(slices.Clone(poolSpecs), paramSpec{name: "count_include_pad", kind: aBool, def: false})
	binarySpec   = []paramSpec{{name: "a", kind: aTensor}, {name: "b", kind: aTensor}}
)

// paddingDoc is what every sliding window's padding argument means.
const paddingDoc = "padding=same is TensorFlow's and Keras's rule: output ceil(input/stride), the odd cell of padding after (bottom, right), " +
	"which differs from PyTorch's symmetric padding on strided layers; explicit pads are written as PyTorch's: padding=1, [rows, cols] or [[top, bottom], [left, right]]"

var layerTable map[string]layer

func init() {
	layerTable = map[string]layer{
		"conv2d": {doc: "2-D convolution over NHWC images. " + paddingDoc,
			specs: []paramSpec{input, {name: "filters", kind: aInt}, {name: "kernel", kind: aPair}, strides1, validPad, dilation1,
				{name: "groups", kind: aInt, def: 1}, activ, useBias},
			build: buildConv},
		"depthwise_conv2d": {doc: "depthwise 2-D convolution: each input channel filtered on its own. " + paddingDoc,
			specs: []paramSpec{input, {name: "kernel", kind: aPair}, strides1, validPad, dilation1,
				{name: "multiplier", kind: aInt, def: 1}, activ, useBias},
			build: buildDepthwise},
		"conv1d": {doc: "1-D convolution over (N, width, channels), as Keras's Conv1D; " + causalDoc,
			specs: []paramSpec{input, {name: "filters", kind: aInt}, {name: "kernel", kind: aInt}, {name: "strides", kind: aInt, def: 1}, valid1D,
				{name: "dilation", kind: aInt, def: 1}, {name: "groups", kind: aInt, def: 1}, activ, useBias},
			build: buildConv1D},
		"maxpool1d": {doc: "max pooling over (N, width, channels) (strides default to the pool size); padded cells never win. " + causalDoc,
			specs: pool1DSpecs, build: buildPool1D(false)},
		"avgpool1d": {doc: "average pooling over (N, width, channels); padded cells are left out of the mean (Keras) unless count_include_pad=true (PyTorch's default). " + causalDoc,
			specs: append(slices.Clone(pool1DSpecs), paramSpec{name: "count_include_pad", kind: aBool, def: false}), build: buildPool1D(true)},
		"global_avgpool1d": {doc: "mean over the width: (N, W, C) -> (N, C)", specs: []paramSpec{input}, build: buildGlobalPool1D(false)},
		"global_maxpool1d": {doc: "max over the width, which must be known: (N, W, C) -> (N, C)", specs: []paramSpec{input}, build: buildGlobalPool1D(true)},
		"conv2d_transpose": {doc: "transposed 2-D convolution over NHWC images (Keras's Conv2DTranspose, PyTorch's ConvTranspose2d): output (in-1)·stride + (kernel-1)·dilation + 1 " +
			"- pads + output_padding; padding=same makes it in·stride (TensorFlow's); explicit pads crop the output as PyTorch's padding= does; output_padding (below the stride) adds rows and columns at the bottom and right",
			specs: []paramSpec{input, {name: "filters", kind: aInt}, {name: "kernel", kind: aPair}, strides1, validPad,
				{name: "output_padding", kind: aPair, def: [2]int{0, 0}}, dilation1, activ, useBias},
			build: buildConvTranspose},
		"separable_conv2d": {doc: "Keras's SeparableConv2D: a depthwise convolution (depth_multiplier filters per channel, no bias) then a 1x1 convolution to filters, one bias and the activation after both. " + paddingDoc,
			specs: []paramSpec{input, {name: "filters", kind: aInt}, {name: "kernel", kind: aPair}, strides1, validPad, dilation1,
				{name: "depth_multiplier", kind: aInt, def: 1}, activ, useBias},
			build: buildSeparable},
		"dense": {doc: "fully connected layer over the last axis",
			specs: []paramSpec{input, {name: "units", kind: aInt}, activ, useBias},
			build: buildDense},
		"maxpool2d": {doc: "max pooling (strides default to the pool size); padded cells never win. " + paddingDoc, specs: poolSpecs, build: buildPool(false)},
		"avgpool2d": {doc: "average pooling; padded cells are left out of the mean (Keras) unless count_include_pad=true (PyTorch's default). " + paddingDoc,
			specs: avgPoolSpecs, build: buildPool(true)},
		"pad": {doc: "adds cells around the height and width of (N, H, W, C): padding=1, [rows, cols] or [[top, bottom], [left, right]]; mode zero, constant (value=), reflect (mirrored without repeating the edge) or edge (repeated; PyTorch's replicate)",
			specs: []paramSpec{input, {name: "padding", kind: aPadding}, {name: "mode", kind: aString, def: "zero"}, {name: "value", kind: aFloat, def: 0.0}},
			build: buildPad},
		"resize": {doc: "resizes the height and width of (N, H, W, C) to size=[h, w], or by scale (output floor(input·scale)); mode nearest or bilinear; coordinates half_pixel " +
			"(TF2, PyTorch's align_corners=False), align_corners, or asymmetric (TF1, PyTorch's mode=nearest): see ir.Coordinates",
			specs: []paramSpec{input, {name: "size", kind: aPair, def: unset{}}, {name: "scale", kind: aFloat, def: unset{}},
				{name: "mode", kind: aString, def: "nearest"}, {name: "coordinates", kind: aString, def: "half_pixel"}},
			build: buildResize},
		"upsampling2d": {doc: "Keras's UpSampling2D: height and width times size; interpolation nearest (asymmetric coordinates, as PyTorch's nn.Upsample) or bilinear (half_pixel)",
			specs: []paramSpec{input, {name: "size", kind: aPair, def: [2]int{2, 2}}, {name: "interpolation", kind: aString, def: "nearest"}},
			build: buildUpsampling},
		"batchnorm": {doc: "batch normalisation over the last axis (inference)",
			specs: []paramSpec{input, {name: "epsilon", kind: aFloat, def: 0.001}}, build: buildBatchNorm},
		"positional": {doc: "adds a positional encoding to (N, T, d_model): sinusoidal (any T) or learned (a parameter per position, for up to max_len positions)",
			specs: []paramSpec{input, {name: "learned", kind: aBool, def: false}, {name: "max_len", kind: aInt, def: unset{}, doc: "T"}}, build: buildPositional},
		"embedding": {doc: "token ids (i32 or i64, any shape) to vectors: row id of a learned table (vocab, dim)",
			specs: []paramSpec{{name: "ids", kind: aTensor}, {name: "vocab", kind: aInt}, {name: "dim", kind: aInt}}, build: buildEmbedding},
		"padding_mask": {doc: "token ids (N, T) to an additive attention mask (N, 1, 1, T): -inf where the id is pad, else 0",
			specs: []paramSpec{{name: "ids", kind: aTensor}, {name: "pad", kind: aInt, def: 0}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return l.Node(ir.OpPaddingMask, &ir.PaddingMaskAttrs{Pad: a.int("pad")}, a.tensor("ids"))
			}},
		"to_float": {doc: "integers (i32 or i64: class ids, indices, an ONNX model's integer inputs) as f32 numbers, exact up to 2^24, for arithmetic and comparisons",
			specs: []paramSpec{{name: "ids", kind: aTensor}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) { return l.Node(ir.OpToFloat, nil, a.tensor("ids")) }},
		"layernorm": {doc: "layer normalisation over the last axis, with learned scale gamma and offset beta",
			specs: []paramSpec{input, {name: "epsilon", kind: aFloat, def: 0.001}}, build: buildLayerNorm},
		"rmsnorm": {doc: "RMS normalisation over the last axis, with learned scale gamma",
			specs: []paramSpec{input, {name: "epsilon", kind: aFloat, def: 1e-6}}, build: buildRMSNorm},
		"attention": {doc: "scaled dot-product attention softmax(q·kᵀ·scale + mask)·v over the last two axes",
			specs: []paramSpec{{name: "q", kind: aTensor}, {name: "k", kind: aTensor}, {name: "v", kind: aTensor}, maskSpec, causalSpec,
				{name: "scale", kind: aFloat, def: unset{}, doc: "1/sqrt(d_k)"}},
			build: buildAttention},
		"multihead_attention": {doc: "multi-head attention of x over kv (default x): q, k, v (or, packed, one qkv) and output projections",
			specs: []paramSpec{input, {name: "heads", kind: aInt}, {name: "kv", kind: aTensor, def: unset{}, doc: "x"}, maskSpec, causalSpec, useBias,
				{name: "packed", kind: aBool, def: false}},
			build: buildMultiHead},
		"simple_rnn": {doc: "fully connected recurrent layer over (N, T, features): h = act(x·W + b + h·U + bu)",
			specs: recurrentSpecs(ir.CellRNN), build: buildRecurrent(ir.CellRNN)},
		"lstm": {doc: "long short-term memory over (N, T, features), gates i, f, g, o as PyTorch",
			specs: recurrentSpecs(ir.CellLSTM), build: buildRecurrent(ir.CellLSTM)},
		"gru": {doc: "gated recurrent unit over (N, T, features), gates r, z, n as PyTorch (reset after h·U)",
			specs: recurrentSpecs(ir.CellGRU), build: buildRecurrent(ir.CellGRU)},
		"dropout": {doc: "dropout; the identity at inference",
			specs: []paramSpec{input, {name: "rate", kind: aFloat}}, build: buildDropout},
		"flatten": {doc: "(N, ...) -> (N, features)", specs: []paramSpec{input}, build: simple(ir.OpFlatten, nil)},
		"reshape": {doc: "reshape all but the batch axis (every axis with keep_batch=false); one -1 is inferred, and 0 keeps the input's size on that axis (ONNX's rule, for sizes known only at run time)",
			specs: []paramSpec{input, {name: "shape", kind: aInts}, {name: "keep_batch", kind: aBool, def: true}}, build: buildReshape},
		"variable": {doc: "a parameter of the given shape taken as a value, with no input (NNEF's variable): an imported model's constants, or a free learned tensor",
			specs: []paramSpec{{name: "shape", kind: aInts}}, build: buildVariable},
		"transpose": {doc: "permute axes: output axis i is input axis perm[i]",
			specs: []paramSpec{input, {name: "perm", kind: aInts}}, build: buildTranspose},
		"slice": {doc: "positions start..end-1 of an axis (negative positions count from its end)",
			specs: []paramSpec{input, {name: "start", kind: aInt}, {name: "end", kind: aInt}, lastAxis}, build: buildSlice},
		"split": {doc: "cuts an axis into parts of equal size, or of the given sizes: a, b = split(x, 2)",
			specs:   []paramSpec{input, {name: "parts", kind: aInt, def: unset{}, doc: "len(sizes)"}, {name: "sizes", kind: aInts, def: unset{}}, lastAxis},
			results: buildSplit},
		"concat": {doc: "join tensors along an axis",
			specs: []paramSpec{{name: "xs", kind: aTensors}, lastAxis}, build: buildConcat},
		"add": {doc: "a + b with broadcasting", specs: binarySpec, build: binary(ir.OpAdd)},
		"sub": {doc: "a - b with broadcasting", specs: binarySpec, build: binary(ir.OpSub)},
		"mul": {doc: "a * b with broadcasting", specs: binarySpec, build: binary(ir.OpMul)},
		"div": {doc: "a / b with broadcasting", specs: binarySpec, build: binary(ir.OpDiv)},
		"matmul": {doc: "batched matrix product",
			specs: []paramSpec{{name: "a", kind: aTensor}, {name: "b", kind: aTensor},
				{name: "transpose_a", kind: aBool, def: false}, {name: "transpose_b", kind: aBool, def: false}},
			build: buildMatMul},
		"relu":    {doc: "max(x, 0)", specs: []paramSpec{input}, build: simple(ir.OpRelu, nil)},
		"sigmoid": {doc: "1/(1+exp(-x))", specs: []paramSpec{input}, build: simple(ir.OpSigmoid, nil)},
		"tanh":    {doc: "hyperbolic tangent", specs: []paramSpec{input}, build: simple(ir.OpTanh, nil)},
		"leaky_relu": {doc: "x if x >= 0 else alpha*x",
			specs: []paramSpec{input, {name: "alpha", kind: aFloat, def: 0.3}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return l.Node(ir.OpLeakyRelu, &ir.LeakyReluAttrs{Alpha: float32(a.float("alpha"))}, a.tensor("x"))
			}},
		"gelu": {doc: "Gaussian error linear unit (erf, or tanh if approximate)",
			specs: []paramSpec{input, {name: "approximate", kind: aBool, def: false}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return l.Node(ir.OpGelu, &ir.GeluAttrs{Approximate: a.bool("approximate")}, a.tensor("x"))
			}},
		"relu6": {doc: "min(max(x, 0), 6)", specs: []paramSpec{input},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return l.Node(ir.OpClip, &ir.ClipAttrs{Min: 0, Max: 6}, a.tensor("x"))
			}},
		"clip": {doc: "min(max(x, min), max), NaN kept",
			specs: []paramSpec{input, {name: "min", kind: aFloat}, {name: "max", kind: aFloat}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return l.Node(ir.OpClip, &ir.ClipAttrs{Min: float32(a.float("min")), Max: float32(a.float("max"))}, a.tensor("x"))
			}},
		"elu": {doc: "x if x > 0 else alpha*(exp(x)-1)",
			specs: []paramSpec{input, {name: "alpha", kind: aFloat, def: 1.0}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return l.Node(ir.OpElu, &ir.EluAttrs{Alpha: float32(a.float("alpha"))}, a.tensor("x"))
			}},
		"selu":  {doc: "scale*elu(x, alpha) with SELU's alpha 1.6733 and scale 1.0507", specs: []paramSpec{input}, build: simple(ir.OpSelu, nil)},
		"silu":  {doc: "x*sigmoid(x)", specs: []paramSpec{input}, build: simple(ir.OpSilu, nil)},
		"swish": {doc: "x*sigmoid(x), silu's other name", specs: []paramSpec{input}, build: simple(ir.OpSilu, nil)},
		"hard_sigmoid": {doc: "clip(alpha*x + 0.5, 0, 1): alpha 1/6 is PyTorch's and Keras 3's relu6(x+3)/6, alpha=0.2 Keras 2's and ONNX's",
			specs: []paramSpec{input, {name: "alpha", kind: aFloat, def: 1.0 / 6}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return l.Node(ir.OpHardSigmoid, &ir.HardSigmoidAttrs{Alpha: float32(a.float("alpha"))}, a.tensor("x"))
			}},
		"hard_swish": {doc: "x*relu6(x+3)/6", specs: []paramSpec{input}, build: simple(ir.OpHardSwish, nil)},
		"mish":       {doc: "x*tanh(softplus(x))", specs: []paramSpec{input}, build: simple(ir.OpMish, nil)},
		"softplus":   {doc: "log(1+exp(x))", specs: []paramSpec{input}, build: simple(ir.OpSoftplus, nil)},
		"softsign":   {doc: "x/(1+|x|)", specs: []paramSpec{input}, build: simple(ir.OpSoftsign, nil)},
		"exp":        {doc: "e^x", specs: []paramSpec{input}, build: simple(ir.OpExp, nil)},
		"log":        {doc: "natural logarithm (NaN below 0, -inf at 0)", specs: []paramSpec{input}, build: simple(ir.OpLog, nil)},
		"sqrt":       {doc: "square root (NaN below 0)", specs: []paramSpec{input}, build: simple(ir.OpSqrt, nil)},
		"rsqrt":      {doc: "1/sqrt(x)", specs: []paramSpec{input}, build: simple(ir.OpRsqrt, nil)},
		"abs":        {doc: "|x|", specs: []paramSpec{input}, build: simple(ir.OpAbs, nil)},
		"neg":        {doc: "-x", specs: []paramSpec{input}, build: simple(ir.OpNeg, nil)},
		"erf":        {doc: "the error function", specs: []paramSpec{input}, build: simple(ir.OpErf, nil)},
		"pow": {doc: "x^exponent for a number exponent (NaN for x < 0 unless the exponent is an integer)",
			specs: []paramSpec{input, {name: "exponent", kind: aFloat}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return l.Node(ir.OpPow, &ir.PowAttrs{Exponent: float32(a.float("exponent"))}, a.tensor("x"))
			}},
		"minimum": {doc: "elementwise min(a, b) with broadcasting (NaN if either is)", specs: binarySpec, build: binary(ir.OpMinimum)},
		"maximum": {doc: "elementwise max(a, b) with broadcasting (NaN if either is)", specs: binarySpec, build: binary(ir.OpMaximum)},
		"min":     {doc: "minimum's short name", specs: binarySpec, build: binary(ir.OpMinimum)},
		"max":     {doc: "maximum's short name", specs: binarySpec, build: binary(ir.OpMaximum)},
		"activation": {doc: "apply an activation given by name, e.g. activation(relu)",
			specs: []paramSpec{input, {name: "fn", kind: aActivation}},
			build: func(l *nn.Layer, a *bound) (*ir.Value, error) {
				return nn.Activate(l, a.tensor("x"), a.activation("fn"))
			}},
		"softmax":     {doc: "softmax along an axis", specs: []paramSpec{input, lastAxis}, build: axisOp(ir.OpSoftmax)},
		"log_softmax": {doc: "log of softmax along an axis", specs: []paramSpec{input, lastAxis}, build: axisOp(ir.OpLogSoftmax)},
	}
}

// Layers lists the built-in layers, sorted by name, for `mdlc layers`.
func Layers() []LayerDoc {
	var out []LayerDoc
	for _, n := range slices.Sorted(maps.Keys(layerTable)) {
		out = append(out, LayerDoc{Signature: signature(n, layerTable[n].specs), Doc: layerTable[n].doc, Params: paramLines(n)})
	}
	return out
}

// applyLayer binds arguments, builds the layer and records it. On a shape
// error what it added is removed again.
func (e *elab) applyLayer(lt layer, c *syntax.Call, piped *value, args []value, kws []*syntax.Ident) []value {
	kind := c.QualifiedName()
	a, ok := e.bindArgs(kind, lt.specs, piped, c, args, kws)
	if !ok || !e.checkPositive(a, kind, "filters", "units", "kernel", "strides", "dilation", "groups", "multiplier", "depth_multiplier", "pool", "vocab", "dim", "max_len", "parts", "sizes", "heads", "size") {
		return []value{poison()}
	}
	l := nn.NewLayer(e.g, e.instanceName(kind, c), ir.Pos{File: c.Pos.Filename, Line: c.Pos.Line, Col: c.Pos.Column})
	err := floatArgs(kind, lt.specs, a)
	var outs []*ir.Value
	switch {
	case err != nil:
	case lt.results != nil:
		outs, err = lt.results(l, a)
	default:
		var out *ir.Value
		out, err = lt.build(l, a)
		outs = []*ir.Value{out}
	}
	if err != nil {
		l.Discard()
		var te *ir.TypeError
		help := ""
		if errors.As(err, &te) {
			help = te.Help
		}
		e.errorf(c.Pos, c.EndPos, help, "%s", err)
		return []value{poison()}
	}
	e.noteSamePadding(l, c)
	var flops int64
	for _, n := range l.Nodes() {
		flops += n.Flops()
	}
	e.layers = append(e.layers, Layer{Name: l.Name, Kind: kind, Output: outs[0], Params: l.Params, Flops: flops, Pos: l.Pos})
	vals := make([]value, len(outs))
	for i, out := range outs {
		vals[i] = value{kind: kTensor, t: out, start: c.Pos, end: c.EndPos}
	}
	return vals
}

// floatArgs checks that token ids reach a layer only through its `ids`
// argument: layers look at their inputs' shapes before making any node, so
// the check comes first.
func floatArgs(kind string, specs []paramSpec, a *bound) error {
	for _, s := range specs {
		if s.name == "ids" {
			continue
		}
		var ts []*ir.Value
		switch v := a.vals[s.name].(type) {
		case *ir.Value:
			ts = []*ir.Value{v}
		case []*ir.Value:
			ts = v
		}
		for _, t := range ts {
			if err := ir.FloatOperand(kind, t.Type); err != nil {
				return err
			}
		}
	}
	return nil
}

func simple(op ir.Op, attrs func() ir.Attrs) func(*nn.Layer, *bound) (*ir.Value, error) {
	return func(l *nn.Layer, a *bound) (*ir.Value, error) {
		var at ir.Attrs
		if attrs != nil {
			at = attrs()
		}
		return l.Node(op, at, a.tensor("x"))
	}
}

func binary(op ir.Op) func(*nn.Layer, *bound) (*ir.Value, error) {
	return func(l *nn.Layer, a *bound) (*ir.Value, error) { return l.Node(op, nil, a.tensor("a"), a.tensor("b")) }
}

func axisOp(op ir.Op) func(*nn.Layer, *bound) (*ir.Value, error) {
	return func(l *nn.Layer, a *bound) (*ir.Value, error) {
		x := a.tensor("x")
		axis, err := nn.Axis(a.int("axis"), x.Type.Shape.Rank())
		if err != nil {
			return nil, err
		}
		return l.Node(op, &ir.AxisAttrs{Axis: axis}, x)
	}
}

func buildConv(l *nn.Layer, a *bound) (*ir.Value, error) {
	pad := a.padding("padding")
	return nn.Conv{Filters: a.int("filters"), Kernel: a.pair("kernel"), Strides: a.pair("strides"), Padding: pad.mode, Pads: pad.pads,
		Dilation: a.pair("dilation"), Groups: a.int("groups"), Activation: a.activation("activation"), UseBias: a.bool("use_bias")}.Apply(l, a.tensor("x"))
}

func buildConvTranspose(l *nn.Layer, a *bound) (*ir.Value, error) {
	pad := a.padding("padding")
	return nn.ConvTranspose{Filters: a.int("filters"), Kernel: a.pair("kernel"), Strides: a.pair("strides"), Padding: pad.mode, Pads: pad.pads,
		OutputPadding: a.pair("output_padding"), Dilation: a.pair("dilation"), Activation: a.activation("activation"), UseBias: a.bool("use_bias")}.Apply(l, a.tensor("x"))
}

func buildSeparable(l *nn.Layer, a *bound) (*ir.Value, error) {
	pad := a.padding("padding")
	return nn.Separable{Filters: a.int("filters"), Kernel: a.pair("kernel"), Strides: a.pair("strides"), Padding: pad.mode, Pads: pad.pads, Dilation: a.pair("dilation"),
		Multiplier: a.int("depth_multiplier"), Activation: a.activation("activation"), UseBias: a.bool("use_bias")}.Apply(l, a.tensor("x"))
}

func buildDepthwise(l *nn.Layer, a *bound) (*ir.Value, error) {
	pad := a.padding("padding")
	return nn.Depthwise{Kernel: a.pair("kernel"), Strides: a.pair("strides"), Padding: pad.mode, Pads: pad.pads, Dilation: a.pair("dilation"),
		Multiplier: a.int("multiplier"), Activation: a.activation("activation"), UseBias: a.bool("use_bias")}.Apply(l, a.tensor("x"))
}

func buildDense(l *nn.Layer, a *bound) (*ir.Value, error) {
	return nn.Dense{Units: a.int("units"), Activation: a.activation("activation"), UseBias: a.bool("use_bias")}.Apply(l, a.tensor("x"))
}

// buildPool leaves strides unset (zero) for nn to default to the pool size.
func buildPool(average bool) func(*nn.Layer, *bound) (*ir.Value, error) {
	return func(l *nn.Layer, a *bound) (*ir.Value, error) {
		pad := a.padding("padding")
		p := nn.Pool{Average: average, Size: a.pair("pool"), Padding: pad.mode, Pads: pad.pads}
		if average {
			p.CountPad = a.bool("count_include_pad")
		}
		if a.has("strides") {
			p.Strides = a.pair("strides")
		}
		return p.Apply(l, a.tensor("x"))
	}
}

func buildBatchNorm(l *nn.Layer, a *bound) (*ir.Value, error) {
	return nn.BatchNorm{Epsilon: a.float("epsilon")}.Apply(l, a.tensor("x"))
}

func buildPositional(l *nn.Layer, a *bound) (*ir.Value, error) {
	p := nn.Positional{Learned: a.bool("learned")}
	if a.has("max_len") {
		p.MaxLen = a.int("max_len")
	}
	return p.Apply(l, a.tensor("x"))
}

func buildEmbedding(l *nn.Layer, a *bound) (*ir.Value, error) {
	return nn.Embedding{Vocab: a.int("vocab"), Dim: a.int("dim")}.Apply(l, a.tensor("ids"))
}

func buildLayerNorm(l *nn.Layer, a *bound) (*ir.Value, error) {
	return nn.LayerNorm{Epsilon: a.float("epsilon")}.Apply(l, a.tensor("x"))
}

func buildRMSNorm(l *nn.Layer, a *bound) (*ir.Value, error) {
	return nn.RMSNorm{Epsilon: a.float("epsilon")}.Apply(l, a.tensor("x"))
}

func buildDropout(l *nn.Layer, a *bound) (*ir.Value, error) {
	return nn.Dropout{Rate: a.float("rate")}.Apply(l, a.tensor("x"))
}

func buildSlice(l *nn.Layer, a *bound) (*ir.Value, error) {
	return nn.Slice{Axis: a.int("axis"), Start: a.int("start"), End: a.int("end")}.Apply(l, a.tensor("x"))
}

func buildSplit(l *nn.Layer, a *bound) ([]*ir.Value, error) {
	s := nn.Split{Axis: a.int("axis")}
	if a.has("parts") {
		s.Parts = a.int("parts")
	}
	if a.has("sizes") {
		s.Sizes = a.ints("sizes")
	}
	return s.Apply(l, a.tensor("x"))
}

func buildReshape(l *nn.Layer, a *bound) (*ir.Value, error) {
	return nn.Reshape{Shape: a.ints("shape"), Whole: !a.bool("keep_batch")}.Apply(l, a.tensor("x"))
}

func buildVariable(l *nn.Layer, a *bound) (*ir.Value, error) {
	var shape ir.Shape
	for _, d := range a.ints("shape") {
		if d < 1 {
			return nil, &ir.TypeError{Msg: "variable: dimension " + strconv.Itoa(d) + " is not a size", Help: "sizes are positive"}
		}
		shape = append(shape, ir.D(d))
	}
	return l.Param("value", ir.Type{DType: ir.F32, Shape: shape}, ir.Init{Kind: ir.InitZeros}), nil
}

func buildTranspose(l *nn.Layer, a *bound) (*ir.Value, error) {
	return l.Node(ir.OpTranspose, &ir.TransposeAttrs{Perm: a.ints("perm")}, a.tensor("x"))
}

func buildConcat(l *nn.Layer, a *bound) (*ir.Value, error) {
	return nn.Concat{Axis: a.int("axis")}.Apply(l, a.tensors("xs")...)
}

func buildMatMul(l *nn.Layer, a *bound) (*ir.Value, error) {
	return l.Node(ir.OpMatMul, &ir.MatMulAttrs{TransA: a.bool("transpose_a"), TransB: a.bool("transpose_b")}, a.tensor("a"), a.tensor("b"))
}

func buildResize(l *nn.Layer, a *bound) (*ir.Value, error) {
	mode, ok := ir.ParseResizeMode(a.str("mode"))
	if !ok {
		return nil, &ir.TypeError{Msg: "resize: unknown mode `" + a.str("mode") + "`", Help: "modes are nearest and bilinear"}
	}
	coords, ok := ir.ParseCoordinates(a.str("coordinates"))
	if !ok {
		return nil, &ir.TypeError{Msg: "resize: unknown coordinates `" + a.str("coordinates") + "`", Help: "coordinates are " + ir.CoordinatesNames()}
	}
	r := nn.Resize{Mode: mode, Coordinates: coords}
	if a.has("size") {
		r.Size = a.pair("size")
	}
	if a.has("scale") {
		r.Scale = [2]float64{a.float("scale"), a.float("scale")}
	}
	return r.Apply(l, a.tensor("x"))
}

func buildUpsampling(l *nn.Layer, a *bound) (*ir.Value, error) {
	interp := a.str("interpolation")
	if interp != "nearest" && interp != "bilinear" {
		return nil, &ir.TypeError{Msg: "upsampling2d: unknown interpolation `" + interp + "`", Help: "interpolations are nearest and bilinear"}
	}
	return nn.Upsampling{Size: a.pair("size"), Bilinear: interp == "bilinear"}.Apply(l, a.tensor("x"))
}
