// Package resize resizes the height and width of NHWC images from per-axis
// tables: output row o reads input rows I0[o] and I1[o], blended with weight
// Frac[o] for the second (bilinear), or row I0[o] alone (nearest). The
// coordinate rules (half_pixel, align_corners, asymmetric) live in the
// tables, which a plan computes once (ir.Coordinates), so the kernel is one
// loop for every rule. Bilinear blends along the width, then the height, in
// float32 with weights 1-f and f, as PyTorch's CPU kernel does; nearest copies whole channel runs.
// Generic Go: the decoders that upsample spend their time in convolutions.
package resize

// Axis maps the output indices of one axis to input indices.
type Axis struct {
	I0, I1 []int     // I1 nil for nearest
	Frac   []float32 // weight of I1; nil for nearest
}

// Rule maps an output position to input positions (ir.Coordinates is one;
// kernels do not import the IR).
type Rule interface {
	NearestIndex(o, in, out int) int
	Linear(o, in, out int) (i0, i1 int, frac float64)
}

// NewAxis resolves r into the table of an axis resized from in to out
// positions, built once per plan so a run only reads and blends.
func NewAxis(r Rule, bilinear bool, in, out int) Axis {
	ax := Axis{I0: make([]int, out)}
	if bilinear {
		ax.I1, ax.Frac = make([]int, out), make([]float32, out)
	}
	for o := range out {
		if !bilinear {
			ax.I0[o] = r.NearestIndex(o, in, out)
			continue
		}
		i0, i1, f := r.Linear(o, in, out)
		ax.I0[o], ax.I1[o], ax.Frac[o] = i0, i1, float32(f)
	}
	return ax
}

// Resize is a resize of H×W×C images to len(Rows.I0)×len(Cols.I0).
type Resize struct {
	H, W, C    int
	Rows, Cols Axis
}

// Run resizes n images from x into out.
func (r *Resize) Run(x, out []float32, n int) {
	c, oh, ow := r.C, len(r.Rows.I0), len(r.Cols.I0)
	for b := range n {
		img, dst := x[b*r.H*r.W*c:], out[b*oh*ow*c:]
		for oy := range oh {
			row := dst[oy*ow*c : (oy+1)*ow*c]
			if r.Rows.Frac == nil {
				r.nearestRow(img[r.Rows.I0[oy]*r.W*c:], row)
				continue
			}
			top, bottom := img[r.Rows.I0[oy]*r.W*c:], img[r.Rows.I1[oy]*r.W*c:]
			fy := r.Rows.Frac[oy]
			for ox := range ow {
				x0, x1, fx := r.Cols.I0[ox]*c, r.Cols.I1[ox]*c, r.Cols.Frac[ox]
				o := row[ox*c : (ox+1)*c]
				for ch := range o {
					t := (1-fx)*top[x0+ch] + fx*top[x1+ch]
					bt := (1-fx)*bottom[x0+ch] + fx*bottom[x1+ch]
					o[ch] = (1-fy)*t + fy*bt
				}
			}
		}
	}
}

func (r *Resize) nearestRow(src, row []float32) {
	c := r.C
	for ox, ix := range r.Cols.I0 {
		copy(row[ox*c:(ox+1)*c], src[ix*c:(ix+1)*c])
	}
}
