// Package norm holds the normalisations over the last axis: layer
// normalisation and RMS normalisation, each row with its own statistics.
//
// Statistics are summed in float64, so that a row's mean and variance lose
// nothing to cancellation (a row of large, nearly equal values is where
// float32 one-pass formulas fail): the result is within a few float32
// roundings of the reference's. The variance is two-pass, Σ(x-mean)², biased
// (divided by C), as PyTorch and Keras compute it at inference.
//
// Only the generic Go version exists so far; it is what the SIMD versions
// will be compared with.
//
// Nothing here allocates.
package norm

import "math"

// Norm normalises Rows rows of C features.
type Norm struct {
	Rows, C int
	Epsilon float32
	// RMS selects RMS normalisation (no mean, no beta).
	RMS bool
}

// Run computes, for each row x of C features,
//
//	layernorm: out[j] = (x[j]-mean)/sqrt(var+eps)·gamma[j] + beta[j]
//	rmsnorm:   out[j] = x[j]/sqrt(mean(x²)+eps)·gamma[j]
//
// beta is unused for RMS. out may be x.
func (n Norm) Run(x, gamma, beta, out []float32) {
	c := n.C
	for r := range n.Rows {
		row, o := x[r*c:(r+1)*c], out[r*c:(r+1)*c]
		var mean, sq float64
		if !n.RMS {
			for _, v := range row {
				mean += float64(v)
			}
			mean /= float64(c)
		}
		for _, v := range row {
			d := float64(v) - mean
			sq += d * d
		}
		inv := float32(1 / math.Sqrt(sq/float64(c)+float64(n.Epsilon)))
		if n.RMS {
			for j, v := range row {
				o[j] = v * inv * gamma[j]
			}
			continue
		}
		// x-mean in float64: rounding the mean to float32 first would cost
		// the deviations of a row far from zero most of their digits.
		for j, v := range row {
			o[j] = float32(float64(v)-mean)*inv*gamma[j] + beta[j]
		}
	}
}
