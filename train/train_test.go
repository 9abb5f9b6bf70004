package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/data"
	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/optim"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
	"github.com/mdlc/mdlc/weights"
)

// smallCNN is a classifier of 8×8×1 images into 4 classes.
const smallCNN = `model small(image: f32[N, 8, 8, 1]) -> (probs: f32[N, 4]) {
  probs = image
    | conv2d(8, kernel=3, activation=relu)
    | maxpool2d(2)
    | flatten
    | dense(16, activation=relu)
    | dense(4, activation=softmax)
}
`

// load reads a model from source text, freshly: training changes the graph.
func load(t *testing.T, src string) *ir.Graph {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.mdl")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	m, err := compile.Load(path, "", compile.LoadOptions{})
	require.NoError(t, err)
	return m.Graph
}

// randomData is n examples of shape with labels in 0..classes-1.
func randomData(t *testing.T, seed uint64, n, classes int, shape ...int) *data.Memory {
	r := rand.New(rand.NewPCG(seed, seed))
	x := tensor.New(append([]int{n}, shape...)...)
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	y := &tensor.Tensor{Shape: []int{n}, Ints: make([]int64, n)}
	for i := range y.Ints {
		y.Ints[i] = int64(r.IntN(classes))
	}
	m, err := data.FromTensors(x, y, classes, size.Default())
	require.NoError(t, err)
	return m
}

func initial(t *testing.T, src string, seed uint64) map[string]*tensor.Tensor {
	w, err := weights.Init(load(t, src), seed)
	require.NoError(t, err)
	return w
}

// lossCurve records each epoch's loss.
type lossCurve struct{ losses, accs []float64 }

func (c *lossCurve) EpochBegin(int, int, int) {}
func (c *lossCurve) BatchEnd(Logs)            {}
func (c *lossCurve) EpochEnd(_ *Trainer, l Logs) error {
	acc, _ := l.Value(Accuracy)
	c.losses, c.accs = append(c.losses, l.Loss), append(c.accs, acc)
	return nil
}

// TestMemorises: Adam with Keras's settings drives the loss of a small CNN
// on 64 random examples with random labels to about zero, every one of them
// classified right: the whole step (loss, gradients, update) works.
func TestMemorises(t *testing.T) {
	ds := randomData(t, 1, 64, 4, 8, 8, 1)
	tr, err := New(load(t, smallCNN), initial(t, smallCNN, 3), Config{
		Objective: Objective{Loss: SparseCategoricalCrossentropy},
		Optimizer: optim.DefaultAdam, LR: optim.Constant(0.01), BatchSize: 16,
	})
	require.NoError(t, err)
	defer tr.Close()
	var c lossCurve
	require.NoError(t, tr.Fit(ds, FitOptions{Epochs: 150, Shuffle: true, Seed: 5, Callbacks: []Callback{&c}}))
	t.Logf("loss %.4f after epoch 1, %.2g after %d; accuracy %.3f", c.losses[0], c.losses[len(c.losses)-1], len(c.losses), c.accs[len(c.accs)-1])
	require.Less(t, c.losses[len(c.losses)-1], 0.01)
	require.Equal(t, 1.0, c.accs[len(c.accs)-1])
	require.Equal(t, 150*4, tr.Steps())
}

// TestEvaluatorAgrees: the evaluator, given the trainer's parameters, finds
// the loss and accuracy on a data set that one more pass of the trainer's
// own forward half reports, with a last batch smaller than the batch size
// (weights zero on its padding) and on 1 and 2 threads alike.
func TestEvaluatorAgrees(t *testing.T) {
	ds := randomData(t, 2, 37, 4, 8, 8, 1)
	cfg := Config{Objective: Objective{Loss: SparseCategoricalCrossentropy}, Optimizer: optim.SGD{}, LR: optim.Constant(0.05), BatchSize: 8}
	tr, err := New(load(t, smallCNN), initial(t, smallCNN, 4), cfg)
	require.NoError(t, err)
	defer tr.Close()
	require.NoError(t, tr.Fit(ds, FitOptions{Epochs: 3}))
	var logs []Logs
	for _, threads := range []int{1, 2} {
		cfg.Threads = threads
		e, err := NewEvaluator(load(t, smallCNN), initial(t, smallCNN, 9), cfg)
		require.NoError(t, err)
		require.NoError(t, e.From(tr.Parameters()))
		l, err := e.Evaluate(ds)
		require.NoError(t, err)
		e.Close()
		logs = append(logs, l)
	}
	require.Equal(t, logs[0].Loss, logs[1].Loss)
	require.Equal(t, 37, logs[0].Examples)
	require.Equal(t, 5, logs[0].Steps)

	// The same figures by the reference runtime on the model as written,
	// example by example.
	g := load(t, smallCNN)
	w := tr.Weights()
	var sum float64
	correct := 0
	x, y := make([]float32, 64), make([]int64, 1)
	for i := range ds.Len() {
		require.NoError(t, ds.Batch([]int{i}, x, y))
		out, err := ref.Run(g, w, map[string]*tensor.Tensor{"image": {Shape: []int{1, 8, 8, 1}, Data: x}})
		require.NoError(t, err)
		p := out["probs"].Data
		sum -= math.Log(float64(p[y[0]]))
		if slices.Index(p, slices.Max(p)) == int(y[0]) {
			correct++
		}
	}
	require.InDelta(t, sum/37, logs[0].Loss, 1e-5)
	acc, ok := logs[0].Value(Accuracy)
	require.True(t, ok)
	require.Equal(t, float64(correct)/37, acc)
}

// stopAt closes stop after the given number of batches.
type stopAt struct {
	n    int
	stop chan struct{}
}

func (s *stopAt) EpochBegin(int, int, int) {}
func (s *stopAt) BatchEnd(Logs) {
	if s.n--; s.n == 0 {
		close(s.stop)
	}
}
func (s *stopAt) EpochEnd(*Trainer, Logs) error { return nil }

// TestResumeIsExact: a run interrupted in the middle of its second epoch,
// checkpointed and resumed by a new trainer, ends with the same weights,
// bit for bit, as a run that was never interrupted; a checkpoint written
// with other settings is refused.
func TestResumeIsExact(t *testing.T) {
	ds := randomData(t, 3, 45, 4, 8, 8, 1)
	cfg := Config{Objective: Objective{Loss: SparseCategoricalCrossentropy}, Optimizer: optim.DefaultAdam, LR: optim.Constant(0.003), BatchSize: 8}
	fit := FitOptions{Epochs: 3, Shuffle: true, Seed: 11}
	whole, err := New(load(t, smallCNN), initial(t, smallCNN, 5), cfg)
	require.NoError(t, err)
	defer whole.Close()
	require.NoError(t, whole.Fit(ds, fit))

	first, err := New(load(t, smallCNN), initial(t, smallCNN, 5), cfg)
	require.NoError(t, err)
	defer first.Close()
	stop := &stopAt{n: 9, stop: make(chan struct{})}
	interrupted := fit
	interrupted.Callbacks, interrupted.Stop = []Callback{stop}, stop.stop
	require.ErrorIs(t, first.Fit(ds, interrupted), ErrInterrupted)
	require.Equal(t, Position{Epoch: 1, Batch: 3}, first.Position())
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	require.NoError(t, first.SaveCheckpoint(path, map[string]string{"seed": "11"}))

	resumed, err := New(load(t, smallCNN), initial(t, smallCNN, 99), cfg)
	require.NoError(t, err)
	defer resumed.Close()
	require.NoError(t, resumed.Restore(path, map[string]string{"seed": "11"}, size.Default()))
	require.NoError(t, resumed.Fit(ds, fit))
	require.Equal(t, whole.Steps(), resumed.Steps())
	require.Equal(t, whole.Weights(), resumed.Weights())

	require.ErrorContains(t, resumed.Restore(path, map[string]string{"seed": "12"}, size.Default()), "x-seed 11, this run has 12")
	other := cfg
	other.BatchSize = 9
	tr, err := New(load(t, smallCNN), initial(t, smallCNN, 5), other)
	require.NoError(t, err)
	defer tr.Close()
	require.ErrorContains(t, tr.Restore(path, map[string]string{"seed": "11"}, size.Default()), "batch_size 8, this run has 9")
}

// epochLogs records every epoch's figures, the rate included.
type epochLogs struct{ epochs []Logs }

func (c *epochLogs) EpochBegin(int, int, int)          {}
func (c *epochLogs) BatchEnd(Logs)                     {}
func (c *epochLogs) EpochEnd(_ *Trainer, l Logs) error { c.epochs = append(c.epochs, l); return nil }

// TestPlateauResumeIsExact: a run whose rate is reduced on plateaus of the
// training loss (no validation data), interrupted in the middle of an
// epoch, checkpointed and resumed by a new trainer, ends with the same
// weights, bit for bit, as one never interrupted: the checkpoint holds the
// schedule's state and the epoch's sums, so the resumed epoch reports and
// the schedule watches the loss of the whole epoch. The rate did fall.
func TestPlateauResumeIsExact(t *testing.T) {
	ds := randomData(t, 3, 45, 4, 8, 8, 1)
	// A MinDelta no loss improves by: after the first epoch sets the
	// best, the rate halves every second epoch.
	plateau := func() *optim.ReduceOnPlateau {
		return &optim.ReduceOnPlateau{LR0: 0.003, Factor: 0.5, Patience: 2, MinDelta: 10}
	}
	cfg := Config{Objective: Objective{Loss: SparseCategoricalCrossentropy}, Optimizer: optim.DefaultAdam, LR: plateau(), BatchSize: 8, Metrics: []Metric{TopK(2)}}
	fit := FitOptions{Epochs: 5, Shuffle: true, Seed: 11}
	whole, err := New(load(t, smallCNN), initial(t, smallCNN, 5), cfg)
	require.NoError(t, err)
	defer whole.Close()
	var wholeLogs epochLogs
	fit.Callbacks = []Callback{&wholeLogs}
	require.NoError(t, whole.Fit(ds, fit))
	var rates []float64
	for _, l := range wholeLogs.epochs {
		rates = append(rates, l.LR)
	}
	require.Equal(t, []float64{0.003, 0.003, 0.003, 0.0015, 0.0015}, rates)

	cfg.LR = plateau()
	first, err := New(load(t, smallCNN), initial(t, smallCNN, 5), cfg)
	require.NoError(t, err)
	defer first.Close()
	stop := &stopAt{n: 6*3 + 2, stop: make(chan struct{})}
	interrupted := fit
	interrupted.Callbacks, interrupted.Stop = []Callback{stop}, stop.stop
	require.ErrorIs(t, first.Fit(ds, interrupted), ErrInterrupted)
	require.Equal(t, Position{Epoch: 3, Batch: 2}, first.Position())
	path := t.TempDir() + "/ckpt.safetensors"
	require.NoError(t, first.SaveCheckpoint(path, nil))

	cfg.LR = plateau()
	resumed, err := New(load(t, smallCNN), initial(t, smallCNN, 99), cfg)
	require.NoError(t, err)
	defer resumed.Close()
	require.NoError(t, resumed.Restore(path, nil, size.Default()))
	var resumedLogs epochLogs
	fit.Callbacks = []Callback{&resumedLogs}
	require.NoError(t, resumed.Fit(ds, fit))
	require.Equal(t, whole.Weights(), resumed.Weights())
	for i, l := range resumedLogs.epochs {
		w := wholeLogs.epochs[3+i]
		require.Equal(t, []any{w.Loss, w.Values, w.LR, w.Examples}, []any{l.Loss, l.Values, l.LR, l.Examples}, "epoch %d", l.Epoch+1)
	}

	// Another plateau, or other metrics in the middle of an epoch, are
	// refused.
	cfg.LR = &optim.ReduceOnPlateau{LR0: 0.003, Factor: 0.5, Patience: 3, MinDelta: 10}
	other, err := New(load(t, smallCNN), initial(t, smallCNN, 5), cfg)
	require.NoError(t, err)
	defer other.Close()
	require.ErrorContains(t, other.Restore(path, nil, size.Default()), "was written with lr *optim.ReduceOnPlateau")
	cfg.LR, cfg.Metrics = plateau(), nil
	noTop, err := New(load(t, smallCNN), initial(t, smallCNN, 5), cfg)
	require.NoError(t, err)
	defer noTop.Close()
	require.ErrorContains(t, noTop.Restore(path, nil, size.Default()), "run whose metrics were [top2_accuracy], and this run's are [accuracy]: resume with the same metrics")
}

// TestThreadsAgree: training on one thread and on two gives the same
// weights, bit for bit: the plan splits work without changing any sum's
// order, and the update is one pass.
func TestThreadsAgree(t *testing.T) {
	ds := randomData(t, 4, 40, 4, 8, 8, 1)
	var got []map[string]*tensor.Tensor
	for _, threads := range []int{1, 2} {
		tr, err := New(load(t, smallCNN), initial(t, smallCNN, 6), Config{
			Objective: Objective{Loss: SparseCategoricalCrossentropy},
			Optimizer: optim.DefaultAdam, LR: optim.Constant(0.003), BatchSize: 16, Threads: threads,
		})
		require.NoError(t, err)
		require.NoError(t, tr.Fit(ds, FitOptions{Epochs: 2, Shuffle: true, Seed: 1}))
		got = append(got, tr.Weights())
		tr.Close()
	}
	require.Equal(t, got[0], got[1])
}

// TestThreadsAgreeStdlib: LeNet and the seed's Fashion-MNIST CNN at their
// training batch, where every convolution, pool and their gradients split,
// take the same steps on one thread and on two, bit for bit.
func TestThreadsAgreeStdlib(t *testing.T) {
	for _, c := range []struct {
		file  string
		batch int
	}{{"lenet.mdl", 64}, {"fashion_cnn.mdl", 32}} {
		path := filepath.Join("..", "stdlib", c.file)
		r := rand.New(rand.NewPCG(7, 8))
		x := make([]float32, c.batch*28*28)
		for i := range x {
			x[i] = r.Float32()
		}
		y := make([]int64, c.batch)
		for i := range y {
			y[i] = int64(r.IntN(10))
		}
		var got [][]float32
		for _, threads := range []int{1, 2} {
			m, err := compile.Load(path, "", compile.LoadOptions{})
			require.NoError(t, err)
			w, err := weights.Init(m.Graph, 3)
			require.NoError(t, err)
			tr, err := New(m.Graph, w, Config{Objective: Objective{Loss: SparseCategoricalCrossentropy},
				Optimizer: optim.DefaultAdam, LR: optim.Constant(1e-3), BatchSize: c.batch, Threads: threads})
			require.NoError(t, err)
			for range 3 {
				_, err := tr.Step(x, y, c.batch)
				require.NoError(t, err)
			}
			got = append(got, slices.Clone(tr.Plan().Parameters()))
			tr.Close()
		}
		require.Equal(t, got[0], got[1], c.file)
	}
}

// TestLosses: each loss trains its kind of model on its kind of labels, and
// the loss falls; a model whose output does not fit the loss is refused.
func TestLosses(t *testing.T) {
	sigmoidNet := `model b(x: f32[N, 8, 8, 1]) -> (p: f32[N, 1]) { p = x | flatten | dense(8, activation=relu) | dense(1, activation=sigmoid) }`
	regression := `model r(x: f32[N, 8, 8, 1]) -> (p: f32[N, 4]) { p = x | flatten | dense(8, activation=relu) | dense(4) }`
	for _, c := range []struct {
		src     string
		loss    Loss
		classes int
		fall    float64 // the least factor the loss falls by
	}{
		{smallCNN, CategoricalCrossentropy, 4, 10},
		{sigmoidNet, BinaryCrossentropy, 2, 10},
		{regression, MeanSquaredError, 4, 3},
		// |d|'s gradient is its sign: against one-hot targets MAE moves
		// slowly toward the median, 0.
		{regression, MeanAbsoluteError, 4, 1.4},
	} {
		ds := randomData(t, 5, 32, c.classes, 8, 8, 1)
		tr, err := New(load(t, c.src), initial(t, c.src, 2), Config{Objective: Objective{Loss: c.loss}, Optimizer: optim.DefaultAdam, LR: optim.Constant(0.01), BatchSize: 8})
		require.NoError(t, err, c.loss)
		var curve lossCurve
		require.NoError(t, tr.Fit(ds, FitOptions{Epochs: 40, Callbacks: []Callback{&curve}}), c.loss)
		tr.Close()
		first, last := curve.losses[0], curve.losses[len(curve.losses)-1]
		t.Logf("%s: loss %.4f -> %.4f, accuracy %.3f", c.loss, first, last, curve.accs[len(curve.accs)-1])
		require.Less(t, last, first/c.fall, c.loss)
	}
	_, err := New(load(t, regression), initial(t, regression, 2), Config{Objective: Objective{Loss: BinaryCrossentropy}, Optimizer: optim.SGD{}, LR: optim.Constant(0.1), BatchSize: 4})
	require.ErrorContains(t, err, "binary_crossentropy needs probabilities from a sigmoid, but the output f32[N,4] is computed by dense: end the model with activation=sigmoid, or train it from logits (--from-logits)")
}

// textModel is a small Kim-style text classifier: ids embedded, one
// convolution over time, max-pooled, dropout, a softmax over 2 classes.
const textModel = `model text(ids: i32[N, 12]) -> (probs: f32[N, 2]) {
  probs = ids | embedding(20, 8) | conv1d(8, kernel=3, activation=relu) | global_maxpool1d | dropout(0.2) | dense(2, activation=softmax)
}
`

// TestTrainsOnTokens: token sequences from a text file train an embedding,
// a 1-D convolution and dropout in training mode: the class is whether the
// sequence holds token 7, which the model learns to find; ids beyond the
// vocabulary are refused before training.
func TestTrainsOnTokens(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	var text strings.Builder
	for range 200 {
		n := 3 + r.IntN(12)
		has := r.IntN(2)
		fmt.Fprintf(&text, "%d\t", has)
		at := r.IntN(n)
		for j := range n {
			id := 1 + r.IntN(19)
			for id == 7 {
				id = 1 + r.IntN(19)
			}
			if has == 1 && j == at {
				id = 7
			}
			fmt.Fprintf(&text, "%d ", id)
		}
		text.WriteString("\n")
	}
	path := filepath.Join(t.TempDir(), "seq.txt")
	require.NoError(t, os.WriteFile(path, []byte(text.String()), 0o644))
	ds, err := data.LoadTokens(path, 12, size.Default())
	require.NoError(t, err)
	tr, err := New(load(t, textModel), initial(t, textModel, 3), Config{
		Objective: Objective{Loss: SparseCategoricalCrossentropy}, Optimizer: optim.DefaultAdam, LR: optim.Constant(0.01), BatchSize: 16,
	})
	require.NoError(t, err)
	defer tr.Close()
	var c lossCurve
	require.NoError(t, tr.Fit(ds, FitOptions{Epochs: 30, Shuffle: true, Seed: 2, Callbacks: []Callback{&c}}))
	t.Logf("loss %.3f -> %.3f, accuracy %.3f", c.losses[0], c.losses[len(c.losses)-1], c.accs[len(c.accs)-1])
	require.Greater(t, c.accs[len(c.accs)-1], 0.9)

	require.NoError(t, os.WriteFile(path, []byte("1\t3 25 4\n"), 0o644))
	big, err := data.LoadTokens(path, 12, size.Default())
	require.NoError(t, err)
	require.ErrorContains(t, tr.Fit(big, FitOptions{Epochs: 31}), "seq.txt:1: token 2, id 25, is beyond the model's vocabulary of 20 ids (0..19)")
	img := randomData(t, 1, 4, 2, 12)
	require.ErrorContains(t, tr.Fit(img, FitOptions{Epochs: 31}), "takes token ids; the data holds other values")
}

// TestBatchNormTrains: a model with batch norm trains on the batch's
// statistics, its running statistics follow them (Keras's momentum), and
// the evaluator, in inference mode, normalises with the running ones.
func TestBatchNormTrains(t *testing.T) {
	src := `model bn(image: f32[N, 8, 8, 1]) -> (probs: f32[N, 4]) {
  probs = image | conv2d(8, kernel=3) | batchnorm | relu | flatten | dense(4, activation=softmax)
}`
	ds := randomData(t, 7, 64, 4, 8, 8, 1)
	cfg := Config{Objective: Objective{Loss: SparseCategoricalCrossentropy}, Optimizer: optim.DefaultAdam, LR: optim.Constant(0.01), BatchSize: 16}
	tr, err := New(load(t, src), initial(t, src, 1), cfg)
	require.NoError(t, err)
	defer tr.Close()
	var c lossCurve
	require.NoError(t, tr.Fit(ds, FitOptions{Epochs: 40, Shuffle: true, Callbacks: []Callback{&c}}))
	require.Less(t, c.losses[len(c.losses)-1], c.losses[0]/10)
	w := tr.Weights()
	var names []string
	for name := range w {
		names = append(names, name)
	}
	require.NotContains(t, names, "dropout.step")
	mean := w["batchnorm.moving_mean"]
	require.NotNil(t, mean, "%v", names)
	require.NotEqual(t, make([]float32, 8), mean.Data, "the running mean moved")
	e, err := NewEvaluator(load(t, src), initial(t, src, 1), cfg)
	require.NoError(t, err)
	defer e.Close()
	require.NoError(t, e.From(tr.Parameters()))
	l, err := e.Evaluate(ds)
	require.NoError(t, err)
	t.Logf("training loss %.4f, inference-mode loss %.4f", c.losses[len(c.losses)-1], l.Loss)
	require.Less(t, l.Loss, 1.0)
}

// TestStepAllocatesNothing: a training step (plan, loss, gradients, Adam,
// accuracy and top-k counts) and an evaluation batch allocate nothing once
// built.
func TestStepAllocatesNothing(t *testing.T) {
	cfg := Config{Objective: Objective{Loss: SparseCategoricalCrossentropy}, Optimizer: optim.DefaultAdam, LR: optim.Constant(1e-3), BatchSize: 8, Threads: 1,
		Metrics: []Metric{Accuracy, TopK(2), TopK(3)}}
	tr, err := New(load(t, smallCNN), initial(t, smallCNN, 1), cfg)
	require.NoError(t, err)
	defer tr.Close()
	e, err := NewEvaluator(load(t, smallCNN), initial(t, smallCNN, 1), cfg)
	require.NoError(t, err)
	defer e.Close()
	x, y := make([]float32, 8*64), []int64{0, 1, 2, 3, 0, 1, 2, 3}
	step := testing.AllocsPerRun(20, func() {
		if _, err := tr.Step(x, y, 6); err != nil {
			t.Fatal(err)
		}
	})
	eval := testing.AllocsPerRun(20, func() {
		if _, err := e.Batch(x, y, 8); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, step, "allocations per training step")
	require.Zero(t, eval, "allocations per evaluation batch")
}

// lmModel is a tiny causal language model: ids embedded with learned
// positions, one causal decoder block, next-token logits over 12 ids at
// every position; its length T is bound from the data.
const lmModel = `import "transformer"

model tinylm(ids: i32[N, T]) -> (logits: f32[N, T, 12]) {
  h = ids | embedding(12, 16) | positional(learned=true, max_len=16) | transformer.decoder_block(16, 2, 32) | layernorm(epsilon=1e-5)
  logits = h | dense(12, use_bias=false)
}
`

// lmCorpus is sequences of different lengths, each told apart by its first
// id, so that every next id is a function of the ids before it.
const lmCorpus = "1 5 3 7 2 9\n2 8 8 4 1\n3 6 10 11 4 5 6 7\n4 2\n5 9 1 3\n6 7 7 7 7 7 10\n"

// TestTrainsNextToken: a causal language model memorises a small corpus
// from next-token data: the loss, the mean cross-entropy over the positions
// that are not padding, goes to about zero and every next id is predicted.
// The loss is that mean, computed again from the predictions; a padded
// position's prediction changes nothing.
func TestTrainsNextToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "corpus.txt")
	require.NoError(t, os.WriteFile(path, []byte(lmCorpus), 0o644))
	ds, err := data.LoadNextToken(path, 0, size.Default())
	require.NoError(t, err)
	require.Equal(t, []int{7}, ds.Shape())
	cfg := Config{Objective: Objective{Loss: SparseCategoricalCrossentropy, FromLogits: true}, Optimizer: optim.DefaultAdam, LR: optim.Constant(0.01), BatchSize: 4, Dims: map[string]int{"T": 7}}
	_, err = New(load(t, lmModel), initial(t, lmModel, 1), Config{Objective: cfg.Objective, Optimizer: optim.DefaultAdam, LR: optim.Constant(0.01), BatchSize: 4})
	require.ErrorContains(t, err, "the size T of its input ids i32[N,T] is not the batch: give it with --dim T=SIZE")
	tr, err := New(load(t, lmModel), initial(t, lmModel, 1), cfg)
	require.NoError(t, err)
	defer tr.Close()
	require.Equal(t, 7, tr.StepShape().Targets)
	var c lossCurve
	require.NoError(t, tr.Fit(ds, FitOptions{Epochs: 150, Shuffle: true, Seed: 3, Callbacks: []Callback{&c}}))
	t.Logf("loss %.3f -> %.4f, accuracy per token %.3f", c.losses[0], c.losses[len(c.losses)-1], c.accs[len(c.accs)-1])
	require.Less(t, c.losses[len(c.losses)-1], 0.05)
	require.Equal(t, 1.0, c.accs[len(c.accs)-1])

	e, err := NewEvaluator(load(t, lmModel), initial(t, lmModel, 1), cfg)
	require.NoError(t, err)
	defer e.Close()
	require.NoError(t, e.From(tr.Parameters()))
	l, err := e.Evaluate(ds)
	require.NoError(t, err)
	require.Equal(t, 6, l.Examples)
	acc, _ := l.Value(Accuracy)
	require.Equal(t, 1.0, acc)
	x, y := make([]float32, 4*7), make([]int64, 4*7)
	require.NoError(t, ds.Batch([]int{0, 1, 2, 3}, x, y))
	r, err := e.Batch(x, y, 4)
	require.NoError(t, err)
	var sum float64
	n := 0
	for k, id := range y {
		if id == data.Ignore {
			continue
		}
		row := e.Predictions()[k*12 : (k+1)*12]
		m := math.Inf(-1)
		for _, v := range row {
			m = max(m, float64(v))
		}
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v) - m)
		}
		sum += m + math.Log(z) - float64(row[id])
		n++
	}
	require.Equal(t, 5+4+7+1, n)
	require.Equal(t, n, r.Labelled)
	require.InDelta(t, sum/float64(n), r.Loss, 1e-5*math.Max(1, sum/float64(n)))
	// The targets of padded positions are Ignore'd: the same loss whatever
	// the input there.
	x[3*7+1], x[3*7+5] = 9, 4
	again, err := e.Batch(x, y, 4)
	require.NoError(t, err)
	require.Equal(t, r.Loss, again.Loss)

	text, err := New(load(t, textModel), initial(t, textModel, 3), Config{Objective: Objective{Loss: SparseCategoricalCrossentropy}, Optimizer: optim.DefaultAdam, LR: optim.Constant(0.01), BatchSize: 2})
	require.NoError(t, err)
	defer text.Close()
	long, err := data.LoadNextToken(path, 12, size.Default())
	require.NoError(t, err)
	require.ErrorContains(t, text.Fit(long, FitOptions{Epochs: 1}), "the data has 12 targets an example, one per position; the model predicts 1 rows an example")
	require.NoError(t, os.WriteFile(path, []byte("1 2 3\n4 12 5\n"), 0o644))
	big, err := data.LoadNextToken(path, 7, size.Default())
	require.NoError(t, err)
	require.ErrorContains(t, tr.Fit(big, FitOptions{Epochs: 151}), "corpus.txt:2: token 2, id 12, is beyond the model's vocabulary of 12 ids (0..11)")
}
