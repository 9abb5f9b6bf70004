package gemv

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// ks are the awkward sizes of K: around the chunk (8), two chunks (16) and
// Block, and the seed CNN 32×32's last layer (2304).
var ks = []int{1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 127, 2304, Block - 1, Block, Block + 1, 2*Block + 9}

var ns = []int{1, 2, 3, 4, 5, 7, 8, 9, 10, 17}

// bound is the package doc's error bound, relative to Σ|x·w|.
func bound(k int) float64 {
	return float64(min(k, Block)/16+4+(k+Block-1)/Block) * 0x1p-24
}

func run(g *GEMV, x, w []float32, trans bool) []float32 {
	pw := make([]float32, g.PackedSize())
	ldw := g.N
	if trans {
		ldw = g.K
	}
	g.Pack(pw, w, ldw, trans)
	y := make([]float32, g.N)
	g.Run(x, pw, y, make([]float32, g.PartialSize()), make([]float32, g.ScratchSize()))
	return y
}

// Every set against exact float64 dot products, within the documented bound.
func TestMatchesExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range sets.All() {
		worst := 0.0
		for _, kk := range ks {
			for _, n := range ns {
				for _, trans := range []bool{false, true} {
					x, w := kerneltest.Random(r, kk).Data, kerneltest.Random(r, kk*n).Data
					got := run(New(k.set, kk, n), x, w, trans)
					for j := range n {
						var sum, abs float64
						for p := range kk {
							wv := w[p*n+j]
							if trans {
								wv = w[j*kk+p]
							}
							sum += float64(x[p]) * float64(wv)
							abs += math.Abs(float64(x[p]) * float64(wv))
						}
						e := math.Abs(float64(got[j])-sum) / abs
						worst = max(worst, e/bound(kk))
						if e > bound(kk) {
							t.Errorf("%s k=%d n=%d trans=%v: y[%d] = %v, exact %v: error %.3g of Σ|x·w| > %.3g", k.set, kk, n, trans, j, got[j], sum, e, bound(kk))
						}
					}
				}
			}
		}
		t.Logf("%s: worst error %.3f of the bound", k.set, worst)
	}
}

// fmaDot is the kernels' loop with each multiply-add fused, as the assembly
// does it: the float64 FMA rounds twice where the instruction rounds once,
// which changes a result only when the float64 sum lies on a float32
// rounding midpoint (about 2⁻²⁹ of them), never with this test's data.
func fmaDot(r, chunks int, x, w, out []float32) {
	for j := range r {
		var a [2][chunk]float32
		for q := range chunks {
			for l := range chunk {
				a[q%2][l] = float32(math.FMA(float64(x[q*chunk+l]), float64(w[(q*r+j)*chunk+l]), float64(a[q%2][l])))
			}
		}
		out[j] += reduce(&a)
	}
}

// fmaGEMV is y = x·W (W k×n, row-major) in the documented order, with each
// multiply-add fused as the assembly does it: per block, a column's full
// chunks through fmaDot, then its last rows%8, zero-padded, through fmaDot
// alone, each added to the block's sum; the blocks' sums in block order.
func fmaGEMV(x, w []float32, k, n int) []float32 {
	y := make([]float32, n)
	for p0 := 0; p0 < k; p0 += Block {
		rows := min(Block, k-p0)
		full := rows / chunk
		padded := (rows + chunk - 1) / chunk * chunk
		xs, ws := make([]float32, padded), make([]float32, padded)
		copy(xs, x[p0:p0+rows])
		for j := range n {
			for p := range rows {
				ws[p] = w[(p0+p)*n+j]
			}
			part := []float32{0}
			if full > 0 {
				fmaDot(1, full, xs, ws, part)
			}
			if rows > full*chunk {
				fmaDot(1, 1, xs[full*chunk:], ws[full*chunk:], part)
			}
			if p0 == 0 {
				y[j] = part[0]
			} else {
				y[j] += part[0]
			}
		}
	}
	return y
}

// The assembly kernels sum in the documented order, bit for bit, whatever
// their packing and their tails: so the AVX2, AVX-512 and NEON sets agree
// with each other.
func TestAssemblyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, k := range sets.All()[:len(sets.All())-1] {
		for _, kk := range append([]int{23, 24, 25, 40, 41, 47, 48, 4095 - 8}, ks...) {
			for _, n := range ns {
				x, w := kerneltest.Random(r, kk).Data, kerneltest.Random(r, kk*n).Data
				got, want := run(New(k.set, kk, n), x, w, false), fmaGEMV(x, w, kk, n)
				for j := range n {
					require.Equal(t, math.Float32bits(want[j]), math.Float32bits(got[j]), "%s k=%d n=%d: y[%d] = %v, want %v", k.set, kk, n, j, got[j], want[j])
				}
			}
		}
	}
}

// Blocks computed in any order give what Run gives: what lets a plan spread
// them over threads.
func TestBlocksIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	kk, n := 3*Block+5, 10
	x, w := kerneltest.Random(r, kk).Data, kerneltest.Random(r, kk*n).Data
	for _, k := range sets.All() {
		g := New(k.set, kk, n)
		want := run(g, x, w, false)
		pw := make([]float32, g.PackedSize())
		g.Pack(pw, w, n, false)
		partial := make([]float32, g.PartialSize())
		for u := g.Blocks() - 1; u >= 0; u-- {
			g.Partial(x, pw, partial[u*n:], u, make([]float32, g.ScratchSize()))
		}
		got := make([]float32, n)
		g.Sum(partial, got)
		require.Equal(t, want, got, k.set)
	}
}

func TestDoesNotAllocate(t *testing.T) {
	g := New(cpu.Available()[0], 2*Block+3, 10)
	x, pw, y := make([]float32, g.K), make([]float32, g.PackedSize()), make([]float32, g.N)
	partial, scratch := make([]float32, g.PartialSize()), make([]float32, g.ScratchSize())
	require.Zero(t, testing.AllocsPerRun(10, func() { g.Run(x, pw, y, partial, scratch) }))
}

// Every set cpu.Select can return has its own kernels or declares whose it
// runs, and New gives them.
func TestKernelSets(t *testing.T) {
	kerneltest.Family(t, sets, func(k *kernels) cpu.Set { return k.set })
	for _, s := range cpu.Available() {
		require.Equal(t, sets.Runs(s), New(s, 8, 1).Set())
	}
}

// A plan built for a set this process cannot run packs W as that set's
// kernels read it: the foreign kernels pack as the set's own.
func TestForeignPacking(t *testing.T) {
	for s, c := range pairCols {
		require.Equal(t, c, New(s, 8, 1).k.group(), s)
		if sets.Runs(s) != s {
			continue
		}
		r := rand.New(rand.NewPCG(7, 8))
		for _, kk := range []int{5, 24, 2*Block + 9} {
			w := kerneltest.Random(r, kk*17).Data
			own, far := New(s, kk, 17), &GEMV{K: kk, N: 17, k: foreign(s, c)}
			a, b := make([]float32, own.PackedSize()), make([]float32, far.PackedSize())
			own.Pack(a, w, 17, false)
			far.Pack(b, w, 17, false)
			require.Equal(t, a, b, "%s k=%d", s, kk)
		}
		require.Panics(t, func() { foreign(s, c).pairs[0](8, nil, nil, nil) })
	}
}
