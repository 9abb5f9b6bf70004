package sema

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/syntax"
)

// layer is a built-in layer: its argument specs and how it lowers to IR. The
// language's layer names become ir.Ops here and nowhere else.
type layer struct {
	doc   string
	specs []paramSpec
	build func(b *builder, a *bound) (*ir.Value, error)
	// results builds a layer of several results instead (split).
	results func(b *builder, a *bound) ([]*ir.Value, error)
}

var (
	input      = paramSpec{name: "x", kind: aTensor}
	activ      = paramSpec{name: "activation", kind: aActivation, def: activations[0]}
	useBias    = paramSpec{name: "use_bias", kind: aBool, def: true}
	strides1   = paramSpec{name: "strides", kind: aPair, def: [2]int{1, 1}}
	validPad   = paramSpec{name: "padding", kind: aPadding, def: ir.Valid}
	dilation1  = paramSpec{name: "dilation", kind: aPair, def: [2]int{1, 1}}
	lastAxis   = paramSpec{name: "axis", kind: aInt, def: -1}
	poolSpecs  = []paramSpec{input, {name: "pool", kind: aPair, def: [2]int{2, 2}}, {name: "strides", kind: aPair, def: unset{}, doc: "pool"}, validPad}
	binarySpec = []paramSpec{{name: "a", kind: aTensor}, {name: "b", kind: aTensor}}
)

var layerTable map[string]layer

func init() {
	layerTable = map[string]layer{
		"conv2d": {doc: "2-D convolution over NHWC images (kernel HWIO)",
			specs: []paramSpec{input, {name: "filters", kind: aInt}, {name: "kernel", kind: aPair}, strides1, validPad, dilation1,
				{name: "groups", kind: aInt, def: 1}, activ, useBias},
			build: buildConv},
		"depthwise_conv2d": {doc: "depthwise 2-D convolution: each input channel filtered on its own",
			specs: []paramSpec{input, {name: "kernel", kind: aPair}, strides1, validPad, dilation1,
				{name: "multiplier", kind: aInt, def: 1}, activ, useBias},
			build: buildDepthwise},
		"dense": {doc: "fully connected layer over the last axis",
			specs: []paramSpec{input, {name: "units", kind: aInt}, activ, useBias},
			build: buildDense},
		"maxpool2d":        {doc: "max pooling (strides default to the pool size)", specs: poolSpecs, build: buildPool(ir.OpMaxPool2D)},
		"avgpool2d":        {doc: "average pooling, padding excluded from the mean", specs: poolSpecs, build: buildPool(ir.OpAvgPool2D)},
		"global_avgpool2d": {doc: "mean over height and width: (N,H,W,C) -> (N,C)", specs: []paramSpec{input}, build: simple(ir.OpGlobalAvgPool2D, nil)},
		"batchnorm": {doc: "batch normalisation over the last axis (inference)",
			specs: []paramSpec{input, {name: "epsilon", kind: aFloat, def: 0.001}}, build: buildBatchNorm},
		"positional": {doc: "adds a positional encoding to (N, T, d_model): sinusoidal (any T) or learned (a parameter per position, for up to max_len positions)",
			specs: []paramSpec{input, {name: "learned", kind: aBool, def: false}, {name: "max_len", kind: aInt, def: unset{}, doc: "T"}}, build: buildPositional},
		"embedding": {doc: "token ids (i32 or i64, any shape) to vectors: row id of a learned table (vocab, dim)",
			specs: []paramSpec{{name: "ids", kind: aTensor}, {name: "vocab", kind: aInt}, {name: "dim", kind: aInt}}, build: buildEmbedding},
		"padding_mask": {doc: "token ids (N, T) to an additive attention mask (N, 1, 1, T): -inf where the id is pad, else 0",
			specs: []paramSpec{{name: "ids", kind: aTensor}, {name: "pad", kind: aInt, def: 0}},
			build: func(b *builder, a *bound) (*ir.Value, error) {
				return b.node(ir.OpPaddingMask, &ir.PaddingMaskAttrs{Pad: a.int("pad")}, a.tensor("ids"))
			}},
		"layernorm": {doc: "layer normalisation over the last axis, with learned scale gamma and offset beta",
			specs: []paramSpec{input, {name: "epsilon", kind: aFloat, def: 0.001}}, build: buildNorm(ir.OpLayerNorm)},
		"rmsnorm": {doc: "RMS normalisation over the last axis, with learned scale gamma",
			specs: []paramSpec{input, {name: "epsilon", kind: aFloat, def: 1e-6}}, build: buildNorm(ir.OpRMSNorm)},
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
		"reshape": {doc: "reshape all but the batch axis; one -1 is inferred",
			specs: []paramSpec{input, {name: "shape", kind: aInts}}, build: buildReshape},
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
			build: func(b *builder, a *bound) (*ir.Value, error) {
				return b.node(ir.OpLeakyRelu, &ir.LeakyReluAttrs{Alpha: float32(a.float("alpha"))}, a.tensor("x"))
			}},
		"gelu": {doc: "Gaussian error linear unit (erf, or tanh if approximate)",
			specs: []paramSpec{input, {name: "approximate", kind: aBool, def: false}},
			build: func(b *builder, a *bound) (*ir.Value, error) {
				return b.node(ir.OpGelu, &ir.GeluAttrs{Approximate: a.bool("approximate")}, a.tensor("x"))
			}},
		"activation": {doc: "apply an activation given by name, e.g. activation(relu)",
			specs: []paramSpec{input, {name: "fn", kind: aActivation}},
			build: func(b *builder, a *bound) (*ir.Value, error) { return b.activate(a.tensor("x"), a.activation("fn")) }},
		"softmax":     {doc: "softmax along an axis", specs: []paramSpec{input, lastAxis}, build: axisOp(ir.OpSoftmax)},
		"log_softmax": {doc: "log of softmax along an axis", specs: []paramSpec{input, lastAxis}, build: axisOp(ir.OpLogSoftmax)},
	}
}

// Layers lists the built-in layers with their signatures, for `mdlc layers`.
func Layers() [][2]string {
	var out [][2]string
	for _, n := range slices.Sorted(maps.Keys(layerTable)) {
		out = append(out, [2]string{signature(n, layerTable[n].specs), layerTable[n].doc})
	}
	return out
}

// builder adds one layer instance's parameters and nodes to the graph.
type builder struct {
	e      *elab
	name   string
	pos    ir.Pos
	params int64
}

func (b *builder) param(suffix string, t ir.Type, init ir.Init) *ir.Value {
	return b.paramOf(suffix, t, init, true)
}

func (b *builder) paramOf(suffix string, t ir.Type, init ir.Init, trainable bool) *ir.Value {
	p := b.e.g.AddParam(ir.Qualified(b.name, suffix), t, init, trainable)
	n, _ := t.Shape.KnownProduct(0)
	b.params += int64(n)
	return p
}

func (b *builder) node(op ir.Op, attrs ir.Attrs, inputs ...*ir.Value) (*ir.Value, error) {
	return b.e.g.AddNode(op, attrs, inputs, b.name, b.pos)
}

// activate applies a layer's activation= argument.
func (b *builder) activate(v *ir.Value, act activation) (*ir.Value, error) {
	if act.op == ir.OpInvalid {
		return v, nil
	}
	var attrs ir.Attrs
	if act.attrs != nil {
		attrs = act.attrs()
		if ax, ok := attrs.(*ir.AxisAttrs); ok {
			ax.Axis = v.Type.Shape.Rank() - 1
		}
	}
	return b.node(act.op, attrs, v)
}

// applyLayer binds arguments, builds the layer and records it. On a shape
// error the parameters it added are removed again.
func (e *elab) applyLayer(l layer, c *syntax.Call, piped *value, args []value, kws []*syntax.Ident) []value {
	kind := c.QualifiedName()
	a, ok := e.bindArgs(kind, l.specs, piped, c, args, kws)
	if !ok || !e.checkPositive(a, kind, "filters", "units", "kernel", "strides", "dilation", "groups", "multiplier", "pool", "vocab", "dim", "max_len", "parts", "sizes") {
		return []value{poison()}
	}
	nParams, nNodes := len(e.g.Params), len(e.g.Nodes)
	b := &builder{e: e, name: e.instanceName(kind, c), pos: ir.Pos{File: c.Pos.Filename, Line: c.Pos.Line, Col: c.Pos.Column}}
	err := floatArgs(kind, l.specs, a)
	var outs []*ir.Value
	switch {
	case err != nil:
	case l.results != nil:
		outs, err = l.results(b, a)
	default:
		var out *ir.Value
		out, err = l.build(b, a)
		outs = []*ir.Value{out}
	}
	if err != nil {
		e.g.Params, e.g.Nodes = e.g.Params[:nParams], e.g.Nodes[:nNodes]
		var te *ir.TypeError
		help := ""
		if errors.As(err, &te) {
			help = te.Help
		}
		e.errorf(c.Pos, c.EndPos, help, "%s", err)
		return []value{poison()}
	}
	var flops int64
	for _, n := range e.g.Nodes[nNodes:] {
		flops += n.Flops()
	}
	e.layers = append(e.layers, Layer{Name: b.name, Kind: kind, Output: outs[0], Params: b.params, Flops: flops, Pos: b.pos})
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

func simple(op ir.Op, attrs func() ir.Attrs) func(*builder, *bound) (*ir.Value, error) {
	return func(b *builder, a *bound) (*ir.Value, error) {
		var at ir.Attrs
		if attrs != nil {
			at = attrs()
		}
		return b.node(op, at, a.tensor("x"))
	}
}

func binary(op ir.Op) func(*builder, *bound) (*ir.Value, error) {
	return func(b *builder, a *bound) (*ir.Value, error) { return b.node(op, nil, a.tensor("a"), a.tensor("b")) }
}

// normAxis maps a NumPy-style axis (negative counts from the end) to 0..rank-1.
func normAxis(axis, rank int) (int, error) {
	if axis < -rank || axis >= rank {
		return 0, &ir.TypeError{Msg: "axis " + itoa(axis) + " is out of range for rank " + itoa(rank),
			Help: "axes run from " + itoa(-rank) + " to " + itoa(rank-1)}
	}
	if axis < 0 {
		axis += rank
	}
	return axis, nil
}

func axisOp(op ir.Op) func(*builder, *bound) (*ir.Value, error) {
	return func(b *builder, a *bound) (*ir.Value, error) {
		x := a.tensor("x")
		axis, err := normAxis(a.int("axis"), x.Type.Shape.Rank())
		if err != nil {
			return nil, err
		}
		return b.node(op, &ir.AxisAttrs{Axis: axis}, x)
	}
}

func needImage(layer string, x *ir.Value) error {
	if x.Type.Shape.Rank() == 4 && x.Type.Shape[3].Known() {
		return nil
	}
	help := ""
	if x.Type.Shape.Rank() == 2 {
		help = "reshape it into an image first, e.g. `reshape([28, 28, 1])`"
	}
	return &ir.TypeError{Msg: layer + " expects (N, height, width, channels), got " + x.Type.String(), Help: help}
}

func window(a *bound, size [2]int) ir.Window2D {
	return ir.Window2D{Size: size, Stride: a.pair("strides"), Dilation: a.pair("dilation"), Padding: a.padding("padding")}
}

func (b *builder) conv(a *bound, x *ir.Value, filters, groups int, kernel [2]int) (*ir.Value, error) {
	if err := needImage("conv2d", x); err != nil {
		return nil, err
	}
	cin := x.Type.Shape[3].Size
	if cin%groups != 0 || filters%groups != 0 {
		return nil, &ir.TypeError{Msg: "conv2d: groups=" + itoa(groups) + " must divide the input channels (" + itoa(cin) + ") and filters (" + itoa(filters) + ")",
			Help: "choose groups among the common divisors"}
	}
	w := window(a, [2]int{})
	receptive := kernel[0] * kernel[1]
	k := b.param("kernel", ir.T(kernel[0], kernel[1], cin/groups, filters),
		ir.Init{Kind: ir.InitGlorotUniform, FanIn: receptive * cin / groups, FanOut: receptive * filters})
	ins := []*ir.Value{x, k}
	if a.bool("use_bias") {
		ins = append(ins, b.param("bias", ir.T(filters), ir.Init{Kind: ir.InitZeros}))
	}
	y, err := b.node(ir.OpConv2D, &ir.ConvAttrs{Window2D: w, Groups: groups}, ins...)
	if err != nil {
		return nil, err
	}
	return b.activate(y, a.activation("activation"))
}

func buildConv(b *builder, a *bound) (*ir.Value, error) {
	return b.conv(a, a.tensor("x"), a.int("filters"), a.int("groups"), a.pair("kernel"))
}

func buildDepthwise(b *builder, a *bound) (*ir.Value, error) {
	x := a.tensor("x")
	if err := needImage("depthwise_conv2d", x); err != nil {
		return nil, err
	}
	cin := x.Type.Shape[3].Size
	return b.conv(a, x, cin*a.int("multiplier"), cin, a.pair("kernel"))
}

func buildDense(b *builder, a *bound) (*ir.Value, error) {
	x, units := a.tensor("x"), a.int("units")
	r := x.Type.Shape.Rank()
	if r < 2 || r > 3 || !x.Type.Shape[r-1].Known() {
		// Let the op's shape rule word the error.
		_, err := ir.OpDense.Info().Infer(nil, []ir.Type{x.Type, ir.T(1, units)})
		return nil, err
	}
	in := x.Type.Shape[r-1].Size
	k := b.param("kernel", ir.T(in, units), ir.Init{Kind: ir.InitGlorotUniform, FanIn: in, FanOut: units})
	ins := []*ir.Value{x, k}
	if a.bool("use_bias") {
		ins = append(ins, b.param("bias", ir.T(units), ir.Init{Kind: ir.InitZeros}))
	}
	y, err := b.node(ir.OpDense, nil, ins...)
	if err != nil {
		return nil, err
	}
	return b.activate(y, a.activation("activation"))
}

func buildPool(op ir.Op) func(*builder, *bound) (*ir.Value, error) {
	return func(b *builder, a *bound) (*ir.Value, error) {
		pool := a.pair("pool")
		stride := pool
		if a.has("strides") {
			stride = a.pair("strides")
		}
		w := ir.Window2D{Size: pool, Stride: stride, Dilation: [2]int{1, 1}, Padding: a.padding("padding")}
		return b.node(op, &ir.PoolAttrs{Window2D: w}, a.tensor("x"))
	}
}

func buildBatchNorm(b *builder, a *bound) (*ir.Value, error) {
	x := a.tensor("x")
	r := x.Type.Shape.Rank()
	if r < 2 || !x.Type.Shape[r-1].Known() {
		return nil, &ir.TypeError{Msg: "batchnorm expects at least (N, features) with known features, got " + x.Type.String()}
	}
	c := x.Type.Shape[r-1].Size
	gamma := b.param("gamma", ir.T(c), ir.Init{Kind: ir.InitOnes})
	beta := b.param("beta", ir.T(c), ir.Init{Kind: ir.InitZeros})
	mean := b.paramOf("moving_mean", ir.T(c), ir.Init{Kind: ir.InitZeros}, false)
	variance := b.paramOf("moving_variance", ir.T(c), ir.Init{Kind: ir.InitOnes}, false)
	eps := a.float("epsilon")
	if eps <= 0 {
		return nil, &ir.TypeError{Msg: "batchnorm: epsilon must be positive", Help: "Keras uses 0.001, PyTorch 1e-5"}
	}
	return b.node(ir.OpBatchNorm, &ir.BatchNormAttrs{Epsilon: float32(eps)}, x, gamma, beta, mean, variance)
}

// buildPositional: the sinusoidal encoding is an op (ir.Sinusoid, for any T);
// a learned one adds the first T rows of a parameter [max_len, d_model]
// (max_len defaults to a known T).
func buildPositional(b *builder, a *bound) (*ir.Value, error) {
	x := a.tensor("x")
	if !a.bool("learned") {
		if a.has("max_len") {
			return nil, &ir.TypeError{Msg: "positional: max_len is the size of a learned table", Help: "write positional(learned=true, max_len=...), or drop max_len: the sinusoidal encoding has no limit"}
		}
		return b.node(ir.OpPositional, nil, x)
	}
	s := x.Type.Shape
	if s.Rank() != 3 || !s[2].Known() {
		return nil, &ir.TypeError{Msg: "positional(learned=true) needs (N, T, d_model) with d_model known, got " + x.Type.String()}
	}
	rows := s[1].Size
	switch {
	case a.has("max_len"):
		rows = a.int("max_len")
	case !s[1].Known():
		return nil, &ir.TypeError{Msg: "positional(learned=true) on " + x.Type.String() + " needs the number of positions it learns",
			Help: "give max_len=... (sequences up to that length), a size for T, or use the sinusoidal encoding"}
	}
	// Small random values, as BERT and GPT-2 initialise theirs.
	p := b.param("positions", ir.T(rows, s[2].Size), ir.Init{Kind: ir.InitGlorotUniform, FanIn: rows, FanOut: s[2].Size})
	return b.node(ir.OpPositional, nil, x, p)
}

// buildEmbedding: the table is Keras's `embeddings`, initialised as Keras
// does, U(-0.05, 0.05).
func buildEmbedding(b *builder, a *bound) (*ir.Value, error) {
	table := b.param("embeddings", ir.T(a.int("vocab"), a.int("dim")), ir.Init{Kind: ir.InitUniform, Limit: 0.05})
	return b.node(ir.OpEmbedding, nil, a.tensor("ids"), table)
}

// buildNorm builds layernorm (gamma, beta; Keras's default epsilon) or
// rmsnorm (gamma).
func buildNorm(op ir.Op) func(*builder, *bound) (*ir.Value, error) {
	return func(b *builder, a *bound) (*ir.Value, error) {
		x := a.tensor("x")
		r := x.Type.Shape.Rank()
		name := op.String()
		if r < 1 || !x.Type.Shape[r-1].Known() {
			return nil, &ir.TypeError{Msg: name + " expects features on a last axis of known size, got " + x.Type.String(),
				Help: "its gamma has one value per feature: give the last axis a size, e.g. f32[N, T, 64]"}
		}
		eps := a.float("epsilon")
		if eps <= 0 {
			return nil, &ir.TypeError{Msg: name + ": epsilon must be positive", Help: "Keras uses 0.001, PyTorch 1e-5 (1e-6 for RMSNorm in most LLMs)"}
		}
		c := x.Type.Shape[r-1].Size
		in := []*ir.Value{x, b.param("gamma", ir.T(c), ir.Init{Kind: ir.InitOnes})}
		if op == ir.OpLayerNorm {
			in = append(in, b.param("beta", ir.T(c), ir.Init{Kind: ir.InitZeros}))
		}
		return b.node(op, &ir.NormAttrs{Epsilon: float32(eps)}, in...)
	}
}

func buildDropout(b *builder, a *bound) (*ir.Value, error) {
	rate := a.float("rate")
	if rate < 0 || rate >= 1 {
		return nil, &ir.TypeError{Msg: "dropout: rate must be in [0, 1), got " + ftoa(rate), Help: "rate is the fraction of units dropped in training"}
	}
	return b.node(ir.OpDropout, &ir.DropoutAttrs{Rate: float32(rate)}, a.tensor("x"))
}

func buildSlice(b *builder, a *bound) (*ir.Value, error) {
	x := a.tensor("x")
	axis, err := normAxis(a.int("axis"), x.Type.Shape.Rank())
	if err != nil {
		return nil, err
	}
	start, end := a.int("start"), a.int("end")
	if d := x.Type.Shape[axis]; d.Known() {
		if start < 0 {
			start += d.Size
		}
		if end < 0 {
			end += d.Size
		}
	}
	return b.node(ir.OpSlice, &ir.SliceAttrs{Axis: axis, Start: start, End: end}, x)
}

// buildSplit cuts an axis of known size into slices: parts of equal size,
// or the sizes given.
func buildSplit(b *builder, a *bound) ([]*ir.Value, error) {
	x := a.tensor("x")
	axis, err := normAxis(a.int("axis"), x.Type.Shape.Rank())
	if err != nil {
		return nil, err
	}
	d := x.Type.Shape[axis]
	if !d.Known() {
		return nil, &ir.TypeError{Msg: fmt.Sprintf("split: axis %d of %s has no known size", axis, x.Type)}
	}
	var sizes []int
	switch {
	case a.has("parts") == a.has("sizes"):
		return nil, &ir.TypeError{Msg: "split takes parts or sizes", Help: "split(x, 3) cuts into 3 equal parts, split(x, sizes=[2, 6]) into those sizes"}
	case a.has("sizes"):
		sizes = a.ints("sizes")
		if sum := sumInts(sizes); sum != d.Size {
			return nil, &ir.TypeError{Msg: fmt.Sprintf("split: sizes %v add up to %d, but axis %d of %s has %d", sizes, sum, axis, x.Type, d.Size)}
		}
	default:
		n := a.int("parts")
		if d.Size%n != 0 {
			return nil, &ir.TypeError{Msg: fmt.Sprintf("split: %d parts do not divide axis %d of %s (size %d)", n, axis, x.Type, d.Size),
				Help: "give sizes=[...] for parts of unequal size"}
		}
		for range n {
			sizes = append(sizes, d.Size/n)
		}
	}
	var outs []*ir.Value
	start := 0
	for _, n := range sizes {
		v, err := b.node(ir.OpSlice, &ir.SliceAttrs{Axis: axis, Start: start, End: start + n}, x)
		if err != nil {
			return nil, err
		}
		outs = append(outs, v)
		start += n
	}
	return outs, nil
}

func sumInts(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func buildReshape(b *builder, a *bound) (*ir.Value, error) {
	x, target := a.tensor("x"), a.ints("shape")
	if x.Type.Shape.Rank() < 1 {
		return nil, &ir.TypeError{Msg: "reshape needs a batch axis, got " + x.Type.String()}
	}
	total, ok := x.Type.Shape.KnownProduct(1)
	if !ok {
		return nil, &ir.TypeError{Msg: "reshape needs known sizes after the batch axis, got " + x.Type.String()}
	}
	shape := ir.Shape{x.Type.Shape[0]}
	infer, prod := -1, 1
	for i, d := range target {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 1:
			return nil, &ir.TypeError{Msg: "reshape: dimension " + itoa(d) + " is not a size", Help: "sizes are positive; one may be -1 to be inferred"}
		default:
			prod *= d
		}
		shape = append(shape, ir.D(d))
	}
	if infer >= 0 {
		if prod == 0 || total%prod != 0 {
			return nil, &ir.TypeError{Msg: "reshape: cannot infer -1 for " + x.Type.String() + " into " + ints(target)}
		}
		shape[infer+1] = ir.D(total / prod)
	}
	return b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: shape}, x)
}

func buildTranspose(b *builder, a *bound) (*ir.Value, error) {
	return b.node(ir.OpTranspose, &ir.TransposeAttrs{Perm: a.ints("perm")}, a.tensor("x"))
}

func buildConcat(b *builder, a *bound) (*ir.Value, error) {
	xs := a.tensors("xs")
	axis, err := normAxis(a.int("axis"), xs[0].Type.Shape.Rank())
	if err != nil {
		return nil, err
	}
	return b.node(ir.OpConcat, &ir.AxisAttrs{Axis: axis}, xs...)
}

func buildMatMul(b *builder, a *bound) (*ir.Value, error) {
	return b.node(ir.OpMatMul, &ir.MatMulAttrs{TransA: a.bool("transpose_a"), TransB: a.bool("transpose_b")}, a.tensor("a"), a.tensor("b"))
}
