package train

import (
	"fmt"
	"testing"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/optim"
	"github.com/mdlc/mdlc/weights"
)

func loadStd(b *testing.B, name string) *ir.Graph {
	m, err := compile.Load(name, "", compile.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return m.Graph
}

// BenchmarkStep is one training step (forward, loss, backward, Adam) of
// stdlib models at the batch sizes the comparison with PyTorch
// uses, reported in images per second; the forward pass alone beside it
// (the evaluator's step) for the step/forward ratio.
func BenchmarkStep(b *testing.B) {
	for _, c := range []struct {
		model string
		batch int
	}{{"lenet", 64}, {"fashion_cnn", 32}, {"cnn", 32}} {
		for _, threads := range []int{1, 2} {
			for _, kind := range []string{"train", "forward"} {
				b.Run(fmt.Sprintf("%s/batch=%d/threads=%d/%s", c.model, c.batch, threads, kind), func(b *testing.B) {
					g := loadStd(b, c.model)
					w, err := weights.Init(g, 1)
					if err != nil {
						b.Fatal(err)
					}
					cfg := Config{Objective: Objective{Loss: SparseCategoricalCrossentropy}, Optimizer: optim.DefaultAdam, LR: optim.Constant(1e-3), BatchSize: c.batch, Threads: threads}
					per := numel(g.Inputs[0].Type.Shape[1:])
					x, y := make([]float32, c.batch*per), make([]int64, c.batch)
					for i := range x {
						x[i] = float32(i%251) / 251
					}
					for i := range y {
						y[i] = int64(i % 10)
					}
					var step func() error
					if kind == "train" {
						tr, err := New(g, w, cfg)
						if err != nil {
							b.Fatal(err)
						}
						defer tr.Close()
						step = func() error { _, err := tr.Step(x, y, c.batch); return err }
					} else {
						e, err := NewEvaluator(g, w, cfg)
						if err != nil {
							b.Fatal(err)
						}
						defer e.Close()
						step = func() error { _, err := e.Batch(x, y, c.batch); return err }
					}
					b.ResetTimer()
					for b.Loop() {
						if err := step(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*c.batch)/b.Elapsed().Seconds(), "images/s")
				})
			}
		}
	}
}
