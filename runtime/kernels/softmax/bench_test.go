package softmax

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// BenchmarkSoftmax runs softmax and log_softmax with every kernel set this
// machine runs, over a classifier's rows (the axis last and long), short rows,
// and an axis that is not the last, reporting Gelem/s. Compare the sets with
//
//	go test -run '^$' -bench . ./runtime/kernels/softmax
func BenchmarkSoftmax(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sh := range []struct{ outer, dim, inner int }{{8, 1000, 1}, {256, 64, 1}, {4, 10, 256}} {
		n := sh.outer * sh.dim * sh.inner
		x := make([]float32, n)
		for i := range x {
			x[i] = 5 * float32(r.NormFloat64())
		}
		out := make([]float32, n)
		for _, log := range []bool{false, true} {
			op := "softmax"
			if log {
				op = "log_softmax"
			}
			for _, k := range sets.All() {
				b.Run(fmt.Sprintf("%s/%dx%dx%d/%s", op, sh.outer, sh.dim, sh.inner, k.set), func(b *testing.B) {
					s := New(k.set, sh.outer, sh.dim, sh.inner, log)
					scratch := make([]float32, s.ScratchSize())
					b.SetBytes(int64(8 * n))
					stop := kerneltest.CPUTime(b)
					for b.Loop() {
						s.Run(x, out, scratch)
					}
					stop()
					b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds()/1e9, "Gelem/s")
				})
			}
		}
	}
}
