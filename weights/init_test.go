package weights

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// cnn has one parameter of each initialiser, Keras-style.
func cnn() *ir.Graph {
	g := ir.NewGraph("cnn")
	g.AddParam("conv2d.kernel", ir.T(3, 3, 1, 32), ir.Init{Kind: ir.InitGlorotUniform, FanIn: 9, FanOut: 288}, true)
	g.AddParam("conv2d.bias", ir.T(32), ir.Init{Kind: ir.InitZeros}, true)
	g.AddParam("bn.gamma", ir.T(32), ir.Init{Kind: ir.InitOnes}, true)
	g.AddParam("bn.moving_variance", ir.T(32), ir.Init{Kind: ir.InitOnes}, false)
	g.AddParam("dense.kernel", ir.T(1600, 10), ir.Init{Kind: ir.InitGlorotUniform, FanIn: 1600, FanOut: 10}, true)
	g.AddParam("dense.bias", ir.T(10), ir.Init{Kind: ir.InitZeros}, true)
	return g
}

func TestInitValues(t *testing.T) {
	g := cnn()
	ts := mustInit(t, g, 1)
	require.NoError(t, Check(g, ts))
	assert.Equal(t, make([]float32, 32), ts["conv2d.bias"].Data)
	for _, v := range ts["bn.gamma"].Data {
		require.Equal(t, float32(1), v)
	}
	for name, fans := range map[string]float64{"conv2d.kernel": 9 + 288, "dense.kernel": 1600 + 10} {
		limit := math.Sqrt(6 / fans)
		data := ts[name].Data
		var sum, sq float64
		for _, v := range data {
			require.LessOrEqual(t, math.Abs(float64(v)), float64(float32(limit)), name)
			sum += float64(v)
			sq += float64(v) * float64(v)
		}
		n := float64(len(data))
		// U(-l, l) has mean 0 and variance l²/3; allow 4 standard errors.
		sd := limit / math.Sqrt(3)
		assert.InDelta(t, 0, sum/n, 4*sd/math.Sqrt(n), name)
		assert.InDelta(t, sd*sd, sq/n, 4*sd*sd*math.Sqrt(0.8/n), name)
	}
}

// The stream is part of the compatibility contract: these values must never change.
func TestInitGolden(t *testing.T) {
	ts := mustInit(t, cnn(), 42)
	assert.Equal(t, []float32{-0.01228187, -0.127757, 0.09534145, 0.11773599}, ts["conv2d.kernel"].Data[:4])
	assert.Equal(t, []float32{0.020174224, -0.007820991, -0.042371716, -0.0219592}, ts["dense.kernel"].Data[:4])
}

func TestInitDeterministic(t *testing.T) {
	g := cnn()
	assert.Equal(t, mustInit(t, g, 7), mustInit(t, g, 7))
	assert.NotEqual(t, mustInit(t, g, 7)["dense.kernel"].Data, mustInit(t, g, 8)["dense.kernel"].Data)

	// Zeros and ones draw nothing: dropping them leaves the stream unchanged.
	only := ir.NewGraph("cnn")
	only.AddParam("conv2d.kernel", ir.T(3, 3, 1, 32), ir.Init{Kind: ir.InitGlorotUniform, FanIn: 9, FanOut: 288}, true)
	only.AddParam("dense.kernel", ir.T(1600, 10), ir.Init{Kind: ir.InitGlorotUniform, FanIn: 1600, FanOut: 10}, true)
	assert.Equal(t, mustInit(t, g, 7)["dense.kernel"], mustInit(t, only, 7)["dense.kernel"])
}

func TestInitRejectsInvalidIR(t *testing.T) {
	g := ir.NewGraph("bad")
	g.AddParam("w", ir.T(2), ir.Init{}, true)
	_, err := Init(g, 1)
	assert.EqualError(t, err, `weights.Init: parameter "w" is uninitialised`)
	g = ir.NewGraph("bad")
	g.AddParam("w", ir.T("N"), ir.Init{Kind: ir.InitZeros}, true)
	_, err = Init(g, 1)
	assert.EqualError(t, err, `weights.Init: the weights of model bad: parameter "w" f32[N]: dimension N is not bound`)
}

// mustInit is Init for graphs that are valid.
func mustInit(t *testing.T, g *ir.Graph, seed uint64) map[string]*tensor.Tensor {
	t.Helper()
	ts, err := Init(g, seed)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
