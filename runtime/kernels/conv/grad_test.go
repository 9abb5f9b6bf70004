package conv

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// inputGradLoop is a convolution's input gradient by its definition, in
// float64: each dy cell times the kernel added into the cells its pixel read.
func inputGradLoop(s Shape, dy, k []float32) []float32 {
	oh := s.H + s.Pads[0] + s.Pads[1] - (s.KH-1)*s.Dilation[0]
	ow := s.W + s.Pads[2] + s.Pads[3] - (s.KW-1)*s.Dilation[1]
	dx := make([]float64, s.N*s.H*s.W*s.C)
	for b := range s.N {
		for oy := range oh {
			for ox := range ow {
				for ky := range s.KH {
					for kx := range s.KW {
						iy, ix := oy-s.Pads[0]+ky*s.Dilation[0], ox-s.Pads[2]+kx*s.Dilation[1]
						if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
							continue
						}
						for c := range s.C {
							for o := range s.CO {
								dx[((b*s.H+iy)*s.W+ix)*s.C+c] += float64(dy[((b*oh+oy)*ow+ox)*s.CO+o]) * float64(k[((ky*s.KW+kx)*s.C+c)*s.CO+o])
							}
						}
					}
				}
			}
		}
	}
	out := make([]float32, len(dx))
	for i, v := range dx {
		out[i] = float32(v)
	}
	return out
}

// TestInputGrad: the convolution InputGrad describes, over dy with the
// kernel FlipKernel writes, is the input gradient, by every algorithm that
// applies to it and every GEMM kernel: valid and same padding, uneven pads,
// a dilation, and the fashion CNN's second layer. Shapes InputGrad refuses:
// a stride, groups, pads past the kernel's reach.
func TestInputGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	one := [2]int{1, 1}
	for _, s := range []Shape{
		{N: 2, H: 13, W: 13, C: 32, KH: 3, KW: 3, CO: 64, Stride: one, Dilation: one, Groups: 1},
		{N: 2, H: 9, W: 7, C: 5, KH: 3, KW: 3, CO: 20, Stride: one, Dilation: one, Pads: [4]int{1, 1, 1, 1}, Groups: 1},
		{N: 1, H: 8, W: 10, C: 3, KH: 3, KW: 3, CO: 17, Stride: one, Dilation: one, Pads: [4]int{2, 0, 1, 0}, Groups: 1},
		{N: 2, H: 14, W: 14, C: 6, KH: 5, KW: 5, CO: 16, Stride: one, Dilation: one, Groups: 1},
		{N: 1, H: 11, W: 9, C: 4, KH: 3, KW: 2, CO: 6, Stride: one, Dilation: [2]int{2, 3}, Pads: [4]int{1, 2, 0, 3}, Groups: 1},
	} {
		g, ok := InputGrad(s)
		require.True(t, ok, "%+v", s)
		oh := s.H + s.Pads[0] + s.Pads[1] - (s.KH-1)*s.Dilation[0]
		ow := s.W + s.Pads[2] + s.Pads[3] - (s.KW-1)*s.Dilation[1]
		dy, k := kerneltest.Random(r, s.N, oh, ow, s.CO), kerneltest.Random(r, s.KH, s.KW, s.C, s.CO)
		want := inputGradLoop(s, dy.Data, k.Data)
		flipped := make([]float32, len(k.Data))
		FlipKernel(flipped, k.Data, g)
		algos := []Algorithm{Im2col, Choose(g, nil, nil)}
		if winogradApplies(g) {
			algos = append(algos, Winograd)
		}
		for _, algo := range algos {
			for _, kn := range gemm.Kernels() {
				c := NewWith(algo, kn, g, nil, nil)
				require.Equal(t, len(want), c.OutSize())
				w := make([]float32, c.PackedSize())
				c.PackWeights(w, flipped)
				got := make([]float32, c.OutSize())
				c.Run(dy.Data, w, got, make([]float32, c.ScratchSize()), nil)
				if e := kerneltest.Err(got, want); e > tol {
					t.Errorf("%s %s %+v: error %.3g > %.3g", algo, kn.Set, s, e, tol)
				}
			}
		}
	}
	for _, s := range []Shape{
		{N: 1, H: 8, W: 8, C: 4, KH: 3, KW: 3, CO: 4, Stride: [2]int{2, 2}, Dilation: one, Groups: 1},
		{N: 1, H: 8, W: 8, C: 4, KH: 3, KW: 3, CO: 4, Stride: one, Dilation: one, Groups: 2},
		{N: 1, H: 8, W: 8, C: 4, KH: 3, KW: 3, CO: 4, Stride: one, Dilation: one, Pads: [4]int{3, 0, 0, 0}, Groups: 1},
	} {
		_, ok := InputGrad(s)
		require.False(t, ok, "%+v", s)
	}
}

// TestPackUnits: Winograd's kernel transforms, unit by unit in any order
// over memory holding anything, give what PackWeights gives, bit for bit:
// what lets a plan spread them over threads.
func TestPackUnits(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	one := [2]int{1, 1}
	s := Shape{N: 1, H: 9, W: 9, C: 20, KH: 3, KW: 3, CO: 40, Stride: one, Dilation: one, Groups: 1}
	k := kerneltest.Random(r, 3, 3, s.C, s.CO)
	for _, kn := range gemm.Kernels() {
		c := NewWith(Winograd, kn, s, nil, nil)
		require.Greater(t, c.PackUnits(), 2)
		want, got := make([]float32, c.PackedSize()), make([]float32, c.PackedSize())
		for i := range got {
			want[i], got[i] = 7, float32(i)
		}
		c.PackWeights(want, k.Data)
		for u := c.PackUnits() - 1; u >= 0; u-- {
			c.PackUnit(got, k.Data, u)
		}
		require.Equal(t, want, got, kn.Set)
	}
}
