package backward

import (
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
)

// BenchmarkUnaryGrad: the compiled paths against the float64 formula per
// element, over fashion_cnn's first activation at batch 32 (32·26·26·32).
func BenchmarkUnaryGrad(b *testing.B) {
	set, err := cpu.Select()
	if err != nil {
		b.Fatal(err)
	}
	n := 32 * 26 * 26 * 32
	x, dy, out := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = float32(i%17)/8-1, float32(i%5)/4
	}
	for _, k := range []eltwise.Kind{eltwise.Relu, eltwise.Tanh} {
		s := eltwise.Step{Kind: k}
		for _, path := range []string{"generic", "compiled"} {
			b.Run(map[eltwise.Kind]string{eltwise.Relu: "relu", eltwise.Tanh: "tanh"}[k]+"/"+path, func(b *testing.B) {
				g := NewUnaryGrad(set, s)
				run := g.Run
				if path == "generic" {
					run = g.generic
				}
				scratch := make([]float32, g.ScratchSize())
				for b.Loop() {
					run(x, dy, out, scratch)
				}
				b.SetBytes(int64(12 * n))
			})
		}
	}
}
