package layout

import "math"

// GatherAxis takes slices of x [B, P, A, R] along A at the positions of
// indices [B, I] (ir.GatherAttrs): out [B, P, I, R].
type GatherAxis struct{ B, P, A, I, R int }

// Bad is the position in indices of the first index that is not an integer
// in -A..A-1, or -1 if there is none. Run may only run when there is none.
func (g *GatherAxis) Bad(indices []float32) int {
	for i, v := range indices[:g.B*g.I] {
		if _, ok := index(v, g.A); !ok {
			return i
		}
	}
	return -1
}

// Run copies the slices, rows of R floats.
func (g *GatherAxis) Run(x, indices, out []float32) {
	r := g.R
	o := 0
	for b := range g.B {
		idx := indices[b*g.I : (b+1)*g.I]
		for p := range g.P {
			base := (b*g.P + p) * g.A
			for _, v := range idx {
				i, _ := index(v, g.A)
				copy(out[o:o+r], x[(base+i)*r:(base+i+1)*r])
				o += r
			}
		}
	}
}

// index is ir.GatherIndex, kept here so that kernels do not import the IR:
// the position v names along an axis of size n, or false if v is not an
// integer in -n..n-1.
func index(v float32, n int) (int, bool) {
	f := float64(v)
	if f != math.Trunc(f) || f < float64(-n) || f >= float64(n) {
		return 0, false
	}
	i := int(f)
	if i < 0 {
		i += n
	}
	return i, true
}

// ScatterCols is the widest run of a slice's R floats one unit of
// ScatterAdd handles: wide rows are cut so that a gather with one batch
// and no leading axes (x [S, R], the common case) still has units for
// several threads.
const ScatterCols = 512

// ScatterUnits is the number of units of ScatterAdd: a (b, p) slab of dx
// and a run of at most ScatterCols of its columns.
func (g *GatherAxis) ScatterUnits() int {
	return g.B * g.P * ((g.R + ScatterCols - 1) / ScatterCols)
}

// ScatterAdd computes unit u of gather's gradient (ScatterUnits): dx [B, P,
// A, R] is zero but where the indices read, where each slice of dy [B, P,
// I, R] is added, in the order of the indices, onto the cells it came from:
//
//	for b, p, i: dx[b, p, index(indices[b, i]), :] += dy[b, p, i, :]
//
// Each cell of dx belongs to one unit, which sums into it in index order,
// so the result has the same bits however the units are shared among
// threads. The indices must have passed Bad.
func (g *GatherAxis) ScatterAdd(indices, dy, dx []float32, u int) {
	chunks := (g.R + ScatterCols - 1) / ScatterCols
	bp, c := u/chunks, u%chunks
	lo, hi := c*ScatterCols, min(g.R, (c+1)*ScatterCols)
	base := bp * g.A * g.R
	for a := range g.A {
		clear(dx[base+a*g.R+lo : base+a*g.R+hi])
	}
	b := bp / g.P
	src := bp * g.I * g.R
	for i, v := range indices[b*g.I : (b+1)*g.I] {
		j, _ := index(v, g.A)
		dst := dx[base+j*g.R+lo : base+j*g.R+hi]
		row := dy[src+i*g.R+lo : src+i*g.R+hi]
		for k, d := range row {
			dst[k] += d
		}
	}
}
