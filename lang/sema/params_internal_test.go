package sema

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// paramsProgram calls every layer that has parameters, in each form that
// adds or names them differently.
const paramsProgram = `model m(image: f32[N, 8, 8, 4], seq: f32[N, 5, 8], ids: i32[N, 5]) -> (a, b, c, d, e, f, g, h, i, j, k, l, n, o, p, q, r, s) {
  a = image | conv2d(6, kernel=3, groups=2)
  b = image | depthwise_conv2d(kernel=3, multiplier=2, use_bias=false)
  c = seq | dense(3)
  d = image | batchnorm
  e = seq | layernorm
  f = seq | rmsnorm
  g = ids | embedding(10, 8)
  h = seq | positional(learned=true, max_len=9)
  i = seq | simple_rnn(4, bidirectional=true)
  j = seq | lstm(4)
  k = seq | gru(4)
  l = seq | multihead_attention(2)
  n = seq | multihead_attention(2, packed=true, use_bias=false)
  o = seq | dense(3, use_bias=false)
  p = seq | conv1d(4, kernel=3, groups=2)
  q = image | conv2d_transpose(3, kernel=[3, 2], strides=2)
  r = image | separable_conv2d(5, kernel=3, depth_multiplier=2)
  s = variable([3, 2])
}`

// TestParamDocs: every parameter a layer adds is in paramDocs, with as many
// axes as its documented shape, and every documented parameter that is not
// conditional is added.
func TestParamDocs(t *testing.T) {
	p, ds := (&Loader{}).LoadSource("params.mdl", []byte(paramsProgram))
	require.Empty(t, ds)
	m, ds := p.Build("m")
	require.Empty(t, ds)
	seen := map[string]map[string]bool{}
	for _, l := range m.Layers {
		if seen[l.Kind] == nil {
			seen[l.Kind] = map[string]bool{}
		}
		for _, prm := range m.Graph.Params {
			suffix, ok := strings.CutPrefix(prm.Name, l.Name+".")
			if !ok {
				continue
			}
			doc, ok := documented(l.Kind, suffix)
			require.True(t, ok, "%s's parameter %s is not in paramDocs", l.Kind, suffix)
			if doc.shape != "as above" && doc.shape != "(shape)" { // "(shape)": the rank is the argument's
				require.Equal(t, strings.Count(doc.shape, ",")+1, prm.Type.Shape.Rank(), "%s.%s %s", l.Kind, suffix, prm.Type)
			}
			if perm := doc.torch.Perm; perm != nil {
				require.ElementsMatch(t, perm, []int{0, 1, 2, 3}[:prm.Type.Shape.Rank()], "%s.%s: PyTorch's layout is no permutation of %s", l.Kind, suffix, prm.Type)
			}
			seen[l.Kind][doc.suffix] = true
		}
	}
	for layer, docs := range paramDocs {
		require.Contains(t, seen, layer, "paramsProgram does not call %s", layer)
		for _, d := range docs {
			require.True(t, seen[layer][d.suffix] || d.when != "", "%s adds no %s", layer, d.suffix)
		}
	}
	for name := range layerTable {
		if _, ok := seen[name]; ok {
			continue
		}
		// Layers outside paramsProgram must add nothing: paramDocs has no
		// entry for them either.
		require.NotContains(t, paramDocs, name)
	}
}

// documented is the entry of paramDocs for a parameter of layer, a
// trailing `*` standing for any rest.
func documented(layer, suffix string) (paramDoc, bool) {
	for _, p := range paramDocs[layer] {
		if p.suffix == suffix || (strings.HasSuffix(p.suffix, "*") && strings.HasPrefix(suffix, strings.TrimSuffix(p.suffix, "*"))) {
			return p, true
		}
	}
	return paramDoc{}, false
}
