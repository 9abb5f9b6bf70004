package softmax

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// lengths are the awkward slice lengths the kernel comparisons sweep: empty,
// around the vector widths (4 and 8) and the unrolled loops (16, 32), and
// long.
var lengths = []int{0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 127, 1000}

// expTol bounds the assembly exponential's distance from the generic one:
// its own 1 ulp (TestExp) and the generic one's half ulp.
const expTol = 1.5 * 0x1p-23

// sumTol bounds the relative difference of two float32 sums of n positive
// terms, each term within expTol, added in different orders.
func sumTol(n int) float64 { return expTol + float64(n+1)*0x1p-23 }

type slot struct {
	name string
	data []float32 // the slice the kernel gets, inside a guarded buffer
	buf  []float32
}

const guard = 9

// guarded copies x into a buffer at an odd offset (unaligned vectors) with
// guard values after it.
func guarded(name string, x []float32) *slot {
	buf := make([]float32, 1+len(x)+guard)
	for i := range buf {
		buf[i] = 12345
	}
	copy(buf[1:], x)
	return &slot{name: name, data: buf[1 : 1+len(x)], buf: buf}
}

func (s *slot) check(t *testing.T, what string) {
	t.Helper()
	n := len(s.data)
	if s.buf[0] != 12345 || slices.ContainsFunc(s.buf[1+n:], func(v float32) bool { return v != 12345 }) {
		t.Errorf("%s: wrote outside %s", what, s.name)
	}
}

// within checks got against want elementwise: |got-want| <= rel·|want|.
func within(t *testing.T, got, want []float32, rel float64, what string) {
	t.Helper()
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if !(math.Abs(g-w) <= rel*math.Abs(w)) && !(g == w) {
			t.Errorf("%s: element %d: got %g, want %g", what, i, g, w)
			return
		}
	}
}

// TestKernelsMatchGeneric runs every kernel of every assembly set this
// machine runs against the generic one, on random data at awkward lengths:
// the max, shifts and products agree bit for bit; exponentials within
// expTol, sums within sumTol.
func TestKernelsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	data := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = 5 * float32(r.NormFloat64())
		}
		return x
	}
	for _, k := range sets.All() {
		if k.set == cpu.Generic {
			continue
		}
		for _, n := range lengths {
			what := func(f string) string { return fmt.Sprintf("%s %s n=%d", k.set, f, n) }
			x, y, z := data(n), data(n), data(n)
			m := rowMax(x)
			if m < -1e30 { // empty
				m = 0
			}
			pos := make([]float32, n) // positive sums, as softmax has
			for i := range pos {
				pos[i] = 1 + float32(i%5)
			}

			xs := guarded("x", x)
			if got, want := k.rowMax(xs.data), rowMax(x); got != want {
				t.Errorf("%s = %g, want %g", what("rowMax"), got, want)
			}
			xs.check(t, what("rowMax"))

			out := guarded("out", make([]float32, n))
			wantOut := make([]float32, n)
			got, want := k.expSum(xs.data, out.data, m), expSum(x, wantOut, m)
			within(t, out.data, wantOut, expTol, what("expSum out"))
			within(t, []float32{got}, []float32{want}, sumTol(n), what("expSum sum"))
			out.check(t, what("expSum"))

			got, want = k.sumExp(xs.data, m), sumExp(x, m)
			within(t, []float32{got}, []float32{want}, sumTol(n), what("sumExp"))

			out = guarded("out", make([]float32, n))
			logShift(x, wantOut, m, 0.75)
			k.logShift(xs.data, out.data, m, 0.75)
			within(t, out.data, wantOut, 0, what("logShift"))
			out.check(t, what("logShift"))

			v := guarded("v", y)
			k.scale(v.data, 0.3)
			wantV := slices.Clone(y)
			scale(wantV, 0.3)
			within(t, v.data, wantV, 0, what("scale"))
			v.check(t, what("scale"))

			ms := guarded("m", y)
			k.maxInto(ms.data, xs.data)
			wantM := slices.Clone(y)
			maxInto(wantM, x)
			within(t, ms.data, wantM, 0, what("maxInto"))
			ms.check(t, what("maxInto"))

			out, sum := guarded("out", make([]float32, n)), guarded("sum", pos)
			wantSum := slices.Clone(pos)
			expSumInto(x, wantM, wantOut, wantSum)
			k.expSumInto(xs.data, ms.data, out.data, sum.data)
			within(t, out.data, wantOut, expTol, what("expSumInto out"))
			within(t, sum.data, wantSum, expTol, what("expSumInto sum"))
			out.check(t, what("expSumInto"))
			sum.check(t, what("expSumInto"))

			sum = guarded("sum", pos)
			wantSum = slices.Clone(pos)
			sumExpInto(x, wantM, wantSum)
			k.sumExpInto(xs.data, ms.data, sum.data)
			within(t, sum.data, wantSum, expTol, what("sumExpInto"))
			sum.check(t, what("sumExpInto"))

			out, ls := guarded("out", make([]float32, n)), guarded("ls", z)
			logShiftInto(x, wantM, z, wantOut)
			k.logShiftInto(xs.data, ms.data, ls.data, out.data)
			within(t, out.data, wantOut, 0, what("logShiftInto"))
			out.check(t, what("logShiftInto"))

			v = guarded("v", y)
			k.mulInto(v.data, ls.data)
			wantV = slices.Clone(y)
			mulInto(wantV, z)
			within(t, v.data, wantV, 0, what("mulInto"))
			v.check(t, what("mulInto"))
		}
	}
}

var stride = flag.Uint("stride", 1021, "TestExp sweeps every `n`th float32 (the package doc's figure is for 97)")

// TestExp measures the assembly exponential (expSum with m = 0) against
// float64 over every stride-th float32 from -104 to 89, where it goes from 0 to
// +Inf, and at the edges of the normal range, and checks 1 ulp relative error
// on normal results, 2⁻¹⁴⁹ absolute on subnormal ones, and the specials.
func TestExp(t *testing.T) {
	var x []float32
	for b := uint32(0); b <= math.Float32bits(104); b += uint32(*stride) {
		if f := math.Float32frombits(b); f <= 89 {
			x = append(x, f)
		}
		x = append(x, -math.Float32frombits(b))
	}
	inf := float32(math.Inf(1))
	specials := map[float32]float32{-inf: 0, inf: inf, 0: 1, 88.7229: inf, -104: 0}
	for s := range specials {
		x = append(x, s)
	}
	x = append(x, float32(math.NaN()), 88.72283, 88.722835, -87.33654, -87.33655, -103.97208)
	for _, k := range sets.All() {
		if k.set == cpu.Generic {
			continue
		}
		got := make([]float32, len(x))
		k.expSum(x, got, 0)
		var maxRel, ulps float64
		for i, xi := range x {
			g, e := float64(got[i]), math.Exp(float64(xi))
			if w, ok := specials[xi]; ok {
				if got[i] != w {
					t.Errorf("%s exp(%g) = %g, want %g", k.set, xi, g, w)
				}
				continue
			}
			switch {
			case math.IsNaN(float64(xi)):
				if !math.IsNaN(g) {
					t.Errorf("%s exp(NaN) = %g", k.set, g)
				}
			case math.IsInf(g, 1) || got[i] == math.MaxFloat32:
				// 1 ulp at the top: Inf for values that round to MaxFloat32,
				// or MaxFloat32 for ones that round to Inf.
				if e < math.MaxFloat32*(1-0x1p-24) {
					t.Errorf("%s exp(%g) = %g, want %g", k.set, xi, g, e)
				}
			case e < 0x1p-126:
				if math.Abs(g-e) > 0x1p-149 {
					t.Errorf("%s exp(%g) = %g, want %g (subnormal)", k.set, xi, g, e)
				}
			default:
				rel := math.Abs(g-e) / e
				maxRel = max(maxRel, rel)
				_, exp := math.Frexp(e)
				ulps = max(ulps, math.Abs(g-e)/math.Ldexp(1, exp-24))
			}
		}
		if ulps > 1 {
			t.Errorf("%s exp: %.2f ulp", k.set, ulps)
		}
		t.Logf("%s exp, %d points: max relative error %.3g (%.2f ulp)", k.set, len(x), maxRel, ulps)
	}
}
