package ir

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpTableComplete: every op has a name, an arity, a shape rule and a cost
// rule, and names are unique, so a new op cannot be half-registered.
func TestOpTableComplete(t *testing.T) {
	seen := map[string]bool{}
	for op := OpInvalid + 1; op < OpLast; op++ {
		info := op.Info()
		require.NotEmpty(t, info.Name, "op %d", op)
		require.False(t, seen[info.Name], "duplicate op name %s", info.Name)
		seen[info.Name] = true
		require.NotNil(t, info.Infer, info.Name)
		require.NotNil(t, info.Flops, info.Name)
		require.GreaterOrEqual(t, info.MinInputs, 1, info.Name)
		got, ok := OpByName(info.Name)
		require.True(t, ok)
		require.Equal(t, op, got)
	}
}

func TestBroadcast(t *testing.T) {
	for _, c := range []struct {
		a, b Shape
		want Shape
		ok   bool
	}{
		{Shape{D(2), D(1), D(3)}, Shape{D(4), D(1)}, Shape{D(2), D(4), D(3)}, true},
		{Shape{S("N"), D(10)}, Shape{D(10)}, Shape{S("N"), D(10)}, true},
		{Shape{S("N"), D(10)}, Shape{S("M"), D(10)}, nil, false},
		{Shape{D(3)}, Shape{D(4)}, nil, false},
	} {
		got, ok := broadcastShapes(c.a, c.b)
		require.Equal(t, c.ok, ok, "%s %s", c.a, c.b)
		if ok {
			require.Equal(t, c.want, got)
		}
	}
}

func TestWindowOut(t *testing.T) {
	same := Window2D{Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}, Padding: Same}
	oh, ow := same.Out(7, 8, 3, 3)
	require.Equal(t, [2]int{4, 4}, [2]int{oh, ow})
	// TF puts the odd pad at the bottom/right.
	require.Equal(t, [4]int{1, 1, 0, 1}, same.PadsFor(7, 8, 3, 3))
	valid := Window2D{Stride: [2]int{1, 1}, Dilation: [2]int{2, 2}, Padding: Valid}
	oh, ow = valid.Out(9, 9, 3, 3)
	require.Equal(t, [2]int{5, 5}, [2]int{oh, ow})
	// A window one cell wider than the padded input has no position, even
	// strided: (2+1-4)/2+1 truncates to 1 in Go.
	explicit := Window2D{Stride: [2]int{2, 3}, Dilation: [2]int{3, 1}, Padding: Explicit, Pads: [4]int{1, 0, 0, 0}}
	oh, ow = explicit.Out(2, 3, 2, 4)
	require.Equal(t, [2]int{0, 0}, [2]int{oh, ow})
	oh, ow = explicit.Out(3, 4, 2, 4)
	require.Equal(t, [2]int{1, 1}, [2]int{oh, ow})
}

// TestPoolWindowInPaddingOnly: a window dilated past a one-row input with
// "same" pads (one row each side) holds rows -1 and 1, padding only.
func TestPoolWindowInPaddingOnly(t *testing.T) {
	g := NewGraph("pool")
	x := g.AddInput("x", T("N", 1, 7, 2))
	w := Window2D{Size: [2]int{2, 3}, Stride: [2]int{2, 1}, Dilation: [2]int{2, 1}, Padding: Same}
	_, err := g.AddNode(OpMaxPool2D, &PoolAttrs{Window2D: w}, []*Value{x}, "pool", Pos{})
	require.ErrorContains(t, err, "steps over the 1-cell input")
	// Two rows: the window at -1 reaches row 1.
	x = g.AddInput("x2", T("N", 2, 7, 2))
	_, err = g.AddNode(OpMaxPool2D, &PoolAttrs{Window2D: w}, []*Value{x}, "pool", Pos{})
	require.NoError(t, err)
}

func cnn(t *testing.T) *Graph {
	g := NewGraph("cnn")
	x := g.AddInput("image", T("N", 8, 8, 3))
	k := g.AddParam("conv.kernel", T(3, 3, 3, 4), Init{Kind: InitGlorotUniform, FanIn: 27, FanOut: 36}, true)
	b := g.AddParam("conv.bias", T(4), Init{Kind: InitZeros}, true)
	win := Window2D{Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}, Padding: Valid}
	y, err := g.AddNode(OpConv2D, &ConvAttrs{Window2D: win, Groups: 1}, []*Value{x, k, b}, "conv", Pos{})
	require.NoError(t, err)
	y, err = g.AddNode(OpRelu, nil, []*Value{y}, "conv", Pos{})
	require.NoError(t, err)
	y, err = g.AddNode(OpFlatten, nil, []*Value{y}, "flatten", Pos{})
	require.NoError(t, err)
	g.AddOutput("y", y)
	return g
}

func TestVerifyAcceptsBuiltGraph(t *testing.T) {
	g := cnn(t)
	require.NoError(t, Verify(g))
	require.Equal(t, T("N", 144), g.Outputs[0].Value.Type)
	require.Equal(t, int64(3*3*3*4+4), g.ParamCount())
	require.Equal(t, []string{"N"}, g.Symbols())
}

func TestVerifyRejects(t *testing.T) {
	cases := map[string]func(g *Graph){
		"use before definition": func(g *Graph) { g.Nodes[0], g.Nodes[1] = g.Nodes[1], g.Nodes[0] },
		"wrong result type":     func(g *Graph) { g.Nodes[1].Outputs[0].Type = T("N", 6, 6, 5) },
		"wrong attrs":           func(g *Graph) { g.Nodes[0].Attrs = &PoolAttrs{} },
		"wrong arity":           func(g *Graph) { g.Nodes[1].Inputs = nil },
		"foreign value":         func(g *Graph) { g.Nodes[2].Inputs[0] = &Value{Kind: Result, Type: T("N", 6, 6, 4)} },
		"duplicate param":       func(g *Graph) { g.Params[1].Name = g.Params[0].Name },
		"no outputs":            func(g *Graph) { g.Outputs = nil },
		"symbolic param":        func(g *Graph) { g.Params[1].Type = T("N") },
		"no initialiser":        func(g *Graph) { g.Params[0].Init = Init{} },
		"zero stride": func(g *Graph) {
			g.Nodes[0].Attrs = &ConvAttrs{Window2D: Window2D{Dilation: [2]int{1, 1}}, Groups: 1}
		},
	}
	for name, break_ := range cases {
		t.Run(name, func(t *testing.T) {
			g := cnn(t)
			break_(g)
			require.Error(t, Verify(g))
		})
	}
}

func TestPrintIsDeterministic(t *testing.T) {
	a, b := Print(cnn(t)), Print(cnn(t))
	require.Equal(t, a, b)
	require.Equal(t, `graph cnn(%image: f32[N,8,8,3]) {
  @conv.kernel: f32[3,3,3,4] = glorot_uniform(fan_in=27, fan_out=36)
  @conv.bias: f32[4] = zeros
  %0: f32[N,6,6,4] = conv2d(%image, @conv.kernel, @conv.bias) {stride=[1,1] padding=valid}  # conv
  %1: f32[N,6,6,4] = relu(%0)  # conv
  %2: f32[N,144] = flatten(%1)  # flatten
  return y=%2
}
`, a)
}

func TestShapeErrors(t *testing.T) {
	_, err := OpDense.Info().Infer(nil, []Type{T("N", 6, 6, 64), T(2304, 10)})
	require.ErrorContains(t, err, "got f32[N,6,6,64]")
	require.Equal(t, "insert `flatten` before it to get (N, 2304)", err.(*TypeError).Help)
	_, err = OpMatMul.Info().Infer(&MatMulAttrs{}, []Type{T(2, 3), T(4, 5)})
	require.ErrorContains(t, err, "inner dimensions differ")
	_, err = OpReshape.Info().Infer(&ReshapeAttrs{Shape: Shape{S("N"), D(7)}}, []Type{T("N", 2, 3)})
	require.ErrorContains(t, err, "cannot reshape")
	_, err = OpConcat.Info().Infer(&AxisAttrs{Axis: 1}, []Type{T("N", 2), T("N", 3)})
	require.NoError(t, err)
	_, err = OpReduceSum.Info().Infer(&ReduceAttrs{Axes: []int{2, 1}}, []Type{T("N", 2, 3)})
	require.ErrorContains(t, err, "not strictly increasing")
	_, err = OpReduceMax.Info().Infer(&ReduceAttrs{Axes: []int{3}}, []Type{T("N", 2, 3)})
	require.ErrorContains(t, err, "axis 3 is out of range")
	_, err = OpReduceMin.Info().Infer(&ReduceAttrs{}, []Type{T("N", 2, 3)})
	require.ErrorContains(t, err, "at least one axis")
}

func TestVerifyRejectsZeroSizeDims(t *testing.T) {
	g := cnn(t)
	g.Inputs[0].Type = T("N", 0, 8, 3)
	require.ErrorContains(t, Verify(g), "known dimensions must be at least 1")
}

// TestCrossEntropyLabels: labels that fit the other cross-entropy are named.
func TestCrossEntropyLabels(t *testing.T) {
	g := NewGraph("loss")
	logits := g.AddInput("logits", T("N", 10))
	onehot := g.AddInput("onehot", T("N", 10))
	ids := g.AddInput("ids", Type{DType: I32, Shape: Shape{S("N")}})
	classes := g.AddInput("classes", T("N"))
	_, err := g.AddNode(OpSoftmaxCrossEntropy, nil, []*Value{logits, classes}, "", Pos{})
	require.EqualError(t, err, "cross-entropy takes labels of the logits' shape f32[N,10], got f32[N]")
	require.Contains(t, err.(*TypeError).Help, "use sparse_softmax_cross_entropy")
	_, err = g.AddNode(OpSparseSoftmaxCrossEntropy, nil, []*Value{logits, onehot}, "", Pos{})
	require.ErrorContains(t, err, "sparse_softmax_cross_entropy takes token ids")
	_, err = g.AddNode(OpSparseSoftmaxCrossEntropy, nil, []*Value{logits, g.AddInput("wide", Type{DType: I32, Shape: Shape{S("N"), D(10)}})}, "", Pos{})
	require.EqualError(t, err, "sparse cross-entropy takes one class id per row, i32[N], got labels i32[N,10]")
	require.Contains(t, err.(*TypeError).Help, "use softmax_cross_entropy")
	loss, err := g.AddNode(OpSparseSoftmaxCrossEntropy, nil, []*Value{logits, ids}, "", Pos{})
	require.NoError(t, err)
	require.Equal(t, "f32[N]", loss.Type.String())
	require.Equal(t, 10, g.TokenLimit(ids))
}

// TestRecurrentGradTypes: recurrent_grad gives d xw, with a row more per
// sequence for the initial states' gradients, and checks dy against the
// forward op's result.
func TestRecurrentGradTypes(t *testing.T) {
	g := NewGraph("g")
	xw, u, bu := g.AddInput("xw", T("N", 3, 8)), g.AddInput("u", T(2, 8)), g.AddInput("bu", T(8))
	h0, seq, last := g.AddInput("h0", T("N", 2)), g.AddInput("seq", T("N", 3, 2)), g.AddInput("last", T("N", 2))
	lstm := func(seqs bool) *RecurrentAttrs { return &RecurrentAttrs{Cell: CellLSTM, Sequences: seqs} }
	for _, c := range []struct {
		attrs *RecurrentAttrs
		in    []*Value
		want  string
	}{
		{lstm(true), []*Value{xw, u, bu, seq}, "f32[N,3,8]"},
		{lstm(false), []*Value{xw, u, bu, last}, "f32[N,3,8]"},
		{lstm(false), []*Value{xw, u, bu, h0, h0, last}, "f32[N,4,8]"},
		{lstm(true), []*Value{xw, u, bu, h0, seq}, "f32[N,4,8]"},
		{lstm(false), []*Value{xw, u, bu, seq}, "dy is f32[N,3,2], the result is f32[N,2]"},
		{lstm(true), []*Value{xw, u, bu, h0, last}, "dy is f32[N,2], the result is f32[N,3,2]"},
	} {
		v, err := g.AddNode(OpRecurrentGrad, c.attrs, c.in, "", Pos{})
		if err != nil {
			require.ErrorContains(t, err, c.want)
			continue
		}
		require.Equal(t, c.want, v.Type.String())
	}
	xt := g.AddInput("xt", T("N", "T", 8))
	_, err := g.AddNode(OpRecurrentGrad, lstm(false), []*Value{xt, u, bu, h0, last}, "", Pos{})
	require.ErrorContains(t, err, "needs a known number of steps")
}

// TestAttentionGradTypes: attention_grad packs dq, dk and dv per matrix
// (cross attention: Tq 3, Tk 5, dv 6), checks dy and the mask against the
// forward op, and needs the sizes it packs.
func TestAttentionGradTypes(t *testing.T) {
	g := NewGraph("g")
	q, k, v := g.AddInput("q", T("N", 2, 3, 4)), g.AddInput("k", T("N", 2, 5, 4)), g.AddInput("v", T("N", 2, 5, 6))
	dy, mask, badMask := g.AddInput("dy", T("N", 2, 3, 6)), g.AddInput("mask", T("N", 1, 1, 5)), g.AddInput("bad", T(4, 5))
	a := &AttentionAttrs{Causal: true}
	for _, c := range []struct {
		in   []*Value
		want string
	}{
		{[]*Value{q, k, v, dy}, "f32[N,2,62]"},
		{[]*Value{q, k, v, mask, dy}, "f32[N,2,62]"},
		{[]*Value{q, k, v, q}, "dy is f32[N,2,3,4], the result is f32[N,2,3,6]"},
		{[]*Value{q, k, v, badMask, dy}, "attention mask f32[4,5] does not broadcast"},
	} {
		r, err := g.AddNode(OpAttentionGrad, a, c.in, "", Pos{})
		if err != nil {
			require.ErrorContains(t, err, c.want)
			continue
		}
		require.Equal(t, c.want, r.Type.String())
	}
	qt, dyt := g.AddInput("qt", T("N", "T", 4)), g.AddInput("dyt", T("N", "T", 4))
	_, err := g.AddNode(OpAttentionGrad, a, []*Value{qt, qt, qt, dyt}, "", Pos{})
	require.ErrorContains(t, err, "needs known positions and features")
}
