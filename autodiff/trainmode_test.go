package autodiff

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/golden"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
)

// training is y's training form: TrainingMode run over the graph being
// built, y followed through the rewrite by a temporary output.
func (c *fdGraph) training(y *ir.Value, opt TrainingModeOptions) *ir.Value {
	c.g.AddOutput("training", y)
	_, err := TrainingMode(c.g, opt)
	require.NoError(c.t, err)
	last := len(c.g.Outputs) - 1
	y = c.g.Outputs[last].Value
	c.g.Outputs = c.g.Outputs[:last]
	return y
}

// trainBN is the training form of a batch norm over x [shape..., C] with
// parameters gamma and beta; the running statistics, which it does not
// read, are constants.
func trainBN(c *fdGraph, shape ...int) *ir.Value {
	ch := shape[len(shape)-1]
	x, gamma, beta := c.param(smooth, shape...), c.param(smooth, ch), c.param(smooth, ch)
	mean := c.g.AddConst(fmt.Sprintf("mean%d", len(c.g.Consts)), ir.T(ch), make([]float32, ch))
	variance := c.g.AddConst(fmt.Sprintf("var%d", len(c.g.Consts)), ir.T(ch), ones(ch))
	y := c.node(ir.OpBatchNorm, &ir.BatchNormAttrs{Epsilon: 1e-3}, x, gamma, beta, mean, variance)
	return c.training(y, TrainingModeOptions{})
}

func ones(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// TestTrainingFormGradients checks the training forms' gradients against
// central differences (fd_test.go), and the plan's kernels against the
// reference's on the forward and backward graphs.
func TestTrainingFormGradients(t *testing.T) {
	dropout := func(shape ...int) func(c *fdGraph) *ir.Value {
		return func(c *fdGraph) *ir.Value {
			y := c.node(ir.OpDropout, &ir.DropoutAttrs{Rate: 0.3}, c.param(smooth, shape...))
			y = c.training(y, TrainingModeOptions{Seed: 11})
			// A step of 3 rather than the counter, which then goes.
			y.Def.Inputs[1] = c.g.AddConst("step", ir.T(), []float32{3})
			c.g.Params = slices.DeleteFunc(c.g.Params, func(p *ir.Value) bool { return p.Name == StepParam })
			return y
		}
	}
	cases := []fdCase{
		{name: "batchnorm_train/rank2", full: true, build: func(c *fdGraph) *ir.Value { return trainBN(c, 7, 3) }},
		{name: "batchnorm_train/rank4", build: func(c *fdGraph) *ir.Value { return trainBN(c, 3, 3, 5, 5) }},
		{name: "batchnorm_train/rank4/full", full: true, build: func(c *fdGraph) *ir.Value { return trainBN(c, 3, 1, 3, 2) }},
		// Any mean, not only the batch's: the rule's dmean is then not 0.
		{name: "batch_variance", full: true, build: func(c *fdGraph) *ir.Value {
			return c.node(ir.OpBatchVariance, nil, c.param(smooth, 5, 3), c.param(smooth, 3))
		}},
		{name: "dropout_train/rank2", full: true, build: dropout(5, 7)},
		{name: "dropout_train/rank4", build: dropout(3, 5, 5, 7)},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) { runFD(t, uint64(100+i), c) })
	}
}

// The running statistics after k runs of a training plan that only
// normalises (no gradient) follow each convention's formula, computed here
// in float64 from the batches: Keras's m·moving + (1-m)·batch with the
// biased variance, PyTorch's (1-m)·running + m·batch with the unbiased one.
func TestRunningStatistics(t *testing.T) {
	const n, h, w, ch, k = 3, 3, 3, 2, 4
	for _, c := range []struct {
		name string
		opt  TrainingModeOptions
		// old and batch are the weights of the old value and the batch's.
		old, batch float64
		unbiased   bool
	}{
		{"keras", TrainingModeOptions{}, 0.99, 0.01, false},
		{"keras/momentum", TrainingModeOptions{Momentum: 0.8}, 0.8, 0.2, false},
		{"keras/unbiased", TrainingModeOptions{UnbiasedVariance: true}, 0.99, 0.01, true},
		{"pytorch", TrainingModeOptions{Convention: PyTorch}, 0.9, 0.1, true},
		{"pytorch/momentum", TrainingModeOptions{Convention: PyTorch, Momentum: 0.3}, 0.7, 0.3, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := ir.NewGraph("bn")
			x := g.AddInput("x", ir.T(n, h, w, ch))
			params := []*ir.Value{
				g.AddParam("bn.gamma", ir.T(ch), ir.Init{Kind: ir.InitOnes}, true),
				g.AddParam("bn.beta", ir.T(ch), ir.Init{Kind: ir.InitZeros}, true),
				g.AddParam("bn.moving_mean", ir.T(ch), ir.Init{Kind: ir.InitZeros}, false),
				g.AddParam("bn.moving_variance", ir.T(ch), ir.Init{Kind: ir.InitOnes}, false),
			}
			y, err := g.AddNode(ir.OpBatchNorm, &ir.BatchNormAttrs{Epsilon: 1e-3}, append([]*ir.Value{x}, params...), "bn", ir.Pos{})
			require.NoError(t, err)
			g.AddOutput("y", y)
			form, err := TrainingMode(g, c.opt)
			require.NoError(t, err)
			require.Len(t, form.BatchNorms, 1)
			updates, err := form.Updates()
			require.NoError(t, err)
			require.Len(t, updates, 2)
			require.NoError(t, ir.Verify(g))

			gamma, beta := []float32{1.5, -0.5}, []float32{0.25, 2}
			wts := map[string]*tensor.Tensor{
				"bn.gamma": {Shape: []int{ch}, Data: gamma}, "bn.beta": {Shape: []int{ch}, Data: beta},
				"bn.moving_mean": {Shape: []int{ch}, Data: []float32{0.5, -1}}, "bn.moving_variance": {Shape: []int{ch}, Data: []float32{2, 0.5}},
			}
			mean := []float64{0.5, -1}
			variance := []float64{2, 0.5}
			p, err := plan.Build(g, wts, nil, plan.Train(updates))
			require.NoError(t, err)
			a := p.NewArena()
			defer a.Close()
			r := rand.New(rand.NewPCG(3, 3))
			var worstStat, worstY float64
			for run := range k {
				xs := make([]float32, n*h*w*ch)
				for i := range xs {
					xs[i] = float32(run) + 3*r.Float32() - 1
				}
				out := make([]float32, len(xs))
				require.NoError(t, p.Run(a, []plan.Input{plan.Floats(xs)}, [][]float32{out}))
				const count = n * h * w
				for j := range ch {
					var bm, bv float64
					for i := j; i < len(xs); i += ch {
						bm += float64(xs[i])
					}
					bm /= count
					for i := j; i < len(xs); i += ch {
						d := float64(xs[i]) - bm
						bv += d * d
					}
					bv /= count
					for i := j; i < len(xs); i += ch {
						want := (float64(xs[i])-bm)/math.Sqrt(bv+1e-3)*float64(gamma[j]) + float64(beta[j])
						worstY = max(worstY, math.Abs(float64(out[i])-want))
					}
					if c.unbiased {
						bv *= count / (count - 1.0)
					}
					mean[j] = c.old*mean[j] + c.batch*bm
					variance[j] = c.old*variance[j] + c.batch*bv
				}
				gotMean, err := p.State("bn.moving_mean")
				require.NoError(t, err)
				gotVar, err := p.State("bn.moving_variance")
				require.NoError(t, err)
				for j := range ch {
					worstStat = max(worstStat, math.Abs(float64(gotMean[j])-mean[j])/math.Abs(mean[j]),
						math.Abs(float64(gotVar[j])-variance[j])/variance[j])
				}
			}
			t.Logf("after %d runs: running statistics within %.2g relative, outputs within %.2g", k, worstStat, worstY)
			require.Less(t, worstStat, 1e-5)
			require.Less(t, worstY, 1e-4)
		})
	}
}

// dropoutPlan is a training plan of y = dropout(x) at the given rate over
// x [rows, cols]: its counter advances every run.
func dropoutPlan(t *testing.T, rows, cols int, rate float32, threads int) *plan.Plan {
	g := ir.NewGraph("dropout")
	x := g.AddInput("x", ir.T(rows, cols))
	y, err := g.AddNode(ir.OpDropout, &ir.DropoutAttrs{Rate: rate}, []*ir.Value{x}, "drop", ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("y", y)
	form, err := TrainingMode(g, TrainingModeOptions{Seed: 42})
	require.NoError(t, err)
	updates, err := form.Updates()
	require.NoError(t, err)
	w := map[string]*tensor.Tensor{}
	form.AddWeights(w)
	p, err := plan.Build(g, w, nil, plan.Train(updates), plan.Threads(threads))
	require.NoError(t, err)
	return p
}

// TestDropoutMask: the masks of the first runs are the same on 1 and 2
// threads (the tensor is large enough for a helper to take chunks), the
// reference's at the same step, new each run, and keep a fraction of the
// elements within 4 standard deviations of 1-rate; kept elements are
// scaled by 1/(1-rate).
func TestDropoutMask(t *testing.T) {
	const rows, cols, runs = 300, 1000, 3
	const rate = 0.3
	ones := make([]float32, rows*cols)
	for i := range ones {
		ones[i] = 1
	}
	var outs [2][runs][]float32
	for i, threads := range []int{1, 2} {
		p := dropoutPlan(t, rows, cols, rate, threads)
		a := p.NewArena()
		for run := range runs {
			outs[i][run] = make([]float32, rows*cols)
			require.NoError(t, p.Run(a, []plan.Input{plan.Floats(ones)}, [][]float32{outs[i][run]}))
		}
		a.Close()
	}
	scale := float32(1 / (1 - float64(rate)))
	sd := math.Sqrt(rate * (1 - rate) / (rows * cols))
	for run := range runs {
		require.Equal(t, outs[0][run], outs[1][run], "run %d on 1 and 2 threads", run)
		if run > 0 {
			require.NotEqual(t, outs[0][run-1], outs[0][run], "runs %d and %d", run-1, run)
		}
		kept := 0
		for _, v := range outs[0][run] {
			if v != 0 {
				require.Equal(t, scale, v)
				kept++
			}
		}
		frac := float64(kept) / (rows * cols)
		t.Logf("run %d keeps %.5f, 1-rate = %.1f, %.2f standard deviations off", run, frac, 1-rate, (frac-(1-rate))/sd)
		require.Less(t, math.Abs(frac-(1-rate)), 4*sd)
	}

	// The reference at step 2 draws run 2's mask.
	g := ir.NewGraph("dropout")
	x := g.AddInput("x", ir.T(rows, cols))
	y, err := g.AddNode(ir.OpDropout, &ir.DropoutAttrs{Rate: rate}, []*ir.Value{x}, "drop", ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("y", y)
	_, err = TrainingMode(g, TrainingModeOptions{Seed: 42})
	require.NoError(t, err)
	got, err := ref.Run(g, map[string]*tensor.Tensor{StepParam: {Data: []float32{2}}},
		map[string]*tensor.Tensor{"x": {Shape: []int{rows, cols}, Data: ones}})
	require.NoError(t, err)
	require.Equal(t, outs[0][2], got["y"].Data)
}

// TestTrainWithBatchNormAndDropout: a conv, batch norm, dropout and dense
// net trained by SGD through its training form, one plan per thread count:
// the loss falls, the two runs agree bit for bit, and the running
// statistics have moved.
func TestTrainWithBatchNormAndDropout(t *testing.T) {
	const n = 8
	r := rand.New(rand.NewPCG(9, 9))
	xs, ys := make([]float32, n*6*6*2), make([]float32, n*3)
	for i := range xs {
		xs[i] = 2*r.Float32() - 1
	}
	for i := range ys {
		ys[i] = 2*r.Float32() - 1
	}
	steps := 100
	if testing.Short() {
		steps = 30
	}
	var curves [][]float32
	for _, threads := range []int{1, 2} {
		g := ir.NewGraph("bn-dropout")
		x := g.AddInput("x", ir.T(n, 6, 6, 2))
		y := g.AddInput("y", ir.T(n, 3))
		rw := rand.New(rand.NewPCG(5, 5))
		w := map[string]*tensor.Tensor{}
		param := func(name string, trainable bool, fill func(int) float32, shape ...int) *ir.Value {
			p := g.AddParam(name, ir.T(intsAny(shape)...), ir.Init{Kind: ir.InitZeros}, trainable)
			v := tensor.New(shape...)
			for i := range v.Data {
				v.Data[i] = fill(i)
			}
			w[name] = v
			return p
		}
		uniform := func(scale float32) func(int) float32 {
			return func(int) float32 { return scale * (2*rw.Float32() - 1) }
		}
		constant := func(c float32) func(int) float32 { return func(int) float32 { return c } }
		node := func(op ir.Op, attrs ir.Attrs, in ...*ir.Value) *ir.Value {
			v, err := g.AddNode(op, attrs, in, "", ir.Pos{})
			require.NoError(t, err)
			return v
		}
		kernel := param("conv.kernel", true, uniform(0.4), 3, 3, 2, 8)
		gamma, beta := param("bn.gamma", true, constant(1), 8), param("bn.beta", true, constant(0), 8)
		mm, mv := param("bn.moving_mean", false, constant(0), 8), param("bn.moving_variance", false, constant(1), 8)
		dk, db := param("dense.kernel", true, uniform(0.2), 72, 3), param("dense.bias", true, uniform(0.1), 3)
		h := node(ir.OpConv2D, conv(1, 1, ir.Same, 1), x, kernel)
		h = node(ir.OpBatchNorm, &ir.BatchNormAttrs{Epsilon: 1e-3}, h, gamma, beta, mm, mv)
		h = node(ir.OpRelu, nil, h)
		h = node(ir.OpMaxPool2D, pool(2, 2, ir.Valid), h)
		h = node(ir.OpDropout, &ir.DropoutAttrs{Rate: 0.1}, h)
		out := node(ir.OpDense, nil, node(ir.OpFlatten, nil, h), dk, db)
		d := node(ir.OpSub, nil, out, y)
		sum := node(ir.OpSumTo, &ir.ReshapeAttrs{Shape: ir.Shape{}}, node(ir.OpMul, nil, d, d))
		loss := node(ir.OpMul, nil, sum, g.AddConst("1/count", ir.T(), []float32{1.0 / (n * 3)}))
		g.AddOutput("loss", loss)

		form, err := TrainingMode(g, TrainingModeOptions{Seed: 1})
		require.NoError(t, err)
		trainable := []*ir.Value{kernel, gamma, beta, dk, db}
		grads, err := Grad(g, loss, trainable)
		require.NoError(t, err)
		rate := g.AddConst("lr", ir.T(), []float32{0.05})
		updates, err := form.Updates()
		require.NoError(t, err)
		for i, p := range trainable {
			updates[p.Name] = node(ir.OpSub, nil, p, node(ir.OpMul, nil, rate, grads[i]))
		}
		require.NoError(t, ir.Verify(g))
		form.AddWeights(w)
		p, err := plan.Build(g, w, nil, plan.Train(updates), plan.Threads(threads))
		require.NoError(t, err)
		a := p.NewArena()
		curve := make([]float32, steps)
		l := make([]float32, 1)
		for s := range steps {
			require.NoError(t, p.Run(a, []plan.Input{plan.Floats(xs), plan.Floats(ys)}, [][]float32{l}))
			curve[s] = l[0]
		}
		a.Close()
		step, err := p.State(StepParam)
		require.NoError(t, err)
		require.Equal(t, []float32{float32(steps)}, step)
		moving, err := p.State("bn.moving_mean")
		require.NoError(t, err)
		require.NotEqual(t, make([]float32, 8), moving)
		curves = append(curves, curve)
	}
	require.Equal(t, curves[0], curves[1], "1 and 2 threads")
	first, last := curves[0][0], curves[0][steps-1]
	t.Logf("loss %.4g after 1 step, %.4g after %d", first, last, steps)
	require.Less(t, last*5, first)
}

// TestTrainingModeGolden: the training form of a small inference graph
// (IR text in, IR text out), with its updates appended.
func TestTrainingModeGolden(t *testing.T) {
	g, err := ir.Parse(`graph net(%x: f32[4,3,3,2]) {
  @bn.gamma: f32[2] = ones
  @bn.beta: f32[2] = zeros
  @bn.moving_mean: f32[2] = zeros frozen
  @bn.moving_variance: f32[2] = ones frozen
  %0: f32[4,3,3,2] = batchnorm(%x, @bn.gamma, @bn.beta, @bn.moving_mean, @bn.moving_variance) {epsilon=0.001}  # bn
  %1: f32[4,3,3,2] = dropout(%0) {rate=0.5}  # drop
  %2: f32[4,3,3,2] = dropout(%1) {rate=0}  # none
  %3: f32[4,3,3,2] = dropout(%2) {rate=0.25}  # drop_1
  return y=%3
}
`)
	require.NoError(t, err)
	form, err := TrainingMode(g, TrainingModeOptions{Convention: PyTorch, Seed: 5})
	require.NoError(t, err)
	_, err = form.Updates()
	require.NoError(t, err)
	require.NoError(t, ir.Verify(g))
	text := ir.Print(g)
	golden.Check(t, "testdata/trainmode.golden", text)
	again, err := ir.Parse(text)
	require.NoError(t, err)
	require.Equal(t, text, ir.Print(again), "the printed training form parses back to itself")
}

// TestTrainingModeErrors: what TrainingMode and Updates refuse.
func TestTrainingModeErrors(t *testing.T) {
	bn := func(n ir.Dim, stats ir.ValueKind) *ir.Graph {
		g := ir.NewGraph("bn")
		x := g.AddInput("x", ir.Type{DType: ir.F32, Shape: ir.Shape{n, ir.D(2)}})
		in := []*ir.Value{x, g.AddParam("gamma", ir.T(2), ir.Init{Kind: ir.InitOnes}, true), g.AddParam("beta", ir.T(2), ir.Init{Kind: ir.InitZeros}, true)}
		for _, name := range []string{"mean", "variance"} {
			if stats == ir.Param {
				in = append(in, g.AddParam(name, ir.T(2), ir.Init{Kind: ir.InitZeros}, false))
			} else {
				in = append(in, g.AddConst(name, ir.T(2), []float32{0, 1}))
			}
		}
		y, err := g.AddNode(ir.OpBatchNorm, &ir.BatchNormAttrs{Epsilon: 1e-3}, in, "bn", ir.Pos{})
		require.NoError(t, err)
		g.AddOutput("y", y)
		return g
	}
	_, err := TrainingMode(bn(ir.S("N"), ir.Param), TrainingModeOptions{})
	require.ErrorContains(t, err, "specialise")
	_, err = TrainingMode(bn(ir.D(3), ir.Param), TrainingModeOptions{Momentum: 1.5})
	require.ErrorContains(t, err, "outside [0, 1]")
	form, err := TrainingMode(bn(ir.D(3), ir.Const), TrainingModeOptions{})
	require.NoError(t, err)
	_, err = form.Updates()
	require.ErrorContains(t, err, "not parameters")
	form, err = TrainingMode(bn(ir.D(3), ir.Param), TrainingModeOptions{})
	require.NoError(t, err)
	_, err = form.Updates()
	require.NoError(t, err)
	_, err = form.Updates()
	require.ErrorContains(t, err, "already")
}
