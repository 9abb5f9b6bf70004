package ir

import (
	"math"
	"testing"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hostile types of issue 11: products that wrap to 0 or a small number
// in int64, or that Go's makeslice refuses with a fatal error.
func TestCheckTypeSize(t *testing.T) {
	for _, c := range []struct {
		typ  Type
		want string // "" for a type that is fine
	}{
		{T("N", 32, 32, 3), ""},
		{T("N", 100000, 100000, 3), ""}, // 120 GB per example: the budget's to refuse
		{T(0, 1<<62, 1<<62), "more than 64-bit arithmetic holds"},
		{T("N", 4294967296, 4294967296, 4294967296), "f32[N,4294967296,4294967296,4294967296] has too many elements: its dimensions multiply to more than 64-bit arithmetic holds with every symbol taken as 1"},
		{T("N", 3037000500, 3037000500), "f32[N,3037000500,3037000500] has too many elements: its dimensions multiply to more than 64-bit arithmetic holds"},
		{T("N", 3037000499, 3037000499), "f32[N,3037000499,3037000499] has 9223372030926249001 elements with every symbol taken as 1, more than the limit of 2^40"},
		{T(1<<20, 1<<21), "f32[1048576,2097152] has 2199023255552 elements, more than the limit of 2^40"},
		{T(4, -1), "negative dimension"},
	} {
		err := CheckTypeSize(c.typ)
		if c.want == "" {
			assert.NoError(t, err, c.typ.String())
			continue
		}
		require.Error(t, err, c.typ.String())
		var te *TypeError
		require.ErrorAs(t, err, &te, "the checker turns a *TypeError into a diagnostic")
		assert.Contains(t, err.Error(), c.want)
	}
}

// TestInferRefusesHuge: shape inference refuses an operand or a result whose
// size overflows, so no checked graph holds one, and adds nothing.
func TestInferRefusesHuge(t *testing.T) {
	g := NewGraph("huge")
	x := g.AddInput("x", T("N", 1<<20))
	k := g.AddParam("dense.kernel", T(1<<20, 1<<21), Init{Kind: InitZeros}, true)
	_, err := g.AddNode(OpDense, nil, []*Value{x, k}, "dense", Pos{})
	require.ErrorContains(t, err, "dense operand 2, f32[1048576,2097152] has 2199023255552 elements")

	// Operands of 2^30 and 2^20 elements whose broadcast sum has 2^50.
	a := g.AddInput("a", T(1<<30, 1))
	b := g.AddInput("b", T(1<<20))
	_, err = g.AddNode(OpAdd, nil, []*Value{a, b}, "sum", Pos{})
	require.ErrorContains(t, err, "the result of add, f32[1073741824,1048576] has")
	require.Empty(t, g.Nodes)

	// An ordinary dense(100000) on 100,000 features is a valid graph of 40 GB
	// of weights: ParamBytes measures it for the budget before anything exists.
	k = g.AddParam("big.kernel", T(100000, 100000), Init{Kind: InitZeros}, true)
	y := g.AddInput("y", T("N", 100000))
	_, err = g.AddNode(OpDense, nil, []*Value{y, k}, "big", Pos{})
	require.NoError(t, err)
}

func TestBind(t *testing.T) {
	s := Shape{S("N"), S("T"), D(32)}
	got, err := s.Bind(map[string]int{"N": 2, "T": 5})
	require.NoError(t, err)
	assert.Equal(t, []int{2, 5, 32}, got)
	for _, c := range []struct {
		env  map[string]int
		want string
	}{
		{map[string]int{"N": 1}, "dimension T is not bound"},
		{map[string]int{"N": -1, "T": 5}, "dimension N of [N,T,32] is -1"},
		// --dim T=99999999999: 3.2e12 elements.
		{map[string]int{"N": 1, "T": 99999999999}, "shape [N,T,32] bound to [1,99999999999,32] has more than 2^40 elements"},
		{map[string]int{"N": math.MaxInt, "T": math.MaxInt}, "has more than 2^40 elements"},
	} {
		_, err := s.Bind(c.env)
		assert.ErrorContains(t, err, c.want)
	}
}

// TestGraphBytes: the totals a driver checks before allocating, on issue
// 11's hostile programs.
func TestGraphBytes(t *testing.T) {
	image := NewGraph("image")
	image.AddInput("image", T("N", 100000, 100000, 3))

	dense := NewGraph("wide")
	x := dense.AddInput("x", T("N", 100000))
	k := dense.AddParam("head.kernel", T(100000, 100000), Init{Kind: InitGlorotUniform, FanIn: 100000, FanOut: 100000}, true)
	bias := dense.AddParam("head.bias", T(100000), Init{Kind: InitZeros}, true)
	_, err := dense.AddNode(OpDense, nil, []*Value{x, k, bias}, "head", Pos{})
	require.NoError(t, err)

	params, err := dense.ParamBytes()
	require.NoError(t, err)
	assert.Equal(t, int64(4*(100000*100000+100000)), params)
	values, err := dense.ValueBytes(map[string]int{"N": 3})
	require.NoError(t, err)
	assert.Equal(t, int64(4*3*100000), values)

	const budget = size.Budget(1 << 30)
	for _, c := range []struct {
		g    *Graph
		env  map[string]int
		want string
	}{
		{image, map[string]int{"N": 1}, "model image with N=1 (weights 0 bytes, inputs 111.8 GiB, intermediate values 0 bytes) needs 111.8 GiB, more than the memory limit of 1.0 GiB; raise the limit with --max-memory"},
		// --batch 1000000000 makes a bound input of more than 2^40 elements.
		{image, map[string]int{"N": 1000000000}, `the inputs of model image: input "image" f32[N,100000,100000,3]: shape [N,100000,100000,3] bound to [1000000000,100000,100000,3] has more than 2^40 elements`},
		{dense, map[string]int{"N": 1}, "model wide with N=1 (weights 37.3 GiB, inputs 400,000 bytes, intermediate values 400,000 bytes) needs 37.3 GiB"},
		{dense, map[string]int{"N": 1000000000}, "input \"x\""},
	} {
		err := c.g.CheckBudget(c.env, budget)
		assert.ErrorContains(t, err, c.want)
	}
	require.NoError(t, dense.CheckBudget(map[string]int{"N": 1}, 0), "a zero budget is no limit")

	// A parameter added around the checks (as a careless pass might) is
	// still refused, not wrapped into a small total.
	wrap := NewGraph("wrap")
	wrap.AddParam("q", T(1<<62, 4), Init{Kind: InitZeros}, true)
	_, err = wrap.ParamBytes()
	assert.ErrorContains(t, err, `the weights of model wrap: parameter "q" f32[4611686018427387904,4]: shape [4611686018427387904,4] bound to [4611686018427387904,4] has more than 2^40 elements`)
	assert.Equal(t, int64(math.MaxInt64), wrap.ParamCount())
}

// TestFlopsOverflow: each matmul of two [2^20, 2^20] matrices is 2^61 FLOPs;
// four of them overflow int64. Flops saturates, FlopsBound refuses.
func TestFlopsOverflow(t *testing.T) {
	g := NewGraph("flops")
	a := g.AddInput("a", T(1<<20, 1<<20))
	for i := range 4 {
		var err error
		a, err = g.AddNode(OpMatMul, &MatMulAttrs{}, []*Value{a, a}, "mm", Pos{})
		require.NoError(t, err, i)
	}
	assert.Equal(t, int64(1<<61), g.Nodes[0].Flops())
	assert.Equal(t, int64(math.MaxInt64), g.Flops())
	_, err := g.FlopsBound(nil)
	assert.ErrorContains(t, err, `the FLOP count of model flops overflows 64-bit arithmetic at matmul (layer "mm")`)
	_, err = g.FlopsByLayer(nil)
	assert.ErrorContains(t, err, `the FLOP count of layer "mm" overflows`)
	byNode, err := g.FlopsByNode(nil)
	require.NoError(t, err, "no one node overflows")
	assert.Equal(t, []int64{1 << 61, 1 << 61, 1 << 61, 1 << 61}, byNode)
	assert.Equal(t, []int{1 << 20, 1 << 20}, []int{a.Type.Shape[0].Size, a.Type.Shape[1].Size}, "types restored")
}

// TestParseRefusesHuge: IR text goes through the same rule.
func TestParseRefusesHuge(t *testing.T) {
	_, err := Parse("graph g(%x: f32[N,4294967296,4294967296,4294967296]) {\n  return y=%x\n}\n")
	require.ErrorContains(t, err, "line 1: f32[N,4294967296,4294967296,4294967296] has too many elements")
	_, err = Parse("graph g(%x: f32[N,2]) {\n  @w: f32[3037000500,3037000500] = zeros\n  return y=%x\n}\n")
	require.ErrorContains(t, err, "line 2: f32[3037000500,3037000500] has too many elements")
}

func TestWindowBounds(t *testing.T) {
	g := NewGraph("w")
	x := g.AddInput("x", T("N", 8, 8, 3))
	w := Window2D{Size: [2]int{2, 2}, Stride: [2]int{1, 1}, Dilation: [2]int{math.MaxInt / 2, 1}, Padding: Valid}
	_, err := g.AddNode(OpMaxPool2D, &PoolAttrs{Window2D: w}, []*Value{x}, "pool", Pos{})
	require.ErrorContains(t, err, "must be 1 to 2^40")
	w = Window2D{Size: [2]int{2, 2}, Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}, Padding: Explicit, Pads: [4]int{math.MaxInt, math.MaxInt, 0, 0}}
	_, err = g.AddNode(OpMaxPool2D, &PoolAttrs{Window2D: w}, []*Value{x}, "pool", Pos{})
	require.ErrorContains(t, err, "must be 0 to 2^40")
}

// TestFlopsByNode: each node's count with the batch bound, in node order,
// summing to FlopsBound.
func TestFlopsByNode(t *testing.T) {
	g := NewGraph("f")
	x := g.AddInput("x", T("N", 4))
	w := g.AddInput("w", T(4, 3))
	y, err := g.AddNode(OpMatMul, &MatMulAttrs{}, []*Value{x, w}, "mm", Pos{})
	require.NoError(t, err)
	_, err = g.AddNode(OpRelu, nil, []*Value{y}, "act", Pos{})
	require.NoError(t, err)
	env := map[string]int{"N": 5}
	byNode, err := g.FlopsByNode(env)
	require.NoError(t, err)
	assert.Equal(t, []int64{2 * 5 * 3 * 4, 5 * 3}, byNode)
	total, err := g.FlopsBound(env)
	require.NoError(t, err)
	assert.Equal(t, total, byNode[0]+byNode[1])
	_, err = g.FlopsByNode(nil)
	assert.ErrorContains(t, err, "N")
}
