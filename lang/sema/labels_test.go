package sema_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLabels: a model's labels are exposed by result name, and checked
// against the size of the result's last axis.
func TestLabels(t *testing.T) {
	p, ds := loader.Load("cnn")
	require.Empty(t, ds)
	m, ds := p.Build("cnn")
	require.Empty(t, ds)
	require.Equal(t, map[string][]string{"probs": {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}}, m.Labels)

	for src, want := range map[string]string{
		`model m(x: f32[N, 2]) -> (y labels ["a", "b\x1b"]) {
  y = x
}`: "",
		`model m(x: f32[N, T]) -> (y labels ["a"]) {
  y = x
}`: "its last axis has no fixed size",
		`model m(x: f32[N, 2]) -> (y labels ["a", "a"]) {
  y = x
}`: `the label "a" is given twice`,
		`model m(x: f32[N, 2]) -> (y labels ["a"]) {
  y = x
}`: "result `y` has 2 classes along its last axis (f32[N,2]), but 1 label",
	} {
		p, ds := loader.LoadSource("l.mdl", []byte(src))
		require.Empty(t, ds)
		m, ds := p.Build("m")
		if want == "" {
			require.Empty(t, ds)
			require.Equal(t, []string{"a", "b\x1b"}, m.Labels["y"])
			continue
		}
		require.Len(t, ds, 1, src)
		require.Contains(t, ds[0].Msg, want)
	}
}
