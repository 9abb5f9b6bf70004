// Package norm holds the normalisations over the last axis: layer
// normalisation and RMS normalisation, each row with its own statistics.
//
// Kernel sets (package cpu): generic, plain Go compiled on every platform and
// the oracle of the others; AVX2+FMA and AVX-512 on amd64 (generated with avo
// by runtime/kernels/_asm/norm); NEON on arm64 (the same program's emitter). A
// Norm is made for one set, once, when a plan is built; each set's kernel
// normalises every row in one call.
//
// The generic kernel sums the statistics in float64, so that a row's mean
// and variance lose nothing to cancellation (a row of large, nearly equal
// values is where float32 one-pass formulas fail): the result is within a
// few float32 roundings of the reference's. The variance is two-pass,
// Σ(x-mean)², biased (divided by C), as PyTorch and Keras compute it at
// inference.
//
// The assembly kernels sum in float32 lanes, 64 (AVX-512), 32 (AVX2) or 16
// (NEON) partial sums, each term then taking part in at most n = C/16 + 10 roundings
// (the doc comments of the kernels give the exact loops). Cancellation is
// kept out of the sums: the first pass sums x - x[0] (terms of the size of
// the spread, not of the values), the second sums d = x - m and d², m that
// first estimate of the mean, and corrects with Σd (the corrected two-pass
// algorithm), and the output subtracts the mean as m plus a float32
// remainder, so the mean is never rounded to the float32 grid of a row far
// from zero. Over a row of spread σ the mean is then within about n·2⁻²⁴·σ,
// the variance within a relative n·2⁻²⁴, and each output within
// (n + 8)·2⁻²⁴·(|gamma|·(1 + |z|) + |beta|) of the float64 reference, z the
// normalised value, whatever the row's offset from zero. RMS normalisation
// sums x², all positive: within (n/2 + 4)·2⁻²⁴, relative. TestSetsMatchReference
// holds every set to these bounds on rows of 1 to 4099 floats, some of them
// 30000 ± 0.01; the worst errors it sees are 2.6 (AVX2 and AVX-512) and 3.8
// (NEON) ·2⁻²⁴ for layer normalisation (the generic kernel's: 2.2), and 9.3
// (AVX2), 3.9 (AVX-512) and 17.7 (NEON) for RMS (generic: 2.8), on the 4099
// values near 30000 (3.6 on rows of up to 1031).
//
// A NaN in a row makes the whole row NaN in every set.
//
// Nothing here allocates.
package norm

// The assembly and its declarations are generated; CI regenerates them and
// fails on a difference.
//go:generate go -C ../_asm run ./norm -out ../norm/norm_amd64.s -stubs ../norm/norm_amd64.go -pkg norm -neon ../norm/norm_arm64
//go:generate go -C ../_asm run ./norm -avx512 -out ../norm/norm_avx512_amd64.s -stubs ../norm/norm_avx512_amd64.go -pkg norm

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// kernels is one set's implementation; the generic functions' doc comments
// say what every set's compute.
type kernels struct {
	set   cpu.Set
	layer func(x, gamma, beta, out []float32, rows, c int, eps float32)
	rms   func(x, gamma, out []float32, rows, c int, eps float32)
}

var generic = kernels{set: cpu.Generic, layer: layerGeneric, rms: rmsGeneric}

// sets lists the sets this process can run, best first, generic last; the
// files of each assembly set add theirs when the CPU has it.
var sets = cpu.NewFamily("norm", &generic)

// Norm normalises Rows rows of C features. Make it with New.
type Norm struct {
	Rows, C int
	Epsilon float32
	// RMS selects RMS normalisation (no mean, no beta).
	RMS bool
	k   *kernels
}

// New is a Norm run by the kernels of set (the generic ones if this build
// has none of it).
func New(set cpu.Set, rows, c int, eps float32, rms bool) Norm {
	return Norm{Rows: rows, C: c, Epsilon: eps, RMS: rms, k: sets.For(set)}
}

// Run computes, for each row x of C features,
//
//	layernorm: out[j] = (x[j]-mean)/sqrt(var+eps)·gamma[j] + beta[j]
//	rmsnorm:   out[j] = x[j]/sqrt(mean(x²)+eps)·gamma[j]
//
// beta is unused for RMS. out may be x.
func (n Norm) Run(x, gamma, beta, out []float32) {
	size := n.Rows * n.C
	if size == 0 {
		return
	}
	// The assembly does not check bounds: slicing here does.
	x, out, gamma = x[:size], out[:size], gamma[:n.C]
	if n.RMS {
		n.k.rms(x, gamma, out, n.Rows, n.C, n.Epsilon)
		return
	}
	n.k.layer(x, gamma, beta[:n.C], out, n.Rows, n.C, n.Epsilon)
}

// layerGeneric is layer normalisation with the statistics in float64:
//
//	for r := range rows {
//		row, o := x[r*c:(r+1)*c], out[r*c:(r+1)*c]
//		mean := Σ float64(row[j]) / c
//		variance := Σ (float64(row[j])-mean)² / c
//		inv := float32(1 / math.Sqrt(variance+float64(eps)))
//		o[j] = float32(float64(row[j])-mean)*inv*gamma[j] + beta[j]
//	}
func layerGeneric(x, gamma, beta, out []float32, rows, c int, eps float32) {
	for r := range rows {
		row, o := x[r*c:(r+1)*c], out[r*c:(r+1)*c]
		var mean, sq float64
		for _, v := range row {
			mean += float64(v)
		}
		mean /= float64(c)
		for _, v := range row {
			d := float64(v) - mean
			sq += d * d
		}
		inv := float32(1 / math.Sqrt(sq/float64(c)+float64(eps)))
		// x-mean in float64: rounding the mean to float32 first would cost
		// the deviations of a row far from zero most of their digits.
		for j, v := range row {
			o[j] = float32(float64(v)-mean)*inv*gamma[j] + beta[j]
		}
	}
}

// rmsGeneric is RMS normalisation with the sum of squares in float64:
//
//	for r := range rows {
//		row, o := x[r*c:(r+1)*c], out[r*c:(r+1)*c]
//		inv := float32(1 / math.Sqrt(Σ float64(row[j])²/c+float64(eps)))
//		o[j] = row[j] * inv * gamma[j]
//	}
func rmsGeneric(x, gamma, out []float32, rows, c int, eps float32) {
	for r := range rows {
		row, o := x[r*c:(r+1)*c], out[r*c:(r+1)*c]
		var sq float64
		for _, v := range row {
			sq += float64(v) * float64(v)
		}
		inv := float32(1 / math.Sqrt(sq/float64(c)+float64(eps)))
		for j, v := range row {
			o[j] = v * inv * gamma[j]
		}
	}
}
