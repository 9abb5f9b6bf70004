package ref

import (
	"math"
	"testing"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// classifier is image f32[N,32,32,3] -> global_avgpool2d -> dense(@dense.kernel
// f32[3,2]) -> probs.
func classifier(t *testing.T) *ir.Graph {
	g := ir.NewGraph("classifier")
	x := g.AddInput("image", ir.T("N", 32, 32, 3))
	k := g.AddParam("dense.kernel", ir.T(3, 2), ir.Init{Kind: ir.InitGlorotUniform, FanIn: 3, FanOut: 2}, true)
	p, err := g.AddNode(ir.OpGlobalAvgPool2D, nil, []*ir.Value{x}, "pool", ir.Pos{})
	require.NoError(t, err)
	y, err := g.AddNode(ir.OpDense, nil, []*ir.Value{p, k}, "dense", ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("probs", y)
	return g
}

func classifierParams() map[string]*tensor.Tensor {
	return map[string]*tensor.Tensor{"dense.kernel": tensor.New(3, 2)}
}

func TestRunBindsBatch(t *testing.T) {
	g := classifier(t)
	img := tensor.New(2, 32, 32, 3)
	for i := range img.Data {
		img.Data[i] = float32(i % 3) // channel c holds c everywhere
	}
	k := &tensor.Tensor{Shape: []int{3, 2}, Data: []float32{1, 0, 0, 1, 1, 1}}
	out, err := Run(g, map[string]*tensor.Tensor{"dense.kernel": k}, map[string]*tensor.Tensor{"image": img})
	require.NoError(t, err)
	require.Equal(t, []int{2, 2}, out["probs"].Shape)
	require.Equal(t, []float32{2, 3, 2, 3}, out["probs"].Data)
}

func TestBind(t *testing.T) {
	g := ir.NewGraph("seq")
	g.AddInput("tokens", ir.T("N", "T", 8))
	g.AddInput("mask", ir.T("N", "T"))
	env, err := Bind(g, map[string]*tensor.Tensor{"tokens": tensor.New(2, 5, 8), "mask": tensor.New(2, 5)})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"N": 2, "T": 5}, env)
}

func TestInputErrors(t *testing.T) {
	img := tensor.New(1, 32, 32, 3)
	for _, tc := range []struct {
		name   string
		inputs map[string]*tensor.Tensor
		want   string
	}{
		{"missing", map[string]*tensor.Tensor{}, `missing input "image": the model takes f32[N,32,32,3]`},
		{"nil", map[string]*tensor.Tensor{"image": nil}, `missing input "image": the model takes f32[N,32,32,3]`},
		{"unknown", map[string]*tensor.Tensor{"image": img, "label": tensor.New(1)},
			`unknown input "label": the model takes (image: f32[N,32,32,3])`},
		{"size", map[string]*tensor.Tensor{"image": tensor.New(1, 28, 28, 1)},
			`input "image": the model takes f32[N,32,32,3], got [1,28,28,1]`},
		{"rank", map[string]*tensor.Tensor{"image": tensor.New(32, 32, 3)},
			`input "image": the model takes f32[N,32,32,3], got [32,32,3]`},
		{"zero batch", map[string]*tensor.Tensor{"image": tensor.New(0, 32, 32, 3)},
			`input "image": dimension N must be at least 1, got 0 in [0,32,32,3]`},
		{"short data", map[string]*tensor.Tensor{"image": {Shape: []int{1, 32, 32, 3}, Data: make([]float32, 5)}},
			`input "image": shape [1,32,32,3] has 3072 elements, but the data has 5`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(classifier(t), classifierParams(), tc.inputs)
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestInconsistentSymbol(t *testing.T) {
	g := ir.NewGraph("pair")
	a := g.AddInput("a", ir.T("N", 3))
	b := g.AddInput("b", ir.T("N", 3))
	y, err := g.AddNode(ir.OpAdd, nil, []*ir.Value{a, b}, "add", ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("y", y)
	_, err = Run(g, nil, map[string]*tensor.Tensor{"a": tensor.New(2, 3), "b": tensor.New(3, 3)})
	require.EqualError(t, err, `input "b": dimension N is 3 in [3,3], but input "a" bound it to 2`)
}

func TestParamErrors(t *testing.T) {
	inputs := map[string]*tensor.Tensor{"image": tensor.New(1, 32, 32, 3)}
	for _, tc := range []struct {
		name  string
		param *tensor.Tensor
		want  string
	}{
		{"missing", nil, `missing param "dense.kernel": the model takes f32[3,2]`},
		{"shape", tensor.New(2, 3), `param "dense.kernel": the model takes f32[3,2], got [2,3]`},
		{"rank", tensor.New(6), `param "dense.kernel": the model takes f32[3,2], got [6]`},
		{"short data", &tensor.Tensor{Shape: []int{3, 2}, Data: make([]float32, 7)},
			`param "dense.kernel": shape [3,2] has 6 elements, but the data has 7`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := map[string]*tensor.Tensor{"unused": tensor.New(1)}
			if tc.param != nil {
				params["dense.kernel"] = tc.param
			}
			_, err := Run(classifier(t), params, inputs)
			require.EqualError(t, err, tc.want)
		})
	}
}

// tokenModel embeds ids [N, T] of a vocabulary of 5 into 2-vectors, adds a
// learned table of 3 positions, and makes their padding mask.
func tokenModel(t *testing.T, dt ir.DType) *ir.Graph {
	g := ir.NewGraph("tokens")
	ids := g.AddInput("ids", ir.Type{DType: dt, Shape: ir.Shape{ir.S("N"), ir.S("T")}})
	table := g.AddParam("tok", ir.T(5, 2), ir.Init{Kind: ir.InitUniform, Limit: 0.05}, true)
	pos := g.AddParam("pos", ir.T(3, 2), ir.Init{Kind: ir.InitZeros}, true)
	e, err := g.AddNode(ir.OpEmbedding, nil, []*ir.Value{ids, table}, "tok", ir.Pos{})
	require.NoError(t, err)
	h, err := g.AddNode(ir.OpPositional, nil, []*ir.Value{e, pos}, "pos", ir.Pos{})
	require.NoError(t, err)
	m, err := g.AddNode(ir.OpPaddingMask, &ir.PaddingMaskAttrs{Pad: 4}, []*ir.Value{ids}, "mask", ir.Pos{})
	require.NoError(t, err)
	f, err := g.AddNode(ir.OpToFloat, nil, []*ir.Value{ids}, "float", ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("h", h)
	g.AddOutput("mask", m)
	g.AddOutput("float", f)
	return g
}

func TestTokenIDs(t *testing.T) {
	params := map[string]*tensor.Tensor{
		"tok": {Shape: []int{5, 2}, Data: []float32{0, 1, 10, 11, 20, 21, 30, 31, 40, 41}},
		"pos": {Shape: []int{3, 2}, Data: []float32{0.5, 0.25, 1.5, 1.25, 2.5, 2.25}},
	}
	for _, dt := range []ir.DType{ir.I32, ir.I64} {
		g := tokenModel(t, dt)
		ids := &tensor.Tensor{Shape: []int{2, 2}, Ints: []int64{3, 0, 1, 4}}
		out, err := Run(g, params, map[string]*tensor.Tensor{"ids": ids})
		require.NoError(t, err)
		assert.Equal(t, []float32{30.5, 31.25, 1.5, 2.25, 10.5, 11.25, 41.5, 42.25}, out["h"].Data)
		assert.Equal(t, []int{2, 1, 1, 2}, out["mask"].Shape)
		inf := float32(math.Inf(-1))
		assert.Equal(t, []float32{0, 0, 0, inf}, out["mask"].Data)
		assert.Equal(t, []float32{3, 0, 1, 4}, out["float"].Data)

		_, err = Run(g, params, map[string]*tensor.Tensor{"ids": {Shape: []int{1, 2}, Ints: []int64{2, 5}}})
		require.EqualError(t, err, `input "ids": token id 5 at [0,1] is outside the vocabulary: ids of `+dt.String()+`[N,T] must be in 0..4`)
		_, err = Run(g, params, map[string]*tensor.Tensor{"ids": {Shape: []int{1, 1}, Ints: []int64{-1}}})
		require.ErrorContains(t, err, "token id -1 at [0,0] is outside the vocabulary")
		_, err = Run(g, params, map[string]*tensor.Tensor{"ids": {Shape: []int{1, 2}, Data: []float32{1, 2}}})
		require.EqualError(t, err, `input "ids" is token ids (`+dt.String()+`[N,T]), got floats: feed integer ids (an .npy of int32 or int64)`)
		// The table has 3 positions: T = 4 is refused before anything runs.
		_, err = Run(g, params, map[string]*tensor.Tensor{"ids": tensor.NewInts(1, 4)})
		require.EqualError(t, err, `positional (layer "pos") with N=1, T=4: a sequence of T = 4 positions, but the learned table has 3`)
	}
}

// Token ids are inputs read by embedding and padding_mask only; weights and
// results are f32.
func TestTokenIDsOnlyWhereTheyBelong(t *testing.T) {
	g := ir.NewGraph("ints")
	x := g.AddInput("x", ir.Type{DType: ir.I32, Shape: ir.Shape{ir.D(2)}})
	_, err := g.AddNode(ir.OpRelu, nil, []*ir.Value{x}, "relu", ir.Pos{})
	require.EqualError(t, err, "relu takes f32 tensors, got token ids i32[2]")
	f := g.AddInput("f", ir.T(2, 3))
	_, err = g.AddNode(ir.OpEmbedding, nil, []*ir.Value{f, g.AddParam("w", ir.T(4, 2), ir.Init{Kind: ir.InitZeros}, true)}, "e", ir.Pos{})
	require.ErrorContains(t, err, "embedding takes token ids (i32 or i64), got f32[2,3]")

	g = ir.NewGraph("int weights")
	p := g.AddParam("w", ir.Type{DType: ir.I32, Shape: ir.Shape{ir.D(2)}}, ir.Init{Kind: ir.InitZeros}, true)
	g.AddOutput("y", p)
	_, err = Run(g, map[string]*tensor.Tensor{"w": tensor.NewInts(2)}, nil)
	require.ErrorContains(t, err, "parameter w is i32[2]: weights are f32")
	require.ErrorContains(t, err, "output y is i32[2]: outputs are f32")
}

func TestInvalidGraph(t *testing.T) {
	g := classifier(t)
	g.Outputs = nil
	_, err := Run(g, classifierParams(), map[string]*tensor.Tensor{"image": tensor.New(1, 32, 32, 3)})
	require.ErrorContains(t, err, "graph classifier has no outputs")
}

// Outputs that are inputs or params are copies, so callers may write to them.
func TestOutputsDoNotAlias(t *testing.T) {
	g := ir.NewGraph("id")
	g.AddOutput("x", g.AddInput("x", ir.T(2)))
	g.AddOutput("w", g.AddParam("w", ir.T(2), ir.Init{Kind: ir.InitOnes}, true))
	x := &tensor.Tensor{Shape: []int{2}, Data: []float32{1, 2}}
	w := &tensor.Tensor{Shape: []int{2}, Data: []float32{3, 4}}
	out, err := Run(g, map[string]*tensor.Tensor{"w": w}, map[string]*tensor.Tensor{"x": x})
	require.NoError(t, err)
	require.Equal(t, x, out["x"])
	require.Equal(t, w, out["w"])
	out["x"].Data[0], out["w"].Data[0] = 0, 0
	require.Equal(t, []float32{1, 2}, x.Data)
	require.Equal(t, []float32{3, 4}, w.Data)
}

// TestRunRefusesHuge: shapes bound from inputs that would make the
// interpreter allocate terabytes, or wrap a count, are errors before any node
// runs, not a Go fatal error.
func TestRunRefusesHuge(t *testing.T) {
	wide := func(out int) *ir.Graph {
		g := ir.NewGraph("wide")
		x := g.AddInput("x", ir.T("N", 1))
		k := g.AddParam("dense.kernel", ir.T(1, out), ir.Init{Kind: ir.InitZeros}, true)
		y, err := g.AddNode(ir.OpDense, nil, []*ir.Value{x, k}, "dense", ir.Pos{})
		require.NoError(t, err)
		g.AddOutput("y", y)
		return g
	}
	// 2^20 examples of 2^20 outputs: 4 TiB of result.
	g := wide(1 << 20)
	params := map[string]*tensor.Tensor{"dense.kernel": tensor.New(1, 1<<20)}
	x := tensor.New(1<<20, 1)
	_, err := RunWithin(g, params, map[string]*tensor.Tensor{"x": x}, 1<<30)
	var over *size.Error
	require.ErrorAs(t, err, &over)
	assert.Contains(t, err.Error(), "model wide with N=1048576 (weights 4.0 MiB, inputs 4.0 MiB, intermediate values 4.0 TiB) needs 4.0 TiB, more than the memory limit of 1.0 GiB; raise the limit with --max-memory")

	// 2^20 examples of 2^21 outputs: more than 2^40 elements.
	g = wide(1 << 21)
	params = map[string]*tensor.Tensor{"dense.kernel": tensor.New(1, 1<<21)}
	_, err = RunWithin(g, params, map[string]*tensor.Tensor{"x": x}, 0)
	assert.ErrorContains(t, err, `dense (layer "dense") with N=1048576: the result of dense, f32[1048576,2097152] has 2199023255552 elements, more than the limit of 2^40`)

	// A fed shape whose element count wraps to 0 does not pass for empty.
	_, err = Run(g, params, map[string]*tensor.Tensor{"x": {Shape: []int{1 << 32, 1 << 32, 1 << 32}}})
	assert.ErrorContains(t, err, "the model takes f32[N,1]")
	g = ir.NewGraph("any")
	g.AddOutput("y", g.AddInput("x", ir.T("N", "M", "K")))
	_, err = Run(g, nil, map[string]*tensor.Tensor{"x": {Shape: []int{1 << 32, 1 << 32, 1 << 32}}})
	assert.ErrorContains(t, err, `input "x": shape [4294967296,4294967296,4294967296] has more elements than 64-bit arithmetic counts`)
}
