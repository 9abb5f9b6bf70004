package update

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// BenchmarkSets runs every assembly set's Adam, SGD and RMSprop (with momentum) over
// n parameters: in L1 and L2 (4096, 65536: the operands of Adam take 64 KiB
// and 1 MiB) and from memory (1<<22), GB/s of operands read and written. The
// sets alternate within each -count round, so a loaded machine skews them
// alike:
//
//	go test -run '^$' -bench Sets -count 7 ./runtime/kernels/update/
func BenchmarkSets(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{4096, 65536, 1 << 22} {
		p, g, m, v := operands(r, n)
		for _, k := range sets.All()[:len(sets.All())-1] {
			b.Run(fmt.Sprintf("n=%d/adam/%s", n, k.set), func(b *testing.B) {
				b.SetBytes(int64(4 * 7 * n))
				stop := kerneltest.CPUTime(b)
				for b.Loop() {
					k.Adam(p, g, m, v, &coefs[0])
				}
				stop()
			})
			b.Run(fmt.Sprintf("n=%d/sgd/%s", n, k.set), func(b *testing.B) {
				b.SetBytes(int64(4 * 5 * n))
				stop := kerneltest.CPUTime(b)
				for b.Loop() {
					k.SGD(p, g, m, &sgdCoefs[1])
				}
				stop()
			})
			b.Run(fmt.Sprintf("n=%d/rmsmomentum/%s", n, k.set), func(b *testing.B) {
				b.SetBytes(int64(4 * 7 * n))
				stop := kerneltest.CPUTime(b)
				for b.Loop() {
					k.RMSMomentum(p, g, v, m, &rmsCoefs[1])
				}
				stop()
			})
		}
	}
}
