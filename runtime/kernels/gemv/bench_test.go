package gemv

import (
	"fmt"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// BenchmarkCrossover puts the GEMV (one pass over W per row of x, row
// after row), the GEMV over rows (the same passes, block by block, so that
// the rows after the first read a block from the cache) and the GEMM (one
// pass over its packed B for all rows) side by side at m rows, on the seed
// CNNs' last layers and wider ones, for the best set (GB/s of weights). The
// plan's choice (gemv in runtime/plan) follows from it:
//
//	go test -run '^$' -bench Crossover -count 5 ./runtime/kernels/gemv/
func BenchmarkCrossover(b *testing.B) {
	set, err := cpu.Select()
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []struct{ k, n int }{{186624, 10}, {2304, 10}, {4096, 16}, {4096, 64}, {1024, 1000}} {
		w := make([]float32, s.k*s.n)
		for i := range w {
			w[i] = float32(i%13) - 6
		}
		for _, m := range []int{1, 2, 4, 8, 32, 64} {
			x := make([]float32, m*s.k)
			y := make([]float32, m*s.n)
			g := New(set, s.k, s.n)
			pw := make([]float32, g.PackedSize())
			g.Pack(pw, w, s.n, false)
			partial, scratch := make([]float32, g.PartialSize()), make([]float32, g.ScratchSize())
			b.Run(fmt.Sprintf("k=%d/n=%d/m=%d/gemv", s.k, s.n, m), func(b *testing.B) {
				b.SetBytes(int64(4 * len(w)))
				stop := kerneltest.CPUTime(b)
				for b.Loop() {
					for i := range m {
						g.Run(x[i*s.k:], pw, y[i*s.n:], partial, scratch)
					}
				}
				stop()
			})
			rp := make([]float32, m*g.PartialSize())
			b.Run(fmt.Sprintf("k=%d/n=%d/m=%d/rows", s.k, s.n, m), func(b *testing.B) {
				b.SetBytes(int64(4 * len(w)))
				stop := kerneltest.CPUTime(b)
				for b.Loop() {
					for u := range g.Blocks() {
						g.PartialRows(x, s.k, m, pw, rp, u, scratch)
					}
					for i := range m {
						g.Sum(rp[i*g.PartialSize():], y[i*s.n:])
					}
				}
				stop()
			})
			kn := gemm.ForWidth(set, s.n) // as the plan picks it
			mm := gemm.NewMatMul(kn, m, s.n, s.k, s.k, false)
			pb := make([]float32, kn.PackedSize(s.k, s.n))
			kn.PackB(pb, w, s.k, s.n, s.n, false)
			gs := make([]float32, mm.ScratchSize())
			b.Run(fmt.Sprintf("k=%d/n=%d/m=%d/gemm", s.k, s.n, m), func(b *testing.B) {
				b.SetBytes(int64(4 * len(w)))
				stop := kerneltest.CPUTime(b)
				for b.Loop() {
					mm.Run(x, pb, y, s.n, gs, gemm.Epilogue{})
				}
				stop()
			})
		}
	}
}
