package codegen

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
)

func lit(t *testing.T, v any) (string, []string) {
	var sb strings.Builder
	imports := map[string]bool{}
	require.NoError(t, literal(&sb, reflect.ValueOf(v), imports))
	var paths []string
	for p := range imports {
		paths = append(paths, p)
	}
	return sb.String(), paths
}

func TestLiteral(t *testing.T) {
	got, imports := lit(t, exec.Conv{X: 1, Epilogue: []eltwise.Step{{Kind: eltwise.LeakyRelu, Alpha: 0.1}}, Pool: &exec.Window{H: 4}})
	assert.Equal(t, `exec.Conv{X: 1, Epilogue: []eltwise.Step{eltwise.Step{Kind: eltwise.Kind(6), Alpha: 0.1}}, Pool: &exec.Window{H: 4}}`, got)
	assert.ElementsMatch(t, []string{"github.com/mdlc/mdlc/runtime/exec", "github.com/mdlc/mdlc/runtime/kernels/eltwise"}, imports)
	got, _ = lit(t, exec.BatchNorm{In: [5]int{1, 2, 3, 4, 5}, BN: eltwise.BatchNorm{C: 3, Epsilon: 1e-3}})
	assert.Equal(t, `exec.BatchNorm{In: [5]int{1, 2, 3, 4, 5}, BN: eltwise.BatchNorm{C: 3, Epsilon: 0.001}}`, got)
	got, _ = lit(t, exec.Softmax{Log: true, Dim: -1})
	assert.Equal(t, `exec.Softmax{Dim: -1, Log: true}`, got)

	var sb strings.Builder
	assert.ErrorContains(t, literal(&sb, reflect.ValueOf(eltwise.BatchNorm{Epsilon: float32(math.NaN())}), map[string]bool{}), "no Go literal")
	assert.ErrorContains(t, literal(&sb, reflect.ValueOf(struct{ f int }{1}), map[string]bool{}), "not exported")
	assert.ErrorContains(t, literal(&sb, reflect.ValueOf(map[string]int{}), map[string]bool{}), "no literal")
}

func TestLiteralFloatsRoundTrip(t *testing.T) {
	for _, f := range []float32{0.1, 1e-38, 3.4028235e38, -2.5, 1.0000001} {
		got, _ := lit(t, eltwise.BatchNorm{Epsilon: f})
		num := strings.TrimSuffix(strings.TrimPrefix(got, "eltwise.BatchNorm{Epsilon: "), "}")
		back, err := strconv.ParseFloat(num, 32)
		require.NoError(t, err, got)
		assert.Equal(t, f, float32(back), got)
	}
}

func TestPackageName(t *testing.T) {
	for in, want := range map[string]string{"cnn": "cnn", "CNN224": "cnn224", "my_model": "mymodel", "2fast": "fast", "func": "modelfunc", "main": "modelmain", "___": "model"} {
		assert.Equal(t, want, PackageName(in), in)
	}
}

func TestExported(t *testing.T) {
	for in, want := range map[string]string{"image": "Image", "token_ids": "TokenIds", "x": "X", "_": "X"} {
		assert.Equal(t, want, exported(in), in)
	}
}

func TestSampleIsExactAndSpread(t *testing.T) {
	x := Sample(1000)
	lo, hi := float32(0), float32(0)
	for _, v := range x {
		require.True(t, v >= -1 && v < 1)
		lo, hi = min(lo, v), max(hi, v)
		require.Equal(t, v, float32(float64(v)), "exact")
	}
	assert.Less(t, lo, float32(-0.9))
	assert.Greater(t, hi, float32(0.9))
	assert.NotEqual(t, Checksum(x[:10]), Checksum(x[1:11]))
}
