package norm

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

// widths are the awkward row lengths: around the vector widths (4, 8) and
// the kernels' steps of 4 vectors (16, 32 floats), a Transformer's, and
// long rows with every tail.
var widths = []int{1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 36, 63, 64, 65, 100, 127, 128, 255, 256, 257, 384, 768, 1000, 1023, 1024, 1031, 2048, 4099}

// reference is Run in float64 throughout.
func reference(n Norm, x, gamma, beta []float32) []float64 {
	out := make([]float64, len(x))
	for r := range n.Rows {
		row := x[r*n.C : (r+1)*n.C]
		var mean, sq float64
		for _, v := range row {
			mean += float64(v)
		}
		mean /= float64(n.C)
		if n.RMS {
			mean = 0
		}
		for _, v := range row {
			sq += (float64(v) - mean) * (float64(v) - mean)
		}
		inv := 1 / math.Sqrt(sq/float64(n.C)+float64(n.Epsilon))
		for j, v := range row {
			y := (float64(v) - mean) * inv * float64(gamma[j])
			if !n.RMS {
				y += float64(beta[j])
			}
			out[r*n.C+j] = y
		}
	}
	return out
}

// rowKinds are the rows each test normalises, one of each per tensor: the
// ones float32 statistics get wrong when summed naively.
var rowKinds = []struct {
	name string
	v    func(r *rand.Rand, j int) float32
}{
	{"normal", func(r *rand.Rand, _ int) float32 { return float32(r.NormFloat64()) }},
	{"1000+noise/100", func(r *rand.Rand, _ int) float32 { return 1000 + float32(r.NormFloat64())/100 }},
	// The spread below the offset's ulp (2⁻⁹): the noise is quantised.
	{"30000+noise/100", func(r *rand.Rand, _ int) float32 { return 30000 + float32(r.NormFloat64())/100 }},
	{"-1000+noise", func(r *rand.Rand, _ int) float32 { return -1000 + float32(r.NormFloat64()) }},
	// The first value, which the assembly's first pass subtracts, far out.
	{"outlier first", func(r *rand.Rand, j int) float32 {
		if j == 0 {
			return 50
		}
		return float32(r.NormFloat64())
	}},
	{"wide", func(r *rand.Rand, _ int) float32 { return float32(1e3 * r.NormFloat64()) }},
	{"constant", func(*rand.Rand, int) float32 { return 7 }},
}

// operands is one row of each kind, then gamma and beta.
func operands(r *rand.Rand, c int) (x, gamma, beta []float32) {
	x = make([]float32, len(rowKinds)*c)
	for k, kind := range rowKinds {
		for j := range c {
			x[k*c+j] = kind.v(r, j)
		}
	}
	gamma, beta = make([]float32, c), make([]float32, c)
	for j := range gamma {
		gamma[j], beta[j] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	return x, gamma, beta
}

// lanesTerms is n of the package doc: the most roundings a term of a
// float32 sum over a row of c takes part in, the final reduction's included.
func lanesTerms(c int) float64 { return float64(c)/16 + 10 }

// bound is the package doc's bound on an output's error, in units of 2⁻²⁴
// of its scale (errScale): a few roundings for the generic kernel.
func bound(set cpu.Set, c int, rms bool) float64 {
	switch {
	case set == cpu.Generic:
		return 6
	case rms:
		return lanesTerms(c)/2 + 4
	}
	return lanesTerms(c) + 8
}

// errScale is what an output's error is measured against: the result
// itself for RMS; for layer normalisation |gamma|·(1+|z|) + |beta|, z the
// normalised value, so that the mean's error, which is in units of the
// spread, counts as the same for every z.
func errScale(rms bool, want float64, gamma, beta float32) float64 {
	if rms {
		return math.Abs(want)
	}
	g := math.Abs(float64(gamma))
	return g*(1+math.Abs((want-float64(beta))/float64(gamma))) + math.Abs(float64(beta))
}

// worst is the largest error of got against want, in units of 2⁻²⁴ of the
// error scale, and where it is.
func worst(n Norm, got []float32, want []float64, gamma, beta []float32) (e float64, at int) {
	for i, w := range want {
		j := i % n.C
		d := math.Abs(float64(got[i]) - w)
		if d == 0 {
			continue
		}
		if e1 := d / errScale(n.RMS, w, gamma[j], beta[j]) * 0x1p24; !(e1 <= e) {
			e, at = e1, i
		}
	}
	return e, at
}

// TestSetsMatchReference holds every set this machine runs, the generic one
// included, to the package doc's bounds against float64, on every row kind
// and width, and logs the worst error seen.
func TestSetsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, k := range sets.All() {
		for _, rms := range []bool{false, true} {
			seen := 0.0
			for _, c := range widths {
				x, gamma, beta := operands(r, c)
				n := New(k.set, len(rowKinds), c, 1e-5, rms)
				require.Equal(t, k.set, n.k.set)
				want := reference(n, x, gamma, beta)
				got := make([]float32, len(x))
				n.Run(x, gamma, beta, got)
				e, at := worst(n, got, want, gamma, beta)
				if b := bound(k.set, c, rms); e > b {
					t.Errorf("%s rms=%t C=%d, %s row, element %d: got %v, want %v: error %.1f·2⁻²⁴ > %.1f·2⁻²⁴",
						k.set, rms, c, rowKinds[at/c].name, at%c, got[at], want[at], e, b)
				}
				seen = max(seen, e)
			}
			t.Logf("%s rms=%t: worst error %.2f·2⁻²⁴ of the scale", k.set, rms, seen)
		}
	}
}

// TestSetsMatchGeneric compares every assembly set with the generic kernel,
// within both kernels' bounds of the reference.
func TestSetsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, k := range sets.All()[:len(sets.All())-1] {
		for _, rms := range []bool{false, true} {
			for _, c := range widths {
				x, gamma, beta := operands(r, c)
				g, n := New(cpu.Generic, len(rowKinds), c, 1e-5, rms), New(k.set, len(rowKinds), c, 1e-5, rms)
				want, got := make([]float32, len(x)), make([]float32, len(x))
				g.Run(x, gamma, beta, want)
				n.Run(x, gamma, beta, got)
				w := make([]float64, len(want))
				for i, v := range want {
					w[i] = float64(v)
				}
				e, at := worst(n, got, w, gamma, beta)
				if b := bound(k.set, c, rms) + bound(cpu.Generic, c, rms); e > b {
					t.Errorf("%s rms=%t C=%d, %s row, element %d: got %v, generic %v: error %.1f·2⁻²⁴ > %.1f·2⁻²⁴",
						k.set, rms, c, rowKinds[at/c].name, at%c, got[at], want[at], e, b)
				}
			}
		}
	}
}

// The plan's semantics: every set against the reference runtime, on the
// shapes a Transformer has ([T, N, C], normalised over C).
func TestMatchesRuntimeRef(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, set := range cpu.Available() {
		for _, s := range kerneltest.Sizes {
			x := kerneltest.Random(r, 2, s, 3*s+1)
			c := x.Shape[2]
			gamma, beta := kerneltest.Random(r, c), kerneltest.Random(r, c)
			for _, op := range []ir.Op{ir.OpLayerNorm, ir.OpRMSNorm} {
				in := []*tensor.Tensor{x, gamma, beta}
				if op == ir.OpRMSNorm {
					in = in[:2]
				}
				want := kerneltest.Ref(t, op, &ir.NormAttrs{Epsilon: 1e-5}, in...)
				got := make([]float32, len(want.Data))
				New(set, 2*s, c, 1e-5, op == ir.OpRMSNorm).Run(x.Data, gamma.Data, beta.Data, got)
				kerneltest.Close(t, got, want, 1e-6, "%s %s of %v", set, op, x.Shape)
			}
		}
	}
}

// Every set normalises in place as it does out of place, and writes nothing
// outside the output, on unaligned rows.
func TestInPlaceAndInBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const guard = 9
	for _, k := range sets.All() {
		for _, rms := range []bool{false, true} {
			for _, c := range widths {
				x, gamma, beta := operands(r, c)
				n := New(k.set, len(rowKinds), c, 1e-5, rms)
				buf := make([]float32, 1+len(x)+guard)
				for i := range buf {
					buf[i] = 42
				}
				out := buf[1 : 1+len(x)]
				n.Run(x, gamma, beta, out)
				for i, v := range buf {
					if (i < 1 || i >= 1+len(x)) && v != 42 {
						t.Fatalf("%s rms=%t C=%d: wrote element %d outside the output", k.set, rms, c, i-1)
					}
				}
				copy(buf[1:], x)
				n.Run(out, gamma, beta, out)
				want := make([]float32, len(x))
				n.Run(x, gamma, beta, want)
				require.Equal(t, want, out, "%s rms=%t C=%d in place", k.set, rms, c)
			}
		}
	}
}

// A NaN makes its row NaN, and only its row, in every set.
func TestNaN(t *testing.T) {
	const c = 37
	for _, k := range sets.All() {
		for _, rms := range []bool{false, true} {
			for _, j := range []int{0, 20, c - 1} {
				x, gamma, beta := operands(rand.New(rand.NewPCG(1, 2)), c)
				x[c+j] = float32(math.NaN())
				out := make([]float32, len(x))
				New(k.set, len(rowKinds), c, 1e-5, rms).Run(x, gamma, beta, out)
				for i, v := range out {
					require.Equal(t, i/c == 1, v != v, "%s rms=%t, NaN at %d: out[%d] = %v", k.set, rms, j, i, v)
				}
			}
		}
	}
}

func TestDoesNotAllocate(t *testing.T) {
	x, gamma, beta := operands(rand.New(rand.NewPCG(1, 2)), 256)
	out := make([]float32, len(x))
	for _, k := range sets.All() {
		layer, rms := New(k.set, len(rowKinds), 256, 1e-5, false), New(k.set, len(rowKinds), 256, 1e-5, true)
		require.Zero(t, testing.AllocsPerRun(10, func() {
			layer.Run(x, gamma, beta, out)
			rms.Run(x, gamma, beta, out)
		}), k.set)
	}
}

// Every set cpu.Select can return has its own kernels; MDLC_REQUIRE holds.
func TestKernelSets(t *testing.T) {
	kerneltest.Family(t, sets, func(k *kernels) cpu.Set { return k.set })
}

func Example() {
	// Layer normalisation of one row of 4 with unit gamma and zero beta.
	n := New(cpu.Generic, 1, 4, 0, false)
	out := make([]float32, 4)
	n.Run([]float32{1, 2, 3, 4}, []float32{1, 1, 1, 1}, make([]float32, 4), out)
	fmt.Printf("%.4f\n", out)
	// Output: [-1.3416 -0.4472 0.4472 1.3416]
}
