package backward

import (
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
)

// BenchmarkUnaryGrad: the compiled paths against the float64 formula per
// element, over fashion_cnn's first activation at batch 32 (32·26·26·32),
// signs in no pattern a branch predictor learns.
func BenchmarkUnaryGrad(b *testing.B) {
	set, err := cpu.Select()
	if err != nil {
		b.Fatal(err)
	}
	n := 32 * 26 * 26 * 32
	x, dy, out := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = float32((i*7919)%1000)/500-1, float32(i%5)/4
	}
	names := map[eltwise.Kind]string{eltwise.Relu: "relu", eltwise.Tanh: "tanh", eltwise.Gelu: "gelu", eltwise.Mish: "mish"}
	for _, k := range []eltwise.Kind{eltwise.Relu, eltwise.Tanh, eltwise.Gelu, eltwise.Mish} {
		s := eltwise.Step{Kind: k}
		for _, path := range []string{"generic", "compiled"} {
			b.Run(names[k]+"/"+path, func(b *testing.B) {
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

// BenchmarkMaxGrad: fashion_cnn's first pool (2×2, stride 2, 26×26×32) at
// batch 32, on relu-like data (half zeros), the general path against the
// 2×2 kernel of each set this machine runs.
func BenchmarkMaxGrad(b *testing.B) {
	p := Pool{N: 32, H: 26, W: 26, C: 32, KH: 2, KW: 2, OH: 13, OW: 13, Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}}
	x, dy, dx := make([]float32, p.N*p.H*p.W*p.C), make([]float32, p.N*p.OH*p.OW*p.C), make([]float32, p.N*p.H*p.W*p.C)
	for i := range x {
		x[i] = max(float32((i*7919)%1000)/500-1, 0)
	}
	b.Run("general", func(b *testing.B) {
		for b.Loop() {
			for i := range p.N {
				p.maxGradGeneral(x, dy, dx, i)
			}
		}
	})
	for _, set := range cpu.Available() {
		g := NewPoolGrad(set, p)
		b.Run("2x2/"+string(set), func(b *testing.B) {
			for b.Loop() {
				for i := range p.N {
					g.MaxGrad(x, dy, dx, i)
				}
			}
		})
	}
}

// BenchmarkSumTo: LeNet's first bias gradient at batch 64, [64·28·28, 6]
// summed to [6].
func BenchmarkSumTo(b *testing.B) {
	set, err := cpu.Select()
	if err != nil {
		b.Fatal(err)
	}
	shape := []int{64 * 28 * 28, 6}
	x, out := make([]float32, shape[0]*shape[1]), make([]float32, 6)
	s := NewSumTo(set, shape, []int{0, 1})
	for b.Loop() {
		s.Run(x, out)
	}
}
