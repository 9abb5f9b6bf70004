package conv

import (
	"flag"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// Every transform set this process runs against the generic loops, bit for
// bit (they compute the same float32 operations in the same order), on
// channel counts around the vector widths, with gaps between tiles,
// channels and positions so that a kernel reading or writing past its
// channels shows.
func TestTransformsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	for _, tr := range transformSets.All() {
		for _, n := range append(slices.Clone(kerneltest.Sizes), 127) {
			for _, tiles := range []int{1, 2, 5} {
				for _, relu := range []bool{false, true} {
					// in: columns sx = n+3 apart, rows sy further; tiles vt apart in v.
					sx, sy, vt, vs := n+3, (2*tiles+3)*(n+3)+5, n+2, tiles*(n+2)+1
					d := fill(3*sy + 2*tiles*sx + 2*sx + n)
					want, got := fill(15*vs+tiles*vt), []float32(nil)
					got = slices.Clone(want)
					genericTransforms.in(tiles, n, d, sx, sy, want, vt, vs)
					tr.in(tiles, n, d, sx, sy, got, vt, vs)
					require.Equal(t, want, got, "%s in n=%d tiles=%d", tr.set, n, tiles)

					// out and pool: positions ms apart, tiles n apart in m.
					ms, osx := tiles*n+4, n+1
					osy := (2*tiles+1)*osx + 3
					m, bias := fill(15*ms+tiles*n), fill(n)
					want = fill(osy + 2*tiles*osx + n)
					got = slices.Clone(want)
					genericTransforms.out(tiles, n, m, ms, want, osx, osy, bias, relu)
					tr.out(tiles, n, m, ms, got, osx, osy, bias, relu)
					require.Equal(t, want, got, "%s out n=%d tiles=%d relu=%v", tr.set, n, tiles, relu)

					want = fill(tiles*n + 7)
					got = slices.Clone(want)
					genericTransforms.pool(tiles, n, m, ms, want, bias, relu)
					tr.pool(tiles, n, m, ms, got, bias, relu)
					require.Equal(t, want, got, "%s pool n=%d tiles=%d relu=%v", tr.set, n, tiles, relu)
				}
			}
		}
	}
}

// Every set cpu.Select can return has its own Winograd transforms; a CI
// run with MDLC_REQUIRE=avx2 or neon fails unless convs would use them.
func TestTransformSets(t *testing.T) {
	kerneltest.Family(t, transformSets, func(tr *transforms) cpu.Set { return tr.set })
}

var accuracy = flag.Bool("accuracy", false, "TestWinogradAccuracy: also the full-size shapes")

// winogradTol bounds Winograd's error (kerneltest.Err, against the reference's
// float64) on random normal data; see the package doc for the measurements.
const winogradTol = 4e-6

// TestWinogradAccuracy measures F(2×2, 3×3) and im2col against the reference
// on the shapes of the seed CNNs and a 64-channel 3×3 (-v prints the errors;
// -accuracy adds the full-size ones, which the reference takes seconds over).
func TestWinogradAccuracy(t *testing.T) {
	one := [2]int{1, 1}
	shapes := []struct {
		name string
		n    int
		tc   convCase
		full bool
	}{
		{"cnn32_1", 8, convCase{32, 32, 3, 32, 3, 3, one, one, ir.Valid, [4]int{}, 1}, false},
		{"cnn32_2", 32, convCase{15, 15, 32, 64, 3, 3, one, one, ir.Valid, [4]int{}, 1}, false},
		{"3x3_64", 1, convCase{56, 56, 64, 64, 3, 3, one, one, ir.Same, [4]int{}, 1}, true},
		{"3x3_64 28²", 1, convCase{28, 28, 64, 64, 3, 3, one, one, ir.Same, [4]int{}, 1}, false},
		{"cnn224_2", 1, convCase{111, 111, 32, 64, 3, 3, one, one, ir.Valid, [4]int{}, 1}, true},
		{"cnn224_2 37²", 1, convCase{37, 37, 32, 64, 3, 3, one, one, ir.Valid, [4]int{}, 1}, false},
		{"3x3_256", 1, convCase{14, 14, 256, 256, 3, 3, one, one, ir.Same, [4]int{}, 1}, false},
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, sh := range shapes {
		if sh.full && !*accuracy {
			continue
		}
		tc := sh.tc
		x := kerneltest.Random(r, sh.n, tc.h, tc.w, tc.c)
		k := kerneltest.Random(r, 3, 3, tc.c, tc.co)
		attrs := tc.attrs()
		want := kerneltest.Ref(t, ir.OpConv2D, &attrs, x, k)
		for _, kn := range gemm.Kernels() {
			errs := map[Algorithm]float64{}
			for _, algo := range []Algorithm{Im2col, Winograd} {
				errs[algo] = kerneltest.Err(run(NewWith(algo, kn, tc.shape(sh.n), nil, nil), x, k, nil), want.Data)
			}
			t.Logf("%-13s %-7s im2col %.2e  winograd %.2e", sh.name, kn.Set, errs[Im2col], errs[Winograd])
			if errs[Winograd] > winogradTol {
				t.Errorf("%s %s: Winograd error %.3g > %.3g", sh.name, kn.Set, errs[Winograd], winogradTol)
			}
		}
	}
}
