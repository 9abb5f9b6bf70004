package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// withoutPairs is kn with its edges computed one panel a tile, as before the
// set had pair tiles, or nil if kn has none.
func withoutPairs(kn *Kernel) *Kernel {
	if len(kn.pairs) == 0 {
		return nil
	}
	single := *kn
	single.pairs = nil
	return &single
}

// The pair tiles compute what the masked tiles of one panel do, bit for
// bit: every row count they take, widths around one and two panels and
// past, one block of K and several (p0 > 0, added to C), with and without
// a bias and a relu, a bias and silu.
func TestPairTilesMatchSingle(t *testing.T) {
	ran := false
	for _, kn := range Kernels() {
		single := withoutPairs(kn)
		if single == nil {
			continue
		}
		ran = true
		r := rand.New(rand.NewPCG(11, 12))
		nr := kn.NR
		for rows := 1; rows <= len(kn.pairs); rows++ {
			for _, n := range []int{1, nr - 1, nr, nr + 1, 2*nr - 1, 2 * nr, 2*nr + 1, 3*nr + 5, 4 * nr, 5*nr - 3} {
				for _, k := range []int{1, 7, 300} {
					g := NewMatMul(kn, rows, n, k, k, false)
					a, b := kerneltest.Random(r, rows, k), kerneltest.Random(r, k, n)
					pb := make([]float32, kn.PackedSize(k, n))
					kn.PackB(pb, b.Data, k, n, n, false)
					bias := kerneltest.Random(r, n).Data
					for _, epi := range []Epilogue{{}, {Bias: bias}, {Bias: bias, Relu: true}, {Bias: bias, Silu: true}} {
						var got [2][]float32
						for i, kk := range []*Kernel{kn, single} {
							c := kerneltest.Random(rand.New(rand.NewPCG(1, 1)), rows, n).Data
							scratch := make([]float32, g.ScratchSize())
							for p0 := 0; p0 < k; p0 += g.KC {
								kc := min(g.KC, k-p0)
								pa := scratch[:rows*kc]
								PackA(pa, a.Data, k, false, 0, rows, p0, kc)
								last := Epilogue{}
								if p0+kc == k {
									last = epi
								}
								// acc from the first block on: C's garbage is added too.
								kk.Multiply(rows, n, kc, pa, pb, k, p0, c, n, true, last, scratch[g.MC*g.KC:])
							}
							got[i] = c
						}
						for i := range got[0] {
							if math.Float32bits(got[0][i]) != math.Float32bits(got[1][i]) {
								t.Fatalf("%s %dx%dx%d %+v: C[%d][%d] = %v with pairs, %v without", kn.Set, rows, n, k, epi.Relu, i/n, i%n, got[0][i], got[1][i])
							}
						}
					}
				}
			}
		}
	}
	if !ran {
		t.Skip("no kernel here has pair tiles")
	}
}

// A block of no rows computes nothing, with pair tiles or without.
func TestMultiplyNoRows(t *testing.T) {
	for _, kn := range tested() {
		n, k := 3*kn.NR, 5
		pb, c := make([]float32, kn.PackedSize(k, n)), []float32{}
		kn.Multiply(0, n, k, nil, pb, k, 0, c, n, false, Epilogue{}, make([]float32, kn.MR*kn.NR))
	}
}

// BenchmarkPairTiles is a recurrent step's product (4 or 8 rows, as a
// thread's group of a batch of 8 has; 1024 columns, K 256, B from L2) with
// and without pair tiles, in the thread's CPU time.
func BenchmarkPairTiles(b *testing.B) {
	for _, kn := range Kernels() {
		single := withoutPairs(kn)
		if single == nil {
			continue
		}
		for _, rows := range []int{1, 4, 8} {
			n, k := 1024, 256
			r := rand.New(rand.NewPCG(1, 2))
			a, bm := kerneltest.Random(r, rows, k), kerneltest.Random(r, k, n)
			pb, c := make([]float32, kn.PackedSize(k, n)), make([]float32, rows*n)
			kn.PackB(pb, bm.Data, k, n, n, false)
			tmp := make([]float32, kn.MR*kn.NR)
			for _, v := range []struct {
				name string
				kn   *Kernel
			}{{"pairs", kn}, {"single", single}} {
				b.Run(fmt.Sprintf("%s/%drows/%s", kn.Set, rows, v.name), func(b *testing.B) {
					stop := kerneltest.CPUTime(b)
					for b.Loop() {
						v.kn.Multiply(rows, n, k, a.Data, pb, k, 0, c, n, true, Epilogue{}, tmp)
					}
					stop()
					b.ReportMetric(float64(2*rows*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
