package ir

import (
	"fmt"
	"reflect"
)

// Op is an IR operation. The language's layer names become Ops exactly once,
// when the checker lowers the AST; everything after that indexes tables by Op.
type Op uint16

const (
	OpInvalid Op = iota

	// Layers with weights.
	OpConv2D          // (x, kernel HWIO[, bias]) NHWC
	OpDense           // (x, kernel [in,out][, bias]) over the last axis
	OpBatchNorm       // (x, gamma, beta, mean, variance) over the last axis
	OpPositional      // x [N, T, d] plus the sinusoidal encoding of each position, or (x, table [L, d]) its first T rows
	OpEmbedding       // (ids, table [V, d]) row ids[i] of the table for every id
	OpLayerNorm       // (x, gamma, beta) over the last axis
	OpRMSNorm         // (x, gamma) over the last axis
	OpConv2DTranspose // (x, kernel [kh, kw, out, in][, bias]) NHWC; see ConvTransposeAttrs

	// Linear algebra.
	OpMatMul    // (a, b) batched over leading axes, NumPy broadcasting
	OpAttention // (q, k, v[, mask]) scaled dot-product attention over leading axes
	OpRecurrent // (xw, u, bu[, h0[, c0]]) a recurrent layer's loop over time; see RecurrentAttrs

	// Pooling, NHWC.
	OpMaxPool2D
	OpAvgPool2D
	OpGlobalAvgPool2D // [N,H,W,C] -> [N,C]

	// Binary elementwise with NumPy broadcasting.
	OpAdd
	OpSub
	OpMul
	OpDiv
	OpMinimum
	OpMaximum

	// Unary elementwise.
	OpRelu
	OpLeakyRelu
	OpSigmoid
	OpTanh
	OpGelu
	OpDropout     // identity at inference
	OpClip        // min(max(x, Min), Max); relu6 is clip{min=0 max=6}
	OpElu         // x > 0 ? x : alpha(e^x - 1)
	OpSelu        // scale·elu(x) with SELU's fixed alpha and scale
	OpSilu        // x·sigmoid(x), also called swish
	OpHardSigmoid // clip(alpha·x + 0.5, 0, 1)
	OpHardSwish   // x·relu6(x+3)/6
	OpMish        // x·tanh(softplus(x))
	OpSoftplus    // ln(1 + e^x)
	OpSoftsign    // x / (1 + |x|)
	OpExp
	OpLog
	OpSqrt
	OpRsqrt // 1/√x
	OpAbs
	OpNeg
	OpPow // x^exponent, a scalar exponent
	OpErf

	// Normalising reductions.
	OpSoftmax
	OpLogSoftmax

	// Data movement.
	OpFlatten // [N, ...] -> [N, prod(...)]
	OpReshape // to the output's type
	OpTranspose
	OpConcat
	OpSlice  // a range of one axis
	OpPad    // cells added before and after axes: a constant, reflected or repeated; see PadAttrs
	OpResize // height and width of NHWC resized, nearest or bilinear; see ResizeAttrs

	// Masks.
	OpPaddingMask // ids [N, T] -> [N, 1, 1, T]: -inf where the id is the pad id, else 0
	OpToFloat     // ids -> f32 of the same shape: each integer as a number (exact up to 2^24)

	// Reductions, selection, comparisons.
	OpReduceSum  // sum over Axes; see ReduceAttrs
	OpReduceMean // mean over Axes
	OpReduceMax  // max over Axes (NaN if any is)
	OpReduceMin  // min over Axes (NaN if any is)
	OpArgMax     // position of the first max along an axis, as f32; see ArgAttrs
	OpWhere      // (cond, a, b): a where cond != 0, else b, NumPy broadcasting
	OpGather     // (x, indices) slices of x along an axis at f32 integral indices; see GatherAttrs
	// Comparisons, NumPy broadcasting: 1 where a op b holds, else 0 (IEEE:
	// NaN compares unequal to everything, itself included).
	OpGreater
	OpGreaterEqual
	OpLess
	OpLessEqual
	OpEqual
	OpNotEqual
	OpFloor // the largest integer not above x

	// Fused ops, made by the optimizer; see fused.go.
	OpFusedConv2D // (x, kernel, epilogue operands...)
	OpFusedMatMul // (a, b, epilogue operands...)
	OpElementwise // (x, chain operands...)

	// Backward: gradients that package autodiff emits; see backward.go.
	OpSumTo            // x summed to a shape it broadcasts from: the gradient of broadcasting
	OpUnaryGrad        // (x, dy) dy·f'(x) for a unary elementwise f
	OpConv2DGradInput  // (dy, kernel) the gradient of conv2d's input
	OpConv2DGradFilter // (x, dy) the gradient of conv2d's kernel
	OpMaxPool2DGrad    // (x, dy) dy routed to each window's maximum
	OpAvgPool2DGrad    // dy spread evenly over each window
	OpEmbeddingGrad    // (ids, dy) dy's rows added into the rows of the table they came from
	OpGatherGrad       // (indices [B, I], dy [B, P, I, R]) dy's slices added back onto the cells of x [B, P, S, R] gather read
	OpRecurrentGrad    // (xw, u, bu[, h0[, c0]], dy) the gradient of recurrent's projected inputs (and initial states); see backward.go
	OpAttentionGrad    // (q, k, v[, mask], dy) attention's dq, dk and dv in one result; see backward.go

	// Losses, per example (the mean over a batch is sum_to and a scale).
	OpSoftmaxCrossEntropy       // (logits [..., C], labels [..., C]) -Σ labels·log_softmax(logits) over the last axis
	OpSparseSoftmaxCrossEntropy // (logits [..., C], ids [...]) -log_softmax(logits)[id]

	// Training forms of inference ops, made by autodiff.TrainingMode.
	OpBatchVariance // (x [..., C], mean [C]) -> [C]: Σ(x-mean)²/n over every axis but the last, n their size's product (biased)
	OpDropoutTrain  // (x, step []) x⊙mask/(1-Rate), the mask hashed from (Seed, step, index); see DropoutTrainAttrs

	OpLast
)

// OpInfo is everything the IR knows about an op. It is the single source of
// truth: the verifier, the printer and the checker read it, and other packages
// keep their own per-op tables indexed by Op.
type OpInfo struct {
	Name string
	// MinInputs..MaxInputs operands; MaxInputs < 0 means variadic.
	MinInputs, MaxInputs int
	// Attrs is a zero value of the op's attribute type, nil if it has none.
	Attrs Attrs
	// Elementwise ops map each output element from the same-index input
	// elements (after broadcasting).
	Elementwise bool
	// IntOperands is the mask of operands that take integers (i32 or i64),
	// bit i for operand i: today token ids, operand 0 of embedding and
	// padding_mask, which are model inputs; every other operand, and every
	// result, is f32 (checkDTypes). A mask rather than "operand 0 is ids" so
	// that ops with integer operands elsewhere (a training step's labels, a
	// gather's indices) need no new flag; plan and codegen read it through
	// IntOperand.
	IntOperands uint32
	// Infer computes the result type from operand types; it reports bad shapes as
	// *TypeError so the checker can show them with a source position.
	Infer func(a Attrs, in []Type) (Type, error)
	// Flops counts floating point operations per example (batch dims set to 1),
	// a multiply-add counted as two, overflow-checked (Node.Flops reads it).
	Flops func(n *Node) count
}

var opTable = [OpLast]OpInfo{
	OpInvalid:         {Name: "invalid"},
	OpConv2D:          {Name: "conv2d", MinInputs: 2, MaxInputs: 3, Attrs: &ConvAttrs{}, Infer: inferConv2D, Flops: flopsConv2D},
	OpDense:           {Name: "dense", MinInputs: 2, MaxInputs: 3, Infer: inferDense, Flops: flopsDense},
	OpAttention:       {Name: "attention", MinInputs: 3, MaxInputs: 4, Attrs: &AttentionAttrs{}, Infer: inferAttention, Flops: flopsAttention},
	OpRecurrent:       {Name: "recurrent", MinInputs: 3, MaxInputs: 5, Attrs: &RecurrentAttrs{}, Infer: inferRecurrent, Flops: flopsRecurrent},
	OpPositional:      {Name: "positional", MinInputs: 1, MaxInputs: 2, Infer: inferPositional, Flops: flopsPerOutput(1)},
	OpEmbedding:       {Name: "embedding", MinInputs: 2, MaxInputs: 2, IntOperands: 1 << 0, Infer: inferEmbedding, Flops: flopsPerOutput(0)},
	OpLayerNorm:       {Name: "layernorm", MinInputs: 3, MaxInputs: 3, Attrs: &NormAttrs{}, Infer: inferNorm("layernorm", "gamma", "beta"), Flops: flopsPerOutput(8)},
	OpRMSNorm:         {Name: "rmsnorm", MinInputs: 2, MaxInputs: 2, Attrs: &NormAttrs{}, Infer: inferNorm("rmsnorm", "gamma"), Flops: flopsPerOutput(5)},
	OpConv2DTranspose: {Name: "conv2d_transpose", MinInputs: 2, MaxInputs: 3, Attrs: &ConvTransposeAttrs{}, Infer: inferConvTranspose, Flops: flopsConvTranspose},
	OpBatchNorm:       {Name: "batchnorm", MinInputs: 5, MaxInputs: 5, Attrs: &BatchNormAttrs{}, Infer: inferBatchNorm, Flops: flopsPerOutput(2)},
	OpMatMul:          {Name: "matmul", MinInputs: 2, MaxInputs: 2, Attrs: &MatMulAttrs{}, Infer: inferMatMul, Flops: flopsMatMul},
	OpMaxPool2D:       {Name: "maxpool2d", MinInputs: 1, MaxInputs: 1, Attrs: &PoolAttrs{}, Infer: inferPool, Flops: flopsPool},
	OpAvgPool2D:       {Name: "avgpool2d", MinInputs: 1, MaxInputs: 1, Attrs: &PoolAttrs{}, Infer: inferPool, Flops: flopsPool},
	OpGlobalAvgPool2D: {Name: "global_avgpool2d", MinInputs: 1, MaxInputs: 1, Infer: inferGlobalPool, Flops: flopsPerInput(1)},
	OpAdd:             {Name: "add", MinInputs: 2, MaxInputs: 2, Elementwise: true, Infer: inferBroadcast, Flops: flopsPerOutput(1)},
	OpSub:             {Name: "sub", MinInputs: 2, MaxInputs: 2, Elementwise: true, Infer: inferBroadcast, Flops: flopsPerOutput(1)},
	OpMul:             {Name: "mul", MinInputs: 2, MaxInputs: 2, Elementwise: true, Infer: inferBroadcast, Flops: flopsPerOutput(1)},
	OpDiv:             {Name: "div", MinInputs: 2, MaxInputs: 2, Elementwise: true, Infer: inferBroadcast, Flops: flopsPerOutput(1)},
	OpMinimum:         {Name: "minimum", MinInputs: 2, MaxInputs: 2, Elementwise: true, Infer: inferBroadcast, Flops: flopsPerOutput(1)},
	OpMaximum:         {Name: "maximum", MinInputs: 2, MaxInputs: 2, Elementwise: true, Infer: inferBroadcast, Flops: flopsPerOutput(1)},
	OpRelu:            {Name: "relu", MinInputs: 1, MaxInputs: 1, Elementwise: true, Infer: inferSame, Flops: flopsPerOutput(1)},
	OpLeakyRelu:       {Name: "leaky_relu", MinInputs: 1, MaxInputs: 1, Attrs: &LeakyReluAttrs{}, Elementwise: true, Infer: inferSame, Flops: flopsPerOutput(2)},
	OpSigmoid:         {Name: "sigmoid", MinInputs: 1, MaxInputs: 1, Elementwise: true, Infer: inferSame, Flops: flopsPerOutput(4)},
	OpTanh:            {Name: "tanh", MinInputs: 1, MaxInputs: 1, Elementwise: true, Infer: inferSame, Flops: flopsPerOutput(4)},
	OpGelu:            {Name: "gelu", MinInputs: 1, MaxInputs: 1, Attrs: &GeluAttrs{}, Elementwise: true, Infer: inferSame, Flops: flopsPerOutput(8)},
	OpDropout:         {Name: "dropout", MinInputs: 1, MaxInputs: 1, Attrs: &DropoutAttrs{}, Elementwise: true, Infer: inferSame, Flops: flopsPerOutput(0)},
	OpClip:            unaryOp("clip", &ClipAttrs{}, 2),
	OpElu:             unaryOp("elu", &EluAttrs{}, 4),
	OpSelu:            unaryOp("selu", nil, 5),
	OpSilu:            unaryOp("silu", nil, 4),
	OpHardSigmoid:     unaryOp("hard_sigmoid", &HardSigmoidAttrs{}, 3),
	OpHardSwish:       unaryOp("hard_swish", nil, 4),
	OpMish:            unaryOp("mish", nil, 8),
	OpSoftplus:        unaryOp("softplus", nil, 6),
	OpSoftsign:        unaryOp("softsign", nil, 3),
	OpExp:             unaryOp("exp", nil, 4),
	OpLog:             unaryOp("log", nil, 4),
	OpSqrt:            unaryOp("sqrt", nil, 1),
	OpRsqrt:           unaryOp("rsqrt", nil, 2),
	OpAbs:             unaryOp("abs", nil, 1),
	OpNeg:             unaryOp("neg", nil, 1),
	OpPow:             unaryOp("pow", &PowAttrs{}, 8),
	OpErf:             unaryOp("erf", nil, 8),
	OpSoftmax:         {Name: "softmax", MinInputs: 1, MaxInputs: 1, Attrs: &AxisAttrs{}, Infer: inferSameAxis, Flops: flopsPerOutput(5)},
	OpLogSoftmax:      {Name: "log_softmax", MinInputs: 1, MaxInputs: 1, Attrs: &AxisAttrs{}, Infer: inferSameAxis, Flops: flopsPerOutput(5)},
	OpFlatten:         {Name: "flatten", MinInputs: 1, MaxInputs: 1, Infer: inferFlatten, Flops: flopsPerOutput(0)},
	OpReshape:         {Name: "reshape", MinInputs: 1, MaxInputs: 1, Attrs: &ReshapeAttrs{}, Infer: inferReshape, Flops: flopsPerOutput(0)},
	OpTranspose:       {Name: "transpose", MinInputs: 1, MaxInputs: 1, Attrs: &TransposeAttrs{}, Infer: inferTranspose, Flops: flopsPerOutput(0)},
	OpConcat:          {Name: "concat", MinInputs: 1, MaxInputs: -1, Attrs: &AxisAttrs{}, Infer: inferConcat, Flops: flopsPerOutput(0)},
	OpSlice:           {Name: "slice", MinInputs: 1, MaxInputs: 1, Attrs: &SliceAttrs{}, Infer: inferSlice, Flops: flopsPerOutput(0)},
	OpResize:          {Name: "resize", MinInputs: 1, MaxInputs: 1, Attrs: &ResizeAttrs{}, Infer: inferResize, Flops: flopsResize},
	OpPad:             {Name: "pad", MinInputs: 1, MaxInputs: 1, Attrs: &PadAttrs{}, Infer: inferPad, Flops: flopsPerOutput(0)},
	OpPaddingMask:     {Name: "padding_mask", MinInputs: 1, MaxInputs: 1, Attrs: &PaddingMaskAttrs{}, IntOperands: 1 << 0, Infer: inferPaddingMask, Flops: flopsPerOutput(1)},
	OpToFloat:         {Name: "to_float", MinInputs: 1, MaxInputs: 1, IntOperands: 1 << 0, Infer: inferToFloat, Flops: flopsPerOutput(0)},
	OpReduceSum:       reduceOp("reduce_sum"),
	OpReduceMean:      reduceOp("reduce_mean"),
	OpReduceMax:       reduceOp("reduce_max"),
	OpReduceMin:       reduceOp("reduce_min"),
	OpArgMax:          {Name: "argmax", MinInputs: 1, MaxInputs: 1, Attrs: &ArgAttrs{}, Infer: inferArgMax, Flops: flopsPerInput(1)},
	OpGather:          {Name: "gather", MinInputs: 2, MaxInputs: 2, Attrs: &GatherAttrs{}, Infer: inferGather, Flops: flopsPerOutput(0)},
	OpWhere:           {Name: "where", MinInputs: 3, MaxInputs: 3, Infer: inferWhere, Flops: flopsPerOutput(1)},
	OpGreater:         compareOp("greater"),
	OpGreaterEqual:    compareOp("greater_equal"),
	OpLess:            compareOp("less"),
	OpLessEqual:       compareOp("less_equal"),
	OpEqual:           compareOp("equal"),
	OpNotEqual:        compareOp("not_equal"),
	// Not Elementwise: the chains' kernels have no rounding, so it stays
	// out of fusion, as the comparisons do.
	OpFloor:       {Name: "floor", MinInputs: 1, MaxInputs: 1, Infer: inferSame, Flops: flopsPerOutput(1)},
	OpFusedConv2D: {Name: "fused_conv2d", MinInputs: 2, MaxInputs: -1, Attrs: &FusedConvAttrs{}, Flops: flopsFusedConv},
	OpFusedMatMul: {Name: "fused_matmul", MinInputs: 2, MaxInputs: -1, Attrs: &FusedMatMulAttrs{}, Flops: flopsFusedMatMul},
	OpElementwise: {Name: "elementwise", MinInputs: 1, MaxInputs: -1, Attrs: &ElementwiseAttrs{}, Flops: flopsElementwise},

	OpSumTo:            {Name: "sum_to", MinInputs: 1, MaxInputs: 1, Attrs: &ReshapeAttrs{}, Infer: inferSumTo, Flops: flopsPerInput(1)},
	OpUnaryGrad:        {Name: "unary_grad", MinInputs: 2, MaxInputs: 2, Attrs: &UnaryGradAttrs{}, Flops: flopsPerOutput(8)},
	OpConv2DGradInput:  {Name: "conv2d_grad_input", MinInputs: 2, MaxInputs: 2, Attrs: &ConvGradAttrs{}, Infer: inferConv2DGradInput, Flops: flopsConvGrad},
	OpConv2DGradFilter: {Name: "conv2d_grad_filter", MinInputs: 2, MaxInputs: 2, Attrs: &ConvGradAttrs{}, Infer: inferConv2DGradFilter, Flops: flopsConvGrad},
	OpMaxPool2DGrad:    {Name: "maxpool2d_grad", MinInputs: 2, MaxInputs: 2, Attrs: &PoolAttrs{}, Infer: inferMaxPoolGrad, Flops: flopsPoolGrad},
	OpAvgPool2DGrad:    {Name: "avgpool2d_grad", MinInputs: 1, MaxInputs: 1, Attrs: &PoolGradAttrs{}, Infer: inferAvgPoolGrad, Flops: flopsPoolGrad},
	OpEmbeddingGrad:    {Name: "embedding_grad", MinInputs: 2, MaxInputs: 2, Attrs: &ReshapeAttrs{}, IntOperands: 1 << 0, Infer: inferEmbeddingGrad, Flops: flopsPerInput(1)},
	OpGatherGrad:       {Name: "gather_grad", MinInputs: 2, MaxInputs: 2, Attrs: &ReshapeAttrs{}, Infer: inferGatherGrad, Flops: flopsGatherGrad},
	OpRecurrentGrad:    {Name: "recurrent_grad", MinInputs: 4, MaxInputs: 6, Attrs: &RecurrentAttrs{}, Infer: inferRecurrentGrad, Flops: flopsRecurrentGrad},
	OpAttentionGrad:    {Name: "attention_grad", MinInputs: 4, MaxInputs: 5, Attrs: &AttentionAttrs{}, Infer: inferAttentionGrad, Flops: flopsAttentionGrad},

	OpSoftmaxCrossEntropy:       {Name: "softmax_cross_entropy", MinInputs: 2, MaxInputs: 2, Infer: inferCrossEntropy(false), Flops: flopsPerInput(7)},
	OpSparseSoftmaxCrossEntropy: {Name: "sparse_softmax_cross_entropy", MinInputs: 2, MaxInputs: 2, IntOperands: 1 << 1, Infer: inferCrossEntropy(true), Flops: flopsPerInput(5)},

	OpBatchVariance: {Name: "batch_variance", MinInputs: 2, MaxInputs: 2, Infer: inferBatchVariance, Flops: flopsPerInput(3)},
	// Not Elementwise: its mask depends on each element's index, which a
	// chain step does not see, so it stays out of fusion.
	OpDropoutTrain: {Name: "dropout_train", MinInputs: 2, MaxInputs: 2, Attrs: &DropoutTrainAttrs{}, Infer: inferDropoutTrain, Flops: flopsPerOutput(2)},
}

// unaryOp is the entry of a unary elementwise function of flops operations
// per element.
func unaryOp(name string, attrs Attrs, flops int64) OpInfo {
	return OpInfo{Name: name, MinInputs: 1, MaxInputs: 1, Attrs: attrs, Elementwise: true, Infer: inferSame, Flops: flopsPerOutput(flops)}
}

// reduceOp is the entry of a reduction over ReduceAttrs' axes: one
// operation per input element.
func reduceOp(name string) OpInfo {
	return OpInfo{Name: name, MinInputs: 1, MaxInputs: 1, Attrs: &ReduceAttrs{}, Infer: inferReduce, Flops: flopsPerInput(1)}
}

// compareOp is the entry of a comparison. Not Elementwise: the chains'
// kernels have no comparisons, so they stay out of fusion.
func compareOp(name string) OpInfo {
	return OpInfo{Name: name, MinInputs: 2, MaxInputs: 2, Infer: inferBroadcast, Flops: flopsPerOutput(1)}
}

// The fused ops' and unary_grad's rules check their chains and functions
// against the table itself, so they are set after it is initialised.
func init() {
	opTable[OpFusedConv2D].Infer = inferFusedConv
	opTable[OpFusedMatMul].Infer = inferFusedMatMul
	opTable[OpElementwise].Infer = inferElementwise
	opTable[OpClip].Infer = inferClip
	opTable[OpUnaryGrad].Infer = inferUnaryGrad
}

// infer is the op's result type for operands of the given types: the element
// types checked, then the op's shape rule.
// Every operand and the result must pass CheckTypeSize, so that no rule
// computes with, and no later stage allocates from, a size that overflows.
func (op Op) infer(attrs Attrs, in []Type) (Type, error) {
	for i, t := range in {
		if err := CheckTypeSize(t); err != nil {
			return Type{}, sizeTypeErr(fmt.Sprintf("%s operand %d", op, i+1), err)
		}
	}
	if err := checkDTypes(op, in); err != nil {
		return Type{}, err
	}
	t, err := op.Info().Infer(attrs, in)
	if err != nil {
		return Type{}, err
	}
	if err := CheckTypeSize(t); err != nil {
		return Type{}, sizeTypeErr(fmt.Sprintf("the result of %s", op), err)
	}
	return t, nil
}

// sizeTypeErr says which operand or result CheckTypeSize refused.
func sizeTypeErr(what string, err error) *TypeError {
	te := err.(*TypeError)
	return &TypeError{Msg: what + ", " + te.Msg, Help: te.Help}
}

// IntOperand reports whether operand i takes integers (IntOperands).
func (info *OpInfo) IntOperand(i int) bool { return i < 32 && info.IntOperands>>i&1 != 0 }

// checkDTypes keeps token ids where they belong: an operand in the op's
// IntOperands must be i32 or i64, and every other operand f32.
func checkDTypes(op Op, in []Type) error {
	for i, t := range in {
		ids := op.Info().IntOperand(i)
		switch {
		case ids && t.DType != I32 && t.DType != I64:
			return typeErr("declare the model's input as i32[...] (or i64) and feed the ids as integers: "+
				"float32 holds integers exactly only up to 2^24, and integer ids can be checked against the vocabulary",
				"%s takes token ids (i32 or i64), got %s", op, t)
		case !ids:
			if err := FloatOperand(op.String(), t); err != nil {
				return err
			}
		}
	}
	return nil
}

// FloatOperand is the error for token ids given where layer or op name
// takes an f32 tensor, or nil if t is f32.
func FloatOperand(name string, t Type) error {
	if t.DType == F32 {
		return nil
	}
	return typeErr("token ids are integers: turn them into vectors with `embedding` first",
		"%s takes f32 tensors, got token ids %s", name, t)
}

// Info returns the op's table entry.
func (op Op) Info() *OpInfo {
	if op >= OpLast {
		return &opTable[OpInvalid]
	}
	return &opTable[op]
}

func (op Op) String() string { return op.Info().Name }

// Valid reports whether op names a real operation.
func (op Op) Valid() bool { return op > OpInvalid && op < OpLast }

// attrsMatch reports whether a carries the attribute type op expects.
func (op Op) attrsMatch(a Attrs) bool {
	want := op.Info().Attrs
	if want == nil || a == nil {
		return want == nil && a == nil
	}
	return reflect.TypeOf(want) == reflect.TypeOf(a)
}

// OpByName finds an op by its IR name, for parsers of IR text and tests.
func OpByName(name string) (Op, bool) {
	for op := OpInvalid + 1; op < OpLast; op++ {
		if opTable[op].Name == name {
			return op, true
		}
	}
	return OpInvalid, false
}
