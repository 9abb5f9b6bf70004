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
