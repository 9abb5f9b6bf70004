package norm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// BenchmarkRun: the transformer's norms, 128 rows of 256 and of 1024
// features, layer and RMS, every set side by side (GB/s of input read).
// Compare with
//
//	go test -run '^$' -bench Run -count 6 ./runtime/kernels/norm/
func BenchmarkRun(b *testing.B) {
	const rows = 128
	for _, c := range []int{256, 1024} {
		r := rand.New(rand.NewPCG(1, 2))
		x := make([]float32, rows*c)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		gamma, beta, out := make([]float32, c), make([]float32, c), make([]float32, rows*c)
		for j := range gamma {
			gamma[j], beta[j] = 1, 0
		}
		for _, rms := range []bool{false, true} {
			kind := "layer"
			if rms {
				kind = "rms"
			}
			for _, k := range sets.All() {
				n := New(k.set, rows, c, 1e-5, rms)
				b.Run(fmt.Sprintf("%s/%dx%d/%s", kind, rows, c, k.set), func(b *testing.B) {
					b.SetBytes(int64(4 * len(x)))
					stop := kerneltest.CPUTime(b)
					for b.Loop() {
						n.Run(x, gamma, beta, out)
					}
					stop()
				})
			}
		}
	}
}
