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

// ScatterCols and ScatterCells cut gather's gradient into units: a run of
// at most ScatterCols of a slice's R floats, over rows of dx (positions
// along the gathered axis) holding about ScatterCells floats, so that a
// gather with one batch and no leading axes (x [S, R], the common case)
// still has units for several threads, and a unit's rows stay in cache.
const (
	ScatterCols  = 512
	ScatterCells = 1 << 16
)

// scatterSplit is how ScatterAdd cuts a (b, p) slab: into column runs of
// cols floats and row ranges of rows.
func (g *GatherAxis) scatterSplit() (cols, colChunks, rows, rowChunks int) {
	cols = min(g.R, ScatterCols)
	rows = max(1, ScatterCells/max(cols, 1))
	return cols, (g.R + cols - 1) / max(cols, 1), rows, (g.A + rows - 1) / rows
}

// ScatterUnits is the number of units of ScatterAdd: a (b, p) slab of dx,
// a range of its rows and a run of its columns.
func (g *GatherAxis) ScatterUnits() int {
	if g.R == 0 || g.A == 0 {
		return 0
	}
	_, colChunks, _, rowChunks := g.scatterSplit()
	return g.B * g.P * rowChunks * colChunks
}

// ScatterAdd computes unit u of gather's gradient (ScatterUnits): dx [B, P,
// A, R] is zero but where the indices read, where each slice of dy [B, P,
// I, R] is added, in the order of the indices, onto the cells it came from:
//
//	for b, p, i: dx[b, p, index(indices[b, i]), :] += dy[b, p, i, :]
//
// Each cell of dx belongs to one unit, which sums into it in index order
// (a unit reads every index of its batch and keeps those in its rows), so
// the result has the same bits however the units are shared among threads.
// The indices must have passed Bad.
func (g *GatherAxis) ScatterAdd(indices, dy, dx []float32, u int) {
	cols, colChunks, rows, rowChunks := g.scatterSplit()
	c := u % colChunks
	rc := u / colChunks % rowChunks
	bp := u / colChunks / rowChunks
	lo, hi := c*cols, min(g.R, (c+1)*cols)
	first, last := rc*rows, min(g.A, (rc+1)*rows)
	base := bp * g.A * g.R
	for a := first; a < last; a++ {
		clear(dx[base+a*g.R+lo : base+a*g.R+hi])
	}
	b := bp / g.P
	src := bp * g.I * g.R
	for i, v := range indices[b*g.I : (b+1)*g.I] {
		j, _ := index(v, g.A)
		if j < first || j >= last {
			continue
		}
		dst := dx[base+j*g.R+lo : base+j*g.R+hi]
		row := dy[src+i*g.R+lo : src+i*g.R+hi]
		for k, d := range row {
			dst[k] += d
		}
	}
}
