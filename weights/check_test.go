package weights

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/tensor"
)

func TestCheckReportsEverything(t *testing.T) {
	g := cnn()
	ts := mustInit(t, g, 1)
	ts["dense.kernel"] = tensor.New(2304, 10)
	delete(ts, "conv2d.bias")
	ts["conv2d.bais"] = tensor.New(32)
	ts["bn.gamma"] = &tensor.Tensor{Shape: []int{32}, Data: make([]float32, 3)}
	ts["dense.bias"] = nil
	ts["foo"] = tensor.New(1)
	err := Check(g, ts)
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		`weights: missing "conv2d.bias" (f32[32])`,
		`weights: "bn.gamma" has 3 values, its shape [32] needs 32`,
		`weights: "dense.kernel" has shape [2304,10], the model expects [1600,10]`,
		`weights: "dense.bias" is nil`,
		`weights: "conv2d.bais" is not a parameter of model cnn; did you mean "conv2d.bias"?`,
		`weights: "foo" is not a parameter of model cnn`,
	}, "\n"), err.Error())

	assert.NoError(t, Check(g, mustInit(t, g, 2)))
}

func TestLoad(t *testing.T) {
	g := cnn()
	dir := t.TempDir()
	path := filepath.Join(dir, "cnn.safetensors")
	want := mustInit(t, g, 3)
	require.NoError(t, WriteFile(path, want, nil))
	got, err := Load(path, g)
	require.NoError(t, err)
	assertSameTensors(t, want, got)

	delete(want, "dense.bias")
	require.NoError(t, WriteFile(path, want, nil))
	_, err = Load(path, g)
	assert.EqualError(t, err, path+`: missing "dense.bias" (f32[10])`)

	require.NoError(t, os.WriteFile(path, []byte("not safetensors"), 0o644))
	_, err = Load(path, g)
	assert.EqualError(t, err, path+": header length 7306634592548843374 exceeds the 104857600 byte limit: not a safetensors file?")
}

// A depthwise kernel in the layout mdlc used before Keras's is named as such.
func TestOldDepthwiseLayout(t *testing.T) {
	assert.Contains(t, oldDepthwise([]int{3, 3, 1, 32}, []int{3, 3, 16, 2}), "(kh, kw, channels, multiplier) as Keras")
	assert.Empty(t, oldDepthwise([]int{3, 3, 2, 16}, []int{3, 3, 16, 2}))
	assert.Empty(t, oldDepthwise([]int{3, 3, 1, 32}, []int{3, 3, 1, 32}))
}
