package conv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

func TestDepthwiseFamily(t *testing.T) {
	kerneltest.Family(t, dwSets, func(k *dwKernel) cpu.Set { return k.set })
}

// depthwiseCases cross strides 1-2, 3×3 and 5×5 windows, multipliers 1-2,
// channel counts that leave a tail past the vectors, dilations and pads
// (valid, same, asymmetric explicit ones, and pads wider than the window
// reaches, so that whole rows and columns are padding).
func depthwiseCases() []convCase {
	var cs []convCase
	pads := []struct {
		p    ir.Padding
		pads [4]int
	}{{ir.Valid, [4]int{}}, {ir.Same, [4]int{}}, {ir.Explicit, [4]int{1, 2, 0, 1}}, {ir.Explicit, [4]int{3, 0, 5, 2}}}
	i := 0
	for _, k := range []int{3, 5} {
		for _, s := range []int{1, 2} {
			for _, m := range []int{1, 2} {
				for _, c := range []int{3, 13, 16, 17} {
					p := pads[i%len(pads)]
					d := 1 + i/3%2
					sy := 1 + i%2*(s-1) // a stride of (1, 2) now and then
					cs = append(cs, convCase{h: 9 + i%4, w: 12 + k + i%3, c: c, co: c * m, kh: k, kw: k,
						stride: [2]int{sy, s}, dilation: [2]int{d, 1 + i%2}, padding: p.p, pads: p.pads, groups: c})
					i++
				}
			}
		}
	}
	return cs
}

// groupedCases are narrow groups (2-3 input channels, 1-3 output channels
// each) over the same strides, windows and pads.
func groupedCases() []convCase {
	var cs []convCase
	for i, tc := range depthwiseCases() {
		cpg, opg := 2+i%2, 1+i%3
		groups := 1 + tc.c%5
		tc.c, tc.co, tc.groups = groups*cpg, groups*opg, groups
		cs = append(cs, tc)
	}
	return cs
}

// Every set's depthwise and grouped conv, with each tile head (none, bias, relu, both, bias and relu6)
// and a chain after it, against the reference, and against the generic
// set's within the bound of fused against unfused products.
func TestDepthwiseMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	epilogues := []struct {
		chain ir.Chain
		steps func(co int) []eltwise.Step
	}{
		{nil, func(int) []eltwise.Step { return nil }},
		{ir.Chain{{Op: ir.OpAdd, Operand: 2}}, func(co int) []eltwise.Step {
			return []eltwise.Step{{Kind: eltwise.Add, Operand: 2, Shape: []int{co}}}
		}},
		{ir.Chain{{Op: ir.OpRelu}}, func(int) []eltwise.Step { return []eltwise.Step{{Kind: eltwise.Relu}} }},
		{ir.Chain{{Op: ir.OpAdd, Operand: 2}, {Op: ir.OpRelu}, {Op: ir.OpTanh}}, func(co int) []eltwise.Step {
			return []eltwise.Step{{Kind: eltwise.Add, Operand: 2, Shape: []int{co}}, {Kind: eltwise.Relu}, {Kind: eltwise.Tanh}}
		}},
		{ir.Chain{{Op: ir.OpAdd, Operand: 2}, {Op: ir.OpClip, Attrs: &ir.ClipAttrs{Min: 0, Max: 6}}}, func(co int) []eltwise.Step {
			return []eltwise.Step{{Kind: eltwise.Add, Operand: 2, Shape: []int{co}}, {Kind: eltwise.Clip, Alpha: 0, Beta: 6}}
		}},
		{ir.Chain{{Op: ir.OpAdd, Operand: 2}, {Op: ir.OpSilu}}, func(co int) []eltwise.Step {
			return []eltwise.Step{{Kind: eltwise.Add, Operand: 2, Shape: []int{co}}, {Kind: eltwise.Silu}}
		}},
	}
	generic := gemm.For(cpu.Generic)
	for i, tc := range append(depthwiseCases(), groupedCases()...) {
		algo := Depthwise
		if tc.c != tc.groups {
			algo = Grouped
		}
		e := epilogues[i%len(epilogues)]
		a := tc.attrs()
		x := kerneltest.Random(r, 2, tc.h, tc.w, tc.c)
		k := kerneltest.Random(r, tc.kh, tc.kw, tc.c/tc.groups, tc.co)
		bias := kerneltest.Random(r, tc.co)
		operands := [][]float32{x.Data, k.Data, bias.Data}
		want := kerneltest.Ref(t, ir.OpFusedConv2D, &ir.FusedConvAttrs{Conv: a, Epilogue: e.chain}, x, k, bias)
		gen := compile(algo, generic, tc, 2, e.steps(tc.co), nil)
		if Choose(gen.Shape, nil, nil) != algo {
			t.Fatalf("%v: Choose picks %s", tc, Choose(gen.Shape, nil, nil))
		}
		genOut := run(gen, x, k, operands)
		for _, kn := range gemm.Kernels() {
			got := run(compile(algo, kn, tc, 2, e.steps(tc.co), nil), x, k, operands)
			kerneltest.Close(t, got, want, tol, "%s %v %v", kn.Set, tc, e.chain)
			if err := kerneltest.Err(got, genOut); err > tol {
				t.Errorf("%s %v %v: error %.3g against generic > %.3g", kn.Set, tc, e.chain, err, tol)
			}
		}
	}
}

// Each set's kernels against the generic ones on their own: every count of
// cells and channels around the vector widths and the unrolling, strides
// that overlap the windows or skip cells, and each clamp; the direct kernel
// with taps one float apart too, as a pixel's input channels are.
func TestDepthwiseCellsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	inf := float32(math.Inf(1))
	clamps := [][2]float32{{-inf, inf}, {0, inf}, {0, 6}, {-0.5, 0.25}}
	kernels := []struct {
		name string
		get  func(*dwKernel) cellsFunc
		// reach is the floats a tap reads from its offset, for c channels.
		reach func(c int) int
	}{
		{"cells", func(k *dwKernel) cellsFunc { return k.cells }, func(c int) int { return c }},
		{"direct", func(k *dwKernel) cellsFunc { return k.direct }, func(int) int { return 1 }},
		{"cellsSilu", func(k *dwKernel) cellsFunc { return k.cellsSilu }, func(c int) int { return c }},
		{"directSilu", func(k *dwKernel) cellsFunc { return k.directSilu }, func(int) int { return 1 }},
	}
	// plain is the kernel without silu, which the silu kernels' results
	// are checked against with the set's eltwise silu run after.
	plain := map[string]string{"cellsSilu": "cells", "directSilu": "direct"}
	get := func(name string, k *dwKernel) cellsFunc {
		for _, kern := range kernels {
			if kern.name == name {
				return kern.get(k)
			}
		}
		panic(name)
	}
	for _, kern := range kernels {
		for _, c := range []int{1, 3, 4, 7, 8, 9, 15, 16, 17, 24, 32, 33, 81, 113, 130, 263} {
			for _, cells := range []int{1, 2, 3, 4, 5, 7, 9} {
				for _, ntaps := range []int{1, 3, 9, 25, 27} {
					stride := c * (1 + cells%3)
					// Rows apart, as a window's are, and the weights in
					// another order than the taps; the direct kernel's
					// input channels one float apart.
					taps := make([]int, 0, 2*ntaps)
					for k := range ntaps {
						at := k*c + k/3*5*c
						if kern.reach(c) == 1 {
							at = k/3*(stride+3) + k%3
						}
						taps = append(taps, 4*at, 4*(ntaps-1-k)*c)
					}
					x := kerneltest.Random(r, (cells-1)*stride+taps[2*ntaps-2]/4+kern.reach(c)).Data
					w := kerneltest.Random(r, ntaps*c).Data
					bias := kerneltest.Random(r, c).Data
					cl := clamps[(c+cells+ntaps)%len(clamps)]
					want := make([]float32, cells*c)
					base, isSilu := plain[kern.name]
					if !isSilu {
						base = kern.name
					}
					get(base, &dwGeneric)(want, x, w, taps, cells, c, stride, bias, cl[0], cl[1])
					if isSilu {
						eltwise.Unary(cpu.Generic, eltwise.Silu)(want, 0)
					}
					for _, k := range dwSets.All() {
						if kern.get(k) == nil {
							continue
						}
						got := make([]float32, cells*c+1)
						got[cells*c] = 42 // the kernel writes no further
						kern.get(k)(got[:cells*c], x, w, taps, cells, c, stride, bias, cl[0], cl[1])
						name := fmt.Sprintf("%s %s c%d cells%d taps%d clamp%v", kern.name, k.set, c, cells, ntaps, cl)
						if err := kerneltest.Err(got[:cells*c], want); err > tol {
							t.Errorf("%s: error %.3g > %.3g", name, err, tol)
						}
						if got[cells*c] != 42 {
							t.Errorf("%s: wrote past the output", name)
						}
						if isSilu {
							// The set's kernel then its eltwise silu: the same bits.
							unfused := make([]float32, cells*c)
							get(base, k)(unfused, x, w, taps, cells, c, stride, bias, cl[0], cl[1])
							eltwise.Unary(k.set, eltwise.Silu)(unfused, 0)
							for i := range unfused {
								if math.Float32bits(got[i]) != math.Float32bits(unfused[i]) {
									t.Fatalf("%s: out[%d] = %v, the unfused kernel and silu %v", name, i, got[i], unfused[i])
								}
							}
							continue
						}
						for i, v := range got[:cells*c] {
							if v < cl[0] || v > cl[1] {
								t.Fatalf("%s: out[%d] = %v outside %v", name, i, v, cl)
							}
						}
					}
				}
			}
		}
	}
}

// The x86 sets have silu kernels, which the tests above compare with the
// generic kernels and silu; the others leave silu to eltwise.
func TestDepthwiseSiluSets(t *testing.T) {
	for _, k := range dwSets.All() {
		has := k.cellsSilu != nil && k.directSilu != nil
		if want := k.set == cpu.AVX2 || k.set == cpu.AVX512; has != want {
			t.Errorf("%s: silu kernels %v, want %v", k.set, has, want)
		}
	}
}

// The clamp keeps a NaN, as eltwise's Relu does, and so does silu.
func TestDepthwiseClampKeepsNaN(t *testing.T) {
	for _, k := range dwSets.All() {
		for _, f := range []cellsFunc{k.cells, k.direct, k.cellsSilu, k.directSilu} {
			if f == nil {
				continue
			}
			for _, lanes := range []int{1, 9} {
				x := make([]float32, lanes)
				for i := range x {
					x[i] = float32(math.NaN())
				}
				out := make([]float32, lanes)
				f(out, x, make([]float32, lanes), []int{0, 0}, 1, lanes, lanes, make([]float32, lanes), 0, 6)
				for i, v := range out {
					if !math.IsNaN(float64(v)) {
						t.Errorf("%s: out[%d] = %v for a NaN input", k.set, i, v)
					}
				}
			}
		}
	}
}

// BenchmarkMobileNetV2 runs the depthwise layers of MobileNetV2 (3×3, pads
// of 1, batch 1, bias and relu in the store; or bias and EfficientNet's
// silu, in the store where the set has silu kernels, else silu on each row
// after) with the depthwise kernels of every set, in GFLOP/s.
func BenchmarkMobileNetV2(b *testing.B) {
	one, pads := [2]int{1, 1}, [4]int{1, 1, 1, 1}
	for _, l := range []struct {
		name      string
		h, c, str int
	}{{"112x112x96_s2", 112, 96, 2}, {"56x56x144", 56, 144, 1}, {"28x28x192", 28, 192, 1}, {"14x14x384", 14, 384, 1}, {"7x7x960", 7, 960, 1}} {
		s := Shape{N: 1, H: l.h, W: l.h, C: l.c, KH: 3, KW: 3, CO: l.c, Stride: [2]int{l.str, l.str}, Dilation: one, Pads: pads, Groups: l.c}
		for _, act := range []eltwise.Kind{eltwise.Relu, eltwise.Silu} {
			epi := []eltwise.Step{{Kind: eltwise.Add, Operand: 0, Shape: []int{l.c}}, {Kind: act}}
			for _, kn := range gemm.Kernels() {
				b.Run(fmt.Sprintf("%s/%s/%s", l.name, map[eltwise.Kind]string{eltwise.Relu: "relu", eltwise.Silu: "silu"}[act], kn.Set), func(b *testing.B) {
					benchRun(b, New(kn, s, epi, nil), s.CO)
				})
			}
		}
	}
}
