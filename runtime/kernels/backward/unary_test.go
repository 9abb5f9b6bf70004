package backward

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// TestUnaryGradPaths: every kind's compiled path, with every kernel set this
// machine runs, against the float64 formula per element, over a length that
// is not a multiple of the block, with the special values, and in place
// (out = dy). The selections are exact; the vector-kernel paths within a few
// float32 roundings.
func TestUnaryGradPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 3*unaryBlock + 37
	x, dy := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = 8*(r.Float32()-0.5), r.Float32()-0.5
	}
	x[0], x[1], x[2], x[3] = 0, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))
	x[4], x[5] = 0.5, -0.25 // clip's bounds
	steps := []eltwise.Step{{Kind: eltwise.Relu}, {Kind: eltwise.LeakyRelu, Alpha: 0.1}, {Kind: eltwise.Clip, Alpha: -0.25, Beta: 0.5},
		{Kind: eltwise.Sigmoid}, {Kind: eltwise.Tanh}, {Kind: eltwise.Silu}, {Kind: eltwise.Softplus}, {Kind: eltwise.Exp}, {Kind: eltwise.Gelu},
		{Kind: eltwise.GeluTanh}, {Kind: eltwise.Elu, Alpha: 0.7}, {Kind: eltwise.Selu}, {Kind: eltwise.Erf}, {Kind: eltwise.Mish}}
	for _, set := range cpu.Available() {
		for _, s := range steps {
			want := make([]float32, n)
			(&UnaryGrad{s: s}).generic(x, dy, want, nil)
			g := NewUnaryGrad(set, s, false)
			got := make([]float32, n)
			scratch := make([]float32, g.ScratchSize())
			g.Run(x, dy, got, scratch)
			tol := 4e-6
			if s.Kind == eltwise.Relu || s.Kind == eltwise.LeakyRelu || s.Kind == eltwise.Clip {
				tol = 0
			}
			if e := kerneltest.Err(got, want); e > tol {
				t.Errorf("%s %v: error %.3g > %.3g", set, s.Kind, e, tol)
			}
			inPlace := append([]float32(nil), dy...)
			g.Run(x, inPlace, inPlace, scratch)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(inPlace[i]) {
					t.Fatalf("%s %v: in place, element %d is %g, not %g", set, s.Kind, i, inPlace[i], got[i])
				}
			}
		}
	}
}

// TestUnaryGradFromOutput: relu's, tanh's and sigmoid's derivatives from
// their result, with every kernel set this machine runs, against the
// float64 formula of y per element and against the derivative from x
// (within float32 roundings of y), over special values, and in place.
func TestUnaryGradFromOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n := 3*unaryBlock + 37
	x, dy := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = 8*(r.Float32()-0.5), r.Float32()-0.5
	}
	x[0], x[1], x[2] = 0, float32(math.Inf(1)), float32(math.Inf(-1))
	f := map[eltwise.Kind]func(float64) float64{
		eltwise.Relu: func(v float64) float64 { return max(v, 0) }, eltwise.Tanh: math.Tanh, eltwise.Sigmoid: sigmoid}
	for _, k := range []eltwise.Kind{eltwise.Relu, eltwise.Tanh, eltwise.Sigmoid} {
		s := eltwise.Step{Kind: k}
		y := make([]float32, n)
		for i, v := range x {
			y[i] = float32(f[k](float64(v)))
		}
		want, fromX := make([]float32, n), make([]float32, n)
		(&UnaryGrad{s: s, output: true}).generic(y, dy, want, nil)
		(&UnaryGrad{s: s}).generic(x, dy, fromX, nil)
		if e := kerneltest.Err(want, fromX); e > 1e-6 {
			t.Errorf("%v: from y, error %.3g against the derivative from x", k, e)
		}
		for _, set := range cpu.Available() {
			g := NewUnaryGrad(set, s, true)
			got := make([]float32, n)
			scratch := make([]float32, g.ScratchSize())
			g.Run(y, dy, got, scratch)
			if e := kerneltest.Err(got, want); e > 1e-6 {
				t.Errorf("%s %v: error %.3g", set, k, e)
			}
			inPlace := append([]float32(nil), dy...)
			g.Run(y, inPlace, inPlace, scratch)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(inPlace[i]) {
					t.Fatalf("%s %v: in place, element %d is %g, not %g", set, k, i, inPlace[i], got[i])
				}
			}
		}
	}
}

// TestUnaryGradFromOutputBits: tanh's and sigmoid's derivatives from y,
// combined by the vector kernels, give the bits of float32 loops that
// round every operation, with every kernel set this machine runs.
func TestUnaryGradFromOutputBits(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	n := 2*unaryBlock + 19
	y, dy := make([]float32, n), make([]float32, n)
	for i := range y {
		y[i], dy[i] = 2*r.Float32()-1, r.Float32()-0.5
	}
	y[0], y[1], y[2] = 1, -1, 0
	loops := map[eltwise.Kind]func(v, d float32) float32{
		// float32(): each product rounded, never fused (arm64 would).
		eltwise.Tanh:    func(v, d float32) float32 { return d * (1 - float32(v*v)) },
		eltwise.Sigmoid: func(v, d float32) float32 { return d * float32(v*(1-v)) },
	}
	for k, loop := range loops {
		for _, set := range cpu.Available() {
			g := NewUnaryGrad(set, eltwise.Step{Kind: k}, true)
			got := make([]float32, n)
			g.Run(y, dy, got, make([]float32, g.ScratchSize()))
			for i, v := range y {
				if want := loop(v, dy[i]); math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("%s %v: element %d is %g, the float32 loop's %g", set, k, i, got[i], want)
				}
			}
		}
	}
}
