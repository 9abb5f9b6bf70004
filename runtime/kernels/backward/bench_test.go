package backward

import (
	"fmt"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
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
				g := NewUnaryGrad(set, s, false)
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

// BenchmarkConvGradFilter: the filter gradient of the stdlib models'
// convolutions at their training batch, direct (filter.go) and on the
// GEMM, one thread.
func BenchmarkConvGradFilter(b *testing.B) {
	set, err := cpu.Select()
	if err != nil {
		b.Fatal(err)
	}
	one, same := [2]int{1, 1}, [4]int{2, 2, 2, 2}
	for _, l := range []struct {
		name string
		c    Conv
	}{
		{"lenet1", Conv{N: 64, H: 28, W: 28, C: 1, KH: 5, KW: 5, CO: 6, OH: 28, OW: 28, Pads: same}},
		{"lenet2", Conv{N: 64, H: 14, W: 14, C: 6, KH: 5, KW: 5, CO: 16, OH: 10, OW: 10}},
		{"fashion1", Conv{N: 32, H: 28, W: 28, C: 1, KH: 3, KW: 3, CO: 32, OH: 26, OW: 26}},
		{"fashion2", Conv{N: 32, H: 13, W: 13, C: 32, KH: 3, KW: 3, CO: 64, OH: 11, OW: 11}},
		{"cnn1", Conv{N: 32, H: 32, W: 32, C: 3, KH: 3, KW: 3, CO: 32, OH: 30, OW: 30}},
		{"cnn2", Conv{N: 32, H: 15, W: 15, C: 32, KH: 3, KW: 3, CO: 64, OH: 13, OW: 13}},
	} {
		l.c.Stride, l.c.Dilation, l.c.Groups = one, one, 1
		for _, direct := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/direct=%v", l.name, direct), func(b *testing.B) {
				c := l.c
				g := newConvGrad(set, c, direct)
				x, dy := make([]float32, c.N*c.H*c.W*c.C), make([]float32, c.N*c.OH*c.OW*c.CO)
				for i := range x {
					x[i] = float32(i%17) / 17
				}
				for i := range dy {
					dy[i] = float32(i%13) / 13
				}
				dk, partial, scratch := make([]float32, c.KH*c.KW*c.C*c.CO), make([]float32, g.PartialSize()), make([]float32, g.ScratchSize())
				for b.Loop() {
					for p := range 2 {
						for u := range g.FilterUnits() {
							g.GradFilter(x, dy, dk, partial, scratch, p, u)
						}
					}
				}
				b.ReportMetric(2*float64(c.N*c.OH*c.OW*c.KH*c.KW*c.C*c.CO)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkUnaryGradFromOutput: tanh's and sigmoid's derivatives from y
// over LeNet's first layer at batch 64 (64×28×28×6), in place as a plan
// runs them, the set's vector kernels against the float32 loop.
func BenchmarkUnaryGradFromOutput(b *testing.B) {
	set, err := cpu.Select()
	if err != nil {
		b.Fatal(err)
	}
	n := 64 * 28 * 28 * 6
	y, dy := make([]float32, n), make([]float32, n)
	for i := range y {
		y[i], dy[i] = float32((i*7919)%1000)/500-1, float32(i%5)/4
	}
	loops := map[eltwise.Kind]func(y, dy []float32){
		eltwise.Tanh: func(y, dy []float32) {
			for i, v := range y {
				dy[i] *= 1 - float32(v*v)
			}
		},
		eltwise.Sigmoid: func(y, dy []float32) {
			for i, v := range y {
				dy[i] *= float32(v * (1 - v))
			}
		},
	}
	for _, k := range []eltwise.Kind{eltwise.Tanh, eltwise.Sigmoid} {
		g := NewUnaryGrad(set, eltwise.Step{Kind: k}, true)
		scratch := make([]float32, g.ScratchSize())
		b.Run(map[eltwise.Kind]string{eltwise.Tanh: "tanh", eltwise.Sigmoid: "sigmoid"}[k]+"/loop", func(b *testing.B) {
			stop := kerneltest.CPUTime(b)
			for b.Loop() {
				loops[k](y, dy)
			}
			stop()
		})
		b.Run(map[eltwise.Kind]string{eltwise.Tanh: "tanh", eltwise.Sigmoid: "sigmoid"}[k]+"/compiled", func(b *testing.B) {
			stop := kerneltest.CPUTime(b)
			for b.Loop() {
				g.Run(y, dy, dy, scratch)
			}
			stop()
		})
	}
}
