package plan

import (
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/attention"
	"github.com/mdlc/mdlc/runtime/kernels/backward"
	"github.com/mdlc/mdlc/runtime/kernels/conv"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/layout"
	"github.com/mdlc/mdlc/tensor"
)

// Builders of the gradient ops' steps (package autodiff emits the ops).

func buildSumTo(b *builder, n *ir.Node) exec.Spec {
	x := n.Inputs[0]
	b.info[b.step].Kernel = "backward"
	shape := b.shapes[x]
	return exec.SumTo{X: b.slot(x), Out: b.out(n), Shape: shape, Strides: tensor.BroadcastStrides(b.shapes[n.Outputs[0]], shape)}
}

func buildUnaryGrad(b *builder, n *ir.Node) exec.Spec {
	b.inPlace(n, 1, 0)
	b.info[b.step].Kernel = "backward"
	a := n.Attrs.(*ir.UnaryGradAttrs)
	fn := a.Fn
	s := exec.UnaryGrad{X: b.slot(n.Inputs[0]), DY: b.slot(n.Inputs[1]), Out: b.out(n), Fn: chainOps[fn.Op](fn.Attrs), Output: a.Output}
	scratch := backward.NewUnaryGrad(b.kernels, s.Fn, s.Output).ScratchSize()
	s.Scratch = b.scratch(scratch, "a block of f(x)")
	size := tensor.Numel(b.shapes[n.Outputs[0]])
	// About 1.5 ns an element (relu's, the cheapest): 150 GEMM flops at the
	// 100 GFLOP/s exec.MinFlopsPerThread assumes.
	s.Helpers = b.helpers((size+exec.UnaryGradUnit-1)/exec.UnaryGradUnit, 150*float64(size), scratch)
	return s
}

// convGeometry is the convolution of x (shape xs) with a kernel of shape ks.
func convGeometry(a *ir.ConvAttrs, xs, ks, ys []int) backward.Conv {
	return backward.Conv{N: xs[0], H: xs[1], W: xs[2], C: xs[3], KH: ks[0], KW: ks[1], CO: ks[3], OH: ys[1], OW: ys[2],
		Stride: a.Stride, Dilation: a.Dilation, Pads: a.PadsFor(xs[1], xs[2], ks[0], ks[1]), Groups: a.Groups}
}

// buildConvGradInput: where the input gradient, a convolution itself
// (conv.InputGrad), is one Winograd computes (3×3 over at least 16 of the
// result's channels), that conv; otherwise products on the GEMM and col2im
// (backward.ConvGrad). The seed CNNs' second layers at batch 32, their
// kernel turned round and packed by every run (Intel Xeon, avx512, one
// thread; the machine at a load of 11 on 2 CPUs, so the least CPU time of 6
// runs of 100): fashion's (13²×32 → 11²×64) 1.20 ms by the GEMM, 1.14 by
// Winograd; cnn32's (15²×32 → 13²×64) 1.63 against 1.42.
func buildConvGradInput(b *builder, n *ir.Node) exec.Spec {
	dy, k := n.Inputs[0], n.Inputs[1]
	c := convGeometry(&n.Attrs.(*ir.ConvGradAttrs).Conv, b.shapes[n.Outputs[0]], b.shapes[k], b.shapes[dy])
	g, ok := conv.InputGrad(conv.Shape{N: c.N, H: c.H, W: c.W, C: c.C, KH: c.KH, KW: c.KW, CO: c.CO,
		Stride: c.Stride, Dilation: c.Dilation, Pads: c.Pads, Groups: c.Groups})
	if ok && conv.Choose(g, nil, nil) == conv.Winograd {
		return buildConvAsInputGrad(b, n, g)
	}
	return b.convGrad(exec.ConvGrad{DY: b.slot(dy), K: b.slot(k), Out: b.out(n), Conv: c})
}

// buildConvAsInputGrad is conv2d_grad_input n as the convolution g over
// its result's gradient, its kernel turned round and packed by every run,
// or now if it is a constant.
func buildConvAsInputGrad(b *builder, n *ir.Node, g conv.Shape) exec.Spec {
	dy, k := n.Inputs[0], n.Inputs[1]
	s := exec.Conv{X: b.slot(dy), Out: b.out(n), Shape: g}
	c := s.New(b.kernels).Conv
	b.info[b.step].Kernel = "conv/" + c.Algorithm().String()
	b.executes(c.Flops())
	if data := b.data(k); data != nil {
		flipped, packed := make([]float32, len(data)), make([]float32, c.PackedSize())
		conv.FlipKernel(flipped, data, g)
		c.PackWeights(packed, flipped)
		s.W = b.constant(packed, b.names[k]+" turned round and packed")
	} else {
		s.Raw, s.Flip, s.W = b.slot(k), b.temp(tensor.Numel(b.shapes[k]), "kernel turned round"), b.temp(c.PackedSize(), "packed weights")
	}
	s.Scratch = b.scratch(c.ScratchSize(), "winograd tiles")
	_, direct := c.Flops()
	s.Helpers = b.helpers(c.Units(), direct, c.ScratchSize())
	return s
}

func buildConvGradFilter(b *builder, n *ir.Node) exec.Spec {
	x, dy := n.Inputs[0], n.Inputs[1]
	c := convGeometry(&n.Attrs.(*ir.ConvGradAttrs).Conv, b.shapes[x], b.shapes[n.Outputs[0]], b.shapes[dy])
	return b.convGrad(exec.ConvGrad{X: b.slot(x), DY: b.slot(dy), Out: b.out(n), Filter: true, Conv: c})
}

func (b *builder) convGrad(s exec.ConvGrad) exec.Spec {
	b.info[b.step].Kernel = "gemm"
	g := backward.NewConvGrad(b.kernels, s.Conv)
	s.Scratch = b.scratch(g.ScratchSize(), "im2col chunk and packed panels")
	units, c := g.InputUnits(), s.Conv
	if s.Filter {
		if g.DirectFilter() {
			b.info[b.step].Kernel = "backward/direct"
		}
		units = g.FilterUnits()
		s.Partial = b.temp(g.PartialSize(), "filter gradient's partial sums")
	}
	flops := 2 * float64(c.N*c.OH*c.OW) * float64(c.KH*c.KW*c.C/c.Groups) * float64(c.CO)
	s.Helpers = b.helpers(units, flops, g.ScratchSize())
	return s
}

func poolGeometry(a *ir.PoolAttrs, xs, ys []int) backward.Pool {
	return backward.Pool{N: xs[0], H: xs[1], W: xs[2], C: xs[3], KH: a.Size[0], KW: a.Size[1], OH: ys[1], OW: ys[2],
		Stride: a.Stride, Dilation: a.Dilation, Pads: a.PadsFor(xs[1], xs[2], a.Size[0], a.Size[1]), CountPad: a.CountPad}
}

func buildMaxPoolGrad(b *builder, n *ir.Node) exec.Spec {
	x, dy := n.Inputs[0], n.Inputs[1]
	b.info[b.step].Kernel = "backward"
	s := exec.PoolGrad{X: b.slot(x), DY: b.slot(dy), Out: b.out(n), Max: true,
		Pool: poolGeometry(n.Attrs.(*ir.PoolAttrs), b.shapes[x], b.shapes[dy])}
	s.Helpers = poolHelpers(b, s.Pool)
	return s
}

func buildAvgPoolGrad(b *builder, n *ir.Node) exec.Spec {
	dy := n.Inputs[0]
	b.info[b.step].Kernel = "backward"
	s := exec.PoolGrad{DY: b.slot(dy), Out: b.out(n),
		Pool: poolGeometry(&n.Attrs.(*ir.PoolGradAttrs).Pool, b.shapes[n.Outputs[0]], b.shapes[dy])}
	s.Helpers = poolHelpers(b, s.Pool)
	return s
}

// poolHelpers counts a pool gradient's work for exec.Helpers, whose
// MinFlopsPerThread is GEMM flops at about 100 GFLOP/s: a pool gradient
// spends about 1 ns per tap (fashion_cnn's first, 2×2 over 32 images of
// 26×26×32: 1.1-1.9 ms for 692 Ki taps), so each tap counts 100.
func poolHelpers(b *builder, p backward.Pool) int {
	return b.helpers(p.PoolUnits(), 100*float64(p.N*p.C)*float64(p.OH*p.OW*p.KH*p.KW), 0)
}

func buildEmbeddingGrad(b *builder, n *ir.Node) exec.Spec {
	b.info[b.step].Kernel = "backward"
	return exec.EmbeddingGrad{IDs: b.slot(n.Inputs[0]), DY: b.slot(n.Inputs[1]), Out: b.out(n), Dim: b.shapes[n.Outputs[0]][1]}
}

// buildGatherGrad: gather_grad's operands are already gather's viewed as
// [B, I] indices and [B, P, I, R] dy (package autodiff reshapes them), dx
// [B, P, S, R]. A cell of dy costs about a third of a nanosecond to add
// (memory-bound, like a copy), which exec.Helpers, counting GEMM flops at
// about 100 GFLOP/s, weighs as 30; clearing dx is a third of that per cell.
func buildGatherGrad(b *builder, n *ir.Node) exec.Spec {
	is, dy, x := b.shapes[n.Inputs[0]], b.shapes[n.Inputs[1]], b.shapes[n.Outputs[0]]
	g := layout.GatherAxis{B: x[0], P: x[1], A: x[2], I: is[1], R: x[3]}
	b.info[b.step].Kernel = "backward"
	helpers := b.helpers(g.ScatterUnits(), 30*float64(tensor.Numel(dy))+10*float64(tensor.Numel(x)), 0)
	return exec.GatherGrad{Indices: b.slot(n.Inputs[0]), DY: b.slot(n.Inputs[1]), Out: b.out(n), Gather: g, Helpers: helpers, Name: n.Layer, Shape: is}
}

func buildCrossEntropy(b *builder, n *ir.Node) exec.Spec {
	x := n.Inputs[0]
	shape := b.shapes[x]
	b.info[b.step].Kernel = "loss"
	return exec.CrossEntropy{X: b.slot(x), Labels: b.slot(n.Inputs[1]), Out: b.out(n), C: shape[len(shape)-1],
		Sparse: n.Op == ir.OpSparseSoftmaxCrossEntropy}
}

// buildRecurrentGrad: a unit per sequence, each needing its own scratch for
// the recomputed loop.
func buildRecurrentGrad(b *builder, n *ir.Node) exec.Spec {
	a := n.Attrs.(*ir.RecurrentAttrs)
	fwd := n.Inputs[:len(n.Inputs)-1]
	xs, us := b.shapes[fwd[0]], b.shapes[fwd[1]]
	s := exec.RecurrentGrad{XW: b.slot(fwd[0]), U: b.slot(fwd[1]), BU: b.slot(fwd[2]), DY: b.slot(n.Inputs[len(fwd)]), Out: b.out(n),
		Loop: backward.RecurrentGrad{Cell: cells[a.Cell], Relu: a.Relu, Reverse: a.Reverse, Sequence: a.Sequences,
			N: xs[0], T: xs[1], H: us[0], States: len(fwd) - 3}}
	if len(fwd) > 3 {
		s.H0 = b.slot(fwd[3])
	}
	if len(fwd) > 4 {
		s.C0 = b.slot(fwd[4])
	}
	b.info[b.step].Kernel = "backward"
	size := s.Loop.ScratchSize()
	s.Scratch = b.scratch(size, "a sequence's recomputed states and gates")
	// Per sequence: the loop forward and back, two products with U a step.
	flops := 4 * float64(s.Loop.N*s.Loop.T*s.Loop.H*us[1])
	s.Helpers = b.helpers(s.Loop.Units(), flops, size)
	return s
}

// buildAttentionGrad: a unit per matrix, each needing its own scratch for
// its packed keys and values and a band's scores.
func buildAttentionGrad(b *builder, n *ir.Node) exec.Spec {
	fwd := n.Inputs[:len(n.Inputs)-1]
	a := attentionShape(b, n, fwd)
	s := exec.AttentionGrad{Q: b.slot(fwd[0]), K: b.slot(fwd[1]), V: b.slot(fwd[2]), DY: b.slot(n.Inputs[len(fwd)]), Out: b.out(n), Shape: a}
	if a.HasMask {
		s.Mask = b.slot(fwd[3])
	}
	g := attention.NewGrad(gemm.For(b.kernels), a)
	b.info[b.step].Kernel = "attention"
	computed, all := g.Scores()
	nominal := float64(b.info[b.step].Flops)
	b.executes(nominal*computed/all, nominal)
	s.Scratch = b.scratch(g.ScratchSize(), "packed keys and values, a band's scores")
	// Per score: five products over d_k or d_v.
	flops := 2 * float64(a.Batch*a.TQ*a.TK*(3*a.DK+2*a.DV))
	s.Helpers = b.helpers(g.Units(), flops, g.ScratchSize())
	return s
}
