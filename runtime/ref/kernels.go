package ref

import (
	"math"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// kernel computes node n from its operand tensors into out, whose shape is n's
// result type with symbols bound. Run verifies the graph and binds the shapes
// first, so kernels may take every shape as consistent with the op's Infer rule.
type kernel func(n *ir.Node, in []*tensor.Tensor, out *tensor.Tensor)

// kernels is the reference implementation of every op; a test checks that no
// valid op is missing.
var kernels = [ir.OpLast]kernel{
	ir.OpConv2D:     conv2d,
	ir.OpDense:      dense,
	ir.OpBatchNorm:  batchNorm,
	ir.OpPositional: positional,
	ir.OpEmbedding:  embedding,
	ir.OpLayerNorm:  norm(false),
	ir.OpRMSNorm:    norm(true),

	ir.OpConv2DTranspose: convTranspose,

	ir.OpMatMul:    matMul,
	ir.OpAttention: attention,
	ir.OpRecurrent: recurrent,

	ir.OpMaxPool2D:       pool2d(maxOf),
	ir.OpAvgPool2D:       pool2d(meanOf),
	ir.OpGlobalAvgPool2D: globalAvgPool2d,

	ir.OpAdd: binary(func(a, b float32) float32 { return a + b }),
	ir.OpSub: binary(func(a, b float32) float32 { return a - b }),
	ir.OpMul: binary(func(a, b float32) float32 { return a * b }),
	ir.OpDiv: binary(func(a, b float32) float32 { return a / b }),

	ir.OpMinimum: binary(minimum),
	ir.OpMaximum: binary(maximum),

	ir.OpRelu:      unary(relu),
	ir.OpLeakyRelu: unary(leakyRelu),
	ir.OpSigmoid:   unary(func(_ *ir.Node, x float64) float64 { return 1 / (1 + math.Exp(-x)) }),
	ir.OpTanh:      unary(func(_ *ir.Node, x float64) float64 { return math.Tanh(x) }),
	ir.OpGelu:      unary(gelu),
	ir.OpDropout:   copyData,

	ir.OpClip:        unary(clip),
	ir.OpElu:         unary(elu),
	ir.OpSelu:        unary(selu),
	ir.OpSilu:        unary(silu),
	ir.OpHardSigmoid: unary(hardSigmoid),
	ir.OpHardSwish:   unary(hardSwish),
	ir.OpMish:        unary(mish),
	ir.OpSoftplus:    unary(softplus),
	ir.OpSoftsign:    unary(softsign),
	ir.OpExp:         unary(fn(math.Exp)),
	ir.OpLog:         unary(fn(math.Log)),
	ir.OpSqrt:        unary(fn(math.Sqrt)),
	ir.OpRsqrt:       unary(fn(func(x float64) float64 { return 1 / math.Sqrt(x) })),
	ir.OpAbs:         unary(fn(math.Abs)),
	ir.OpNeg:         unary(fn(func(x float64) float64 { return -x })),
	ir.OpPow:         unary(pow),
	ir.OpErf:         unary(fn(math.Erf)),

	ir.OpSoftmax:    softmax(false),
	ir.OpLogSoftmax: softmax(true),

	ir.OpFlatten:   copyData,
	ir.OpReshape:   copyData,
	ir.OpTranspose: transpose,
	ir.OpSlice:     slice,
	ir.OpConcat:    concat,
	ir.OpPad:       pad,
	ir.OpResize:    resize,

	ir.OpPaddingMask: paddingMask,
	ir.OpToFloat:     toFloat,

	ir.OpSumTo:            sumTo,
	ir.OpUnaryGrad:        unaryGrad,
	ir.OpConv2DGradInput:  conv2dGradInput,
	ir.OpConv2DGradFilter: conv2dGradFilter,
	ir.OpMaxPool2DGrad:    maxPoolGrad,
	ir.OpAvgPool2DGrad:    avgPoolGrad,
	ir.OpEmbeddingGrad:    embeddingGrad,
	ir.OpGatherGrad:       gatherGrad,
	ir.OpRecurrentGrad:    recurrentGrad,
	ir.OpAttentionGrad:    attentionGrad,

	ir.OpSoftmaxCrossEntropy:       crossEntropy(false),
	ir.OpSparseSoftmaxCrossEntropy: crossEntropy(true),

	ir.OpReduceSum:  reduceSum,
	ir.OpReduceMean: reduceMean,
	ir.OpReduceMax:  reduceMax,
	ir.OpReduceMin:  reduceMin,
	ir.OpArgMax:     argMax,
	ir.OpWhere:      where,
	ir.OpGather:     gather,

	ir.OpBatchVariance: batchVariance,
	ir.OpDropoutTrain:  dropoutTrain,

	ir.OpGreater:      compare(func(a, b float32) bool { return a > b }),
	ir.OpGreaterEqual: compare(func(a, b float32) bool { return a >= b }),
	ir.OpLess:         compare(func(a, b float32) bool { return a < b }),
	ir.OpLessEqual:    compare(func(a, b float32) bool { return a <= b }),
	ir.OpEqual:        compare(func(a, b float32) bool { return a == b }),
	ir.OpNotEqual:     compare(func(a, b float32) bool { return a != b }),
	ir.OpFloor:        unary(fn(math.Floor)),
}

// checks refuse operand values an op is not defined on, before its kernel
// runs: the errors a run can meet.
var checks = [ir.OpLast]func(n *ir.Node, in []*tensor.Tensor) error{
	ir.OpGather:     checkGather,
	ir.OpGatherGrad: checkGatherGrad,
}

// The fused kernels call back into the table, so they join it after it is
// initialised.
func init() {
	kernels[ir.OpFusedConv2D] = fusedConv2d
	kernels[ir.OpFusedMatMul] = fusedMatMul
	kernels[ir.OpElementwise] = elementwise
}

// offset maps element i of a row-major tensor of the given shape to the offset
// of the same multi-index under st.
func offset(i int, shape, st []int) int {
	off := 0
	for d := len(shape) - 1; d >= 0; d-- {
		off += i % shape[d] * st[d]
		i /= shape[d]
	}
	return off
}
