package nn_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/golden"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/nn"
)

// graphBuilder builds a graph layer by layer from Go, as a frontend other
// than .mdl does, stopping the test at the first error.
type graphBuilder struct {
	t *testing.T
	g *ir.Graph
}

func (b graphBuilder) layer(name string) *nn.Layer { return nn.NewLayer(b.g, name, ir.Pos{}) }

func (b graphBuilder) must(v *ir.Value, err error) *ir.Value {
	b.t.Helper()
	require.NoError(b.t, err)
	return v
}

// cnnFromGo: conv+relu, pooling, a depthwise convolution, batchnorm, a
// grouped convolution with strides, the layers of a block instance and a
// dense softmax classifier.
func cnnFromGo(t *testing.T) *ir.Graph {
	b := graphBuilder{t, ir.NewGraph("cnn")}
	x := b.g.AddInput("image", ir.T("N", 16, 16, 3))
	x = b.must(nn.Conv{Filters: 8, Kernel: [2]int{3, 3}, Activation: nn.Relu, UseBias: true}.Apply(b.layer("conv2d"), x))
	x = b.must(nn.Pool{Size: [2]int{2, 2}}.Apply(b.layer("maxpool2d"), x))
	x = b.must(nn.Depthwise{Kernel: [2]int{3, 3}, Padding: ir.Same, Multiplier: 2}.Apply(b.layer("depthwise_conv2d"), x))
	x = b.must(nn.BatchNorm{Epsilon: 0.001}.Apply(b.layer("batchnorm"), x))
	x = b.must(nn.Conv{Filters: 8, Kernel: [2]int{1, 3}, Strides: [2]int{1, 2}, Groups: 2, UseBias: true}.Apply(b.layer("mix"), x))
	// A layer inside a block instance res2 is named res2.conv1.
	x = b.must(nn.Conv{Filters: 8, Kernel: [2]int{1, 1}}.Apply(b.layer(ir.Qualified("res2", "conv1")), x))
	x = b.must(nn.BatchNorm{Epsilon: 0.001}.Apply(b.layer(ir.Qualified("res2", "bn1")), x))
	x = b.must(b.layer("flatten").Node(ir.OpFlatten, nil, x))
	x = b.must(nn.Dense{Units: 10, Activation: nn.Softmax, UseBias: true}.Apply(b.layer("dense"), x))
	b.g.AddOutput("probs", x)
	return b.g
}

const cnnMDL = `
block unit(x, filters: int) -> (y) {
  y = x | conv2d(filters, kernel=1, use_bias=false) as conv1 | batchnorm as bn1
}

model cnn(image: f32[N, 16, 16, 3]) -> (probs) {
  probs = image
    | conv2d(8, kernel=3, activation=relu)
    | maxpool2d(2)
    | depthwise_conv2d(kernel=3, padding=same, multiplier=2, use_bias=false)
    | batchnorm
    | conv2d(8, kernel=[1, 3], strides=[1, 2], groups=2) as mix
    | unit(8) as res2
    | flatten
    | dense(10, activation=softmax)
}
`

// seqFromGo: token embeddings with learned positions, packed self-attention
// under a padding mask, cross-attention, plain attention with a scale, and
// the three recurrent cells (bidirectional, relu).
func seqFromGo(t *testing.T) *ir.Graph {
	b := graphBuilder{t, ir.NewGraph("seq")}
	ids := b.g.AddInput("ids", ir.Type{DType: ir.I32, Shape: ir.Shape{ir.S("N"), ir.D(12)}})
	mask := b.must(b.layer("padding_mask").Node(ir.OpPaddingMask, &ir.PaddingMaskAttrs{}, ids))
	h := b.must(nn.Embedding{Vocab: 100, Dim: 16}.Apply(b.layer("embedding"), ids))
	h = b.must(nn.Positional{Learned: true, MaxLen: 32}.Apply(b.layer("positional"), h))
	a := b.must(nn.MultiHeadAttention{Heads: 4, Mask: mask, UseBias: true, Packed: true}.Apply(b.layer("attn"), h))
	h1 := b.must(b.layer("add").Node(ir.OpAdd, nil, h, a))
	h1 = b.must(nn.LayerNorm{Epsilon: 1e-5}.Apply(b.layer("layernorm"), h1))
	r := b.must(nn.Recurrent{Cell: ir.CellLSTM, Units: 8, Sequences: true, Bidirectional: true}.Apply(b.layer("lstm"), h1))
	c := b.must(nn.MultiHeadAttention{Heads: 2, KV: r, Causal: true}.Apply(b.layer("cross"), h1))
	scale := float32(0.5)
	c = b.must(nn.Attention{Scale: &scale}.Apply(b.layer("attention"), c, c, c))
	g := b.must(nn.Recurrent{Cell: ir.CellGRU, Units: 8, Sequences: true}.Apply(b.layer("gru"), c))
	g = b.must(nn.RMSNorm{Epsilon: 1e-6}.Apply(b.layer("rmsnorm"), g))
	y := b.must(nn.Recurrent{Cell: ir.CellRNN, Units: 4, Activation: nn.Relu}.Apply(b.layer("simple_rnn"), g))
	b.g.AddOutput("y", y)
	return b.g
}

const seqMDL = `
model seq(ids: i32[N, 12]) -> (y) {
  mask = ids | padding_mask
  h = ids | embedding(100, 16) | positional(learned=true, max_len=32)
  a = h | multihead_attention(heads=4, mask=mask, packed=true) as attn
  h1 = add(h, a) | layernorm(epsilon=1e-5)
  r = h1 | lstm(8, return_sequences=true, bidirectional=true)
  c = h1 | multihead_attention(heads=2, kv=r, causal=true, use_bias=false) as cross
  y = attention(c, c, c, scale=0.5)
    | gru(8, return_sequences=true)
    | rmsnorm
    | simple_rnn(4, activation=relu)
}
`

// shapesFromGo: split, slice, concat, reshape and dropout, with negative
// axes and positions.
func shapesFromGo(t *testing.T) *ir.Graph {
	b := graphBuilder{t, ir.NewGraph("shapes")}
	x := b.g.AddInput("x", ir.T("N", 6, 8))
	parts, err := nn.Split{Axis: -1, Sizes: []int{2, 6}}.Apply(b.layer("split"), x)
	require.NoError(t, err)
	z := b.must(nn.Slice{Axis: 1, Start: 1, End: -1}.Apply(b.layer("slice"), x))
	y := b.must(nn.Concat{Axis: -1}.Apply(b.layer("concat"), parts[1], parts[0]))
	y = b.must(nn.Reshape{Shape: []int{-1, 4}}.Apply(b.layer("reshape"), y))
	y = b.must(nn.Dropout{Rate: 0.1}.Apply(b.layer("dropout"), y))
	b.g.AddOutput("y", y)
	b.g.AddOutput("z", z)
	return b.g
}

const shapesMDL = `
model shapes(x: f32[N, 6, 8]) -> (y, z) {
  a, b = split(x, sizes=[2, 6])
  z = slice(x, 1, -1, axis=1)
  y = concat(b, a) | reshape([-1, 4]) | dropout(0.1)
}
`

// TestLayers checks the graphs built from Go: valid IR, printed as in the
// golden files, with the parameter names and shapes they show.
func TestLayers(t *testing.T) {
	for name, build := range map[string]func(*testing.T) *ir.Graph{"cnn": cnnFromGo, "seq": seqFromGo, "shapes": shapesFromGo} {
		t.Run(name, func(t *testing.T) {
			g := build(t)
			require.NoError(t, ir.Verify(g))
			golden.Check(t, "testdata/"+name+".ir", ir.Print(g))
		})
	}
}

// TestSameAsMDL: the .mdl frontend builds the same graphs, parameter names
// included, so weights saved for one load into the other.
func TestSameAsMDL(t *testing.T) {
	for _, c := range []struct {
		name, src string
		build     func(*testing.T) *ir.Graph
	}{{"cnn", cnnMDL, cnnFromGo}, {"seq", seqMDL, seqFromGo}, {"shapes", shapesMDL, shapesFromGo}} {
		t.Run(c.name, func(t *testing.T) {
			p, ds := (&sema.Loader{}).LoadSource(c.name+".mdl", []byte(c.src))
			require.Empty(t, ds)
			m, ds := p.Build(c.name)
			require.Empty(t, ds, "%v", ds)
			require.Equal(t, ir.Print(m.Graph), ir.Print(c.build(t)))
		})
	}
}

// TestErrors: options a layer cannot take give an *ir.TypeError saying
// which, never a panic, and Discard leaves the graph as it was.
func TestErrors(t *testing.T) {
	g := ir.NewGraph("bad")
	image := g.AddInput("image", ir.T("N", 8, 8, 4))
	seq := g.AddInput("seq", ir.T("N", "T", 6))
	kv := g.AddInput("kv", ir.T("N", "T", 5))
	zero, negative := float32(0), float32(-1)
	splitOf := func(s nn.Split) func(*nn.Layer, *ir.Value) (*ir.Value, error) {
		return func(l *nn.Layer, x *ir.Value) (*ir.Value, error) {
			_, err := s.Apply(l, x)
			return nil, err
		}
	}
	attention := func(a nn.Attention) func(*nn.Layer, *ir.Value) (*ir.Value, error) {
		return func(l *nn.Layer, x *ir.Value) (*ir.Value, error) { return a.Apply(l, x, x, x) }
	}
	for _, c := range []struct {
		want  string
		x     *ir.Value
		apply func(*nn.Layer, *ir.Value) (*ir.Value, error)
	}{
		{"conv2d: filters must be positive, got 0", image, nn.Conv{Kernel: [2]int{3, 3}}.Apply},
		{"conv2d: kernel must be positive, got [3 0]", image, nn.Conv{Filters: 2, Kernel: [2]int{3, 0}}.Apply},
		{"conv2d: groups=3 must divide the input channels (4) and filters (6)", image, nn.Conv{Filters: 6, Kernel: [2]int{1, 1}, Groups: 3}.Apply},
		{"conv2d expects (N, height, width, channels), got f32[N,T,6]", seq, nn.Conv{Filters: 1, Kernel: [2]int{1, 1}}.Apply},
		{"depthwise_conv2d expects (N, height, width, channels), got f32[N,T,6]", seq, nn.Depthwise{Kernel: [2]int{1, 1}}.Apply},
		{"conv2d: groups must be positive, got -2", image, nn.Conv{Filters: 2, Kernel: [2]int{1, 1}, Groups: -2}.Apply},
		{"depthwise_conv2d: multiplier must be positive, got -1", image, nn.Depthwise{Kernel: [2]int{1, 1}, Multiplier: -1}.Apply},
		{"dense: units must be positive, got -1", seq, nn.Dense{Units: -1}.Apply},
		{"maxpool2d: pool must be positive, got [0 0]", image, nn.Pool{}.Apply},
		{"batchnorm: epsilon must be positive", image, nn.BatchNorm{}.Apply},
		{"layernorm: epsilon must be positive", seq, nn.LayerNorm{}.Apply},
		{"embedding: dim must be positive, got 0", seq, nn.Embedding{Vocab: 10}.Apply},
		{"positional: max_len is the size of a learned table", seq, nn.Positional{MaxLen: 4}.Apply},
		{"positional(learned=true) on f32[N,T,6] needs the number of positions it learns", seq, nn.Positional{Learned: true}.Apply},
		{"simple_rnn: activation must be tanh or relu, got linear", seq, nn.Recurrent{Cell: ir.CellRNN, Units: 3}.Apply},
		{"lstm: give both initial states h0 and c0, or neither", seq, nn.Recurrent{Cell: ir.CellLSTM, Units: 3, C0: seq}.Apply},
		{"gru expects sequences (N, T, features) with features known, got f32[N,8,8,4]", image, nn.Recurrent{Cell: ir.CellGRU, Units: 3}.Apply},
		{"recurrent layer with unknown cell 0", seq, nn.Recurrent{Units: 3}.Apply},
		{"multihead_attention: heads must be positive, got 0", seq, nn.MultiHeadAttention{}.Apply},
		{"multihead_attention: 4 heads do not divide d_model 6", seq, nn.MultiHeadAttention{Heads: 4}.Apply},
		{"multihead_attention: kv has 5 features, x has 6", seq, nn.MultiHeadAttention{Heads: 2, KV: kv}.Apply},
		{"multihead_attention: packed projections are for self-attention", seq, nn.MultiHeadAttention{Heads: 2, KV: seq, Packed: true}.Apply},
		{"attention: scale must be positive", seq, attention(nn.Attention{Scale: &zero})},
		{"attention: scale must be positive", seq, attention(nn.Attention{Scale: &negative})},
		{"axis 3 is out of range for rank 3", seq, nn.Slice{Axis: 3, End: 1}.Apply},
		{"split: axis 1 of f32[N,T,6] has no known size", seq, splitOf(nn.Split{Axis: 1, Parts: 2})},
		{"split takes parts or sizes", seq, splitOf(nn.Split{Axis: -1})},
		{"split: parts must be positive, got -2", seq, splitOf(nn.Split{Axis: -1, Parts: -2})},
		{"split: sizes must be positive, got [7 -1]", seq, splitOf(nn.Split{Axis: -1, Sizes: []int{7, -1}})},
		{"split: sizes [1 2] add up to 3, but axis 2 of f32[N,T,6] has 6", seq, splitOf(nn.Split{Axis: -1, Sizes: []int{1, 2}})},
		{"split: 4 parts do not divide axis 2 of f32[N,T,6] (size 6)", seq, splitOf(nn.Split{Axis: -1, Parts: 4})},
		{"concat needs at least one tensor", seq, func(l *nn.Layer, _ *ir.Value) (*ir.Value, error) { return nn.Concat{}.Apply(l) }},
		{"reshape needs known sizes, but for the batch axis and those it keeps with 0, got f32[N,T,6]", seq, nn.Reshape{Shape: []int{-1}}.Apply},
		{"reshape: cannot infer -1 for f32[N,8,8,4] into [5, -1]", image, nn.Reshape{Shape: []int{5, -1}}.Apply},
		{"dropout: rate must be in [0, 1), got 1", seq, nn.Dropout{Rate: 1}.Apply},
		{"unknown activation 200", seq, func(l *nn.Layer, x *ir.Value) (*ir.Value, error) { return nn.Activate(l, x, 200) }},
	} {
		l := nn.NewLayer(g, "bad", ir.Pos{})
		v, err := c.apply(l, c.x)
		var te *ir.TypeError
		require.ErrorAs(t, err, &te, "%s: got %v", c.want, v)
		require.Equal(t, c.want, err.Error())
		l.Discard()
		require.Empty(t, g.Params, c.want)
		require.Empty(t, g.Nodes, c.want)
	}
}

// TestActivations: every activation is found by its name, and applying one
// adds its op (none for linear): the op of its name, or the op it is a
// case or another name of.
func TestActivations(t *testing.T) {
	g := ir.NewGraph("act")
	x := g.AddInput("x", ir.T("N", 3))
	for _, a := range nn.Activations() {
		got, ok := nn.ParseActivation(a.String())
		require.True(t, ok, a.String())
		require.Equal(t, a, got)
		y, err := nn.Activate(nn.NewLayer(g, a.String(), ir.Pos{}), x, a)
		require.NoError(t, err, a.String())
		if a == nn.Linear {
			require.Same(t, x, y)
			continue
		}
		op := map[nn.Activation]ir.Op{nn.Relu6: ir.OpClip, nn.GeluTanh: ir.OpGelu, nn.Swish: ir.OpSilu, nn.Exponential: ir.OpExp}[a]
		if op == ir.OpInvalid {
			op, _ = ir.OpByName(a.String())
		}
		require.Equal(t, op, y.Def.Op, a.String())
	}
	_, ok := nn.ParseActivation("relu7")
	require.False(t, ok)
}

// TestExplicitPads: pads given per side, as an importer reads them, reach
// the window of convolutions and poolings.
func TestExplicitPads(t *testing.T) {
	b := graphBuilder{t, ir.NewGraph("pads")}
	x := b.g.AddInput("image", ir.T("N", 8, 8, 3))
	y := b.must(nn.Conv{Filters: 4, Kernel: [2]int{3, 3}, Padding: ir.Explicit, Pads: [4]int{1, 1, 1, 0}}.Apply(b.layer("conv"), x))
	require.Equal(t, ir.T("N", 8, 7, 4), y.Type)
	y = b.must(nn.Pool{Average: true, Size: [2]int{2, 2}, Strides: [2]int{1, 1}, Padding: ir.Explicit, Pads: [4]int{0, 1, 0, 1}}.Apply(b.layer("pool"), y))
	require.Equal(t, ir.T("N", 8, 7, 4), y.Type)
	require.Equal(t, ir.OpAvgPool2D, y.Def.Op)
	b.g.AddOutput("y", y)
	require.NoError(t, ir.Verify(b.g))
}
