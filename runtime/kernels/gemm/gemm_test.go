package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// tol bounds the float32 sums against the reference's float64 ones (see the
// package comment), relative to each result's magnitude plus the rms.
const tol = 1e-5

func TestMatMulMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// K past maxKC exercises accumulation over several blocks.
	ks := []int{1, 3, 8, 17, 33, 257, 600}
	for _, m := range kerneltest.Sizes {
		for _, n := range kerneltest.Sizes {
			k := ks[(m+n)%len(ks)]
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				name := fmt.Sprintf("%dx%dx%d trans=%v", m, n, k, tr)
				ash, bsh := []int{m, k}, []int{k, n}
				if tr[0] {
					ash = []int{k, m}
				}
				if tr[1] {
					bsh = []int{n, k}
				}
				a, b := kerneltest.Random(r, ash...), kerneltest.Random(r, bsh...)
				want := kerneltest.Ref(t, ir.OpMatMul, &ir.MatMulAttrs{TransA: tr[0], TransB: tr[1]}, a, b)

				pb := make([]float32, PackedSize(k, n))
				PackB(pb, b.Data, k, n, bsh[1], tr[1])
				g := NewMatMul(m, n, k, ash[1], tr[0])
				c := make([]float32, m*n)
				for i := range c {
					c[i] = 1e30 // Run must overwrite, not accumulate
				}
				g.Run(a.Data, pb, c, n, make([]float32, g.ScratchSize()))
				kerneltest.Close(t, c, want, tol, "%s", name)
			}
		}
	}
}

func TestMatMulDoesNotAllocate(t *testing.T) {
	m, n, k := 33, 17, 300
	g := NewMatMul(m, n, k, k, false)
	a, pb, c := make([]float32, m*k), make([]float32, PackedSize(k, n)), make([]float32, m*n)
	scratch := make([]float32, g.ScratchSize())
	if allocs := testing.AllocsPerRun(10, func() { g.Run(a, pb, c, n, scratch) }); allocs != 0 {
		t.Errorf("%v allocations per run", allocs)
	}
}

func BenchmarkMatMul(b *testing.B) {
	for _, s := range [][3]int{{256, 256, 256}, {1024, 64, 288}, {32, 256, 784}} {
		m, n, k := s[0], s[1], s[2]
		b.Run(fmt.Sprintf("%dx%dx%d", m, n, k), func(b *testing.B) {
			g := NewMatMul(m, n, k, k, false)
			a, pb, c := make([]float32, m*k), make([]float32, PackedSize(k, n)), make([]float32, m*n)
			scratch := make([]float32, g.ScratchSize())
			for b.Loop() {
				g.Run(a, pb, c, n, scratch)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
