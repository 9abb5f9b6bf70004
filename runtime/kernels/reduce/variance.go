package reduce

// Variance is a batch's biased variance over the rows of x [R, C] (every
// axis but the last, flattened), given its mean: out[c] = Σ_r (x[r,c] -
// mean[c])² / R. Its sums are blocked as Sum's are (block rows into scratch
// of C floats, then into out), so the error stays near (block + R/block)·2⁻²⁴.
// Rows are contiguous, so each block streams x once.
type Variance struct{ R, C int }

// ScratchSize is the partial row Run needs.
func (v *Variance) ScratchSize() int { return v.C }

// Run writes the variance of x, whose mean is mean, into out.
func (v *Variance) Run(x, mean, out, scratch []float32) {
	c := v.C
	mean, out, part := mean[:c], out[:c], scratch[:c]
	clear(out)
	for j0 := 0; j0 < v.R; j0 += block {
		clear(part)
		for j := j0; j < min(j0+block, v.R); j++ {
			row := x[j*c : (j+1)*c]
			for i, m := range mean {
				d := row[i] - m
				part[i] += d * d
			}
		}
		for i, p := range part {
			out[i] += p
		}
	}
	scale := 1 / float32(v.R)
	for i := range out {
		out[i] *= scale
	}
}
