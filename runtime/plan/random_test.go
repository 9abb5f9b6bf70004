package plan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
)

// gen builds a random graph: a DAG over an image input [N,H,W,C] and a
// feature input [N,F], growing by ops applied to values already there,
// every op of the IR among them, fused ones with random chains. Weights are
// parameters or constants at random, some computed by ops from them.
type gen struct {
	r     *rand.Rand
	g     *ir.Graph
	w     map[string]*tensor.Tensor
	vals  []*ir.Value
	names int
}

func (gn *gen) name() string { gn.names++; return fmt.Sprintf("w%d", gn.names) }

// weight is a weight of the given shape, values N(0, 1/fanIn): a parameter
// or a constant, and now and then a value computed from one.
func (gn *gen) weight(fanIn int, shape ...int) *ir.Value {
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = float32(gn.r.NormFloat64() / math.Sqrt(float64(max(fanIn, 1))))
	}
	return gn.tensor(x)
}

// positive is a weight in [1, 2): divisors and variances.
func (gn *gen) positive(shape ...int) *ir.Value {
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = 1 + gn.r.Float32()
	}
	return gn.tensor(x)
}

func (gn *gen) tensor(x *tensor.Tensor) *ir.Value {
	t := kerneltest.Type(x.Shape)
	var v *ir.Value
	if gn.r.IntN(2) == 0 {
		v = gn.g.AddConst(gn.name(), t, x.Data)
	} else {
		v = gn.g.AddParam(gn.name(), t, ir.Init{Kind: ir.InitZeros}, true)
		gn.w[v.Name] = x
	}
	if gn.r.IntN(8) == 0 { // computed at run time: x·1
		one := gn.g.AddConst(gn.name(), kerneltest.Type([]int{1}), []float32{1})
		v = gn.node(ir.OpMul, nil, v, one)
	}
	return v
}

// node adds op(ins...); it returns nil if the op rejects the operands.
func (gn *gen) node(op ir.Op, attrs ir.Attrs, ins ...*ir.Value) *ir.Value {
	v, err := gn.g.AddNode(op, attrs, ins, fmt.Sprintf("l%d", len(gn.g.Nodes)), ir.Pos{})
	if err != nil {
		return nil
	}
	return v
}

// dims are a value's dims after the batch axis.
func dims(v *ir.Value) []int {
	d, _ := v.Type.Shape[1:].Bind(nil)
	return d
}

// unaryOps are the unary ops defined and bounded on every input, so that
// a random chain of them stays finite (exp, log, sqrt, rsqrt and fractional
// powers are left to the kernel tests).
var unaryOps = []ir.Op{
	ir.OpRelu, ir.OpLeakyRelu, ir.OpSigmoid, ir.OpTanh, ir.OpGelu,
	ir.OpClip, ir.OpElu, ir.OpSelu, ir.OpSilu, ir.OpHardSigmoid, ir.OpHardSwish, ir.OpMish,
	ir.OpSoftplus, ir.OpSoftsign, ir.OpAbs, ir.OpNeg, ir.OpPow, ir.OpErf,
}

func (gn *gen) unaryAttrs(op ir.Op) ir.Attrs {
	switch op {
	case ir.OpLeakyRelu:
		return &ir.LeakyReluAttrs{Alpha: 0.2}
	case ir.OpGelu:
		return &ir.GeluAttrs{Approximate: gn.r.IntN(2) == 0}
	case ir.OpClip:
		return &ir.ClipAttrs{Min: -gn.r.Float32(), Max: 6 * gn.r.Float32()}
	case ir.OpElu:
		return &ir.EluAttrs{Alpha: 1}
	case ir.OpHardSigmoid:
		return &ir.HardSigmoidAttrs{Alpha: []float32{0.2, 1.0 / 6}[gn.r.IntN(2)]}
	case ir.OpPow:
		return &ir.PowAttrs{Exponent: float32(2 + gn.r.IntN(2))}
	}
	return nil
}

// broadcastShape is a shape that broadcasts into [N, d...] without growing
// it: a suffix of d with some axes set to 1.
func (gn *gen) broadcastShape(d []int) []int {
	s := slices.Clone(d[gn.r.IntN(len(d)+1):])
	for i := range s {
		if gn.r.IntN(3) == 0 {
			s[i] = 1
		}
	}
	if len(s) == 0 {
		s = []int{1}
	}
	return s
}

// chain is a random chain whose binary operands are weights broadcasting
// into [N, d...] (or the value v itself, if given and it fits), appended to
// ins; division only by positive weights.
func (gn *gen) chain(d []int, v *ir.Value, ins []*ir.Value) (ir.Chain, []*ir.Value) {
	var c ir.Chain
	for range 1 + gn.r.IntN(4) {
		if gn.r.IntN(2) == 0 {
			op := unaryOps[gn.r.IntN(len(unaryOps))]
			c = append(c, ir.Step{Op: op, Attrs: gn.unaryAttrs(op)})
			continue
		}
		op := []ir.Op{ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv, ir.OpMinimum, ir.OpMaximum}[gn.r.IntN(6)]
		var w *ir.Value
		switch {
		case op == ir.OpDiv:
			w = gn.positive(gn.broadcastShape(d)...)
		case v != nil && gn.r.IntN(4) == 0:
			w = v
		default:
			w = gn.weight(1, gn.broadcastShape(d)...)
		}
		c = append(c, ir.Step{Op: op, Operand: len(ins), Swapped: op != ir.OpDiv && gn.r.IntN(2) == 0})
		ins = append(ins, w)
	}
	return c, ins
}

// window is a random conv or pool window.
func (gn *gen) window(size [2]int) ir.Window2D {
	w := ir.Window2D{Size: size, Stride: [2]int{1 + gn.r.IntN(2), 1 + gn.r.IntN(2)}, Dilation: [2]int{1 + gn.r.IntN(2), 1}, Padding: ir.Padding(gn.r.IntN(3))}
	if w.Padding == ir.Explicit {
		w.Pads = [4]int{gn.r.IntN(2), gn.r.IntN(2), gn.r.IntN(2), gn.r.IntN(2)}
	}
	return w
}

// poolWindow is a random pool window; explicit pads stay below the window's
// size, as the IR requires.
func (gn *gen) poolWindow() ir.Window2D {
	p := gn.window([2]int{1 + gn.r.IntN(3), 1 + gn.r.IntN(3)})
	if p.Padding == ir.Explicit {
		for i := range p.Pads {
			p.Pads[i] = gn.r.IntN((p.Size[i/2]-1)*p.Dilation[i/2] + 1)
		}
	}
	return p
}

// pad pads a value's spatial axes, sometimes its channels too, in a random
// mode, or with zeros.
func (gn *gen) pad(x *ir.Value, zeros bool) *ir.Value {
	a := &ir.PadAttrs{Mode: ir.PadMode(gn.r.IntN(3)), Pads: make([][2]int, x.Type.Shape.Rank()), Value: gn.r.Float32()}
	if zeros {
		a.Mode, a.Value = ir.PadConstant, 0
	}
	axes := len(a.Pads) - 1 // H and W; now and then C too
	if gn.r.IntN(4) == 0 {
		axes++
	}
	for d := 1; d < axes; d++ {
		a.Pads[d] = [2]int{gn.r.IntN(3), gn.r.IntN(3)}
	}
	return gn.node(ir.OpPad, a, x)
}

// reduce is a random reduction over a random non-empty set of the axes
// after the batch axis, an argmax, or a comparison's mask selecting between
// x and another value (or a broadcast weight).
func (gn *gen) reduce(x *ir.Value) *ir.Value {
	r := x.Type.Shape.Rank()
	switch gn.r.IntN(5) {
	case 0:
		return gn.node(ir.OpArgMax, &ir.ArgAttrs{Axis: 1 + gn.r.IntN(r-1), KeepDims: gn.r.IntN(2) == 0}, x)
	case 4: // gather at constant indices, or, per example, at an argmax's
		axis := 1 + gn.r.IntN(r-1)
		size := dims(x)[axis-1]
		if gn.r.IntN(2) == 0 {
			idx := tensor.New(1+gn.r.IntN(3), 1+gn.r.IntN(2))
			for i := range idx.Data {
				idx.Data[i] = float32(gn.r.IntN(2*size) - size)
			}
			return gn.node(ir.OpGather, &ir.GatherAttrs{Axis: axis}, x, gn.tensor(idx))
		}
		arg := gn.node(ir.OpArgMax, &ir.ArgAttrs{Axis: axis, KeepDims: gn.r.IntN(2) == 0}, gn.pick(x))
		return gn.node(ir.OpGather, &ir.GatherAttrs{Axis: axis, BatchDims: 1}, x, arg)
	case 1:
		op := []ir.Op{ir.OpGreater, ir.OpGreaterEqual, ir.OpLess, ir.OpLessEqual, ir.OpEqual, ir.OpNotEqual}[gn.r.IntN(6)]
		m := gn.node(op, nil, x, []*ir.Value{gn.pick(x), gn.weight(1, gn.broadcastShape(dims(x))...)}[gn.r.IntN(2)])
		if m == nil || gn.r.IntN(3) == 0 {
			return m
		}
		return gn.node(ir.OpWhere, nil, m, gn.pick(x), gn.weight(1, gn.broadcastShape(dims(x))...))
	}
	a := &ir.ReduceAttrs{KeepDims: gn.r.IntN(2) == 0}
	for len(a.Axes) == 0 {
		for d := 1; d < r; d++ {
			if gn.r.IntN(2) == 0 {
				a.Axes = append(a.Axes, d)
			}
		}
	}
	op := []ir.Op{ir.OpReduceSum, ir.OpReduceMean, ir.OpReduceMax, ir.OpReduceMin}[gn.r.IntN(4)]
	return gn.node(op, a, x)
}

// conv is a random conv2d or fused_conv2d over x.
func (gn *gen) conv(x *ir.Value) *ir.Value {
	d := dims(x)
	h, w, c := d[0], d[1], d[2]
	kh, kw := 1+gn.r.IntN(3), 1+gn.r.IntN(3)
	groups := []int{1, 1, c}[gn.r.IntN(3)]
	co := groups * (1 + gn.r.IntN(max(8/groups, 1)))
	win := gn.window([2]int{})
	win.Size = [2]int{}
	conv := ir.ConvAttrs{Window2D: win, Groups: groups}
	k := gn.weight(kh*kw*c/groups, kh, kw, c/groups, co)
	if gn.r.IntN(2) == 0 {
		ins := []*ir.Value{x, k}
		if gn.r.IntN(2) == 0 {
			ins = append(ins, gn.weight(1, co))
		}
		return gn.node(ir.OpConv2D, &conv, ins...)
	}
	oh, ow := conv.Out(h, w, kh, kw)
	if oh < 1 || ow < 1 {
		return nil
	}
	a := &ir.FusedConvAttrs{Conv: conv}
	ins := []*ir.Value{x, k}
	a.Epilogue, ins = gn.chain([]int{oh, ow, co}, nil, ins)
	if gn.r.IntN(2) == 0 {
		p := gn.poolWindow()
		a.Pool = &p
	}
	return gn.node(ir.OpFusedConv2D, a, ins...)
}

// convTranspose is a random conv2d_transpose over x, with output padding
// where its stride allows.
func (gn *gen) convTranspose(x *ir.Value) *ir.Value {
	c := dims(x)[2]
	kh, kw, co := 1+gn.r.IntN(3), 1+gn.r.IntN(3), 1+gn.r.IntN(6)
	a := &ir.ConvTransposeAttrs{Window2D: gn.window([2]int{})}
	a.Size = [2]int{}
	if a.Padding != ir.Same {
		a.OutputPadding = [2]int{gn.r.IntN(a.Stride[0]), gn.r.IntN(a.Stride[1])}
	}
	ins := []*ir.Value{x, gn.weight(c, kh, kw, co, c)}
	if gn.r.IntN(2) == 0 {
		ins = append(ins, gn.weight(1, co))
	}
	return gn.node(ir.OpConv2DTranspose, a, ins...)
}

// image applies a random op to a [N,H,W,C] value.
func (gn *gen) image(x *ir.Value) *ir.Value {
	d := dims(x)
	h, w, c := d[0], d[1], d[2]
	switch gn.r.IntN(13) {
	case 0, 1, 2:
		return gn.conv(x)
	case 11:
		return gn.convTranspose(x)
	case 12: // resize, up or down
		a := &ir.ResizeAttrs{Mode: ir.ResizeMode(gn.r.IntN(2)), Coordinates: ir.Coordinates(gn.r.IntN(3)), Size: [2]int{1 + gn.r.IntN(2*h), 1 + gn.r.IntN(2*w)}}
		return gn.node(ir.OpResize, a, x)
	case 3, 10: // pools
		op := []ir.Op{ir.OpMaxPool2D, ir.OpAvgPool2D}[gn.r.IntN(2)]
		return gn.node(op, &ir.PoolAttrs{Window2D: gn.poolWindow(), CountPad: op == ir.OpAvgPool2D && gn.r.IntN(2) == 0}, x)
	case 4:
		if gn.r.IntN(2) == 0 {
			return gn.reduce(x)
		}
		return gn.node(ir.OpGlobalAvgPool2D, nil, x)
	case 5: // batchnorm
		return gn.node(ir.OpBatchNorm, &ir.BatchNormAttrs{Epsilon: 1e-3}, x, gn.weight(1, c), gn.weight(1, c), gn.weight(1, c), gn.positive(c))
	case 6:
		perm := append([]int{0}, gn.r.Perm(3)...)
		for i := 1; i < 4; i++ {
			perm[i]++
		}
		return gn.node(ir.OpTranspose, &ir.TransposeAttrs{Perm: perm}, x)
	case 7: // concat with itself or another image along a random axis
		axis := 1 + gn.r.IntN(3)
		return gn.node(ir.OpConcat, &ir.AxisAttrs{Axis: axis}, x, gn.pick(x), x)
	case 8:
		switch gn.r.IntN(4) {
		case 0:
			return gn.pad(x, false)
		case 1: // Keras's ZeroPadding2D, then a conv that may absorb it
			if p := gn.pad(x, true); p != nil {
				return gn.conv(p)
			}
		}
		return gn.node(ir.OpFlatten, nil, x)
	default:
		return gn.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{ir.S("N"), ir.D(h * w), ir.D(c)}}, x)
	}
}

// matrix applies a random op to a [N,F] or [N,A,B] value.
func (gn *gen) matrix(x *ir.Value) *ir.Value {
	d := dims(x)
	f := d[len(d)-1]
	switch gn.r.IntN(10) {
	case 0: // dense
		units := 1 + gn.r.IntN(17)
		ins := []*ir.Value{x, gn.weight(f, f, units)}
		if gn.r.IntN(2) == 0 {
			ins = append(ins, gn.weight(1, units))
		}
		return gn.node(ir.OpDense, nil, ins...)
	case 1, 2: // matmul or fused matmul with a weight, maybe transposed, maybe batched
		units := 1 + gn.r.IntN(17)
		at := ir.MatMulAttrs{TransB: gn.r.IntN(2) == 0}
		shape := []int{f, units}
		if at.TransB {
			shape = []int{units, f}
		}
		if len(d) == 2 && gn.r.IntN(2) == 0 {
			shape = append([]int{1}, shape...) // broadcast over the batch
		}
		k := gn.weight(f, shape...)
		if gn.r.IntN(2) == 0 {
			return gn.node(ir.OpMatMul, &at, x, k)
		}
		out := slices.Clone(d)
		out[len(out)-1] = units
		a := &ir.FusedMatMulAttrs{MatMul: at}
		var ins []*ir.Value
		a.Epilogue, ins = gn.chain(out, nil, []*ir.Value{x, k})
		return gn.node(ir.OpFusedMatMul, a, ins...)
	case 3: // a product of two computed values
		y := gn.pick(x)
		return gn.node(ir.OpMatMul, &ir.MatMulAttrs{TransA: gn.r.IntN(2) == 0, TransB: gn.r.IntN(2) == 0}, x, y)
	case 4: // softmax
		return gn.node([]ir.Op{ir.OpSoftmax, ir.OpLogSoftmax}[gn.r.IntN(2)], &ir.AxisAttrs{Axis: gn.r.IntN(len(d) + 1)}, x)
	case 5: // to rank 3 and back
		if len(d) == 2 {
			return gn.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{ir.S("N"), ir.D(d[0] * d[1])}}, x)
		}
		for a := 2; a < f; a++ {
			if f%a == 0 {
				return gn.node(ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{ir.S("N"), ir.D(a), ir.D(f / a)}}, x)
			}
		}
		return nil
	case 6:
		if len(d) == 2 {
			return gn.node(ir.OpTranspose, &ir.TransposeAttrs{Perm: []int{0, 2, 1}}, x)
		}
		return gn.node(ir.OpDropout, &ir.DropoutAttrs{Rate: 0.5}, x)
	case 7:
		if gn.r.IntN(2) == 0 {
			return gn.node(ir.OpRMSNorm, &ir.NormAttrs{Epsilon: 1e-6}, x, gn.weight(1, f))
		}
		return gn.node(ir.OpLayerNorm, &ir.NormAttrs{Epsilon: 1e-5}, x, gn.weight(1, f), gn.weight(1, f))
	case 8: // self-attention, maybe causal, maybe with a constant mask [A, A]; or positions
		if len(d) != 2 {
			return nil
		}
		switch gn.r.IntN(4) {
		case 0:
			if f%2 == 0 {
				return gn.node(ir.OpPositional, nil, x)
			}
		case 1:
			axis := 1 + gn.r.IntN(2)
			size := d[axis-1]
			start := gn.r.IntN(size)
			return gn.node(ir.OpSlice, &ir.SliceAttrs{Axis: axis, Start: start, End: start + 1 + gn.r.IntN(size-start)}, x)
		}
		at := &ir.AttentionAttrs{Causal: gn.r.IntN(2) == 0}
		if gn.r.IntN(2) == 0 {
			return gn.node(ir.OpAttention, at, x, x, x, gn.weight(1, d[0], d[0]))
		}
		return gn.node(ir.OpAttention, at, x, gn.pick(x), gn.pick(x))
	default:
		return gn.node(ir.OpConcat, &ir.AxisAttrs{Axis: len(d)}, gn.pick(x), x)
	}
}

// any applies a random elementwise op to a value of any shape.
func (gn *gen) any(x *ir.Value) *ir.Value {
	d := dims(x)
	switch gn.r.IntN(4) {
	case 0:
		op := unaryOps[gn.r.IntN(len(unaryOps))]
		return gn.node(op, gn.unaryAttrs(op), x)
	case 1: // binary: with a weight, with itself, or with another value
		op := []ir.Op{ir.OpAdd, ir.OpSub, ir.OpMul}[gn.r.IntN(3)]
		y := []*ir.Value{gn.weight(1, gn.broadcastShape(d)...), x, gn.pick(x)}[gn.r.IntN(3)]
		if gn.r.IntN(2) == 0 {
			x, y = y, x
		}
		return gn.node(op, nil, x, y)
	case 2:
		return gn.node(ir.OpDiv, nil, x, gn.positive(gn.broadcastShape(d)...))
	default: // an elementwise chain, sometimes starting from a weight it grows
		first := x
		if gn.r.IntN(4) == 0 {
			first = gn.weight(1, gn.broadcastShape(d)...)
		}
		ins := []*ir.Value{first, x}
		c, ins := gn.chain(d, x, ins)
		if first != x {
			c = append(ir.Chain{{Op: ir.OpAdd, Operand: 1}}, c...)
		}
		return gn.node(ir.OpElementwise, &ir.ElementwiseAttrs{Chain: c}, ins...)
	}
}

// pick is a random value of x's type, x itself if there is no other.
func (gn *gen) pick(x *ir.Value) *ir.Value {
	var same []*ir.Value
	for _, v := range gn.vals {
		if v.Type.Equal(x.Type) {
			same = append(same, v)
		}
	}
	return same[gn.r.IntN(len(same))]
}

// batched reports whether v is [N, known dims...] with at least one of them:
// what the generator grows from.
func batched(v *ir.Value) bool {
	if v == nil || v.Type.Shape.Rank() < 2 || v.Type.Shape[0] != ir.S("N") {
		return false
	}
	_, known := v.Type.Shape.KnownProduct(1)
	return known
}

func randomGraph(t *testing.T, seed uint64) (*ir.Graph, map[string]*tensor.Tensor) {
	r := rand.New(rand.NewPCG(seed, 7))
	gn := &gen{r: r, g: ir.NewGraph(fmt.Sprintf("random%d", seed)), w: map[string]*tensor.Tensor{}}
	img := gn.g.AddInput("image", ir.T("N", 3+r.IntN(7), 3+r.IntN(7), 1+r.IntN(5)))
	feat := gn.g.AddInput("features", ir.T("N", 1+r.IntN(17)))
	gn.vals = []*ir.Value{img, feat}
	for size := 8 + r.IntN(16); len(gn.g.Nodes) < size; {
		// Favour chains over wide DAGs, and images, which have the most ops.
		x := gn.vals[len(gn.vals)-1]
		switch r.IntN(4) {
		case 0:
			x = gn.vals[r.IntN(len(gn.vals))]
		case 1, 2:
			for _, v := range gn.vals {
				if v.Type.Shape.Rank() == 4 {
					x = v
				}
			}
		}
		var y *ir.Value
		switch {
		case r.IntN(3) == 0:
			y = gn.any(x)
		case x.Type.Shape.Rank() == 4:
			y = gn.image(x)
		default:
			y = gn.matrix(x)
		}
		if batched(y) {
			gn.vals = append(gn.vals, y)
		}
	}
	// Outputs: the last value, and a few others, inputs and views included.
	gn.g.AddOutput("y", gn.vals[len(gn.vals)-1])
	for i := range r.IntN(3) {
		gn.g.AddOutput(fmt.Sprintf("o%d", i), gn.vals[r.IntN(len(gn.vals))])
	}
	require.NoError(t, ir.Verify(gn.g), ir.Print(gn.g))
	return gn.g, gn.w
}

// Random graphs, as built and as optimised, at batch 1 and 7.
func TestRandomGraphsMatchReference(t *testing.T) {
	worst := 0.0
	for seed := range uint64(300) {
		for _, batch := range []int{1, 7} {
			t.Run(fmt.Sprintf("%d/N=%d", seed, batch), func(t *testing.T) {
				g, w := randomGraph(t, seed)
				r := rand.New(rand.NewPCG(seed, uint64(batch)))
				env := map[string]int{"N": batch}
				in, _ := randomInputs(g, env, r)
				want, err := ref.Run(g, w, in)
				require.NoError(t, err)
				defer func() {
					if t.Failed() {
						t.Log(ir.Print(g))
					}
				}()
				worst = max(worst, checkPlan(t, g, w, env, in, want, randomTol))

				require.NoError(t, passes.BindWeights(g, w))
				_, err = passes.Run(g, passes.Options{Verify: true})
				require.NoError(t, err)
				worst = max(worst, checkPlan(t, g, nil, env, in, want, randomTol))
			})
		}
	}
	t.Logf("worst error %.2g", worst)
}
