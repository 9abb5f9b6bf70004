package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/runtime/kernels/peak"
)

// Tolerances, as kerneltest.Err measures them (relative to each result's
// magnitude plus the rms). Against the reference's float64 sums (tolRef),
// float32 chains of K ≤ 600 products of standard normals are off by about
// sqrt(K)·2⁻²⁴ of the rms, under 2e-6. An assembly kernel against the generic
// one (tolGeneric): both are that close to the exact sum, FMA chains rounding
// once per term and the generic's twice, so they differ by at most the sum
// of the two.
const (
	tolRef     = 1e-5
	tolGeneric = 1e-5
)

// sizes are the awkward dimensions: around every kernel's MR and NR (the
// AVX-512 tile's 12 and 32 too) and the vector widths, and odd.
var sizes = append(slices.Clone(kerneltest.Sizes), 13, 25, 32, 47, 48, 127)

// product computes op(A)·op(B) with kn, C first filled with garbage that Run
// must overwrite.
func product(kn *Kernel, a, b []float32, m, n, k int, tr [2]bool) []float32 {
	return finished(kn, a, b, m, n, k, tr, Epilogue{})
}

// finished is product with an epilogue.
func finished(kn *Kernel, a, b []float32, m, n, k int, tr [2]bool, epi Epilogue) []float32 {
	lda, ldb := k, n
	if tr[0] {
		lda = m
	}
	if tr[1] {
		ldb = k
	}
	pb := make([]float32, kn.PackedSize(k, n))
	kn.PackB(pb, b, k, n, ldb, tr[1])
	g := NewMatMul(kn, m, n, k, lda, tr[0])
	c := make([]float32, m*n)
	for i := range c {
		c[i] = 1e30
	}
	g.Run(a, pb, c, n, make([]float32, g.ScratchSize()), epi)
	return c
}

// tested is every kernel this process runs, the narrow ones too, generic
// last.
func tested() []*Kernel { return append(slices.Clone(narrow), Kernels()...) }

var transposes = [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}}

func TestMatMulMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// K past maxKC exercises accumulation over several blocks.
	ks := []int{1, 3, 8, 17, 33, 257, 600}
	for _, kn := range tested() {
		for _, m := range kerneltest.Sizes {
			for _, n := range kerneltest.Sizes {
				k := ks[(m+n)%len(ks)]
				for _, tr := range transposes {
					ash, bsh := []int{m, k}, []int{k, n}
					if tr[0] {
						ash = []int{k, m}
					}
					if tr[1] {
						bsh = []int{n, k}
					}
					a, b := kerneltest.Random(r, ash...), kerneltest.Random(r, bsh...)
					want := kerneltest.Ref(t, ir.OpMatMul, &ir.MatMulAttrs{TransA: tr[0], TransB: tr[1]}, a, b)
					got := product(kn, a.Data, b.Data, m, n, k, tr)
					kerneltest.Close(t, got, want, tolRef, "%s %dx%dx%d trans=%v", kn.Set, m, n, k, tr)
				}
			}
		}
	}
}

// Every kernel this machine runs against the generic one, on every
// combination of awkward sizes and transposes (crypto/internal/impl style:
// the test covers whatever the CPU offers).
func TestKernelsMatchGeneric(t *testing.T) {
	if len(tested()) == 1 {
		t.Skip("only the generic kernel runs here")
	}
	r := rand.New(rand.NewPCG(3, 4))
	ks := append(slices.Clone(sizes), 257, 600)
	for _, m := range sizes {
		for _, n := range sizes {
			for _, k := range ks {
				if k > 127 && (m+n)%5 != 0 {
					continue // several K blocks, on a sample of shapes
				}
				for _, tr := range transposes {
					a, b := kerneltest.Random(r, m, k), kerneltest.Random(r, k, n)
					want := product(genericKernel, a.Data, b.Data, m, n, k, tr)
					for _, kn := range tested()[:len(tested())-1] {
						got := product(kn, a.Data, b.Data, m, n, k, tr)
						if e := kerneltest.Err(got, want); e > tolGeneric {
							t.Errorf("%s %dx%dx%d trans=%v: error %.3g against generic > %.3g", kn.Set, m, n, k, tr, e, tolGeneric)
						}
					}
				}
			}
		}
	}
}

// A tile's epilogue is the same bit for bit as the product followed by the
// eltwise add of the bias, the relu (or relu6) and the set's eltwise silu,
// for every kernel: on full and edge tiles, one block of K or several, with
// a bias, a relu or relu6, or both, and with a silu after. Products of mixed signs make the relu clamp about half of C, a
// bias up to ±8 makes relu6 clamp some at 6, and a row of NaNs checks that
// NaN goes through relu as eltwise.Relu lets it (x < 0 ? 0 : x) and through
// relu6 as eltwise.Clip does.
func TestEpilogueMatchesUnfused(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	epis := []struct {
		name                    string
		bias, relu, relu6, silu bool
	}{{"bias", true, false, false, false}, {"relu", false, true, false, false}, {"bias+relu", true, true, false, false},
		{"relu6", false, false, true, false}, {"bias+relu6", true, false, true, false},
		{"silu", false, false, false, true}, {"bias+silu", true, false, false, true}, {"bias+relu6+silu", true, false, true, true}}
	for _, kn := range tested() {
		for _, m := range sizes {
			for _, n := range sizes {
				k := []int{1, 9, 300}[(m+n)%3]
				a, b := kerneltest.Random(r, m, k), kerneltest.Random(r, k, n)
				plain := product(kn, a.Data, b.Data, m, n, k, [2]bool{})
				bias := kerneltest.Random(r, n).Data
				for i := range bias {
					bias[i] *= 8
				}
				if m > 2 {
					// A NaN in A's row 2 makes that row of C NaN.
					a.Data[2*k] = float32(math.NaN())
					plain = product(kn, a.Data, b.Data, m, n, k, [2]bool{})
				}
				for _, e := range epis {
					epi := Epilogue{Relu: e.relu, Relu6: e.relu6, Silu: e.silu}
					if e.bias {
						epi.Bias = bias
					}
					got := finished(kn, a.Data, b.Data, m, n, k, [2]bool{}, epi)
					want := make([]float32, len(plain))
					for i, v := range plain {
						if e.bias {
							v += bias[i%n]
						}
						if (e.relu || e.relu6) && v < 0 {
							v = 0
						}
						if e.relu6 && v > 6 {
							v = 6
						}
						want[i] = v
					}
					if e.silu {
						// The set's eltwise silu: the tiles' silu (flagSilu)
						// gives its bits.
						eltwise.Unary(kn.Set, eltwise.Silu)(want, 0)
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s %s %dx%dx%d: C[%d][%d] = %v, want %v", kn.Set, e.name, m, n, k, i/n, i%n, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// An element of C is the same bit for bit wherever its tile lies: rows
// computed as part of a band starting at row 0, or at row 1, 2, ... (which
// moves them between full tiles and edge tiles), agree exactly. Plans rely
// on it to split rows among threads.
func TestRowsIndependentOfTiling(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m, n, k := 40, 37, 300
	a, b := kerneltest.Random(r, m, k), kerneltest.Random(r, k, n)
	for _, kn := range tested() {
		want := product(kn, a.Data, b.Data, m, n, k, [2]bool{})
		g := NewMatMul(kn, m, n, k, k, false)
		pb := make([]float32, kn.PackedSize(k, n))
		kn.PackB(pb, b.Data, k, n, n, false)
		scratch := make([]float32, g.ScratchSize())
		for start := 1; start < 2*kn.MR; start++ {
			c := make([]float32, m*n)
			for i0 := start; i0 < m; i0 += g.MC {
				g.Rows(a.Data, pb, c, n, i0, min(g.MC, m-i0), scratch, Epilogue{})
			}
			for i := start * n; i < m*n; i++ {
				if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s: bands from row %d: C[%d][%d] = %v, want %v", kn.Set, start, i/n, i%n, c[i], want[i])
				}
			}
		}
	}
}

// Every set cpu.Select can return has its own kernel or declares whose it
// uses, and a CI run with MDLC_REQUIRE fails unless that set was selected.
func TestFamily(t *testing.T) {
	kerneltest.Family(t, kernels, func(kn *Kernel) cpu.Set { return kn.Set })
	for _, s := range cpu.Available() {
		require.Equal(t, For(s), kernels.For(s))
	}
	s, err := cpu.Select()
	require.NoError(t, err)
	kn := For(s)
	t.Logf("the %s set runs the %s kernel, %d×%d tile", s, kn.Set, kn.MR, kn.NR)
}

// Every set Narrow can be asked for gets a kernel of its own set, a foreign
// one packing with its layout where this process cannot run it.
func TestNarrow(t *testing.T) {
	for _, s := range []cpu.Set{cpu.Generic, cpu.AVX2, cpu.NEON} {
		kn := Narrow(s)
		require.Equal(t, s, kn.Set)
		if l, ok := narrowLayouts[s]; ok {
			require.Equal(t, [2]int{l.mr, l.nr}, [2]int{kn.MR, kn.NR}, "%s", s)
		}
	}
}

// ForWidth gives narrow products AVX2's kernel on the avx512 set, and every
// other product the set's own.
func TestForWidth(t *testing.T) {
	for _, s := range cpu.Available() {
		require.Equal(t, For(s), ForWidth(s, 17), "%s", s)
		require.Equal(t, For(s), ForWidth(s, 1000), "%s", s)
		want := For(s)
		if s == cpu.AVX512 {
			want = For(cpu.AVX2)
		}
		require.Equal(t, want, ForWidth(s, 16), "%s", s)
		require.Equal(t, want, ForWidth(s, 1), "%s", s)
	}
	// A plan for an AVX-512 machine built elsewhere packs as it will run.
	require.Equal(t, 16, ForWidth(cpu.AVX512, 10).NR)
	require.Equal(t, 32, ForWidth(cpu.AVX512, 17).NR)
}

func TestMatMulDoesNotAllocate(t *testing.T) {
	m, n, k := 33, 17, 300
	for _, kn := range tested() {
		g := NewMatMul(kn, m, n, k, k, false)
		a, pb, c := make([]float32, m*k), make([]float32, kn.PackedSize(k, n)), make([]float32, m*n)
		scratch := make([]float32, g.ScratchSize())
		epi := Epilogue{Bias: make([]float32, n), Relu: true}
		if allocs := testing.AllocsPerRun(10, func() { g.Run(a, pb, c, n, scratch, epi) }); allocs != 0 {
			t.Errorf("%s: %v allocations per run", kn.Set, allocs)
		}
	}
}

// BenchmarkMatMul reports GFLOP/s of every kernel on one thread, side by
// side, for a large square product and the GEMMs of typical convolutions
// (M output pixels × N output channels × K taps·channels: the seed CNN's two
// layers at 224×224, a ResNet 3×3 and a 1×1), and the share of the core's FMA
// peak (package peak) each reaches. The peak is measured just before each
// run: on a shared or virtual machine it moves (a busy sibling hyperthread
// halves it).
func BenchmarkMatMul(b *testing.B) {
	shapes := []struct {
		name    string
		m, n, k int
	}{
		{"1024x1024x1024", 1024, 1024, 1024},
		{"conv224_1", 49284, 32, 27},
		{"conv224_2", 11881, 64, 288},
		{"resnet3x3", 3136, 64, 576},
		{"resnet1x1", 3136, 256, 64},
	}
	for _, s := range shapes {
		for _, kn := range Kernels() {
			b.Run(fmt.Sprintf("%s/%s", s.name, kn.Set), func(b *testing.B) {
				m, n, k := s.m, s.n, s.k
				g := NewMatMul(kn, m, n, k, k, false)
				// Random operands: memory never written reads as the
				// kernel's one shared zero page, always in cache.
				r := rand.New(rand.NewPCG(1, 2))
				a, bm := kerneltest.Random(r, m, k), kerneltest.Random(r, k, n)
				pb, c := make([]float32, kn.PackedSize(k, n)), make([]float32, m*n)
				kn.PackB(pb, bm.Data, k, n, n, false)
				scratch := make([]float32, g.ScratchSize())
				fma := peak.Measure(1, 3, 100*time.Millisecond)
				stop := kerneltest.CPUTime(b)
				for b.Loop() {
					g.Run(a.Data, pb, c, n, scratch, Epilogue{})
				}
				stop()
				gflops := float64(2*m*n*k) * float64(b.N) / b.Elapsed().Seconds() / 1e9
				b.ReportMetric(gflops, "GFLOP/s")
				b.ReportMetric(fma, "peakGFLOP/s")
				b.ReportMetric(100*gflops/fma, "%peak")
			})
		}
	}
}

// Block's bands leave no sliver where B is large: the last band has at
// least MR rows, unless the product has fewer, or the widest band (maxMC)
// cannot take the rest. A 7×7 layer's 49 rows are one band of AVX-512's,
// not 48 and 1.
func TestBlockHasNoSliverBand(t *testing.T) {
	for _, kn := range append(Kernels(), For(cpu.AVX512), For(cpu.AVX2), For(cpu.NEON)) {
		for _, m := range []int{1, 7, 13, 49, 50, 61, 196, 197, 784, 3136, 12544, 12545} {
			for _, n := range []int{16, 24, 96, 160, 320, 576, 1280} {
				b := kn.Block(m, n, 320)
				require.LessOrEqual(t, b.MC, maxMC, "%s %d×%d", kn.Set, m, n)
				if bands := (m + b.MC - 1) / b.MC; bands > 1 && b.MC < maxMC/kn.MR*kn.MR && 4*320*n > sliverBytes {
					assert.GreaterOrEqual(t, m-(bands-1)*b.MC, kn.MR, "%s %d×%d: bands of %d", kn.Set, m, n, b.MC)
				}
			}
		}
		if kn.MR == 12 {
			assert.GreaterOrEqual(t, kn.Block(49, 1280, 320).MC, 49, "%s: 49 rows in one band", kn.Set)
		}
	}
}
