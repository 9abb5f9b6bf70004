// Package softmax holds the normalising reductions: softmax and log_softmax
// over any axis.
//
// Kernel sets: the loops run functions of the set (cpu.Set) the Softmax was
// made for, chosen once by New: the generic Go loops (funcs.go), or AVX2+FMA
// or NEON assembly generated from runtime/kernels/_asm/eltwise, whose
// exponential is the one package eltwise's functions use: within 1 ulp of
// e^x on normal results (0.98 ulp, relative error 8.1e-8, over every 97th
// float32 in [-104, 89]: TestExp -stride 97), within 2⁻¹⁴⁹ on subnormal ones,
// 0 at -Inf, and +Inf above ln(MaxFloat32).
//
// The generic exponentials are evaluated in float64 and rounded. Sums are
// accumulated in float32, by the assembly in several partial sums. Over an
// axis of n elements the results are within about (n+3)·2⁻²⁴ (relative) of
// the reference's float64 evaluation, and log_softmax within a few roundings
// of |x-max| + log Σ, absolutely.
//
// Nothing here allocates.
package softmax

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

//go:generate go -C ../_asm run ./eltwise -out ../softmax/softmax_amd64.s -stubs ../softmax/softmax_amd64.go -pkg softmax -neon ../softmax/softmax_arm64
//go:generate go -C ../_asm run ./eltwise -avx512 -out ../softmax/softmax_avx512_amd64.s -stubs ../softmax/softmax_avx512_amd64.go -pkg softmax

// Softmax normalises x, seen as [Outer, Dim, Inner] with the reduced axis in
// the middle. Make it with New.
type Softmax struct {
	Outer, Dim, Inner int
	Log               bool
	k                 *kernels
}

// New is a Softmax run by the kernels of set (the generic ones if this build
// has none of it).
func New(set cpu.Set, outer, dim, inner int, log bool) Softmax {
	return Softmax{Outer: outer, Dim: dim, Inner: inner, Log: log, k: sets.For(set)}
}

// ScratchSize is the scratch Run needs: a running max and sum per inner
// position when the axis is not the last.
func (s Softmax) ScratchSize() int {
	if s.Inner == 1 {
		return 0
	}
	return 2 * s.Inner
}

// Run computes, for each o < Outer, i < Inner, with m = max_j x[o,j,i] and
// S = Σ_j exp(x[o,j,i]-m),
//
//	out[o,j,i] = exp(x[o,j,i]-m) / S        (softmax)
//	out[o,j,i] = x[o,j,i] - m - log(S)      (log_softmax)
//
// out may be x.
func (s Softmax) Run(x, out, scratch []float32) {
	block := s.Dim * s.Inner
	for o := range s.Outer {
		xb, ob := x[o*block:(o+1)*block], out[o*block:(o+1)*block]
		if s.Inner == 1 {
			s.row(xb, ob)
		} else {
			s.strided(xb, ob, scratch[:s.Inner], scratch[s.Inner:2*s.Inner])
		}
	}
}

// row normalises one contiguous axis.
func (s Softmax) row(x, out []float32) {
	k := s.k
	m := k.rowMax(x)
	if s.Log {
		ls := float32(math.Log(float64(k.sumExp(x, m))))
		k.logShift(x, out, m, ls)
		return
	}
	k.scale(out, 1/k.expSum(x, out, m))
}

// strided normalises Inner interleaved axes at once, walking rows of Inner
// contiguous elements; m and sum hold the per-position max and sum.
func (s Softmax) strided(x, out, m, sum []float32) {
	k, n := s.k, s.Inner
	copy(m, x[:n])
	for j := 1; j < s.Dim; j++ {
		k.maxInto(m, x[j*n:(j+1)*n])
	}
	clear(sum)
	if s.Log {
		for j := range s.Dim {
			k.sumExpInto(x[j*n:(j+1)*n], m, sum)
		}
		for i := range sum {
			sum[i] = float32(math.Log(float64(sum[i])))
		}
		for j := range s.Dim {
			k.logShiftInto(x[j*n:(j+1)*n], m, sum, out[j*n:(j+1)*n])
		}
		return
	}
	for j := range s.Dim {
		k.expSumInto(x[j*n:(j+1)*n], m, out[j*n:(j+1)*n], sum)
	}
	for i := range sum {
		sum[i] = 1 / sum[i]
	}
	for j := range s.Dim {
		k.mulInto(out[j*n:(j+1)*n], sum)
	}
}
