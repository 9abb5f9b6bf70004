package weights

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/tensor"
)

func TestRenames(t *testing.T) {
	r, err := ParseRenames("map.txt", []byte(`
# Sequential indices to layer names.
features\.(\d+)\.(weight|bias) -> conv${1}.${2}
.*num_batches_tracked -> -
classifier\.weight -> head.weight
`))
	require.NoError(t, err)
	ts := map[string]*tensor.Tensor{
		"features.0.weight":              tensor.New(1),
		"features.10.bias":               tensor.New(2),
		"features.1.num_batches_tracked": tensor.New(),
		"classifier.weight":              tensor.New(3),
		"xfeatures.0.weight":             tensor.New(4), // patterns match whole names only
	}
	got, err := r.Apply(ts)
	require.NoError(t, err)
	assert.Equal(t, map[string]*tensor.Tensor{
		"conv0.weight":       ts["features.0.weight"],
		"conv10.bias":        ts["features.10.bias"],
		"head.weight":        ts["classifier.weight"],
		"xfeatures.0.weight": ts["xfeatures.0.weight"],
	}, got)

	// Two tensors that would take one name.
	r, err = ParseRenames("map.txt", []byte("a|b -> c\n"))
	require.NoError(t, err)
	_, err = r.Apply(map[string]*tensor.Tensor{"a": tensor.New(1), "b": tensor.New(1)})
	assert.EqualError(t, err, `map.txt:1: "a" and "b" both become "c"; make the patterns tell them apart`)
	// A group that is not there.
	r, err = ParseRenames("map.txt", []byte("a -> $1\n"))
	require.NoError(t, err)
	_, err = r.Apply(map[string]*tensor.Tensor{"a": tensor.New(1)})
	assert.EqualError(t, err, `map.txt:1: "a" becomes an empty name; write groups as ${1}`)
}

func TestRenamesErrors(t *testing.T) {
	for _, tc := range []struct{ src, err string }{
		{"a b\n", "map.txt:1: want `PATTERN -> NAME` (NAME - drops the tensor), got \"a b\""},
		{"\n -> b\n", "map.txt:2: want `PATTERN -> NAME` (NAME - drops the tensor), got \"-> b\""},
		{"a -> b c\n", "map.txt:1: want `PATTERN -> NAME` (NAME - drops the tensor), got \"a -> b c\""},
		{"(a -> b\n", "map.txt:1: pattern \"(a\": error parsing regexp: missing closing ): `^(?:(a)$`"},
	} {
		_, err := ParseRenames("map.txt", []byte(tc.src))
		assert.EqualError(t, err, tc.err, tc.src)
	}
	_, err := ParseRenames("map.txt", make([]byte, 100<<10))
	assert.EqualError(t, err, "map.txt: bufio.Scanner: token too long (lines are at most 64 KiB)")
}

// FuzzRenames: a rename map is a user's file; parsing it and applying it
// to a few names never panics.
func FuzzRenames(f *testing.F) {
	f.Add([]byte("features\\.(\\d+)\\.(.*) -> conv${1}.${2}\n# c\n.*tracked -> -\n"))
	f.Add([]byte("a|b -> c\n(a -> b\n"))
	f.Add([]byte("x -> $1$2${3}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		r, err := ParseRenames("map.txt", src)
		if err != nil {
			return
		}
		ts := map[string]*tensor.Tensor{"features.0.weight": tensor.New(1), "bn.num_batches_tracked": tensor.New(), "a": tensor.New(2), "b": tensor.New(3)}
		_, _ = r.Apply(ts)
	})
}
