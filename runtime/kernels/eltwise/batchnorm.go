package eltwise

import "math"

// BatchNorm normalises over the last axis, of C channels, with statistics
// known only when it runs. Statistics known when a plan is built are folded
// once (Fold) and run as a Chain of mul and add instead.
type BatchNorm struct {
	C       int
	Epsilon float32
}

// ScratchSize is the scratch Run needs: a scale and a shift per channel.
func (b BatchNorm) ScratchSize() int { return 2 * b.C }

// Fold computes the per-channel scale and shift that make batchnorm
// y = x·s + t, in float64, rounded once:
//
//	s[c] = gamma[c] / sqrt(variance[c]+eps),  t[c] = beta[c] - mean[c]·s[c]
func (b BatchNorm) Fold(gamma, beta, mean, variance, s, t []float32) {
	for c := range b.C {
		sc := float64(gamma[c]) / math.Sqrt(float64(variance[c])+float64(b.Epsilon))
		s[c] = float32(sc)
		t[c] = float32(float64(beta[c]) - float64(mean[c])*sc)
	}
}

// Run computes, for every element i of x with channel c = i mod C,
//
//	out[i] = (x[i]-mean[c]) / sqrt(variance[c]+eps) * gamma[c] + beta[c]
//
// as out[i] = x[i]·s[c] + t[c], with s and t folded into scratch. out may be x.
func (b BatchNorm) Run(x, gamma, beta, mean, variance, out, scratch []float32) {
	s, t := scratch[:b.C], scratch[b.C:2*b.C]
	b.Fold(gamma, beta, mean, variance, s, t)
	out = out[:len(x)]
	for i := 0; i < len(x); i += b.C {
		xr, or := x[i:i+b.C], out[i:i+b.C]
		for c, v := range xr {
			or[c] = v*s[c] + t[c]
		}
	}
}
