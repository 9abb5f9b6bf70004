package sema_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestControlUnrolls checks that an `if` takes the branch its condition
// chooses per instance and that a `for` names each iteration's layers by
// the index, rebinding a name bound before the loop.
func TestControlUnrolls(t *testing.T) {
	src := `
block residual(x, filters: int, stride: int = 1) -> (y) {
  h = x | conv2d(filters, kernel=3, strides=stride, padding=same) as conv1
  if stride != 1 or not (filters == 3) {
    shortcut = x | conv2d(filters, kernel=1, strides=stride) as proj
  } else {
    shortcut = x
  }
  y = add(shortcut, h)
}

model m(image: f32[N, 8, 8, 3]) -> (out) {
  h = image | residual(3) as res0
  width = 3
  for i in 1..3 {
    width = width * 2
    h = h | residual(width, stride=2) as res{i}
  }
  out = h
}
`
	p, ds := loader.LoadSource("m.mdl", []byte(src))
	require.Empty(t, ds)
	m, ds := p.Build("m")
	require.Empty(t, ds.Render(p.Source))
	var names []string
	for _, l := range m.Layers {
		names = append(names, l.Name)
	}
	require.Equal(t, []string{"res0.conv1", "res0.add", "res1.conv1", "res1.proj", "res1.add", "res2.conv1", "res2.proj", "res2.add"}, names)
	require.Equal(t, "f32[N,2,2,12]", m.Graph.Outputs[0].Value.Type.String())
}

// TestFloorDivision checks `//` and max/min of integers on torchvision's
// make_divisible: 18 channels round to 16, below 90 % of 18, so to 24.
func TestFloorDivision(t *testing.T) {
	src := `
model m(x: f32[N, 4]) -> (y) {
  v = 72 // 4
  c = max(8, (v + 4) // 8 * 8)
  if c * 10 < v * 9 {
    c = c + 8
  }
  y = x | dense(c + -7 // 2 + min(1, 2))
}
`
	p, ds := loader.LoadSource("m.mdl", []byte(src))
	require.Empty(t, ds)
	m, ds := p.Build("m")
	require.Empty(t, ds.Render(p.Source))
	// 24 + floor(-3.5) + 1 = 21
	require.Equal(t, "f32[N,21]", m.Graph.Outputs[0].Value.Type.String())
}
