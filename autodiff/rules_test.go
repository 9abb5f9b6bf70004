package autodiff

import (
	"fmt"
	"hash/fnv"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
)

func TestEveryOpHasARuleOrAReason(t *testing.T) {
	for op := ir.OpInvalid + 1; op < ir.OpLast; op++ {
		require.False(t, rules[op] != nil && reasons[op] != "", "op %s has both a rule and a reason", op)
		require.True(t, rules[op] != nil || reasons[op] != "", "op %s has neither a gradient rule nor a reason why not", op)
	}
}

// unaries are the unary elementwise functions with their attributes and
// the values they are differentiated at.
var unaries = []struct {
	op    ir.Op
	attrs ir.Attrs
	at    gen
}{
	{ir.OpRelu, nil, grid},
	{ir.OpLeakyRelu, &ir.LeakyReluAttrs{Alpha: 0.2}, grid},
	{ir.OpSigmoid, nil, smooth},
	{ir.OpTanh, nil, smooth},
	{ir.OpGelu, &ir.GeluAttrs{}, smooth},
	{ir.OpGelu, &ir.GeluAttrs{Approximate: true}, smooth},
	{ir.OpDropout, &ir.DropoutAttrs{Rate: 0.5}, smooth},
	{ir.OpClip, &ir.ClipAttrs{Min: -0.5, Max: 1}, grid},
	{ir.OpElu, &ir.EluAttrs{Alpha: 0.7}, grid},
	{ir.OpSelu, nil, grid},
	{ir.OpSilu, nil, smooth},
	{ir.OpHardSigmoid, &ir.HardSigmoidAttrs{Alpha: 0.2}, grid},
	{ir.OpHardSwish, nil, grid},
	{ir.OpMish, nil, smooth},
	{ir.OpSoftplus, nil, smooth},
	{ir.OpSoftsign, nil, grid},
	{ir.OpExp, nil, smooth},
	{ir.OpLog, nil, positive},
	{ir.OpSqrt, nil, positive},
	{ir.OpRsqrt, nil, positive},
	{ir.OpAbs, nil, grid},
	{ir.OpNeg, nil, smooth},
	{ir.OpPow, &ir.PowAttrs{Exponent: 3}, smooth},
	{ir.OpPow, &ir.PowAttrs{Exponent: -1.5}, positive},
	{ir.OpErf, nil, smooth},
}

func conv(stride, dil int, pad ir.Padding, groups int) *ir.ConvAttrs {
	return &ir.ConvAttrs{Window2D: ir.Window2D{Stride: [2]int{stride, stride}, Dilation: [2]int{dil, dil}, Padding: pad}, Groups: groups}
}

func pool(size, stride int, pad ir.Padding) *ir.PoolAttrs {
	return &ir.PoolAttrs{Window2D: ir.Window2D{Size: [2]int{size, size}, Stride: [2]int{stride, stride}, Dilation: [2]int{1, 1}, Padding: pad}}
}

func fdCases() []fdCase {
	var cases []fdCase
	for _, u := range unaries {
		for _, full := range []bool{true, false} {
			shape := []int{5, 7}
			if full {
				shape = []int{2, 3}
			}
			cases = append(cases, fdCase{name: fmt.Sprintf("%s%v/full=%t", u.op, u.attrs, full), full: full, build: func(c *fdGraph) *ir.Value {
				return c.node(u.op, u.attrs, c.param(u.at, shape...))
			}})
		}
	}
	binary := func(name string, op ir.Op, ga, gb gen, a, b []int, full bool) fdCase {
		return fdCase{name: name, full: full, build: func(c *fdGraph) *ir.Value {
			return c.node(op, nil, c.param(ga, a...), c.param(gb, b...))
		}}
	}
	cases = append(cases,
		binary("add", ir.OpAdd, smooth, smooth, []int{2, 3}, []int{2, 3}, true),
		binary("add/broadcast", ir.OpAdd, smooth, smooth, []int{3, 1, 5}, []int{4, 5}, false),
		binary("add/scalar", ir.OpAdd, smooth, smooth, []int{3, 4}, []int{}, true),
		binary("sub/broadcast", ir.OpSub, smooth, smooth, []int{2, 3}, []int{3}, true),
		binary("sub/left", ir.OpSub, smooth, smooth, []int{1, 5}, []int{4, 5}, false),
		binary("mul", ir.OpMul, smooth, smooth, []int{2, 3}, []int{2, 3}, true),
		binary("mul/outer", ir.OpMul, smooth, smooth, []int{4, 1}, []int{1, 5}, false),
		binary("div", ir.OpDiv, smooth, positive, []int{2, 3}, []int{2, 3}, true),
		binary("div/broadcast", ir.OpDiv, smooth, positive, []int{3, 4}, []int{4}, false),
		binary("div/numerator", ir.OpDiv, smooth, positive, []int{4}, []int{3, 4}, false),
		binary("maximum", ir.OpMaximum, grid, grid0, []int{2, 3}, []int{2, 3}, true),
		binary("maximum/broadcast", ir.OpMaximum, grid, grid0, []int{3, 5}, []int{5}, false),
		binary("minimum", ir.OpMinimum, grid, grid0, []int{2, 3}, []int{2, 3}, true),
		binary("minimum/broadcast", ir.OpMinimum, grid0, grid, []int{3, 1}, []int{3, 4}, false),
		fdCase{name: "softmax", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpSoftmax, &ir.AxisAttrs{Axis: 1}, c.param(smooth, 2, 3))
		}},
		fdCase{name: "softmax/axis0", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpSoftmax, &ir.AxisAttrs{Axis: 0}, c.param(smooth, 4, 3, 2))
		}},
		fdCase{name: "log_softmax", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpLogSoftmax, &ir.AxisAttrs{Axis: 1}, c.param(smooth, 2, 3))
		}},
		fdCase{name: "log_softmax/middle", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpLogSoftmax, &ir.AxisAttrs{Axis: 1}, c.param(smooth, 3, 5, 2))
		}},
	)
	matmul := func(name string, ta, tb bool, a, b []int, full bool) fdCase {
		return fdCase{name: name, full: full, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpMatMul, &ir.MatMulAttrs{TransA: ta, TransB: tb}, c.param(smooth, a...), c.param(smooth, b...))
		}}
	}
	cases = append(cases,
		matmul("matmul", false, false, []int{2, 3}, []int{3, 2}, true),
		matmul("matmul/odd", false, false, []int{3, 5}, []int{5, 7}, false),
		matmul("matmul/trans_a", true, false, []int{5, 3}, []int{5, 4}, false),
		matmul("matmul/trans_b", false, true, []int{3, 5}, []int{4, 5}, false),
		matmul("matmul/trans_ab", true, true, []int{5, 3}, []int{4, 5}, false),
		matmul("matmul/batched", false, false, []int{2, 3, 4}, []int{2, 4, 5}, false),
		matmul("matmul/broadcast", false, false, []int{2, 3, 4}, []int{4, 5}, false),
		matmul("matmul/broadcast_trans", true, true, []int{3, 1, 4, 3}, []int{2, 5, 4}, false),
		fdCase{name: "dense", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpDense, nil, c.param(smooth, 2, 3), c.param(smooth, 3, 2), c.param(smooth, 2))
		}},
		fdCase{name: "dense/rank3", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpDense, nil, c.param(smooth, 2, 3, 5), c.param(smooth, 5, 4), c.param(smooth, 4))
		}},
		fdCase{name: "dense/nobias", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpDense, nil, c.param(smooth, 4, 5), c.param(smooth, 5, 3))
		}},
	)
	convCase := func(name string, a *ir.ConvAttrs, x, k []int, bias, full bool) fdCase {
		return fdCase{name: name, full: full, build: func(c *fdGraph) *ir.Value {
			in := []*ir.Value{c.param(smooth, x...), c.param(smooth, k...)}
			if bias {
				in = append(in, c.param(smooth, k[3]))
			}
			return c.node(ir.OpConv2D, a, in...)
		}}
	}
	explicit := conv(1, 1, ir.Explicit, 1)
	explicit.Pads = [4]int{1, 0, 2, 1}
	cases = append(cases,
		convCase("conv2d/tiny", conv(1, 1, ir.Valid, 1), []int{1, 3, 3, 2}, []int{2, 2, 2, 2}, true, true),
		convCase("conv2d/same", conv(1, 1, ir.Same, 1), []int{2, 5, 4, 3}, []int{3, 3, 3, 4}, true, false),
		convCase("conv2d/stride2", conv(2, 1, ir.Same, 1), []int{2, 7, 6, 3}, []int{3, 3, 3, 5}, true, false),
		convCase("conv2d/valid_stride2", conv(2, 1, ir.Valid, 1), []int{1, 7, 8, 2}, []int{3, 2, 2, 3}, false, false),
		convCase("conv2d/dilated", conv(1, 2, ir.Same, 1), []int{2, 7, 7, 2}, []int{3, 3, 2, 3}, true, false),
		convCase("conv2d/groups", conv(1, 1, ir.Same, 2), []int{2, 5, 5, 4}, []int{3, 3, 2, 6}, true, false),
		convCase("conv2d/depthwise", conv(2, 1, ir.Same, 3), []int{2, 6, 5, 3}, []int{3, 3, 1, 3}, false, false),
		convCase("conv2d/explicit", explicit, []int{1, 5, 6, 2}, []int{3, 4, 2, 3}, true, false),
		fdCase{name: "maxpool2d", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpMaxPool2D, pool(2, 2, ir.Valid), c.param(distinct, 1, 4, 4, 2))
		}},
		fdCase{name: "maxpool2d/overlapping_same", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpMaxPool2D, pool(3, 2, ir.Same), c.param(distinct, 2, 7, 5, 3))
		}},
		fdCase{name: "avgpool2d", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpAvgPool2D, pool(2, 2, ir.Valid), c.param(smooth, 1, 4, 4, 2))
		}},
		fdCase{name: "avgpool2d/same", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpAvgPool2D, pool(3, 2, ir.Same), c.param(smooth, 2, 7, 5, 3))
		}},
		fdCase{name: "avgpool2d/count_pad", build: func(c *fdGraph) *ir.Value {
			a := pool(3, 1, ir.Same)
			a.CountPad = true
			return c.node(ir.OpAvgPool2D, a, c.param(smooth, 2, 4, 5, 2))
		}},
		fdCase{name: "reduce_sum/keepdims", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpReduceSum, &ir.ReduceAttrs{Axes: []int{0, 2}, KeepDims: true}, c.param(smooth, 2, 3, 2))
		}},
		fdCase{name: "reduce_mean", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpReduceMean, &ir.ReduceAttrs{Axes: []int{1, 2}}, c.param(smooth, 2, 3, 5, 4))
		}},
		fdCase{name: "reduce_max", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpReduceMax, &ir.ReduceAttrs{Axes: []int{1}}, c.param(distinct, 3, 5, 2))
		}},
		fdCase{name: "reduce_min/keepdims", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpReduceMin, &ir.ReduceAttrs{Axes: []int{0, 1}, KeepDims: true}, c.param(distinct, 2, 3, 2))
		}},
		fdCase{name: "where/broadcast", full: true, build: func(c *fdGraph) *ir.Value {
			cond := c.node(ir.OpGreater, nil, c.g.AddConst("cond", ir.T(2, 1), []float32{1, -1}), c.g.AddConst("zero", ir.T(1), []float32{0}))
			return c.node(ir.OpWhere, nil, cond, c.param(smooth, 2, 3), c.param(smooth, 3))
		}},
		fdCase{name: "global_avgpool2d", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpGlobalAvgPool2D, nil, c.param(smooth, 2, 3, 5, 4))
		}},
		fdCase{name: "batchnorm", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpBatchNorm, &ir.BatchNormAttrs{Epsilon: 1e-3}, c.param(smooth, 2, 2), c.param(smooth, 2),
				c.param(smooth, 2), c.param(smooth, 2), c.param(positive, 2))
		}},
		fdCase{name: "batchnorm/images", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpBatchNorm, &ir.BatchNormAttrs{Epsilon: 1e-3}, c.param(smooth, 2, 3, 3, 4), c.param(smooth, 4),
				c.param(smooth, 4), c.param(smooth, 4), c.param(positive, 4))
		}},
		fdCase{name: "layernorm", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpLayerNorm, &ir.NormAttrs{Epsilon: 1e-5}, c.param(smooth, 2, 3), c.param(smooth, 3), c.param(smooth, 3))
		}},
		fdCase{name: "layernorm/rank3", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpLayerNorm, &ir.NormAttrs{Epsilon: 1e-5}, c.param(smooth, 2, 3, 7), c.param(smooth, 7), c.param(smooth, 7))
		}},
		fdCase{name: "rmsnorm", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpRMSNorm, &ir.NormAttrs{Epsilon: 1e-5}, c.param(smooth, 2, 3), c.param(smooth, 3))
		}},
		fdCase{name: "rmsnorm/rank3", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpRMSNorm, &ir.NormAttrs{Epsilon: 1e-5}, c.param(smooth, 3, 2, 5), c.param(smooth, 5))
		}},
		fdCase{name: "embedding", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpEmbedding, nil, c.ids(6, 2, 5), c.param(smooth, 6, 3))
		}},
		fdCase{name: "positional/table", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpPositional, nil, c.param(smooth, 2, 3, 4), c.param(smooth, 5, 4))
		}},
		fdCase{name: "positional/sinusoid", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpPositional, nil, c.param(smooth, 2, 3, 4))
		}},
		fdCase{name: "flatten", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpFlatten, nil, c.param(smooth, 2, 2, 2))
		}},
		fdCase{name: "reshape", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.T(5, 2, 3).Shape}, c.param(smooth, 3, 10))
		}},
		fdCase{name: "transpose", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpTranspose, &ir.TransposeAttrs{Perm: []int{2, 0, 1}}, c.param(smooth, 2, 3, 4))
		}},
		fdCase{name: "concat", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpConcat, &ir.AxisAttrs{Axis: 1}, c.param(smooth, 2, 3), c.param(smooth, 2, 1), c.param(smooth, 2, 4))
		}},
		fdCase{name: "slice", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpSlice, &ir.SliceAttrs{Axis: 1, Start: 1, End: 4}, c.param(smooth, 2, 5, 3))
		}},
		fdCase{name: "pad", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpPad, &ir.PadAttrs{Pads: [][2]int{{0, 0}, {1, 2}, {0, 1}}, Value: 0.5}, c.param(smooth, 2, 3, 4))
		}},
		fdCase{name: "pad/reflect", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpPad, &ir.PadAttrs{Mode: ir.PadReflect, Pads: [][2]int{{0, 0}, {2, 1}, {1, 3}}}, c.param(smooth, 1, 3, 5))
		}},
		fdCase{name: "pad/edge", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpPad, &ir.PadAttrs{Mode: ir.PadEdge, Pads: [][2]int{{1, 0}, {2, 3}, {0, 1}}}, c.param(smooth, 2, 3, 2))
		}},
		fdCase{name: "resize/bilinear", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpResize, &ir.ResizeAttrs{Mode: ir.Bilinear, Size: [2]int{5, 3}}, c.param(smooth, 2, 3, 4, 2))
		}},
		fdCase{name: "resize/bilinear_align_corners", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpResize, &ir.ResizeAttrs{Mode: ir.Bilinear, Coordinates: ir.AlignCorners, Size: [2]int{7, 2}}, c.param(smooth, 1, 3, 4, 2))
		}},
		fdCase{name: "resize/nearest", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpResize, &ir.ResizeAttrs{Mode: ir.Nearest, Coordinates: ir.Asymmetric, Size: [2]int{6, 3}}, c.param(smooth, 2, 3, 5, 1))
		}},
		fdCase{name: "gather", full: true, build: func(c *fdGraph) *ir.Value {
			// Repeated indices add their gradients; -1 counts from the end;
			// cell 1 is never read.
			idx := c.g.AddConst("idx", ir.T(2, 2), []float32{2, 0, 2, -1})
			return c.node(ir.OpGather, &ir.GatherAttrs{Axis: 1}, c.param(smooth, 2, 4, 3), idx)
		}},
		fdCase{name: "gather/batch_dims", full: true, build: func(c *fdGraph) *ir.Value {
			idx := c.g.AddConst("idx", ir.T(2, 3), []float32{1, 1, 0, 2, 0, 2})
			return c.node(ir.OpGather, &ir.GatherAttrs{Axis: 2, BatchDims: 1}, c.param(smooth, 2, 2, 3, 2), idx)
		}},
		fdCase{name: "softmax_cross_entropy", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpSoftmaxCrossEntropy, nil, c.param(smooth, 2, 3), c.param(positive, 2, 3))
		}},
		fdCase{name: "softmax_cross_entropy/rank3", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpSoftmaxCrossEntropy, nil, c.param(smooth, 2, 3, 7), c.param(positive, 2, 3, 7))
		}},
		fdCase{name: "softmax_cross_entropy/large_logits", build: func(c *fdGraph) *ir.Value {
			// Logits near 100 overflow a naive exp; the op subtracts the max.
			x := c.node(ir.OpAdd, nil, c.param(smooth, 4, 5), c.g.AddConst("hundred", ir.T(), []float32{100}))
			return c.node(ir.OpSoftmaxCrossEntropy, nil, x, c.param(positive, 4, 5))
		}},
		fdCase{name: "sparse_softmax_cross_entropy", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpSparseSoftmaxCrossEntropy, nil, c.param(smooth, 2, 3), c.ids(3, 2))
		}},
		fdCase{name: "sparse_softmax_cross_entropy/rank3", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpSparseSoftmaxCrossEntropy, nil, c.param(smooth, 3, 2, 6), c.ids(6, 3, 2))
		}},
		fdCase{name: "sparse_softmax_cross_entropy/per_position_masked", full: true, build: func(c *fdGraph) *ir.Value {
			// A language model's loss as package train builds it: a
			// cross-entropy per position, each weighted, padding by 0
			// (the last position of each sequence here), the others by
			// 1/4, the positions that count.
			ce := c.node(ir.OpSparseSoftmaxCrossEntropy, nil, c.param(smooth, 2, 3, 5), c.ids(5, 2, 3))
			w := c.g.AddConst("position_weights", ir.T(2, 3), []float32{0.25, 0.25, 0, 0.25, 0.25, 0})
			return c.node(ir.OpMul, nil, ce, w)
		}},
		fdCase{name: "mse", build: func(c *fdGraph) *ir.Value {
			// mean((a-b)²), composed: sub, mul and a sum_to scaled by 1/count.
			d := c.node(ir.OpSub, nil, c.param(smooth, 4, 3), c.param(smooth, 4, 3))
			sum := c.node(ir.OpSumTo, &ir.ReshapeAttrs{Shape: ir.Shape{}}, c.node(ir.OpMul, nil, d, d))
			return c.node(ir.OpMul, nil, sum, c.g.AddConst("1/12", ir.T(), []float32{1.0 / 12}))
		}},
		fdCase{name: "shared_operand", full: true, build: func(c *fdGraph) *ir.Value {
			x := c.param(smooth, 2, 3)
			return c.node(ir.OpMul, nil, x, c.node(ir.OpTanh, nil, x))
		}},
		fdCase{name: "conv2d_transpose/valid", full: true, build: func(c *fdGraph) *ir.Value {
			a := &ir.ConvTransposeAttrs{Window2D: ir.Window2D{Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}, Padding: ir.Valid}}
			return c.node(ir.OpConv2DTranspose, a, c.param(smooth, 1, 2, 3, 2), c.param(smooth, 2, 3, 3, 2), c.param(smooth, 3))
		}},
		fdCase{name: "conv2d_transpose/same", build: func(c *fdGraph) *ir.Value {
			a := &ir.ConvTransposeAttrs{Window2D: ir.Window2D{Stride: [2]int{2, 3}, Dilation: [2]int{1, 1}, Padding: ir.Same}}
			return c.node(ir.OpConv2DTranspose, a, c.param(smooth, 2, 3, 2, 3), c.param(smooth, 4, 3, 2, 3))
		}},
		fdCase{name: "conv2d_transpose/cropped", build: func(c *fdGraph) *ir.Value {
			a := &ir.ConvTransposeAttrs{Window2D: ir.Window2D{Stride: [2]int{2, 2}, Dilation: [2]int{2, 1}, Padding: ir.Explicit, Pads: [4]int{1, 2, 0, 1}},
				OutputPadding: [2]int{1, 1}}
			return c.node(ir.OpConv2DTranspose, a, c.param(smooth, 2, 3, 3, 2), c.param(smooth, 3, 2, 4, 2), c.param(smooth, 4))
		}},
		fdCase{name: "convnet", build: func(c *fdGraph) *ir.Value {
			x := c.param(smooth, 2, 6, 6, 2)
			h := c.node(ir.OpConv2D, conv(1, 1, ir.Same, 1), x, c.param(smooth, 3, 3, 2, 4), c.param(smooth, 4))
			// tanh, not relu: a smooth activation, since conv outputs near a
			// kink would make central differences wrong, not the rule.
			h = c.node(ir.OpTanh, nil, h)
			h = c.node(ir.OpAvgPool2D, pool(2, 2, ir.Valid), h)
			h = c.node(ir.OpFlatten, nil, h)
			h = c.node(ir.OpDense, nil, h, c.param(smooth, 36, 3), c.param(smooth, 3))
			return c.node(ir.OpLogSoftmax, &ir.AxisAttrs{Axis: 1}, h)
		}},
	)
	cases = append(cases, attentionCases()...)
	return append(cases, recurrentCases()...)
}

// attentionCases: attention_grad (every case but the learned mask's, whose
// mask needs a gradient and takes the composed form) for self and cross
// attention, T_q above and below T_k, causal or not, with constant masks,
// T past a band of the kernel's query rows (96) and not a multiple of it,
// and operands that need no gradient.
func attentionCases() []fdCase {
	// paddingMask is a constant [n, 1, 1, t]: example i's last i+1 keys
	// dropped.
	paddingMask := func(c *fdGraph, n, t int) *ir.Value {
		m := make([]float32, n*t)
		for i := range n {
			for j := t - 1 - i; j < t; j++ {
				m[i*t+j] = float32(math.Inf(-1))
			}
		}
		return c.g.AddConst("padding", ir.T(n, 1, 1, t), m)
	}
	return []fdCase{
		{name: "attention", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpAttention, &ir.AttentionAttrs{}, c.param(smooth, 2, 3, 4), c.param(smooth, 2, 5, 4), c.param(smooth, 2, 5, 3))
		}},
		{name: "attention/causal", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpAttention, &ir.AttentionAttrs{Causal: true}, c.param(smooth, 2, 2, 5, 3), c.param(smooth, 2, 2, 5, 3), c.param(smooth, 2, 2, 5, 3))
		}},
		{name: "attention/causal_more_queries", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpAttention, &ir.AttentionAttrs{Causal: true}, c.param(smooth, 2, 6, 4), c.param(smooth, 2, 4, 4), c.param(smooth, 2, 4, 2))
		}},
		{name: "attention/causal_more_keys_scale", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpAttention, &ir.AttentionAttrs{Causal: true, Scale: 0.4}, c.param(smooth, 2, 3, 4), c.param(smooth, 2, 7, 4), c.param(smooth, 2, 7, 3))
		}},
		{name: "attention/padding_mask", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpAttention, &ir.AttentionAttrs{}, c.param(smooth, 2, 2, 4, 3), c.param(smooth, 2, 2, 6, 3), c.param(smooth, 2, 2, 6, 5),
				paddingMask(c, 2, 6))
		}},
		{name: "attention/constant_mask_causal_scale", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpAttention, &ir.AttentionAttrs{Causal: true, Scale: 0.3}, c.param(smooth, 2, 2, 5, 3), c.param(smooth, 2, 2, 5, 3),
				c.param(smooth, 2, 2, 5, 4), c.constant(smooth, 5, 5))
		}},
		{name: "attention/past_a_band", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpAttention, &ir.AttentionAttrs{Causal: true}, c.param(smooth, 1, 2, 100, 3), c.param(smooth, 1, 2, 98, 3),
				c.param(smooth, 1, 2, 98, 2), paddingMask(c, 1, 98))
		}},
		{name: "attention/keys_and_values_only", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpAttention, &ir.AttentionAttrs{}, c.constant(smooth, 2, 3, 4), c.param(smooth, 2, 5, 4), c.param(smooth, 2, 5, 3))
		}},
		{name: "attention/queries_only", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpAttention, &ir.AttentionAttrs{Causal: true}, c.param(smooth, 2, 3, 4), c.constant(smooth, 2, 5, 4), c.constant(smooth, 2, 5, 3))
		}},
		{name: "attention/shared_operand", build: func(c *fdGraph) *ir.Value {
			x := c.param(smooth, 2, 4, 3)
			return c.node(ir.OpAttention, &ir.AttentionAttrs{}, x, x, x)
		}},
		// A learned additive mask (a bias on the scores) needs a gradient:
		// the composed form.
		{name: "attention/causal_mask_scale", build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpAttention, &ir.AttentionAttrs{Causal: true, Scale: 0.3}, c.param(smooth, 2, 2, 4, 3),
				c.param(smooth, 2, 2, 4, 3), c.param(smooth, 2, 2, 4, 5), c.param(smooth, 2, 1, 1, 4))
		}},
	}
}

// recurrentCases cover every cell, direction and result form, without and
// with initial states, at odd sizes; the full Jacobian on tiny ones. A
// relu RNN's pre-activations are sums, so no grid keeps them from its kink:
// its seeds give none within a perturbation of it.
func recurrentCases() []fdCase {
	type rc struct {
		cell                ir.Cell
		relu, reverse, seqs bool
		states, n, t, h     int
		full                bool
	}
	var cases []fdCase
	for _, r := range []rc{
		{cell: ir.CellRNN, seqs: true, n: 2, t: 3, h: 5},
		{cell: ir.CellRNN, states: 1, n: 3, t: 4, h: 3},
		{cell: ir.CellRNN, relu: true, reverse: true, seqs: true, states: 1, n: 2, t: 3, h: 5},
		{cell: ir.CellLSTM, seqs: true, n: 2, t: 3, h: 5},
		{cell: ir.CellLSTM, n: 3, t: 4, h: 3},
		{cell: ir.CellLSTM, states: 2, n: 2, t: 3, h: 5},
		{cell: ir.CellLSTM, reverse: true, seqs: true, states: 2, n: 2, t: 5, h: 3},
		{cell: ir.CellLSTM, reverse: true, states: 1, n: 2, t: 3, h: 4},
		{cell: ir.CellLSTM, seqs: true, states: 2, n: 2, t: 1, h: 3},
		{cell: ir.CellLSTM, n: 2, t: 1, h: 3},
		{cell: ir.CellLSTM, seqs: true, states: 2, n: 1, t: 2, h: 2, full: true},
		{cell: ir.CellGRU, seqs: true, n: 2, t: 3, h: 5},
		{cell: ir.CellGRU, reverse: true, states: 1, n: 3, t: 4, h: 3},
		{cell: ir.CellGRU, reverse: true, seqs: true, n: 2, t: 3, h: 5},
		{cell: ir.CellGRU, states: 1, n: 2, t: 3, h: 4},
		{cell: ir.CellGRU, seqs: true, states: 1, n: 1, t: 2, h: 2, full: true},
	} {
		a := &ir.RecurrentAttrs{Cell: r.cell, Relu: r.relu, Reverse: r.reverse, Sequences: r.seqs}
		name := fmt.Sprintf("recurrent{%s}/states=%d/n=%d,t=%d,h=%d/full=%t", a, r.states, r.n, r.t, r.h, r.full)
		cases = append(cases, fdCase{name: name, full: r.full, build: func(c *fdGraph) *ir.Value {
			gh := r.cell.Gates() * r.h
			in := []*ir.Value{c.param(smooth, r.n, r.t, gh), c.param(small, r.h, gh), c.param(small, gh)}
			for range r.states {
				in = append(in, c.param(smooth, r.n, r.h))
			}
			return c.node(ir.OpRecurrent, a, in...)
		}})
	}
	// The layer as package nn lowers it: the input projection, a dense
	// layer, before the loop.
	return append(cases, fdCase{name: "recurrent/lstm layer", build: func(c *fdGraph) *ir.Value {
		x := c.param(smooth, 2, 3, 4)
		xw := c.node(ir.OpDense, nil, x, c.param(small, 4, 12), c.param(small, 12))
		return c.node(ir.OpRecurrent, &ir.RecurrentAttrs{Cell: ir.CellLSTM, Sequences: true}, xw, c.param(small, 3, 12), c.param(small, 12))
	}})
}

// TestGradCentralDifferences seeds each case by its name, so adding a case
// changes no other case's data.
func TestGradCentralDifferences(t *testing.T) {
	for _, c := range fdCases() {
		h := fnv.New64a()
		h.Write([]byte(c.name))
		t.Run(c.name, func(t *testing.T) { runFD(t, h.Sum64(), c) })
	}
}

// TestSpecialiseForSizes: a rule that needs a size the graph leaves
// symbolic says so, and works once the graph is specialised.
func TestSpecialiseForSizes(t *testing.T) {
	build := func() (*ir.Graph, *ir.Value, *ir.Value) {
		g := ir.NewGraph("g")
		x := g.AddInput("x", ir.T("N", 3))
		gamma := g.AddParam("gamma", ir.T(3), ir.Init{Kind: ir.InitOnes}, true)
		y, err := g.AddNode(ir.OpMul, nil, []*ir.Value{x, gamma}, "", ir.Pos{})
		require.NoError(t, err)
		loss, err := g.AddNode(ir.OpSumTo, &ir.ReshapeAttrs{Shape: ir.Shape{}}, []*ir.Value{y}, "", ir.Pos{})
		require.NoError(t, err)
		return g, loss, gamma
	}
	g, loss, gamma := build()
	_, err := Grad(g, loss, []*ir.Value{gamma})
	require.ErrorContains(t, err, "specialise the graph")
	g, loss, gamma = build()
	require.NoError(t, g.Specialise(map[string]int{"N": 2}))
	grads, err := Grad(g, loss, []*ir.Value{gamma})
	require.NoError(t, err)
	require.Equal(t, "f32[3]", grads[0].Type.String())
}

// TestNoGradient: Grad names the op and the reason it has no rule.
func TestNoGradient(t *testing.T) {
	_, ok := NoGradient(ir.OpAdd)
	require.False(t, ok)
	reason, ok := NoGradient(ir.OpArgMax)
	require.True(t, ok)
	require.Contains(t, reason, "piecewise constant")

	g, err := ir.Parse(`graph g(%x: f32[2,3]) {
  @k: f32[3,3] = zeros
  %0: f32[2,3] = fused_matmul(%x, @k) {trans_a=false trans_b=false epilogue=[relu]}  # dense
  return y=%0
}
`)
	require.NoError(t, err)
	_, err = Grad(g, g.Outputs[0].Value, []*ir.Value{g.Params[0]})
	require.EqualError(t, err, "autodiff: fused_matmul (layer dense) has no gradient: made by the optimizer: differentiate the unfused graph, then optimise")
}

// TestAttentionGradIsLinearInT: attention's gradient is one attention_grad,
// and no value of the backward graph holds a [.., Tq, Tk] matrix per
// example and head; a learned mask's gradient is composed.
func TestAttentionGradIsLinearInT(t *testing.T) {
	for _, learned := range []bool{false, true} {
		g := ir.NewGraph("g")
		x := func(name string) *ir.Value {
			return g.AddParam(name, ir.T(2, 2, 64, 8), ir.Init{Kind: ir.InitZeros}, true)
		}
		q, k, v := x("q"), x("k"), x("v")
		mask := g.AddConst("mask", ir.T(2, 1, 1, 64), make([]float32, 2*64))
		wrt := []*ir.Value{q, k, v}
		if learned {
			mask = g.AddParam("mask", ir.T(2, 1, 1, 64), ir.Init{Kind: ir.InitZeros}, true)
			wrt = append(wrt, mask)
		}
		y, err := g.AddNode(ir.OpAttention, &ir.AttentionAttrs{Causal: true}, []*ir.Value{q, k, v, mask}, "", ir.Pos{})
		require.NoError(t, err)
		loss, err := g.AddNode(ir.OpSumTo, &ir.ReshapeAttrs{Shape: ir.Shape{}}, []*ir.Value{y}, "", ir.Pos{})
		require.NoError(t, err)
		forward := len(g.Nodes)
		_, err = Grad(g, loss, wrt)
		require.NoError(t, err)
		kernels, largest := 0, 0
		for _, n := range g.Nodes[forward:] {
			if n.Op == ir.OpAttentionGrad {
				kernels++
			}
			size, _ := n.Outputs[0].Type.Shape.KnownProduct(0)
			largest = max(largest, size)
		}
		if learned {
			require.Zero(t, kernels)
			require.Equal(t, 2*2*64*64, largest, "the composed gradient's p")
			continue
		}
		require.Equal(t, 1, kernels)
		require.Equal(t, 2*2*3*64*8, largest, "attention_grad's packed dq, dk and dv")
	}
}
