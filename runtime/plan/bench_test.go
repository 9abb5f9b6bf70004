package plan

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
)

// benchModel reports ns/op for the model's optimised plan on one thread and
// on GOMAXPROCS threads and, beside them, the reference runtime on the
// checked graph, at each batch size.
func benchModel(b *testing.B, file, name string, batches ...int) {
	for _, batch := range batches {
		g := model(b, file, name)
		r := rand.New(rand.NewPCG(1, 2))
		w := stdlibWeights(b, g, r)
		env := map[string]int{"N": batch}
		in, inputs := randomInputs(g, env, r)
		opt := model(b, file, name)
		if err := passes.BindWeights(opt, w); err != nil {
			b.Fatal(err)
		}
		if _, err := passes.Run(opt, passes.Options{}); err != nil {
			b.Fatal(err)
		}
		threads := []int{1}
		if n := runtime.GOMAXPROCS(0); n > 1 {
			threads = append(threads, n)
		}
		for _, t := range threads {
			p, err := Build(opt, nil, env, Threads(t))
			if err != nil {
				b.Fatal(err)
			}
			var outputs [][]float32
			for _, o := range p.Outputs() {
				outputs = append(outputs, make([]float32, tensor.Numel(o.Shape)))
			}
			b.Run(fmt.Sprintf("N=%d/plan/threads=%d", batch, t), func(b *testing.B) {
				a := p.NewArena()
				defer a.Close()
				for b.Loop() {
					if err := p.Run(a, inputs, outputs); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("N=%d/ref", batch), func(b *testing.B) {
			for b.Loop() {
				if _, err := ref.Run(g, w, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPlanCNN is the seed's CIFAR CNN at batch 1 and 32.
func BenchmarkPlanCNN(b *testing.B) { benchModel(b, "cnn", "cnn", 1, 32) }

// BenchmarkPlanCNN224 is the seed CNN on 224×224 images.
func BenchmarkPlanCNN224(b *testing.B) { benchModel(b, "cnn224", "cnn224", 1) }

func BenchmarkPlanResNet(b *testing.B) { benchModel(b, "resnet", "resnet", 1, 32) }

func BenchmarkPlanMLP(b *testing.B) { benchModel(b, "mlp", "mlp", 1, 32) }

// BenchmarkPlanLSTM is the sequence-models issue's LSTM classifier shape.
func BenchmarkPlanLSTM(b *testing.B) { benchModel(b, "lstm", "lstm_classifier", 8) }

// BenchmarkPlanTransformer is its encoder layer, T = 128.
func BenchmarkPlanTransformer(b *testing.B) { benchModel(b, "transformer", "transformer", 1) }

// BenchmarkPlanSGEMM is C = A·B for 1024×1024 matrices, both inputs (so
// every run packs B), on one thread and on GOMAXPROCS: the GEMM's scaling.
func BenchmarkPlanSGEMM(b *testing.B) {
	const n = 1024
	g := ir.NewGraph("sgemm")
	a := g.AddInput("a", ir.T(n, n))
	bv := g.AddInput("b", ir.T(n, n))
	c, err := g.AddNode(ir.OpMatMul, &ir.MatMulAttrs{}, []*ir.Value{a, bv}, "mm", ir.Pos{})
	if err != nil {
		b.Fatal(err)
	}
	g.AddOutput("c", c)
	_, inputs := randomInputs(g, nil, rand.New(rand.NewPCG(1, 2)))
	out := [][]float32{make([]float32, n*n)}
	for _, t := range []int{1, runtime.GOMAXPROCS(0)} {
		p, err := Build(g, nil, nil, Threads(t))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("threads=%d", t), func(b *testing.B) {
			ar := p.NewArena()
			defer ar.Close()
			for b.Loop() {
				if err := p.Run(ar, inputs, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkProfile is the seed CNN at batch 1 on one thread, its arena
// profiled (Arena.Profile) or not: the cost of timing every step. Measured
// (AMD EPYC Zen 5 under KVM, shared, 10 alternating rounds of 5000 runs,
// medians): 33.2 µs off, 33.5 µs on, and 32.8 µs for main before the nil
// check per step existed (BenchmarkPlanCNN/N=1/plan/threads=1); rounds
// spread from 32 to 46 µs, so both are within noise. A clock reading costs
// 70-130 ns on that machine.
func BenchmarkProfile(b *testing.B) {
	g := model(b, "cnn", "cnn")
	r := rand.New(rand.NewPCG(1, 2))
	if err := passes.BindWeights(g, stdlibWeights(b, g, r)); err != nil {
		b.Fatal(err)
	}
	if _, err := passes.Run(g, passes.Options{}); err != nil {
		b.Fatal(err)
	}
	env := map[string]int{"N": 1}
	_, inputs := randomInputs(g, env, r)
	p, err := Build(g, nil, env, Threads(1))
	if err != nil {
		b.Fatal(err)
	}
	var outputs [][]float32
	for _, o := range p.Outputs() {
		outputs = append(outputs, make([]float32, tensor.Numel(o.Shape)))
	}
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("profile=%v", on), func(b *testing.B) {
			a := p.NewArena()
			defer a.Close()
			if on {
				a.Profile()
			}
			for b.Loop() {
				if err := p.Run(a, inputs, outputs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
