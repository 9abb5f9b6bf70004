package sema_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
)

// TestPaddingForms: every spelling of explicit padding reaches the IR as
// top, bottom, left, right, through layers and through a block's padding
// parameter (default and given).
func TestPaddingForms(t *testing.T) {
	src := `block down(x, p: padding = [[0, 1], [2, 3]]) -> (y) {
  y = x | conv2d(2, kernel=3, strides=2, padding=p)
}
model m(x: f32[N, 9, 9, 2]) -> (a, b, c, d, e, f, g) {
  a = x | conv2d(2, kernel=3, padding=1)
  b = x | depthwise_conv2d(kernel=3, padding=[1, 2])
  c = x | maxpool2d(3, strides=2, padding=[[1, 0], [0, 2]])
  d = x | avgpool2d(3, strides=1, padding=1, count_include_pad=true)
  e = x | down
  f = x | down(p=same)
  g = x | pad(padding=[1, 2], mode=reflect)
}`
	p, ds := loader.LoadSource("pads.mdl", []byte(src))
	require.Empty(t, ds)
	m, ds := p.Build("m")
	require.Empty(t, ds)
	var windows []ir.Window2D
	var countPad []bool
	var pad *ir.PadAttrs
	for _, n := range m.Graph.Nodes {
		switch a := n.Attrs.(type) {
		case *ir.ConvAttrs:
			windows = append(windows, a.Window2D)
		case *ir.PoolAttrs:
			windows = append(windows, a.Window2D)
			countPad = append(countPad, a.CountPad)
		case *ir.PadAttrs:
			pad = a
		}
	}
	explicit := func(p ...int) ir.Window2D { return ir.Window2D{Padding: ir.Explicit, Pads: [4]int(p)} }
	want := []ir.Window2D{explicit(1, 1, 1, 1), explicit(1, 1, 2, 2), explicit(1, 0, 0, 2), explicit(1, 1, 1, 1), explicit(0, 1, 2, 3), {Padding: ir.Same}}
	require.Len(t, windows, len(want))
	for i, w := range windows {
		require.Equal(t, want[i].Padding, w.Padding, "window %d", i)
		require.Equal(t, want[i].Pads, w.Pads, "window %d", i)
	}
	require.Equal(t, []bool{false, true}, countPad)
	require.Equal(t, &ir.PadAttrs{Mode: ir.PadReflect, Pads: [][2]int{{0, 0}, {1, 1}, {2, 2}, {0, 0}}}, pad)
}
