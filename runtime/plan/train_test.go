package plan

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// sgdGraph is y = x·p with the update p' = p - lr·g, g fed as an input:
// small integers and lr = 1/2, so every result is exact in float32.
func sgdGraph(t *testing.T, updateFirst bool) (g *ir.Graph, p, update *ir.Value) {
	g = ir.NewGraph("sgd")
	x := g.AddInput("x", ir.T(2, 3))
	grad := g.AddInput("g", ir.T(3, 2))
	p = g.AddParam("p", ir.T(3, 2), ir.Init{Kind: ir.InitZeros}, true)
	lr := g.AddConst("lr", ir.T(1), []float32{0.5})
	node := func(op ir.Op, attrs ir.Attrs, in ...*ir.Value) *ir.Value {
		v, err := g.AddNode(op, attrs, in, "", ir.Pos{})
		require.NoError(t, err)
		return v
	}
	var y *ir.Value
	if !updateFirst {
		y = node(ir.OpMatMul, &ir.MatMulAttrs{}, x, p)
	}
	update = node(ir.OpSub, nil, p, node(ir.OpMul, nil, lr, grad))
	if updateFirst {
		y = node(ir.OpMatMul, &ir.MatMulAttrs{}, x, p)
	}
	g.AddOutput("y", y)
	return g, p, update
}

// TestTrainUpdatesStateInPlace: a plan built for training holds its
// parameter as state, unpacked, reads it in every run and writes the update
// over it, so each run sees the previous run's update; runs allocate nothing.
func TestTrainUpdatesStateInPlace(t *testing.T) {
	g, _, update := sgdGraph(t, false)
	p0 := []float32{1, 2, 3, 4, 5, 6}
	w := map[string]*tensor.Tensor{"p": {Shape: []int{3, 2}, Data: p0}}
	pl, err := Build(g, w, nil, Train(map[string]*ir.Value{"p": update}))
	require.NoError(t, err)
	require.NoError(t, pl.Memory().Verify())
	x := []float32{1, 0, 2, -1, 1, 1}
	grad := []float32{2, 4, -2, 6, 0, 8}
	matmul := func(p []float32) []float32 {
		y := make([]float32, 4)
		for i := range 2 {
			for j := range 2 {
				for k := range 3 {
					y[i*2+j] += x[i*3+k] * p[k*2+j]
				}
			}
		}
		return y
	}
	want := p0
	a := pl.NewArena()
	defer a.Close()
	for run := range 3 {
		y := make([]float32, 4)
		require.NoError(t, pl.Run(a, []Input{Floats(x), Floats(grad)}, [][]float32{y}))
		require.Equal(t, matmul(want), y, "run %d reads the state the runs before it left", run)
		next := make([]float32, len(want))
		for i := range want {
			next[i] = want[i] - 0.5*grad[i]
		}
		want = next
		got, err := pl.State("p")
		require.NoError(t, err)
		require.Equal(t, want, got, "state after run %d", run)
	}
	require.Equal(t, []float32{1, 2, 3, 4, 5, 6}, p0, "the plan keeps its own copy of the weights")
	sched := pl.Schedule()
	last := sched.Steps[len(sched.Steps)-1]
	require.Equal(t, "state @p", last.Buffer)
	require.Equal(t, "@p", last.InPlace)

	y := make([]float32, 4)
	allocs := testing.AllocsPerRun(3, func() {
		if err := pl.Run(a, []Input{Floats(x), Floats(grad)}, [][]float32{y}); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)

	inference, err := Build(g, w, nil)
	require.NoError(t, err)
	_, err = inference.State("p")
	require.ErrorContains(t, err, "only a plan built with Train holds its parameters as state")
}

func TestTrainErrors(t *testing.T) {
	w := map[string]*tensor.Tensor{"p": tensor.New(3, 2)}
	build := func(g *ir.Graph, updates map[string]*ir.Value) error {
		_, err := Build(g, w, nil, Train(updates))
		return err
	}
	g, p, update := sgdGraph(t, true)
	require.EqualError(t, build(g, map[string]*ir.Value{"p": update}),
		"graph sgd: parameter p is read by matmul (step 2) after its update at step 1: schedule every update after the last read of its parameter")

	g, p, update = sgdGraph(t, false)
	require.EqualError(t, build(g, map[string]*ir.Value{"q": update}), "graph sgd: update of q: the graph has no such parameter")
	require.EqualError(t, build(g, map[string]*ir.Value{"p": p}),
		"graph sgd: update of parameter p: want the result of an op of the graph that computes the new value")
	g.AddOutput("p", p)
	require.EqualError(t, build(g, map[string]*ir.Value{"p": update}),
		"graph sgd: output p is parameter p, which every run updates in place: output its update instead")

	g, p, _ = sgdGraph(t, false)
	eye := g.AddConst("eye", ir.T(2, 2), []float32{1, 0, 0, 1})
	byMatMul, err := g.AddNode(ir.OpMatMul, &ir.MatMulAttrs{}, []*ir.Value{p, eye}, "", ir.Pos{})
	require.NoError(t, err)
	require.EqualError(t, build(g, map[string]*ir.Value{"p": byMatMul}),
		"graph sgd: the update of parameter p is computed by matmul, whose kernel here cannot write over the parameter in place: compute it with an elementwise op whose first operand is the parameter")
}
