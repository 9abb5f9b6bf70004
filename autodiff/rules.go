package autodiff

import (
	"fmt"
	"math"
	"slices"

	"github.com/mdlc/mdlc/ir"
)

// rule returns the gradients of n's operands given dy, the gradient of n's
// result; need[i] says whether operand i's is wanted (nil is returned for
// the others). Operands are written x, y; the result y or out; each rule's
// math is in its comment, with ⊙ the elementwise product, ·ᵀ a transpose of
// the last two axes and Σ→s a sum back to shape s (builder.sumTo).
type rule func(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error)

var rules [ir.OpLast]rule

// reasons says why an op has no rule.
var reasons = [ir.OpLast]string{
	ir.OpPaddingMask:      "its operand is token ids, integers, and its result does not depend on any float",
	ir.OpToFloat:          "its operand is integers, which have no gradient",
	ir.OpFusedConv2D:      "made by the optimizer: differentiate the unfused graph, then optimise",
	ir.OpFusedMatMul:      "made by the optimizer: differentiate the unfused graph, then optimise",
	ir.OpElementwise:      "made by the optimizer: differentiate the unfused graph, then optimise",
	ir.OpUnaryGrad:        "a backward op: second derivatives are not needed by first-order optimisers",
	ir.OpConv2DGradInput:  "a backward op: second derivatives are not needed by first-order optimisers",
	ir.OpConv2DGradFilter: "a backward op: second derivatives are not needed by first-order optimisers",
	ir.OpMaxPool2DGrad:    "a backward op: second derivatives are not needed by first-order optimisers",
	ir.OpAvgPool2DGrad:    "a backward op: second derivatives are not needed by first-order optimisers",
	ir.OpEmbeddingGrad:    "a backward op: second derivatives are not needed by first-order optimisers",
	ir.OpGatherGrad:       "a backward op: second derivatives are not needed by first-order optimisers",
	ir.OpRecurrentGrad:    "a backward op: second derivatives are not needed by first-order optimisers",
	ir.OpAttentionGrad:    "a backward op: second derivatives are not needed by first-order optimisers",

	ir.OpArgMax:       piecewiseConstant,
	ir.OpGreater:      piecewiseConstant,
	ir.OpGreaterEqual: piecewiseConstant,
	ir.OpLess:         piecewiseConstant,
	ir.OpLessEqual:    piecewiseConstant,
	ir.OpEqual:        piecewiseConstant,
	ir.OpNotEqual:     piecewiseConstant,
	ir.OpFloor:        piecewiseConstant,
}

const piecewiseConstant = "piecewise constant: its derivative is zero wherever it exists, so no gradient flows through it"

// NoGradient reports why op has no gradient rule, and ok = true, or ok =
// false if it has one.
func NoGradient(op ir.Op) (reason string, ok bool) {
	if op.Valid() && rules[op] != nil {
		return "", false
	}
	if op.Valid() && reasons[op] != "" {
		return reasons[op], true
	}
	return "no gradient rule", true
}

func init() {
	rules = [ir.OpLast]rule{
		// dx = dy ⊙ f'(x) for every unary function: unary_grad holds the
		// derivatives (runtime/ref's derivatives table has their formulas).
		ir.OpRelu: unaryRule, ir.OpLeakyRelu: unaryRule, ir.OpSigmoid: unaryRule, ir.OpTanh: unaryRule,
		ir.OpGelu: unaryRule, ir.OpClip: unaryRule, ir.OpElu: unaryRule, ir.OpSelu: unaryRule,
		ir.OpSilu: unaryRule, ir.OpHardSigmoid: unaryRule, ir.OpHardSwish: unaryRule, ir.OpMish: unaryRule,
		ir.OpSoftplus: unaryRule, ir.OpSoftsign: unaryRule, ir.OpExp: unaryRule, ir.OpLog: unaryRule,
		ir.OpSqrt: unaryRule, ir.OpRsqrt: unaryRule, ir.OpAbs: unaryRule, ir.OpNeg: unaryRule,
		ir.OpPow: unaryRule, ir.OpErf: unaryRule,

		// dropout is the identity at inference: dx = dy. (TrainingMode
		// replaces it by dropout_train.)
		ir.OpDropout: func(_ *builder, _ *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
			return []*ir.Value{dy}, nil
		},
		// dropout_train(x, s) = x⊙mask(s)/(1-rate) is linear in x, so
		// dx = dy⊙mask(s)/(1-rate) = dropout_train(dy, s): the mask is
		// recomputed from the same seed, step and indices rather than kept
		// from the forward pass, which saves a tensor of x's size live from
		// the forward to the backward step for one hash per element. The
		// step, a counter, gets none.
		ir.OpDropoutTrain: func(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
			return []*ir.Value{b.node(ir.OpDropoutTrain, n.Attrs, dy, n.Inputs[1]), nil}, nil
		},

		// x + y: dx = Σ→x dy, dy' = Σ→y dy.
		ir.OpAdd: func(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
			return b.broadcastGrads(n, need, func() *ir.Value { return dy }, func() *ir.Value { return dy }), nil
		},
		// x - y: dx = Σ→x dy, dy' = Σ→y -dy.
		ir.OpSub: func(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
			return b.broadcastGrads(n, need, func() *ir.Value { return dy }, func() *ir.Value { return b.neg(dy) }), nil
		},
		// x ⊙ y: dx = Σ→x dy⊙y, dy' = Σ→y dy⊙x.
		ir.OpMul: func(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
			x, y := n.Inputs[0], n.Inputs[1]
			return b.broadcastGrads(n, need, func() *ir.Value { return b.mul(dy, y) }, func() *ir.Value { return b.mul(dy, x) }), nil
		},
		// out = x / y: dx = Σ→x dy/y, dy' = Σ→y -dy⊙out/y.
		ir.OpDiv: func(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
			y, out := n.Inputs[1], n.Outputs[0]
			return b.broadcastGrads(n, need, func() *ir.Value { return b.div(dy, y) },
				func() *ir.Value { return b.neg(b.div(b.mul(dy, out), y)) }), nil
		},
		// max(x, y): dy goes to x where x > y, else to y:
		// dx = Σ→x dy⊙[x-y > 0], dy' = Σ→y dy - dy⊙[x-y > 0], with
		// [x-y > 0]⊙dy = unary_grad{relu}(x-y, dy).
		ir.OpMaximum: minMax(false),
		// min(x, y): the same with the roles swapped.
		ir.OpMinimum: minMax(true),

		// softmax y over axis a: dx = y ⊙ (dy - Σ_a dy⊙y).
		ir.OpSoftmax: func(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
			y, a := n.Outputs[0], n.Attrs.(*ir.AxisAttrs).Axis
			s := b.sumTo(b.mul(dy, y), keep(y.Type.Shape, a))
			return []*ir.Value{b.mul(y, b.sub(dy, s))}, nil
		},
		// log_softmax y over axis a: dx = dy - exp(y) ⊙ Σ_a dy.
		ir.OpLogSoftmax: func(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
			y, a := n.Outputs[0], n.Attrs.(*ir.AxisAttrs).Axis
			s := b.sumTo(dy, keep(y.Type.Shape, a))
			return []*ir.Value{b.sub(dy, b.mul(b.node(ir.OpExp, nil, y), s))}, nil
		},

		// sum_to, a loss's sum or mean: dx = dy broadcast back to x's shape,
		// as dy ⊙ ones (a constant of x's shape: small for a loss, and no
		// broadcast op is needed for it).
		ir.OpSumTo: func(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
			ones, err := b.filled(n.Inputs[0].Type.Shape, 1)
			if err != nil {
				return nil, err
			}
			return []*ir.Value{b.mul(dy, ones)}, nil
		},

		ir.OpReduceSum:  reduceSumRule(false),
		ir.OpReduceMean: reduceSumRule(true),
		ir.OpReduceMax:  reduceExtremeRule,
		ir.OpReduceMin:  reduceExtremeRule,
		ir.OpWhere:      whereRule,

		ir.OpSoftmaxCrossEntropy:       crossEntropyRule,
		ir.OpSparseSoftmaxCrossEntropy: crossEntropyRule,

		ir.OpMatMul: matMulRule,
		// dense(x, W, bias) = x·W + bias over the last axis:
		// dx = dy·Wᵀ, dW = Σ over the leading axes of xᵀ·dy, dbias = Σ→[out] dy.
		ir.OpDense: func(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
			x, w := n.Inputs[0], n.Inputs[1]
			g := make([]*ir.Value, len(n.Inputs))
			if need[0] {
				g[0] = b.node(ir.OpMatMul, &ir.MatMulAttrs{TransB: true}, dy, w)
			}
			if need[1] {
				x2, dy2 := b.rows(x), b.rows(dy)
				g[1] = b.sumTo(b.node(ir.OpMatMul, &ir.MatMulAttrs{TransA: true}, x2, dy2), w.Type.Shape)
			}
			if len(n.Inputs) == 3 && need[2] {
				g[2] = b.sumTo(dy, n.Inputs[2].Type.Shape)
			}
			return g, nil
		},
		// conv2d(x, k, bias): dx = conv2d_grad_input(dy, k), dk =
		// conv2d_grad_filter(x, dy) (the convolution's transposes, as
		// kernels), dbias = Σ→[out] dy.
		ir.OpConv2D: func(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
			x, k, a := n.Inputs[0], n.Inputs[1], n.Attrs.(*ir.ConvAttrs)
			g := make([]*ir.Value, len(n.Inputs))
			if need[0] {
				g[0] = b.node(ir.OpConv2DGradInput, &ir.ConvGradAttrs{Conv: *a, Shape: slices.Clone(x.Type.Shape)}, dy, k)
			}
			if need[1] {
				g[1] = b.node(ir.OpConv2DGradFilter, &ir.ConvGradAttrs{Conv: *a, Shape: slices.Clone(k.Type.Shape)}, x, dy)
			}
			if len(n.Inputs) == 3 && need[2] {
				g[2] = b.sumTo(dy, n.Inputs[2].Type.Shape)
			}
			return g, nil
		},
		// conv2d_transpose(x, k, bias) is the adjoint of conv2d(·, k) whose
		// pads are its crop (the kernel's bytes read as HWIO from its out to
		// its in channels): dx = conv2d(dy, k), dk = that convolution's
		// conv2d_grad_filter(dy, x), dbias = Σ→[out] dy. The convolution
		// maps dy back onto x's size unless output_padding reaches the
		// stride (allowed below a larger dilation), which it refuses.
		ir.OpConv2DTranspose: func(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
			x, k, a := n.Inputs[0], n.Inputs[1], n.Attrs.(*ir.ConvTransposeAttrs)
			if a.OutputPadding[0] >= a.Stride[0] || a.OutputPadding[1] >= a.Stride[1] {
				return nil, fmt.Errorf("conv2d_transpose with output_padding %v at or above the stride %v has no gradient rule", a.OutputPadding, a.Stride)
			}
			xs, ks := x.Type.Shape, k.Type.Shape
			crop, _, _ := a.Geometry(xs[1].Size, xs[2].Size, ks[0].Size, ks[1].Size)
			conv := ir.ConvAttrs{Window2D: ir.Window2D{Stride: a.Stride, Dilation: a.Dilation, Padding: ir.Explicit, Pads: crop}, Groups: 1}
			g := make([]*ir.Value, len(n.Inputs))
			if need[0] {
				g[0] = b.node(ir.OpConv2D, &conv, dy, k)
			}
			if need[1] {
				g[1] = b.node(ir.OpConv2DGradFilter, &ir.ConvGradAttrs{Conv: conv, Shape: slices.Clone(ks)}, dy, x)
			}
			if len(n.Inputs) == 3 && need[2] {
				g[2] = b.sumTo(dy, n.Inputs[2].Type.Shape)
			}
			return g, nil
		},
		// maxpool: dy goes to each window's maximum (maxpool2d_grad finds it
		// again from x).
		ir.OpMaxPool2D: func(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
			return []*ir.Value{b.node(ir.OpMaxPool2DGrad, n.Attrs, n.Inputs[0], dy)}, nil
		},
		// avgpool: each dy spread evenly over its window's cells.
		ir.OpAvgPool2D: func(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
			a := &ir.PoolGradAttrs{Pool: *n.Attrs.(*ir.PoolAttrs), Shape: slices.Clone(n.Inputs[0].Type.Shape)}
			return []*ir.Value{b.node(ir.OpAvgPool2DGrad, a, dy)}, nil
		},
		// global_avgpool2d [N,H,W,C] -> [N,C]: dx = dy[N,1,1,C] ⊙ 1/(H·W),
		// broadcast over H and W by a constant of shape [H,W,1].
		ir.OpGlobalAvgPool2D: func(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
			s := n.Inputs[0].Type.Shape
			h, w := s[1], s[2]
			if !h.Known() || !w.Known() {
				return nil, errUnknown(s)
			}
			spread, err := b.filled(ir.Shape{h, w, ir.D(1)}, 1/float32(h.Size*w.Size))
			if err != nil {
				return nil, err
			}
			r := b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{s[0], ir.D(1), ir.D(1), s[3]}}, dy)
			return []*ir.Value{b.mul(r, spread)}, nil
		},
		// embedding(ids, table): dtable = the rows of dy added into the rows
		// their ids name (embedding_grad); the ids get no gradient.
		ir.OpEmbedding: func(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
			t := n.Inputs[1]
			return []*ir.Value{nil, b.node(ir.OpEmbeddingGrad, &ir.ReshapeAttrs{Shape: slices.Clone(t.Type.Shape)}, n.Inputs[0], dy)}, nil
		},
		// positional(x[, table]) = x + encoding: dx = dy; with a learned
		// table [L, d], dtable = (Σ over the batch of dy [N,T,d]) padded
		// with zero rows T..L-1.
		ir.OpPositional: positionalRule,

		ir.OpBatchNorm:     batchNormRule,
		ir.OpBatchVariance: batchVarianceRule,
		ir.OpLayerNorm:     layerNormRule,
		ir.OpRMSNorm:       rmsNormRule,
		ir.OpAttention:     attentionRule,
		ir.OpRecurrent:     recurrentRule,

		// flatten and reshape move no data: dx = reshape(dy) to x's shape.
		ir.OpFlatten: reshapeBack,
		ir.OpReshape: reshapeBack,
		// transpose by perm: dx = transpose(dy) by perm's inverse.
		ir.OpTranspose: func(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
			perm := n.Attrs.(*ir.TransposeAttrs).Perm
			inv := make([]int, len(perm))
			for i, p := range perm {
				inv[p] = i
			}
			return []*ir.Value{b.node(ir.OpTranspose, &ir.TransposeAttrs{Perm: inv}, dy)}, nil
		},
		// concat along a: dx_i = dy's slice of a where x_i was placed.
		ir.OpConcat: func(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
			a := n.Attrs.(*ir.AxisAttrs).Axis
			g := make([]*ir.Value, len(n.Inputs))
			start := 0
			for i, x := range n.Inputs {
				d := x.Type.Shape[a]
				if !d.Known() {
					return nil, errUnknown(x.Type.Shape)
				}
				if need[i] {
					g[i] = b.node(ir.OpSlice, &ir.SliceAttrs{Axis: a, Start: start, End: start + d.Size}, dy)
				}
				start += d.Size
			}
			return g, nil
		},
		// slice Start..End of axis a: dx = dy padded with zeros back to x's
		// size there.
		ir.OpSlice: func(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
			s, a := n.Inputs[0].Type.Shape, n.Attrs.(*ir.SliceAttrs)
			if !s[a.Axis].Known() {
				return nil, errUnknown(s)
			}
			pads := make([][2]int, len(s))
			pads[a.Axis] = [2]int{a.Start, s[a.Axis].Size - a.End}
			return []*ir.Value{b.node(ir.OpPad, &ir.PadAttrs{Mode: ir.PadConstant, Pads: pads}, dy)}, nil
		},
		// pad with a constant: dx = dy with the padding sliced off, axis by
		// axis. Reflected and repeated borders copy cells, whose gradients
		// they fold back (padFold), axis by axis: padding every axis at once
		// is padding them one after another.
		ir.OpPad: func(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
			s, a := n.Inputs[0].Type.Shape, n.Attrs.(*ir.PadAttrs)
			g := dy
			for axis := len(a.Pads) - 1; axis >= 0; axis-- {
				p := a.Pads[axis]
				if p == [2]int{} {
					continue
				}
				if !s[axis].Known() {
					return nil, errUnknown(s)
				}
				if a.Mode == ir.PadConstant {
					g = b.node(ir.OpSlice, &ir.SliceAttrs{Axis: axis, Start: p[0], End: p[0] + s[axis].Size}, g)
				} else {
					g = b.padFold(g, axis, s[axis].Size, p, a.Mode)
				}
			}
			return []*ir.Value{g}, nil
		},
		ir.OpResize: resizeGrad,
		ir.OpGather: gatherGrad,
	}
}

// unaryRule: dx = dy·f'(x), read from f's result where that determines it
// (ir.FromOutput: relu, tanh, sigmoid), so that the forward pass keeps y
// rather than x and f fuses into the op before it (a conv's epilogue).
func unaryRule(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
	a := &ir.UnaryGradAttrs{Fn: ir.Step{Op: n.Op, Attrs: n.Attrs}}
	if ir.FromOutput(n.Op) {
		a.Output = true
		return []*ir.Value{b.node(ir.OpUnaryGrad, a, n.Outputs[0], dy)}, nil
	}
	return []*ir.Value{b.node(ir.OpUnaryGrad, a, n.Inputs[0], dy)}, nil
}

// broadcastGrads sums the wanted gradients of a broadcasting binary op's
// operands back to their shapes; gx and gy compute them at the result's.
func (b *builder) broadcastGrads(n *ir.Node, need []bool, gx, gy func() *ir.Value) []*ir.Value {
	g := make([]*ir.Value, 2)
	if need[0] {
		g[0] = b.sumTo(gx(), n.Inputs[0].Type.Shape)
	}
	if need[1] {
		g[1] = b.sumTo(gy(), n.Inputs[1].Type.Shape)
	}
	return g
}

func minMax(isMin bool) rule {
	return func(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
		x, y := n.Inputs[0], n.Inputs[1]
		relu := &ir.UnaryGradAttrs{Fn: ir.Step{Op: ir.OpRelu}}
		xBigger := b.node(ir.OpUnaryGrad, relu, b.sub(x, y), dy)
		toX, toY := func() *ir.Value { return xBigger }, func() *ir.Value { return b.sub(dy, xBigger) }
		if isMin {
			toX, toY = toY, toX
		}
		return b.broadcastGrads(n, need, toX, toY), nil
	}
}

// matMulRule: out = A·B with A = a or aᵀ (TransA), B = b or bᵀ (TransB):
// dA = dy·Bᵀ and dB = Aᵀ·dy, so
//
//	da = dy·Bᵀ            (a as is)    or (dy·Bᵀ)ᵀ = B·dyᵀ (TransA)
//	db = Aᵀ·dy            (b as is)    or (Aᵀ·dy)ᵀ = dyᵀ·A (TransB)
//
// each then summed back over broadcast batch axes.
func matMulRule(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
	x, y, at := n.Inputs[0], n.Inputs[1], n.Attrs.(*ir.MatMulAttrs)
	g := make([]*ir.Value, 2)
	if need[0] {
		if at.TransA {
			g[0] = b.node(ir.OpMatMul, &ir.MatMulAttrs{TransA: at.TransB, TransB: true}, y, dy)
		} else {
			g[0] = b.node(ir.OpMatMul, &ir.MatMulAttrs{TransB: !at.TransB}, dy, y)
		}
		g[0] = b.sumTo(g[0], x.Type.Shape)
	}
	if need[1] {
		if at.TransB {
			g[1] = b.node(ir.OpMatMul, &ir.MatMulAttrs{TransA: true, TransB: at.TransA}, dy, x)
		} else {
			g[1] = b.node(ir.OpMatMul, &ir.MatMulAttrs{TransA: !at.TransA}, x, dy)
		}
		g[1] = b.sumTo(g[1], y.Type.Shape)
	}
	return g, nil
}

// rows views x [..., d] as a matrix [rows, d] when its leading sizes are
// known, so a weight gradient is one matrix product rather than a batch of
// them summed; otherwise x as it is.
func (b *builder) rows(x *ir.Value) *ir.Value {
	s := x.Type.Shape
	if len(s) <= 2 {
		return x
	}
	r, ok := s[:len(s)-1].KnownProduct(0)
	if !ok {
		return x
	}
	return b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{ir.D(r), s[len(s)-1]}}, x)
}

func reshapeBack(b *builder, n *ir.Node, dy *ir.Value, _ []bool) ([]*ir.Value, error) {
	return []*ir.Value{b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: slices.Clone(n.Inputs[0].Type.Shape)}, dy)}, nil
}

func positionalRule(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
	g := []*ir.Value{dy, nil}[:len(n.Inputs)]
	if len(n.Inputs) == 2 && need[1] {
		s, ts := dy.Type.Shape, n.Inputs[1].Type.Shape
		if !s[1].Known() {
			return nil, errUnknown(s)
		}
		rows := b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{s[1], s[2]}}, b.sumTo(dy, ir.Shape{ir.D(1), s[1], s[2]}))
		if extra := ts[0].Size - s[1].Size; extra > 0 {
			rows = b.node(ir.OpPad, &ir.PadAttrs{Mode: ir.PadConstant, Pads: [][2]int{{0, extra}, {0, 0}}}, rows)
		}
		g[1] = rows
	}
	return g, nil
}

// batchNormRule: y = (x-mean)⊙r⊙gamma + beta, r = 1/√(var+eps), statistics
// fixed (inference form):
//
//	dx = dy⊙gamma⊙r                     dgamma = Σ→[C] dy⊙(x-mean)⊙r
//	dbeta = Σ→[C] dy                    dmean = Σ→[C] -dy⊙gamma⊙r
//	dvar = Σ→[C] dy⊙(x-mean)⊙gamma⊙(-r³/2)
func batchNormRule(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
	x, gamma, mean, vr := n.Inputs[0], n.Inputs[1], n.Inputs[3], n.Inputs[4]
	c := gamma.Type.Shape
	r := b.node(ir.OpRsqrt, nil, b.add(vr, b.scalar(n.Attrs.(*ir.BatchNormAttrs).Epsilon)))
	gr := b.mul(gamma, r)
	g := make([]*ir.Value, 5)
	if need[0] {
		g[0] = b.mul(dy, gr)
	}
	if need[1] || need[4] {
		xc := b.sub(x, mean)
		if need[1] {
			g[1] = b.sumTo(b.mul(b.mul(dy, xc), r), c)
		}
		if need[4] {
			r3 := b.mul(b.mul(r, r), b.mul(r, b.scalar(-0.5)))
			g[4] = b.sumTo(b.mul(b.mul(dy, xc), b.mul(gamma, r3)), c)
		}
	}
	if need[2] {
		g[2] = b.sumTo(dy, c)
	}
	if need[3] {
		g[3] = b.neg(b.sumTo(b.mul(dy, gr), c))
	}
	return g, nil
}

// batchVarianceRule: v = Σ_rows (x-m)²/n per channel, n rows:
//
//	dx = dy_v⊙2(x-m)/n                  dm = -2/n·dy_v⊙Σ→[C](x-m)
//
// (dm is zero in exact arithmetic when m is the batch's mean, as in
// training batch norm, but the rule is the partial derivative for any m).
// With the inference rule of batchnorm(x, γ, β, m, v), whose dm and dv
// this and reduce_mean's rule carry back to x, training batch norm's dx
// is the standard batch-norm backward through the batch statistics
// (Ioffe and Szegedy 2015, §3): with r = 1/√(v+ε), xh = (x-m)⊙r and
// mean(·) over the rows,
//
//	dx = γ⊙r⊙(dy - mean(dy) - xh⊙mean(dy⊙xh))
//
// since dv = Σ dy⊙γ⊙(x-m)⊙(-r³/2) and dm = -Σ dy⊙γ⊙r (+ dv's share,
// which is zero): the terms dy⊙γ⊙r, dm/n and dv⊙2(x-m)/n.
func batchVarianceRule(b *builder, n *ir.Node, dv *ir.Value, need []bool) ([]*ir.Value, error) {
	x, m := n.Inputs[0], n.Inputs[1]
	s := x.Type.Shape
	rows, ok := s[:len(s)-1].KnownProduct(0)
	if !ok {
		return nil, errUnknown(s)
	}
	xc := b.sub(x, m)
	scaled := b.mul(dv, b.scalar(float32(2/float64(rows))))
	g := make([]*ir.Value, 2)
	if need[0] {
		g[0] = b.mul(xc, scaled)
	}
	if need[1] {
		g[1] = b.neg(b.mul(scaled, b.sumTo(xc, m.Type.Shape)))
	}
	return g, nil
}

// layerNormRule, over the last axis of size d: xh = (x-μ)⊙r,
// r = 1/√(var+eps), y = xh⊙gamma + beta; with g = dy⊙gamma and m(·) the
// mean over the axis:
//
//	dx = r⊙(g - m(g) - xh⊙m(g⊙xh))
//	dgamma = Σ→[d] dy⊙xh                dbeta = Σ→[d] dy
func layerNormRule(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
	return normRule(b, n, dy, need, false)
}

// rmsNormRule: xh = x⊙r, r = 1/√(m(x²)+eps), y = xh⊙gamma:
//
//	dx = r⊙(g - xh⊙m(g⊙xh))             dgamma = Σ→[d] dy⊙xh
func rmsNormRule(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
	return normRule(b, n, dy, need, true)
}

func normRule(b *builder, n *ir.Node, dy *ir.Value, need []bool, rms bool) ([]*ir.Value, error) {
	x, gamma := n.Inputs[0], n.Inputs[1]
	axis := x.Type.Shape.Rank() - 1
	eps := b.scalar(n.Attrs.(*ir.NormAttrs).Epsilon)
	xc := x
	if !rms {
		xc = b.sub(x, b.mean(x, axis))
	}
	r := b.node(ir.OpRsqrt, nil, b.add(b.mean(b.mul(xc, xc), axis), eps))
	xh := b.mul(xc, r)
	g := make([]*ir.Value, len(n.Inputs))
	if need[0] {
		gd := b.mul(dy, gamma)
		in := b.sub(gd, b.mul(xh, b.mean(b.mul(gd, xh), axis)))
		if !rms {
			in = b.sub(in, b.mean(gd, axis))
		}
		g[0] = b.mul(r, in)
	}
	if need[1] {
		g[1] = b.sumTo(b.mul(dy, xh), gamma.Type.Shape)
	}
	if !rms && need[2] {
		g[2] = b.sumTo(dy, n.Inputs[2].Type.Shape)
	}
	return g, nil
}

// attentionRule: with s = q·kᵀ·scale (+ mask, + the causal mask),
// p = softmax(s), out = p·v:
//
//	dv = pᵀ·dy      dp = dy·vᵀ      ds = p⊙(dp - Σ_last dp⊙p)
//	dq = ds·k·scale     dk = dsᵀ·q·scale     dmask = Σ→mask ds
//
// attention_grad computes dq, dk and dv in one kernel that recomputes p a
// band of query rows at a time, so no [.., Tq, Tk] tensor is kept: memory
// linear in T. It packs them per matrix, [B..., Tq·dk | Tk·dk | Tk·dv], and
// each is its slice of the last axis reshaped. A mask that needs a gradient
// takes composedAttentionGrad instead: dmask is a [.., Tq, Tk] tensor
// anyway (a learned bias; a padding mask of ids needs none).
func attentionRule(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
	if len(n.Inputs) == 4 && need[3] {
		return composedAttentionGrad(b, n, dy, need)
	}
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	qs, ks, vs := q.Type.Shape, k.Type.Shape, v.Type.Shape
	r := qs.Rank()
	for _, d := range []ir.Dim{qs[r-2], qs[r-1], ks[r-2], vs[r-1]} {
		if !d.Known() {
			return nil, errUnknown(qs)
		}
	}
	packed := b.node(ir.OpAttentionGrad, n.Attrs, append(slices.Clone(n.Inputs), dy)...)
	g := make([]*ir.Value, len(n.Inputs))
	start := 0
	for i, x := range []*ir.Value{q, k, v} {
		s := x.Type.Shape
		size := s[r-2].Size * s[r-1].Size
		if need[i] {
			part := b.node(ir.OpSlice, &ir.SliceAttrs{Axis: r - 2, Start: start, End: start + size}, packed)
			g[i] = b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: slices.Clone(s)}, part)
		}
		start += size
	}
	return g, nil
}

// composedAttentionGrad is attentionRule's math from forward ops,
// recomputing p whole: a [.., Tq, Tk] tensor alive in the backward pass,
// for a mask that needs its gradient.
func composedAttentionGrad(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	at := n.Attrs.(*ir.AttentionAttrs)
	qs, ks := q.Type.Shape, k.Type.Shape
	r := qs.Rank()
	scale := at.Scale
	if scale == 0 {
		if !qs[r-1].Known() {
			return nil, errUnknown(qs)
		}
		scale = float32(1 / math.Sqrt(float64(qs[r-1].Size)))
	}
	sc := b.scalar(scale)
	s := b.add(b.mul(b.node(ir.OpMatMul, &ir.MatMulAttrs{TransB: true}, q, k), sc), n.Inputs[3])
	if at.Causal {
		tq, tk := qs[r-2], ks[r-2]
		if !tq.Known() || !tk.Known() {
			return nil, errUnknown(qs)
		}
		mask := make([]float32, tq.Size*tk.Size)
		for i := range tq.Size {
			for j := i + 1; j < tk.Size; j++ {
				mask[i*tk.Size+j] = float32(math.Inf(-1))
			}
		}
		s = b.add(s, b.g.AddConst(fmt.Sprintf("grad.causal%d", len(b.g.Consts)), ir.T(tq.Size, tk.Size), mask))
	}
	p := b.node(ir.OpSoftmax, &ir.AxisAttrs{Axis: r - 1}, s)
	g := make([]*ir.Value, len(n.Inputs))
	if need[2] {
		g[2] = b.node(ir.OpMatMul, &ir.MatMulAttrs{TransA: true}, p, dy)
	}
	dp := b.node(ir.OpMatMul, &ir.MatMulAttrs{TransB: true}, dy, v)
	ds := b.mul(p, b.sub(dp, b.sumTo(b.mul(dp, p), keep(p.Type.Shape, r-1))))
	if need[0] {
		g[0] = b.mul(b.node(ir.OpMatMul, &ir.MatMulAttrs{}, ds, k), sc)
	}
	if need[1] {
		g[1] = b.mul(b.node(ir.OpMatMul, &ir.MatMulAttrs{TransA: true}, ds, q), sc)
	}
	g[3] = b.sumTo(ds, n.Inputs[3].Type.Shape)
	return g, nil
}

// recurrentRule is backpropagation through time. recurrent_grad runs the
// loop backwards and gives da, the gradient of every step's gate
// pre-activations, which is d xw, and d h0, d c0 (its last row, with h0).
// The weights see each step through z = h_prev·U + bu, with h_prev the h
// that step read (h0 or zero first), so
//
//	d u = Σ over sequences and steps of h_prevᵀ·dz      d bu = Σ→[G·H] dz
//
// one matmul over all N·T steps. dz is da but for a GRU's n gate, whose
// pre-activation is x_n + r⊙z_n: dz_n = r⊙da_n, with r = σ(x_r + z_r)
// recomputed from h_prev. h_prev is the result shifted one step, the
// result of a second recurrent op returning sequences if this one returns
// only the last h.
func recurrentRule(b *builder, n *ir.Node, dy *ir.Value, need []bool) ([]*ir.Value, error) {
	a := n.Attrs.(*ir.RecurrentAttrs)
	xw, u, bu := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	xs := xw.Type.Shape
	if !xs[1].Known() {
		return nil, errUnknown(xs)
	}
	steps, hid := xs[1].Size, u.Type.Shape[0].Size
	gh := a.Cell.Gates() * hid
	slice := func(x *ir.Value, axis, start, end int) *ir.Value {
		return b.node(ir.OpSlice, &ir.SliceAttrs{Axis: axis, Start: start, End: end}, x)
	}
	at := *a
	d := b.node(ir.OpRecurrentGrad, &at, append(slices.Clone(n.Inputs), dy)...)
	g := make([]*ir.Value, len(n.Inputs))
	da := d
	if len(n.Inputs) > 3 {
		da = slice(d, 1, 0, steps)
		state := slice(d, 1, steps, steps+1)
		for i := 3; i < len(n.Inputs); i++ {
			if need[i] {
				g[i] = b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: slices.Clone(n.Inputs[i].Type.Shape)}, slice(state, 2, (i-3)*hid, (i-2)*hid))
			}
		}
	}
	if need[0] {
		g[0] = da
	}
	if !need[1] && !need[2] {
		return g, nil
	}
	prev, err := b.recurrentInputs(n)
	if err != nil {
		return nil, err
	}
	dz := da
	if a.Cell == ir.CellGRU {
		zr := b.add(b.node(ir.OpMatMul, &ir.MatMulAttrs{}, prev, slice(u, 1, 0, hid)), slice(bu, 0, 0, hid))
		r := b.node(ir.OpSigmoid, nil, b.add(slice(xw, 2, 0, hid), zr))
		dz = b.node(ir.OpConcat, &ir.AxisAttrs{Axis: 2}, slice(da, 2, 0, 2*hid), b.mul(r, slice(da, 2, 2*hid, gh)))
	}
	if need[1] {
		g[1] = b.sumTo(b.node(ir.OpMatMul, &ir.MatMulAttrs{TransA: true}, b.rows(prev), b.rows(dz)), u.Type.Shape)
	}
	if need[2] {
		g[2] = b.sumTo(dz, bu.Type.Shape)
	}
	return g, nil
}

// recurrentInputs is the h each step of recurrent node n read, at its time
// step's position [N, T, H]: the result returning sequences moved one step
// later in the loop's order, h0 (or zeros) in the first step's place.
func (b *builder) recurrentInputs(n *ir.Node) (*ir.Value, error) {
	a := n.Attrs.(*ir.RecurrentAttrs)
	xs, hid := n.Inputs[0].Type.Shape, n.Inputs[1].Type.Shape[0]
	steps := xs[1].Size
	first := ir.Shape{xs[0], ir.D(1), hid}
	var h0 *ir.Value
	if len(n.Inputs) > 3 {
		h0 = b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: first}, n.Inputs[3])
	}
	if steps == 1 {
		if h0 != nil {
			return h0, nil
		}
		return b.filled(first, 0)
	}
	hs := n.Outputs[0]
	if !a.Sequences {
		seq := *a
		seq.Sequences = true
		hs = b.node(ir.OpRecurrent, &seq, n.Inputs...)
	}
	// The loop's earlier steps are the later times when it runs in reverse.
	start, pad := 0, [2]int{1, 0}
	if a.Reverse {
		start, pad = 1, [2]int{0, 1}
	}
	shifted := b.node(ir.OpSlice, &ir.SliceAttrs{Axis: 1, Start: start, End: start + steps - 1}, hs)
	switch {
	case h0 == nil:
		return b.node(ir.OpPad, &ir.PadAttrs{Mode: ir.PadConstant, Pads: [][2]int{{}, pad, {}}}, shifted), nil
	case a.Reverse:
		return b.node(ir.OpConcat, &ir.AxisAttrs{Axis: 1}, shifted, h0), nil
	default:
		return b.node(ir.OpConcat, &ir.AxisAttrs{Axis: 1}, h0, shifted), nil
	}
}

// crossEntropyRule: per row, L = lse(x)·Σy - Σ y·x, so with d = dL per row
// (kept as an axis of 1 to broadcast over the classes):
//
//	dx = d ⊙ (softmax(x)⊙Σy - y)       (softmax(x) - y for a distribution)
//	dy = -d ⊙ log_softmax(x)
//
// and sparse, y = onehot(ids) = embedding(ids, I), the identity's rows:
// dx = d ⊙ (softmax(x) - onehot(ids)); the ids get none.
func crossEntropyRule(b *builder, n *ir.Node, dL *ir.Value, need []bool) ([]*ir.Value, error) {
	x, y := n.Inputs[0], n.Inputs[1]
	s := x.Type.Shape
	axis := len(s) - 1
	d := b.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: keep(s, axis)}, dL)
	g := make([]*ir.Value, 2)
	if need[0] {
		p := b.node(ir.OpSoftmax, &ir.AxisAttrs{Axis: axis}, x)
		var target *ir.Value
		if n.Op == ir.OpSparseSoftmaxCrossEntropy {
			c := s[axis].Size
			eye := make([]float32, c*c)
			for i := range c {
				eye[i*c+i] = 1
			}
			identity := b.g.AddConst(fmt.Sprintf("grad.identity%d", len(b.g.Consts)), ir.T(c, c), eye)
			target = b.node(ir.OpEmbedding, nil, y, identity)
		} else {
			p = b.mul(p, b.sumTo(y, keep(s, axis)))
			target = y
		}
		g[0] = b.mul(d, b.sub(p, target))
	}
	if n.Op == ir.OpSoftmaxCrossEntropy && need[1] {
		g[1] = b.neg(b.mul(d, b.node(ir.OpLogSoftmax, &ir.AxisAttrs{Axis: axis}, x)))
	}
	return g, nil
}
