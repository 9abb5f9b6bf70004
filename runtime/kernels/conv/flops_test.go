package conv

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/gemm"
	"github.com/mdlc/mdlc/runtime/kernels/pool"
)

// TestFlops: direct counts every multiply-add of the window; Winograd counts
// its tiles (rounded up, or the pool's windows) at 32·C·CO + 32·C + 24·CO.
func TestFlops(t *testing.T) {
	kn := gemm.Kernels()[0]
	one := [2]int{1, 1}
	s := Shape{N: 2, H: 6, W: 7, C: 16, KH: 3, KW: 3, CO: 32, Stride: one, Dilation: one, Groups: 1} // 4×5 outputs
	direct := 2.0 * 2 * 4 * 5 * 32 * 9 * 16
	perTile := 32.0*16*32 + 32*16 + 24*32
	for _, c := range []struct {
		algo  Algorithm
		mp    *pool.Window
		tiles float64
	}{
		{Im2col, nil, 0},
		{Winograd, nil, 2 * 2 * 3}, // 4×5 outputs round up to 2×3 tiles
		{Winograd, new(pool.NewWindow(cpu.Generic, 4, 5, 32, 2, 2, [2]int{2, 2}, one, [4]int{})), 2 * 2 * 2}, // tiles are the 2×2 windows
	} {
		executed, d := NewWith(c.algo, kn, s, nil, c.mp).Flops()
		assert.Equal(t, direct, d, "%s", c.algo)
		want := direct
		if c.algo == Winograd {
			want = c.tiles * perTile
		}
		assert.Equal(t, want, executed, "%s pool %v", c.algo, c.mp != nil)
	}
	g := Shape{N: 1, H: 5, W: 5, C: 6, KH: 3, KW: 3, CO: 6, Stride: one, Dilation: one, Groups: 3} // 2 channels a group
	executed, d := New(kn, g, nil, nil).Flops()
	assert.Equal(t, 2.0*3*3*6*9*2, d)
	assert.Equal(t, d, executed)
}
