package ir

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// goldenIR returns the IR files the compiler's golden tests print.
func goldenIR(t testing.TB) map[string]string {
	files := map[string]string{}
	for _, pattern := range []string{"../testdata/ir/*.golden", "../testdata/programs/*.ir.golden"} {
		paths, err := filepath.Glob(pattern)
		require.NoError(t, err)
		for _, path := range paths {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			files[path] = string(b)
		}
	}
	require.NotEmpty(t, files)
	return files
}

func TestParseGoldens(t *testing.T) {
	for path, text := range goldenIR(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g, err := Parse(text)
			require.NoError(t, err)
			require.Equal(t, text, Print(g))
		})
	}
}

// handWritten are graphs in Print's form that together use every op and every
// form of every attribute.
var handWritten = []string{`graph vision(%image: f32[N,8,8,4]) {
  @conv.kernel: f32[3,3,2,8] = glorot_uniform(fan_in=18, fan_out=72)
  @conv.bias: f32[8] = zeros
  @bn.gamma: f32[8] = ones
  @bn.beta: f32[8] = zeros
  @bn.moving_mean: f32[8] = zeros frozen
  @bn.moving_variance: f32[8] = ones frozen
  @dense.kernel: f32[8,3] = glorot_uniform(fan_in=8, fan_out=3)
  %0: f32[N,8,8,8] = conv2d(%image, @conv.kernel, @conv.bias) {stride=[1,1] dilation=[2,2] padding=explicit pads=[2,2,2,2] groups=2}  # conv
  %1: f32[N,8,8,8] = batchnorm(%0, @bn.gamma, @bn.beta, @bn.moving_mean, @bn.moving_variance) {epsilon=0.001}  # bn
  %2: f32[N,8,8,8] = leaky_relu(%1) {alpha=0.3}  # act
  %3: f32[N,4,4,8] = maxpool2d(%2) {size=[2,2] stride=[2,2] padding=valid}  # pool
  %4: f32[N,4,4,8] = avgpool2d(%3) {size=[3,3] stride=[1,1] padding=explicit pads=[1,1,1,1]}  # avg
  %5: f32[N,4,4,8] = maxpool2d(%4) {size=[2,2] stride=[1,1] dilation=[2,2] padding=same}  # pool_1
  %6: f32[N,8] = global_avgpool2d(%5)  # gap
  %7: f32[N,8] = dropout(%6) {rate=0.5}  # drop
  %8: f32[N,3] = dense(%7, @dense.kernel)  # dense
  %9: f32[N,3] = log_softmax(%8) {axis=1}  # dense
  %10: f32[N,4,4,8] = relu(%4)
  %11: f32[N,128] = flatten(%10)
  return logits=%9, features=%11
}
`, `graph sequence(%tokens: f32[N,T,4], %mask: f32[N,T,1]) {
  @w: f32[4,4] = glorot_uniform(fan_in=4, fan_out=4)
  @b: f32[4] = zeros
  @rk: f32[4,4] = glorot_uniform(fan_in=4, fan_out=4)
  @rb: f32[4] = zeros
  @lk: f32[1,4] = glorot_uniform(fan_in=1, fan_out=4)
  @lb: f32[4] = zeros
  @scale: f32[4] = const [0.5, -1, 2, 0.25]
  @eps: f32[] = const [1e-05]
  %0: f32[N,T,4] = matmul(%tokens, @w) {trans_a=false trans_b=false}  # proj
  %1: f32[N,T,T] = matmul(%0, %tokens) {trans_a=false trans_b=true}  # attn
  %2: f32[N,T,T] = softmax(%1) {axis=2}  # attn
  %3: f32[N,4,T] = transpose(%0) {perm=[0,2,1]}
  %4: f32[N,T,4] = mul(%0, @scale)
  %5: f32[N,T,4] = sub(%4, %mask)
  %6: f32[N,T,4] = div(%5, @eps)
  %7: f32[N,T,4] = gelu(%6) {approximate=tanh}
  %8: f32[N,T,4] = gelu(%7) {approximate=none}
  %9: f32[N,T,4] = sigmoid(%8)
  %10: f32[N,T,4] = tanh(%9)
  %11: f32[T,N,2,2] = reshape(%10) {shape=[T,N,2,2]}
  %12: f32[N,T,8] = concat(%10, %4) {axis=2}
  %13: f32[N,T,T] = add(%2, %2)
  %14: f32[N,T,4] = dense(%10, @w, @b)
  %15: f32[N,T,4] = layernorm(%14, @scale, @b) {epsilon=1e-05}
  %16: f32[N,T,4] = rmsnorm(%15, @scale) {epsilon=1e-06}
  %17: f32[N,T,4] = attention(%16, %15, %14) {causal=true scale=0}
  %18: f32[N,T,4] = attention(%16, %15, %14, %2) {causal=false scale=0.5}
  %19: f32[N,T,4] = recurrent(%14, @rk, @rb) {cell=rnn activation=relu reverse=true sequences=true}
  %20: f32[N,1] = recurrent(%4, @lk, @lb) {cell=lstm reverse=false sequences=false}
  %21: f32[N,1] = recurrent(%4, @lk, @lb, %20, %20) {cell=lstm reverse=false sequences=false}
  %22: f32[N,T,4] = positional(%14)
  %23: f32[N,T,3] = slice(%12) {axis=2 start=5 end=8}
  return attn=%13, heads=%11, transposed=%3, joined=%12, dense=%14, mask=%mask, normed=%16, self=%17, masked=%18, rnn=%19, lstm=%21, pos=%22, part=%23
}
`, `graph fused(%image: f32[N,6,6,3], %x: f32[N,5]) {
  @conv.kernel: f32[3,3,3,4] = glorot_uniform(fan_in=27, fan_out=36)
  @conv.bias: f32[4] = zeros
  @dense.kernel: f32[5,2] = glorot_uniform(fan_in=5, fan_out=2)
  @dense.bias: f32[2] = zeros
  @shift: f32[4] = const [1, 2, 3, 4]
  %0: f32[N,3,3,4] = fused_conv2d(%image, @conv.kernel, @conv.bias, @shift) {stride=[1,1] padding=same epilogue=[add(v, in2), sub(in3, v), leaky_relu{alpha=0.3}] maxpool={size=[2,2] stride=[2,2] padding=valid}}  # conv
  %1: f32[N,4,4,4] = fused_conv2d(%image, @conv.kernel) {stride=[1,1] padding=explicit pads=[0,0,0,0] epilogue=[] maxpool={size=[2,2] stride=[1,1] dilation=[1,2] padding=explicit pads=[1,0,1,1]}}  # conv_1
  %2: f32[N,6,6,4] = fused_conv2d(%image, @conv.kernel, @conv.bias) {stride=[1,1] padding=same epilogue=[add(v, in2), relu]}  # conv_2
  %3: f32[N,2] = fused_matmul(%x, @dense.kernel, @dense.bias) {trans_a=false trans_b=false epilogue=[add(v, in2), gelu{approximate=tanh}]}  # dense
  %4: f32[N,2] = elementwise(%3, @dense.bias) {chain=[mul(in1, v), relu, sigmoid, tanh, div(v, in1), gelu{approximate=none}]}  # act
  %5: f32[N,2] = elementwise(@dense.bias, %4) {chain=[add(v, in1)]}
  %6: f32[N,3,3,4] = elementwise(%0) {chain=[]}
  return a=%6, b=%1, c=%2, d=%5
}
`, `graph tokens(%ids: i32[N,T], %wide: i64[N,T]) {
  @tok: f32[50,4] = uniform(limit=0.05)
  @pos: f32[16,4] = glorot_uniform(fan_in=16, fan_out=4)
  %0: f32[N,T,4] = embedding(%ids, @tok)
  %1: f32[N,T,4] = embedding(%wide, @tok)
  %2: f32[N,T,4] = positional(%0, @pos)
  %3: f32[N,1,1,T] = padding_mask(%ids) {pad=0}
  %4: f32[N,T] = to_float(%wide)
  return a=%2, b=%1, mask=%3, n=%4
}
`, `graph padded(%image: f32[N,4,5,2]) {
  %0: f32[N,6,9,2] = pad(%image) {mode=reflect pads=[0,0,1,1,2,2,0,0]}
  %1: f32[N,6,9,3] = pad(%0) {mode=constant pads=[0,0,0,0,0,0,0,1] value=-1.5}
  %2: f32[N,7,9,3] = pad(%1) {mode=edge pads=[0,0,1,0,0,0,0,0]}
  %3: f32[N,4,5,3] = avgpool2d(%2) {size=[3,3] stride=[2,2] padding=explicit pads=[1,1,1,1] count_pad=true}
  return y=%3
}
`, `graph reductions(%x: f32[N,4,5,3]) {
  %0: f32[N,3] = reduce_mean(%x) {axes=[1,2] keepdims=false}
  %1: f32[N,1,1,3] = reduce_max(%x) {axes=[1,2] keepdims=true}
  %2: f32[4,3] = reduce_sum(%x) {axes=[0,2] keepdims=false}
  %3: f32[N,4,5,1] = reduce_min(%x) {axes=[3] keepdims=true}
  %4: f32[N,4,3] = argmax(%x) {axis=2 keepdims=false}
  %5: f32[N,4,5,3] = greater(%x, %1)
  %6: f32[N,4,5,3] = greater_equal(%x, %3)
  %7: f32[N,4,5,3] = less(%5, %6)
  %8: f32[N,4,5,3] = less_equal(%7, %x)
  %9: f32[N,4,5,3] = equal(%8, %x)
  %10: f32[N,4,5,3] = not_equal(%9, %x)
  %11: f32[N,4,5,3] = where(%10, %x, %1)
  %12: f32[N,1,5,3] = argmax(%11) {axis=1 keepdims=true}
  %13: f32[N,4,5,4,3] = gather(%x, %2) {axis=3 batch_dims=0}
  %14: f32[N,4,5,3] = gather(%11, %0) {axis=3 batch_dims=1}
  %15: f32[N,4,5,3] = floor(%14)
  return a=%0, b=%12, c=%13, d=%15
}
`, `graph functions(%x: f32[N,4]) {
  @two: f32[] = const [2]
  %0: f32[N,4] = clip(%x) {min=0 max=6}
  %1: f32[N,4] = elu(%0) {alpha=1}
  %2: f32[N,4] = selu(%1)
  %3: f32[N,4] = silu(%2)
  %4: f32[N,4] = hard_sigmoid(%3) {alpha=0.2}
  %5: f32[N,4] = hard_swish(%4)
  %6: f32[N,4] = mish(%5)
  %7: f32[N,4] = softplus(%6)
  %8: f32[N,4] = softsign(%7)
  %9: f32[N,4] = exp(%8)
  %10: f32[N,4] = log(%9)
  %11: f32[N,4] = sqrt(%10)
  %12: f32[N,4] = rsqrt(%11)
  %13: f32[N,4] = abs(%12)
  %14: f32[N,4] = neg(%13)
  %15: f32[N,4] = pow(%14) {exponent=-1.5}
  %16: f32[N,4] = erf(%15)
  %17: f32[N,4] = minimum(%16, @two)
  %18: f32[N,4] = maximum(@two, %17)
  %19: f32[N,4] = elementwise(%18, @two) {chain=[clip{min=-1 max=1}, minimum(in1, v), maximum(v, in1), pow{exponent=3}, hard_sigmoid{alpha=0.16666667}]}
  return y=%19
}
`, `graph upsample(%image: f32[N,3,3,4]) {
  @up.kernel: f32[3,3,2,4] = glorot_uniform(fan_in=18, fan_out=36)
  @up.bias: f32[2] = zeros
  %0: f32[N,7,7,2] = conv2d_transpose(%image, @up.kernel, @up.bias) {stride=[2,2] padding=valid}  # up
  %1: f32[N,6,6,2] = conv2d_transpose(%image, @up.kernel) {stride=[2,2] padding=same}  # up_1
  %2: f32[N,6,5,2] = conv2d_transpose(%image, @up.kernel) {stride=[2,2] dilation=[1,2] padding=explicit pads=[1,1,3,1] output_padding=[1,0]}  # up_2
  %3: f32[N,5,7,4] = resize(%image) {mode=nearest coordinates=asymmetric size=[5,7]}
  %4: f32[N,6,6,4] = resize(%image) {mode=bilinear coordinates=half_pixel size=[6,6]}
  %5: f32[N,2,9,4] = resize(%image) {mode=bilinear coordinates=align_corners size=[2,9]}
  return a=%0, b=%1, c=%2, d=%3, e=%4, f=%5
}
`, `graph backward(%image: f32[N,6,6,3], %dy: f32[N,3,3,4], %ids: i32[N,5], %drows: f32[N,5,4], %xw: f32[N,5,8], %drnn: f32[N,5,2], %h0: f32[N,2], %q: f32[N,2,3,4], %kv: f32[N,2,5,4], %datt: f32[N,2,3,4], %mask: f32[N,1,1,5], %pick: f32[N,3]) {
  @conv.kernel: f32[3,3,3,4] = glorot_uniform(fan_in=27, fan_out=36)
  @rk: f32[2,8] = zeros
  @rb: f32[8] = zeros
  %0: f32[N,6,6,3] = conv2d_grad_input(%dy, @conv.kernel) {stride=[2,2] padding=same shape=[N,6,6,3]}
  %1: f32[3,3,3,4] = conv2d_grad_filter(%image, %dy) {stride=[2,2] padding=same shape=[3,3,3,4]}
  %2: f32[N,6,6,3] = maxpool2d_grad(%image, %0) {size=[1,1] stride=[1,1] padding=valid}
  %3: f32[N,6,6,3] = avgpool2d_grad(%2) {size=[3,3] stride=[1,1] padding=same shape=[N,6,6,3]}
  %4: f32[1,6,1,3] = sum_to(%3) {shape=[1,6,1,3]}
  %5: f32[N,6,6,3] = unary_grad(%image, %3) {fn=clip{min=0 max=6}}
  %6: f32[N,6,6,3] = unary_grad(%5, %2) {fn=relu from=output}
  %7: f32[50,4] = embedding_grad(%ids, %drows) {shape=[50,4]}
  %8: f32[N,5] = softmax_cross_entropy(%drows, %drows)
  %9: f32[N,5] = sparse_softmax_cross_entropy(%drows, %ids)
  %10: f32[N,5,8] = recurrent_grad(%xw, @rk, @rb, %drnn) {cell=lstm reverse=true sequences=true}
  %11: f32[N,6,8] = recurrent_grad(%xw, @rk, @rb, %h0, %h0, %h0) {cell=lstm reverse=false sequences=false}
  %12: f32[N,2,52] = attention_grad(%q, %kv, %kv, %datt) {causal=true scale=0}
  %13: f32[N,2,52] = attention_grad(%q, %kv, %kv, %mask, %datt) {causal=false scale=0.5}
  %14: f32[N,2,7,4] = gather_grad(%pick, %datt) {shape=[N,2,7,4]}
  return dx=%6, dk=%1, s=%4, table=%7, dense=%8, sparse=%9, dxw=%10, dstate=%11, datt=%12, dmasked=%13, gathered=%14
}
`, `graph training(%x: f32[N,3,3,5]) {
  @step: f32[] = zeros frozen
  %0: f32[5] = reduce_mean(%x) {axes=[0,1,2] keepdims=false}
  %1: f32[5] = batch_variance(%x, %0)
  %2: f32[N,3,3,5] = dropout_train(%x, @step) {rate=0.25 seed=7}
  return mean=%0, variance=%1, dropped=%2
}
`}

// TestParseEveryOp: the hand-written graphs round-trip and together use every
// op, so an op whose attributes have no parser fails here.
func TestParseEveryOp(t *testing.T) {
	used := map[Op]bool{}
	for _, text := range handWritten {
		g, err := Parse(text)
		require.NoError(t, err)
		require.Equal(t, text, Print(g))
		for _, n := range g.Nodes {
			used[n.Op] = true
		}
	}
	for op := OpInvalid + 1; op < OpLast; op++ {
		require.True(t, used[op], "no hand-written graph uses %s; add one to handWritten", op)
		if a := op.Info().Attrs; a != nil {
			require.Implements(t, (*attrsParser)(nil), a, "%s's attributes", op)
		}
	}
}

// TestParseFields checks what the text does not show by itself: the fields
// Parse fills in.
func TestParseFields(t *testing.T) {
	g, err := Parse(handWritten[0])
	require.NoError(t, err)
	require.True(t, g.Param("bn.gamma").Trainable)
	require.False(t, g.Param("bn.moving_mean").Trainable)
	require.Equal(t, Init{Kind: InitGlorotUniform, FanIn: 18, FanOut: 72}, g.Param("conv.kernel").Init)
	require.Equal(t, "conv", g.Nodes[0].Layer)
	require.Empty(t, g.Nodes[10].Layer)
	require.Equal(t, &ConvAttrs{Window2D: Window2D{Stride: [2]int{1, 1}, Dilation: [2]int{2, 2}, Padding: Explicit, Pads: [4]int{2, 2, 2, 2}}, Groups: 2}, g.Nodes[0].Attrs)
	require.Equal(t, &PoolAttrs{Window2D: Window2D{Size: [2]int{2, 2}, Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}}}, g.Nodes[3].Attrs)

	g, err = Parse(handWritten[1])
	require.NoError(t, err)
	require.Equal(t, []float32{0.5, -1, 2, 0.25}, g.Consts[0].Data)
	require.Equal(t, Const, g.Consts[1].Kind)
	require.Equal(t, &ReshapeAttrs{Shape: Shape{S("T"), S("N"), D(2), D(2)}}, g.Nodes[11].Attrs)

	g, err = Parse(handWritten[2])
	require.NoError(t, err)
	a := g.Nodes[0].Attrs.(*FusedConvAttrs)
	require.Equal(t, Chain{
		{Op: OpAdd, Operand: 2},
		{Op: OpSub, Operand: 3, Swapped: true},
		{Op: OpLeakyRelu, Attrs: &LeakyReluAttrs{Alpha: 0.3}},
	}, a.Epilogue)
	require.Equal(t, &Window2D{Size: [2]int{2, 2}, Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}}, a.Pool)
	require.Nil(t, g.Nodes[2].Attrs.(*FusedConvAttrs).Pool)
}

// TestParseLoose: hand-written text may number results freely, order
// declarations as it likes and spell defaults out; Print makes it canonical.
func TestParseLoose(t *testing.T) {
	g, err := Parse(`
# A comment before the header.
graph g(%x: f32[N, 6, 6, 2]) {

  @b: f32[2] = const [1,2]
  %7: f32[N,6,6,2] = add(%x, @b)   #   layer one
  @k: f32[1,1,2,2] = glorot_uniform(fan_out=2, fan_in=2)
  %3: f32[N,6,6,2] = conv2d(%7, @k) {groups=1 padding=valid dilation=[1,1] stride=[1,1]}
  # A comment between nodes.
  %10: f32[N,6,6,2] = relu(%3)  #
  return y=%10
}

`)
	require.NoError(t, err)
	require.Equal(t, `graph g(%x: f32[N,6,6,2]) {
  @k: f32[1,1,2,2] = glorot_uniform(fan_in=2, fan_out=2)
  @b: f32[2] = const [1, 2]
  %0: f32[N,6,6,2] = add(%x, @b)  # layer one
  %1: f32[N,6,6,2] = conv2d(%0, @k) {stride=[1,1] padding=valid}
  %2: f32[N,6,6,2] = relu(%1)
  return y=%2
}
`, Print(g))
}

// TestParseLargeConst: hand-written text may inline any number of values, but
// Print writes constants over maxInlineConst values as a checksum, which does
// not parse back.
func TestParseLargeConst(t *testing.T) {
	values := make([]string, maxInlineConst+1)
	for i := range values {
		values[i] = strconv.Itoa(i)
	}
	g, err := Parse(fmt.Sprintf("graph g(%%x: f32[%d]) {\n  @c: f32[%d] = const [%s]\n  %%0: f32[%d] = add(%%x, @c)\n  return y=%%0\n}\n",
		len(values), len(values), strings.Join(values, ", "), len(values)))
	require.NoError(t, err)
	require.Len(t, g.Consts[0].Data, len(values))
	printed := Print(g)
	require.Contains(t, printed, "@c: f32[17] = const(17 values, crc32 ")
	_, err = Parse(printed)
	require.ErrorContains(t, err, "line 2: constant @c was printed as a checksum")
}

func TestParseErrors(t *testing.T) {
	// Each case replaces the body of a small graph.
	graph := func(body string) string {
		return "graph g(%x: f32[N,4], %img: f32[N,4,4,2]) {\n  @k: f32[4,2] = zeros\n" + body + "\n}\n"
	}
	for _, c := range []struct{ name, text, want string }{
		{"empty", "", "line 1: expected a graph header"},
		{"no header", "%0: f32[1] = relu(%x)", "line 1: expected a graph header"},
		{"numbered input", "graph g(%0: f32[1]) {", "line 1: expected an input %name"},
		{"bad dtype", "graph g(%x: f16[1]) {", "line 1: expected an element type (f32, i32, i64), found \"f16\""},
		{"negative dim", "graph g(%x: f32[-1]) {", "line 1: expected a dimension"},
		{"unclosed", "graph g(%x: f32[1]) {\n  return y=%x\n", "line 3: expected } to close graph g"},
		{"missing return", graph(""), "line 4: expected `return"},
		{"after return", graph("  return y=%x\n  %0: f32[N,4] = relu(%x)"), "line 4: expected } after return"},
		{"after close", graph("  return y=%x") + "}\n", "line 5: unexpected \"}\" after the closing }"},
		{"unknown op", graph("  %0: f32[N,4] = frobnicate(%x)"), `line 3: unknown op "frobnicate"`},
		{"undefined value", graph("  %0: f32[N,4] = relu(%9)"), "line 3: %9 is not defined"},
		{"use before definition", graph("  %0: f32[N,4] = relu(%1)\n  %1: f32[N,4] = relu(%x)"), "line 3: %1 is not defined"},
		{"redefined", graph("  %0: f32[N,4] = relu(%x)\n  %0: f32[N,4] = relu(%x)"), "line 4: %0 is already defined on line 3"},
		{"redefined param", graph("  @k: f32[2] = ones"), "line 3: @k is already defined on line 2"},
		{"wrong result type", graph("  %0: f32[N,5] = relu(%x)"), "line 3: %0 is written as f32[N,5], but relu infers f32[N,4]"},
		{"shape error", graph("  %0: f32[N,2] = dense(%img, @k)"), "line 3: %0: dense expects (N, features)"},
		{"arity", graph("  %0: f32[N,4] = relu(%x, %x)"), "line 3: %0: relu takes 1 operands, got 2"},
		{"named result", graph("  %y: f32[N,4] = relu(%x)"), "line 3: expected a result %N (a number), found %y"},
		{"two results", graph("  %0: f32[N,4], %1: f32[N,4] = relu(%x)"), "line 3: a node has one result"},
		{"grad from output", graph("  %0: f32[N,4] = unary_grad(%x, %x) {fn=exp from=output}"), "line 3: %0: unary_grad: exp's derivative is not a function of its result (from=output)"},
		{"attrs on op without", graph("  %0: f32[N,4] = relu(%x) {alpha=1}"), "line 3: relu takes no attributes"},
		{"missing attrs", graph("  %0: f32[N,4] = softmax(%x)"), `line 3: expected "{", found end of line`},
		{"unknown attr", graph("  %0: f32[N,4] = softmax(%x) {axis=1 temp=2}"), `line 3: expected an attribute (axis), found "temp"`},
		{"missing attr", graph("  %0: f32[N,4] = leaky_relu(%x) {}"), "line 3: missing attribute alpha="},
		{"repeated attr", graph("  %0: f32[N,4] = softmax(%x) {axis=1 axis=1}"), "line 3: attribute axis is given twice"},
		{"bad int", graph("  %0: f32[N,4] = softmax(%x) {axis=last}"), `line 3: expected an integer, found "last"`},
		{"bad float", graph("  %0: f32[N,4] = leaky_relu(%x) {alpha=1e99}"), `line 3: expected a float32 number, found "1e99"`},
		{"bad bool", graph("  %0: f32[N,2] = matmul(%x, @k) {trans_a=no trans_b=false}"), `line 3: expected true or false, found "no"`},
		{"bad padding", graph("  %0: f32[N,2,2,2] = maxpool2d(%img) {size=[2,2] stride=[2,2] padding=reflect}"), "line 3: expected a padding (valid, same, explicit)"},
		{"bad pair", graph("  %0: f32[N,2,2,2] = maxpool2d(%img) {size=[2] stride=[2,2] padding=valid}"), "line 3: expected 2 integers, found 1"},
		{"pads without explicit", graph("  %0: f32[N,2,2,2] = maxpool2d(%img) {size=[2,2] stride=[2,2] padding=valid pads=[1,1,1,1]}"), "line 3: pads=[top,bottom,left,right] must be given with padding=explicit"},
		{"explicit without pads", graph("  %0: f32[N,2,2,2] = maxpool2d(%img) {size=[2,2] stride=[2,2] padding=explicit}"), "line 3: pads=[top,bottom,left,right] must be given with padding=explicit"},
		{"conv has no size", graph("  @c: f32[1,1,2,2] = zeros\n  %0: f32[N,4,4,2] = conv2d(%img, @c) {size=[1,1] stride=[1,1] padding=valid}"), `line 4: expected an attribute (stride, dilation, padding, pads, groups), found "size"`},
		{"unknown chain step", graph("  %0: f32[N,4] = elementwise(%x) {chain=[frob]}"), `line 3: unknown op "frob" in chain`},
		{"unfusable step", graph("  %0: f32[N,4] = elementwise(%x) {chain=[softmax{axis=1}]}"), "line 3: softmax cannot be a chain step"},
		{"bad step operands", graph("  %0: f32[N,4] = elementwise(%x, %x) {chain=[add(v, v)]}"), "line 3: expected add(v, inN) or add(inN, v)"},
		{"missing step operand", graph("  %0: f32[N,4] = elementwise(%x) {chain=[add(v, in1)]}"), "line 3: %0: chain step 0: operand in1 does not exist"},
		{"missing step attrs", graph("  %0: f32[N,4] = elementwise(%x) {chain=[leaky_relu]}"), `line 3: expected "{", found "]"`},
		{"checksum const", graph("  @c: f32[17] = const(17 values, crc32 0123abcd)"), "line 3: constant @c was printed as a checksum, from which its data cannot be recovered: only inline constants"},
		{"const count", graph("  @c: f32[3] = const [1, 2]"), "line 3: constant @c has 2 values, but f32[3] holds 3"},
		{"symbolic param", graph("  @c: f32[N] = zeros"), "line 3: @c must have a shape of known sizes"},
		{"unknown init", graph("  @c: f32[2] = random"), `line 3: expected an initialiser (zeros, ones, glorot_uniform(...), uniform(...)) or const [...], found "random"`},
		{"missing fan", graph("  @c: f32[2] = glorot_uniform(fan_in=2)"), "line 3: missing attribute fan_out="},
		{"zero fan", graph("  @c: f32[2] = glorot_uniform(fan_in=0, fan_out=2)"), "line 3: glorot_uniform needs fan_in and fan_out of at least 1"},
		{"trailing text", graph("  @c: f32[2] = zeros frozen twice"), `line 3: expected end of line, found "twice"`},
		{"bare sigil", graph("  %0: f32[N,4] = relu(% x)"), "line 3: expected a name right after %"},
		{"returned twice", graph("  return y=%x, y=%x"), "line 3: output y is returned twice"},
		{"empty return", graph("  return"), "line 3: expected an output name, found end of line"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := Parse(c.text)
			require.Nil(t, g)
			require.ErrorContains(t, err, c.want)
		})
	}
}

// FuzzParse: Parse never panics, and whatever it accepts prints to text that
// parses back to the same print. Constants over maxInlineConst values print as
// a checksum by design, so their graphs must be refused the second time, with
// the error saying why.
func FuzzParse(f *testing.F) {
	for _, text := range goldenIR(f) {
		f.Add(text)
	}
	for _, text := range handWritten {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		g, err := Parse(text)
		if err != nil {
			// Every error names its line; Verify, run last, finds nothing the
			// line checks missed.
			require.True(t, strings.HasPrefix(err.Error(), "line "), err.Error())
			return
		}
		printed := Print(g)
		g2, err := Parse(printed)
		for _, c := range g.Consts {
			if len(c.Data) > maxInlineConst {
				require.ErrorContains(t, err, "only inline constants")
				return
			}
		}
		require.NoError(t, err, printed)
		require.Equal(t, printed, Print(g2))
	})
}

// TestSpecialise binds symbols in types and in attributes' shapes.
func TestSpecialise(t *testing.T) {
	g, err := Parse(`graph g(%x: f32[N,6]) {
  %0: f32[N,2,3] = reshape(%x) {shape=[N,2,3]}
  %1: f32[1,2,3] = sum_to(%0) {shape=[1,2,3]}
  return y=%1
}
`)
	require.NoError(t, err)
	require.ErrorContains(t, g.Specialise(map[string]int{}), "no size for N")
	require.NoError(t, g.Specialise(map[string]int{"N": 4}))
	require.Equal(t, `graph g(%x: f32[4,6]) {
  %0: f32[4,2,3] = reshape(%x) {shape=[4,2,3]}
  %1: f32[1,2,3] = sum_to(%0) {shape=[1,2,3]}
  return y=%1
}
`, Print(g))
}
