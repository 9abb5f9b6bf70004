package backward

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

func TestFilterFamily(t *testing.T) {
	kerneltest.Family(t, filterSets, func(k *filterKernel) cpu.Set { return k.set })
}

// TestFilterTaps: every kernel of every set this machine runs, each block
// of taps by each width of channels it takes (every lane count of the last
// vector, or whole vectors for a set that takes only those), against filterTapsGeneric, on a grid with strides and gaps
// between rows, into sums that do not start at zero; the floats around
// acc's rows stay as they were.
func TestFilterTaps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = r.Float32()*2 - 1
		}
		return v
	}
	const cells, rows, stride, xrows, dystride, dyrows = 5, 3, 3, 19, 70, 400
	for _, k := range filterSets.All() {
		for vi, row := range k.taps {
			for tb := 1; tb <= len(row); tb++ {
				first := vi*k.lanes + 1
				if k.whole {
					first = (vi + 1) * k.lanes
				}
				for c := first; c <= (vi+1)*k.lanes; c++ {
					ld := c + 3
					taps := make([]int, tb)
					for i := range taps {
						taps[i] = 4 * r.IntN(20)
					}
					x, dy := fill(rows*xrows+cells*stride+20), fill(rows*dyrows)
					want := fill(tb*ld + 2)
					got := slices.Clone(want)
					filterTapsGeneric(want, ld, x, dy, taps, c, cells, rows, stride, xrows, dystride, dyrows)
					row[tb-1](got, ld, x, dy, taps, c, cells, rows, stride, xrows, dystride, dyrows)
					if e := kerneltest.Err(got, want); e > 1e-5 {
						t.Errorf("%s, %d taps, %d channels: error %.3g", k.set, tb, c, e)
					}
					for i := range want {
						if i%ld >= c && got[i] != want[i] {
							t.Fatalf("%s, %d taps, %d channels: acc[%d] (not a channel's) changed", k.set, tb, c, i)
						}
					}
				}
			}
		}
	}
}

// TestDirectFilter: ConvGrad's direct filter gradient, with every set this
// machine runs, against the sum over pixels in float64, over padding,
// strides, dilation, 1 to 4 input channels and output channels that fill
// no whole vector or several panels; the units run in reverse order give
// the same bits (no unit depends on another's order).
func TestDirectFilter(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []Conv{
		{N: 5, H: 28, W: 28, C: 1, KH: 5, KW: 5, CO: 6, Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}, Pads: [4]int{2, 2, 2, 2}},
		{N: 3, H: 12, W: 10, C: 3, KH: 3, KW: 3, CO: 32, Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}},
		{N: 4, H: 11, W: 9, C: 2, KH: 3, KW: 2, CO: 70, Stride: [2]int{2, 1}, Dilation: [2]int{1, 2}, Pads: [4]int{1, 0, 0, 3}},
		{N: 2, H: 7, W: 8, C: 4, KH: 1, KW: 3, CO: 17, Stride: [2]int{1, 3}, Dilation: [2]int{1, 1}, Pads: [4]int{0, 1, 2, 1}},
	} {
		c.Groups = 1
		c.OH = (c.H+c.Pads[0]+c.Pads[1]-(c.KH-1)*c.Dilation[0]-1)/c.Stride[0] + 1
		c.OW = (c.W+c.Pads[2]+c.Pads[3]-(c.KW-1)*c.Dilation[1]-1)/c.Stride[1] + 1
		x := make([]float32, c.N*c.H*c.W*c.C)
		dy := make([]float32, c.N*c.OH*c.OW*c.CO)
		for i := range x {
			x[i] = r.Float32()*2 - 1
		}
		for i := range dy {
			dy[i] = r.Float32()*2 - 1
		}
		want := make([]float32, c.KH*c.KW*c.C*c.CO)
		for ky := range c.KH {
			for kx := range c.KW {
				for ci := range c.C {
					for o := range c.CO {
						var s float64
						for b := range c.N {
							for oy := range c.OH {
								for ox := range c.OW {
									iy, ix := oy*c.Stride[0]+ky*c.Dilation[0]-c.Pads[0], ox*c.Stride[1]+kx*c.Dilation[1]-c.Pads[2]
									if uint(iy) < uint(c.H) && uint(ix) < uint(c.W) {
										s += float64(x[((b*c.H+iy)*c.W+ix)*c.C+ci]) * float64(dy[((b*c.OH+oy)*c.OW+ox)*c.CO+o])
									}
								}
							}
						}
						want[((ky*c.KW+kx)*c.C+ci)*c.CO+o] = float32(s)
					}
				}
			}
		}
		for _, set := range cpu.Available() {
			what := fmt.Sprintf("%s %+v", set, c)
			g := NewConvGrad(set, c)
			if g.direct == nil {
				t.Fatalf("%s: not the direct filter gradient", what)
			}
			run := func(reverse bool) []float32 {
				dk, partial := make([]float32, len(want)), make([]float32, g.PartialSize())
				for i := range dk {
					dk[i] = float32(math.NaN())
				}
				scratch := make([]float32, g.ScratchSize())
				for p := range 2 {
					for i := range g.FilterUnits() {
						u := i
						if reverse {
							u = g.FilterUnits() - 1 - i
						}
						g.GradFilter(x, dy, dk, partial, scratch, p, u)
					}
				}
				return dk
			}
			got := run(false)
			if e := kerneltest.Err(got, want); e > 1e-5 {
				t.Errorf("%s: error %.3g", what, e)
			}
			if !slices.Equal(run(true), got) {
				t.Errorf("%s: units in reverse order give other bits", what)
			}
		}
	}
}
