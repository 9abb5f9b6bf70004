// Package softmax holds the normalising reductions: softmax and log_softmax
// over any axis.
//
// Exponentials are evaluated in float64 and rounded; sums are accumulated in
// float32. Over an axis of n elements the results are within about
// (n+2)·2⁻²⁴ (relative) of the reference's float64 evaluation, and
// log_softmax within a few roundings of |x-max| + log Σ, absolutely.
//
// Nothing here allocates.
package softmax

import "math"

// Softmax normalises x, seen as [Outer, Dim, Inner] with the reduced axis in
// the middle.
type Softmax struct {
	Outer, Dim, Inner int
	Log               bool
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
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	var sum float32
	if s.Log {
		for _, v := range x {
			sum += exp(v - m)
		}
		ls := float32(math.Log(float64(sum)))
		for j, v := range x {
			out[j] = (v - m) - ls
		}
		return
	}
	for j, v := range x {
		e := exp(v - m)
		out[j] = e
		sum += e
	}
	inv := 1 / sum
	for j := range out {
		out[j] *= inv
	}
}

// strided normalises Inner interleaved axes at once, walking rows of Inner
// contiguous elements; m and sum hold the per-position max and sum.
func (s Softmax) strided(x, out, m, sum []float32) {
	n := s.Inner
	copy(m, x[:n])
	for j := 1; j < s.Dim; j++ {
		for i, v := range x[j*n : (j+1)*n] {
			m[i] = max(m[i], v)
		}
	}
	clear(sum)
	for j := range s.Dim {
		xr, or := x[j*n:(j+1)*n], out[j*n:(j+1)*n]
		for i, v := range xr {
			e := exp(v - m[i])
			sum[i] += e
			if !s.Log {
				or[i] = e
			}
		}
	}
	if s.Log {
		for i := range sum {
			sum[i] = float32(math.Log(float64(sum[i])))
		}
		for j := range s.Dim {
			xr, or := x[j*n:(j+1)*n], out[j*n:(j+1)*n]
			for i, v := range xr {
				or[i] = (v - m[i]) - sum[i]
			}
		}
		return
	}
	for i := range sum {
		sum[i] = 1 / sum[i]
	}
	for j := range s.Dim {
		or := out[j*n : (j+1)*n]
		for i := range or {
			or[i] *= sum[i]
		}
	}
}

func exp(x float32) float32 { return float32(math.Exp(float64(x))) }
