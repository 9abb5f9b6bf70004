package pool

import (
	"fmt"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// BenchmarkMaxRows is the seed CNN 224's fused conv+maxpool: 2×2 stride-2
// max pools over 32 and 64 channels, and a 3×3 same-padded one, for every
// set side by side (GB/s of input read). Compare with
//
//	go test -run '^$' -bench MaxRows -count 5 ./runtime/kernels/pool/
func BenchmarkMaxRows(b *testing.B) {
	for _, tc := range []struct {
		name       string
		h, w, c, k int
		s          int
		pad        int
	}{{"224x224x32/2x2s2", 224, 224, 32, 2, 2, 0}, {"112x112x64/2x2s2", 112, 112, 64, 2, 2, 0}, {"56x56x3/3x3s1", 56, 56, 3, 3, 1, 1}} {
		for _, k := range sets.All() {
			p := NewWindow(k.set, tc.h, tc.w, tc.c, tc.k, tc.k, [2]int{tc.s, tc.s}, [2]int{1, 1}, [4]int{tc.pad, tc.pad, tc.pad, tc.pad})
			x := make([]float32, tc.h*tc.w*tc.c)
			for i := range x {
				x[i] = float32(i%97) - 48
			}
			out := make([]float32, p.OH*p.OW*tc.c)
			b.Run(fmt.Sprintf("%s/%s", tc.name, k.set), func(b *testing.B) {
				b.SetBytes(int64(4 * len(x)))
				stop := kerneltest.CPUTime(b)
				for b.Loop() {
					p.MaxRows(x, 0, out, 0, p.OH)
				}
				stop()
			})
		}
	}
}

// BenchmarkGlobalAvg: global average pooling over 7×7×512 and 56×56×64.
func BenchmarkGlobalAvg(b *testing.B) {
	for _, tc := range []struct{ hw, c int }{{49, 512}, {56 * 56, 64}} {
		for _, k := range sets.All() {
			g := NewGlobal(k.set, 1, tc.hw, tc.c)
			x := make([]float32, tc.hw*tc.c)
			out, scratch := make([]float32, tc.c), make([]float32, g.ScratchSize())
			b.Run(fmt.Sprintf("%dx%d/%s", tc.hw, tc.c, k.set), func(b *testing.B) {
				b.SetBytes(int64(4 * len(x)))
				stop := kerneltest.CPUTime(b)
				for b.Loop() {
					g.Avg(x, out, scratch)
				}
				stop()
			})
		}
	}
}
