// Package reduce sums, averages, or takes the max or min of a tensor over
// some of its axes.
//
// A plan splits the reduced axes into runs of adjacent axes and reduces one
// run per pass, each the middle axis of a row-major [Outer, R, Inner]: a
// reduction over several runs (axes 0 and 2 of four) is a chain of passes
// through scratch, never a transpose. With Inner > 1 a pass folds whole rows
// of Inner values into the output row, element by element (the loop a
// vector unit runs a lane per element); with Inner = 1 it folds a contiguous
// run of R values.
//
// Numerics: sums are float32, in blocks of block values (or rows) whose
// partial sum is then added to the total, so the error stays near
// (block + R/block)·2⁻²⁴ rather than R·2⁻²⁴. A mean multiplies the sum by
// Scale = 1/count. Max and min are Go's max and min: NaN wins, as in NumPy
// and PyTorch. Nothing allocates after the plan is built.
package reduce

import "fmt"

// Kind is how values are combined.
type Kind uint8

const (
	Sum Kind = iota
	Max
	Min
)

// GoString names the constant, for generated code.
func (k Kind) GoString() string {
	switch k {
	case Sum:
		return "reduce.Sum"
	case Max:
		return "reduce.Max"
	case Min:
		return "reduce.Min"
	}
	return fmt.Sprintf("reduce.Kind(%d)", k)
}

// block is how many values or rows a sum adds before adding the partial
// sum to the total.
const block = 64

// Pass reduces the middle axis of [Outer, R, Inner] to [Outer, Inner].
type Pass struct{ Outer, R, Inner int }

// Reduce is a reduction fixed when a plan is built: its passes, in order,
// each reading the previous one's result, and, for a mean, Scale (0 means 1).
type Reduce struct {
	Kind   Kind
	Passes []Pass
	Scale  float32
}

// ScratchSize is the scratch Run needs: every intermediate result, and a
// sum's partial row.
func (r *Reduce) ScratchSize() int {
	n, need := 0, 0
	for i, p := range r.Passes {
		if i < len(r.Passes)-1 {
			n += p.Outer * p.Inner
		}
		if r.Kind == Sum {
			need = max(need, n+p.Inner)
		}
	}
	return max(n, need)
}

// Run reduces x into out; scratch holds ScratchSize floats.
func (r *Reduce) Run(x, out, scratch []float32) {
	src := x
	for i, p := range r.Passes {
		n := p.Outer * p.Inner
		var dst []float32
		if i < len(r.Passes)-1 {
			dst, scratch = scratch[:n], scratch[n:]
		} else {
			dst = out[:n]
		}
		src = src[:p.Outer*p.R*p.Inner]
		switch {
		case r.Kind == Sum && p.Inner == 1:
			sumRuns(src, dst, p.R)
		case r.Kind == Sum:
			sumRows(src, dst, scratch[:p.Inner], p.R, p.Inner)
		case p.Inner == 1:
			extremeRuns(src, dst, p.R, r.Kind == Max)
		default:
			extremeRows(src, dst, p.R, p.Inner, r.Kind == Max)
		}
		src = dst
	}
	if r.Scale != 0 && r.Scale != 1 {
		for i := range out {
			out[i] *= r.Scale
		}
	}
}

// sumRuns: out[o] = Σ_{j<R} x[o*R+j], in blocks.
func sumRuns(x, out []float32, r int) {
	for o := range out {
		row := x[o*r : (o+1)*r]
		var total float32
		for len(row) > 0 {
			b := row[:min(block, len(row))]
			var s float32
			for _, v := range b {
				s += v
			}
			total += s
			row = row[len(b):]
		}
		out[o] = total
	}
}

// sumRows: out[o,i] = Σ_{j<R} x[(o*R+j)*inner+i], a block of rows summed in
// part before it is added to out.
func sumRows(x, out, part []float32, r, inner int) {
	for o := range len(out) / inner {
		acc := out[o*inner : (o+1)*inner]
		clear(acc)
		for j0 := 0; j0 < r; j0 += block {
			copy(part, x[(o*r+j0)*inner:])
			for j := j0 + 1; j < min(j0+block, r); j++ {
				row := x[(o*r+j)*inner : (o*r+j+1)*inner]
				for i, v := range row {
					part[i] += v
				}
			}
			for i, v := range part {
				acc[i] += v
			}
		}
	}
}

// extremeRuns: out[o] = max (or min) over j<R of x[o*R+j].
func extremeRuns(x, out []float32, r int, isMax bool) {
	for o := range out {
		row := x[o*r : (o+1)*r]
		m := row[0]
		for _, v := range row[1:] {
			if isMax {
				m = max(m, v)
			} else {
				m = min(m, v)
			}
		}
		out[o] = m
	}
}

// extremeRows: out[o,i] = max (or min) over j<R of x[(o*R+j)*inner+i].
func extremeRows(x, out []float32, r, inner int, isMax bool) {
	for o := range len(out) / inner {
		acc := out[o*inner : (o+1)*inner]
		copy(acc, x[o*r*inner:])
		for j := 1; j < r; j++ {
			row := x[(o*r+j)*inner : (o*r+j+1)*inner]
			if isMax {
				for i, v := range row {
					acc[i] = max(acc[i], v)
				}
			} else {
				for i, v := range row {
					acc[i] = min(acc[i], v)
				}
			}
		}
	}
}

// Plan splits a reduction of a row-major tensor of the given shape over the
// marked axes into passes, the last run of axes first (so every pass reads
// a contiguous [Outer, R, Inner] of the previous result).
func Plan(shape []int, reduced []bool) []Pass {
	var passes []Pass
	cur := append([]int(nil), shape...)
	red := append([]bool(nil), reduced...)
	for end := len(cur); end > 0; {
		if !red[end-1] {
			end--
			continue
		}
		start := end - 1
		for start > 0 && red[start-1] {
			start--
		}
		passes = append(passes, Pass{Outer: prod(cur[:start]), R: prod(cur[start:end]), Inner: prod(cur[end:])})
		cur = append(cur[:start], cur[end:]...)
		red = append(red[:start], red[end:]...)
		end = start
	}
	return passes
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// ArgMax is the first position of the max along the middle axis of
// [Outer, R, Inner], written as a float32 (exact: the IR bounds R by 2^24);
// a NaN is the max, its first position taken, as in NumPy and PyTorch.
type ArgMax struct{ Outer, R, Inner int }

// Run writes out[o*Inner+i], the argmax of x[o, :, i]. With Inner > 1 it
// walks rows of Inner, keeping each lane's max in best and its position in
// out, so it reads x in order.
func (a *ArgMax) Run(x, out, best []float32) {
	r, inner := a.R, a.Inner
	for o := range a.Outer {
		pos, m := out[o*inner:(o+1)*inner], best[:inner]
		copy(m, x[o*r*inner:])
		clear(pos)
		for j := 1; j < r; j++ {
			row := x[(o*r+j)*inner : (o*r+j+1)*inner]
			for i, v := range row {
				if v > m[i] || v != v && m[i] == m[i] {
					m[i], pos[i] = v, float32(j)
				}
			}
		}
	}
}

// ScratchSize is the scratch ArgMax needs: one row's maxima.
func (a *ArgMax) ScratchSize() int { return a.Inner }
