package plan

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
)

// benchModel reports ns/op for the model's optimised plan and, beside it, the
// reference runtime on the checked graph, at each batch size.
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
		p, err := Build(opt, nil, env)
		if err != nil {
			b.Fatal(err)
		}
		var outputs [][]float32
		for _, o := range p.Outputs() {
			outputs = append(outputs, make([]float32, tensor.Numel(o.Shape)))
		}
		b.Run(fmt.Sprintf("N=%d/plan", batch), func(b *testing.B) {
			a := p.NewArena()
			for b.Loop() {
				if err := p.Run(a, inputs, outputs); err != nil {
					b.Fatal(err)
				}
			}
		})
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
