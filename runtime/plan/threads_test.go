package plan

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/tensor"
)

// TestRequire fails a CI run with MDLC_REQUIRE=avx2 or neon unless plans
// are built with that kernel set.
func TestRequire(t *testing.T) {
	g := model(t, "mlp", "mlp")
	p, err := Build(g, stdlibWeights(t, g, rand.New(rand.NewPCG(1, 1))), map[string]int{"N": 1})
	require.NoError(t, err)
	require.NoError(t, cpu.Require(p.Kernels()))
}

// threadGraphs are graphs whose GEMMs and convolutions are large enough to be
// split: the stdlib CNNs and ResNet, optimised (fused conv + pool, bias and
// activation epilogues), the LSTM and GRU (their time loops: at batch 8
// each thread runs its own sequences, at 4 they share every step's blocks),
// and a batched matmul whose B is computed at run
// time, with an epilogue. LeNet runs at batch 64: its convs are direct,
// split without scratch, so only its first dense layer, split at that
// batch, shows in HelperScratch.
func threadGraphs(t *testing.T) []struct {
	g   *ir.Graph
	env map[string]int
} {
	var gs []struct {
		g   *ir.Graph
		env map[string]int
	}
	r := rand.New(rand.NewPCG(2, 2))
	for _, m := range []struct {
		file string
		name string
		n    int
	}{{"cnn", "cnn", 8}, {"resnet", "resnet", 2}, {"lenet", "lenet", 64}, {"lstm", "lstm_classifier", 8}, {"lstm", "lstm_classifier", 4}, {"gru", "gru_classifier", 8}} {
		g := model(t, m.file, m.name)
		require.NoError(t, passes.BindWeights(g, stdlibWeights(t, g, r)))
		_, err := passes.Run(g, passes.Options{Verify: true})
		require.NoError(t, err)
		gs = append(gs, struct {
			g   *ir.Graph
			env map[string]int
		}{g, map[string]int{"N": m.n}})
	}
	g := ir.NewGraph("bmm")
	a := g.AddInput("a", ir.T(2, 300, 64))
	b := g.AddInput("b", ir.T(2, 64, 96))
	y, err := g.AddNode(ir.OpMatMul, &ir.MatMulAttrs{}, []*ir.Value{a, b}, "mm", ir.Pos{})
	require.NoError(t, err)
	z, err := g.AddNode(ir.OpTanh, nil, []*ir.Value{y}, "tanh", ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("z", z)
	_, err = passes.Run(g, passes.Options{Verify: true})
	require.NoError(t, err)
	return append(gs, struct {
		g   *ir.Graph
		env map[string]int
	}{g, nil})
}

// Outputs are the same bit for bit whatever the number of threads, and a
// warmed-up run allocates nothing with helpers either.
func TestThreadsBitIdentical(t *testing.T) {
	for _, tg := range threadGraphs(t) {
		r := rand.New(rand.NewPCG(4, 4))
		_, inputs := randomInputs(tg.g, tg.env, r)
		var want [][]float32
		for _, threads := range []int{1, 2, 3, 4, 5} {
			p, err := Build(tg.g, nil, tg.env, Threads(threads))
			require.NoError(t, err)
			require.Equal(t, threads, p.Threads())
			if threads > 1 {
				require.Positive(t, p.prog.HelperScratch, "%s: no step is split", tg.g.Name)
			}
			var outputs [][]float32
			for _, o := range p.Outputs() {
				outputs = append(outputs, make([]float32, tensor.Numel(o.Shape)))
			}
			a := p.NewArena()
			require.NoError(t, p.Run(a, inputs, outputs))
			if want == nil {
				want = outputs
			}
			for i := range want {
				require.True(t, sameBits(want[i], outputs[i]), "%s: %d threads: output %d differs from 1 thread's", tg.g.Name, threads, i)
			}
			allocs := testing.AllocsPerRun(3, func() {
				if err := p.Run(a, inputs, outputs); err != nil {
					t.Fatal(err)
				}
			})
			require.Zero(t, allocs, "%s: %d threads: allocations per warmed-up run", tg.g.Name, threads)
			a.Close()
		}
	}
}

// The helpers live from NewArena to Close, or until the arena is garbage.
func TestArenaHelpersStop(t *testing.T) {
	g := threadGraphs(t)[0]
	p, err := Build(g.g, nil, g.env, Threads(4))
	require.NoError(t, err)
	before := runtime.NumGoroutine()
	a := p.NewArena()
	require.Equal(t, before+3, runtime.NumGoroutine())
	a.Close()
	a.Close() // idempotent
	waitGoroutines(t, before)

	_ = p.NewArena()
	require.Equal(t, before+3, runtime.NumGoroutine())
	runtime.GC() // the arena is unreachable: its cleanup stops the helpers
	waitGoroutines(t, before)
}

func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	for range 100 {
		if runtime.NumGoroutine() <= n {
			return
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	require.Equal(t, n, runtime.NumGoroutine(), "helper goroutines still running")
}

// Each assembly kernel set this machine runs gives what the generic one
// gives, through whole plans, within the stdlib tolerance.
func TestKernelSetsAgree(t *testing.T) {
	for _, tg := range threadGraphs(t) {
		_, inputs := randomInputs(tg.g, tg.env, rand.New(rand.NewPCG(6, 6)))
		var want [][]float32
		for _, set := range []cpu.Set{cpu.Generic, cpu.AVX2, cpu.NEON} {
			t.Setenv("MDLC_KERNELS", string(set))
			if _, err := cpu.Select(); err != nil {
				continue
			}
			p, err := Build(tg.g, nil, tg.env)
			require.NoError(t, err)
			outputs := make([][]float32, len(p.Outputs()))
			for i, o := range p.Outputs() {
				outputs[i] = make([]float32, tensor.Numel(o.Shape))
			}
			a := p.NewArena()
			require.NoError(t, p.Run(a, inputs, outputs))
			a.Close()
			if want == nil {
				want = outputs
				continue
			}
			for i := range want {
				e := kerneltest.Err(outputs[i], want[i])
				require.LessOrEqual(t, e, stdlibTol, fmt.Sprintf("%s: %s against generic, output %d", tg.g.Name, set, i))
			}
		}
	}
}
