package pool

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/tensor"
)

// Max pooling is exact; averages and global averages sum in float32, against
// the reference's float64.
const (
	exact  = 0
	avgTol = 1e-6
)

// channels are the awkward channel counts: around the vector widths (4, 8)
// and the kernels' pass of 4 vectors (16 or 32 floats).
var channels = []int{1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 127}

var windows = []ir.Window2D{
	{Size: [2]int{2, 2}, Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}, Padding: ir.Valid},
	{Size: [2]int{3, 3}, Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}, Padding: ir.Same},
	{Size: [2]int{3, 3}, Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}, Padding: ir.Same},
	{Size: [2]int{3, 2}, Stride: [2]int{2, 3}, Dilation: [2]int{2, 1}, Padding: ir.Same},
	{Size: [2]int{2, 3}, Stride: [2]int{1, 1}, Dilation: [2]int{1, 2}, Padding: ir.Same},
	{Size: [2]int{1, 1}, Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}, Padding: ir.Valid},
	// Uneven explicit pads, as wide as the IR allows: windows that hold one
	// row or column of the image.
	{Size: [2]int{3, 3}, Stride: [2]int{1, 2}, Dilation: [2]int{1, 1}, Padding: ir.Explicit, Pads: [4]int{2, 0, 1, 2}},
	// A window wider than the image: no interior columns.
	{Size: [2]int{2, 5}, Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}, Padding: ir.Explicit, Pads: [4]int{1, 1, 3, 3}},
}

func newWindow(set cpu.Set, w ir.Window2D, h, wd, c int) Window {
	kh, kw := w.Size[0], w.Size[1]
	return NewWindow(set, h, wd, c, kh, kw, w.Stride, w.Dilation, w.PadsFor(h, wd, kh, kw))
}

// The generic kernels against the reference runtime.
func TestPoolMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range kerneltest.Sizes {
		for wi, w := range windows {
			h, wd, c := s+3, max(s/2, 2)+1, s%5+1
			x := kerneltest.Random(r, 2, h, wd, c)
			p := newWindow(cpu.Generic, w, h, wd, c)
			for _, tc := range []struct {
				op       ir.Op
				countPad bool
			}{{ir.OpMaxPool2D, false}, {ir.OpAvgPool2D, false}, {ir.OpAvgPool2D, true}} {
				want := kerneltest.Ref(t, tc.op, &ir.PoolAttrs{Window2D: w, CountPad: tc.countPad}, x)
				got := make([]float32, len(want.Data))
				tol := float64(exact)
				p.CountPad = tc.countPad
				if tc.op == ir.OpMaxPool2D {
					p.Max(x.Data, got, 2)
				} else {
					p.Avg(x.Data, got, 2)
					tol = avgTol
				}
				kerneltest.Close(t, got, want, tol, "%s count_pad=%t window %d on %v", tc.op, tc.countPad, wi, x.Shape)
			}
		}
	}
}

// same reports whether got and want are equal bit for bit, any NaN matching
// any NaN.
func same(got, want []float32) int {
	for i, w := range want {
		g := got[i]
		if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
			return i
		}
	}
	return -1
}

// Every set against the generic one, bit for bit: they combine the cells in
// the same order (random normal data has no zeros or NaN, where AVX2's max
// may differ).
func TestSetsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, k := range sets.All()[:len(sets.All())-1] {
		for _, c := range channels {
			for wi, w := range windows {
				h, wd := 5+c%4, 6+c%5
				x := kerneltest.Random(r, 2, h, wd, c)
				g, p := newWindow(cpu.Generic, w, h, wd, c), newWindow(k.set, w, h, wd, c)
				require.Equal(t, k.set, p.k.set)
				n := 2 * p.OH * p.OW * c
				want, got := make([]float32, n), make([]float32, n)
				g.Max(x.Data, want, 2)
				p.Max(x.Data, got, 2)
				if i := same(got, want); i >= 0 {
					t.Errorf("%s max, %d channels, window %d: [%d] = %v, generic %v", k.set, c, wi, i, got[i], want[i])
				}
				for _, countPad := range []bool{false, true} {
					g.CountPad, p.CountPad = countPad, countPad
					g.Avg(x.Data, want, 2)
					p.Avg(x.Data, got, 2)
					if i := same(got, want); i >= 0 {
						t.Errorf("%s avg count_pad=%t, %d channels, window %d: [%d] = %v, generic %v", k.set, countPad, c, wi, i, got[i], want[i])
					}
				}
			}
			for _, hw := range []int{1, 7, 64, 65, 200} {
				x := kerneltest.Random(r, 2*hw*c)
				g, p := NewGlobal(cpu.Generic, 2, hw, c), NewGlobal(k.set, 2, hw, c)
				want, got := make([]float32, 2*c), make([]float32, 2*c)
				g.Avg(x.Data, want, make([]float32, c))
				p.Avg(x.Data, got, make([]float32, c))
				if i := same(got, want); i >= 0 {
					t.Errorf("%s global avg, %d channels, %d positions: [%d] = %v, generic %v", k.set, c, hw, i, got[i], want[i])
				}
			}
		}
	}
}

// The kernels write only the cells they are given: a guard around the
// output stays untouched, whatever the channel count's tail.
func TestKernelsStayInBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const guard = 16
	for _, k := range sets.All() {
		for _, c := range channels {
			taps := []int{0, 4 * c, 4 * 3 * c}
			x := kerneltest.Random(r, 3*4*c).Data
			buf := make([]float32, 3*c+2*guard)
			for i := range buf {
				buf[i] = 42
			}
			k.maxCells(buf[guard:guard+3*c], x, taps, 3, c, 3*c)
			k.avgCells(buf[guard:guard+3*c], x, taps, 3, c, 3*c, 3)
			k.addRows(buf[guard:guard+c], x, 4, c)
			for i, v := range buf {
				if (i < guard || i >= guard+3*c) && v != 42 {
					t.Fatalf("%s, %d channels: wrote element %d outside the output", k.set, c, i-guard)
				}
			}
		}
	}
}

// The AVX2 and NEON max agree with Go's on NaN in the last cell of a window
// and on -0 against a positive value (the cases the package doc leaves
// aside are equal zeros and a NaN before the last cell).
func TestMaxSpecialValues(t *testing.T) {
	nan := float32(math.NaN())
	for _, k := range sets.All() {
		x := []float32{1, -2, -0.0, 3, nan, 5, 0.5, 7}
		out := make([]float32, 1)
		// One channel, cells one float apart: windows of 2 taps.
		k.maxCells(out, x, []int{0, 4}, 1, 1, 1)
		require.Equal(t, float32(1), out[0], k.set)
		k.maxCells(out, x[2:], []int{0, 4}, 1, 1, 1)
		require.Equal(t, float32(3), out[0], k.set)
		k.maxCells(out, x[3:], []int{0, 4}, 1, 1, 1)
		require.True(t, out[0] != out[0], "%s: max(3, NaN) = %v", k.set, out[0])
	}
}

// MaxRows over bands of input rows gives what Max gives over the image.
func TestMaxRowsInBands(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, k := range sets.All() {
		for wi, w := range windows {
			h, wd, c := 17, 9, 3
			x := kerneltest.Random(r, 1, h, wd, c)
			p := newWindow(k.set, w, h, wd, c)
			want := tensor.New(1, p.OH, p.OW, c)
			p.Max(x.Data, want.Data, 1)
			for _, band := range []int{1, 2, 3} {
				got := make([]float32, len(want.Data))
				for oy := 0; oy < p.OH; oy += band {
					lo, hi := p.InputRows(oy, min(oy+band, p.OH))
					p.MaxRows(x.Data[lo*wd*c:hi*wd*c], lo, got, oy, min(oy+band, p.OH))
				}
				kerneltest.Close(t, got, want, exact, "%s window %d, bands of %d rows", k.set, wi, band)
			}
		}
	}
}

func TestGlobalAvgMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, set := range cpu.Available() {
		for _, s := range kerneltest.Sizes {
			x := kerneltest.Random(r, 2, s, s+4, s%7+1)
			want := kerneltest.Ref(t, ir.OpGlobalAvgPool2D, nil, x)
			got := make([]float32, len(want.Data))
			c := x.Shape[3]
			g := NewGlobal(set, 2, s*(s+4), c)
			g.Avg(x.Data, got, make([]float32, g.ScratchSize()))
			kerneltest.Close(t, got, want, avgTol, "%s global average of %v", set, x.Shape)
		}
	}
}

func TestDoesNotAllocate(t *testing.T) {
	x := make([]float32, 2*16*16*32)
	p := NewWindow(cpu.Available()[0], 16, 16, 32, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [4]int{1, 1, 1, 1})
	out := make([]float32, 2*p.OH*p.OW*32)
	g := NewGlobal(cpu.Available()[0], 2, 256, 32)
	scratch := make([]float32, g.ScratchSize())
	require.Zero(t, testing.AllocsPerRun(10, func() {
		p.Max(x, out, 2)
		p.Avg(x, out, 2)
		g.Avg(x, out, scratch)
	}))
}

// Every set cpu.Select can return has its own kernels; MDLC_REQUIRE holds.
func TestKernelSets(t *testing.T) {
	kerneltest.Family(t, sets, func(k *kernels) cpu.Set { return k.set })
}

func Example() {
	// A 2×2 max pool over one 2×4 single-channel image.
	p := NewWindow(cpu.Generic, 2, 4, 1, 2, 2, [2]int{2, 2}, [2]int{1, 1}, [4]int{})
	out := make([]float32, p.OH*p.OW)
	p.Max([]float32{1, 5, 2, 0, 3, 4, 7, 6}, out, 1)
	fmt.Println(out)
	// Output: [5 7]
}

// TestMaxGrad2x2MatchesGeneric: every set's max pool gradient against the
// generic loop, bit for bit, over channel counts with every tail, with ties
// (values from a small set), signed zeros, NaNs and infinities in x and dy,
// and a guard after the last window's cells in dx that stays untouched.
func TestMaxGrad2x2MatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	specials := []float32{-1, 0, float32(math.Copysign(0, -1)), 1, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	pick := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = r.Float32() - 0.5
			if r.IntN(2) == 0 {
				v[i] = specials[r.IntN(len(specials))]
			}
		}
		return v
	}
	for _, k := range sets.All()[:len(sets.All())-1] {
		for _, c := range []int{1, 3, 4, 5, 8, 15, 16, 17, 32, 33, 64, 70} {
			windows := 3
			row := (2*windows + 1) * c // a row one cell longer than the windows
			x, dy := pick(2*row), pick(windows*c)
			want, got := make([]float32, 2*row+8), make([]float32, 2*row+8)
			for i := range got {
				got[i], want[i] = 7, 7
			}
			maxGrad2x2Generic(x, dy, want, windows, c, row)
			k.maxGrad(x, dy, got, windows, c, row)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s, %d channels: dx[%d] = %v, generic %v", k.set, c, i, got[i], want[i])
				}
			}
		}
	}
}
