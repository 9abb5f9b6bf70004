package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/onnx"
)

// TestExport: a stdlib model exports with its shipped weights to a file
// mdlc reads back, keeping its input's name and symbolic batch.
func TestExport(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "lenet.onnx")
	code, out, errs := mdlc(t, "export", "lenet", "-o", dst)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, dst+": model lenet, ONNX opset 17")
	assert.Contains(t, out, "weights: the ones shipped with lenet")
	m, err := onnx.ReadFile(dst, 1<<30)
	require.NoError(t, err)
	v, _ := m.Opset("")
	assert.Equal(t, int64(17), v)
	assert.Equal(t, "image", m.Graph.Inputs[0].Name)
	assert.Equal(t, "tensor(float)[N,28,28,1]", m.Graph.Inputs[0].Type.String())
	code, _, errs = mdlc(t, "run", dst)
	require.Equal(t, 0, code, errs)

	code, _, errs = mdlc(t, "export", "--dim", "N=1", "lenet", "-o", dst)
	require.Equal(t, 0, code, errs)
	m, err = onnx.ReadFile(dst, 1<<30)
	require.NoError(t, err)
	assert.Equal(t, "tensor(float)[1,28,28,1]", m.Graph.Inputs[0].Type.String(), "--dim fixes a symbol")
}

// TestExportRefuses: usage errors exit 2; a model with a node ONNX cannot
// take exits 1 naming the layer and what to do, and writes nothing.
func TestExportRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"export", "--bogus", "lenet"},
		{"export"},
		{"export", "--opset", "13", "lenet"},
		{"export", "lenet", "-o", filepath.Join(dir, "lenet.txt")},
		{"export", "--dim", "Q=3", "lenet", "-o", filepath.Join(dir, "lenet.onnx")},
	} {
		code, _, errs := mdlc(t, args...)
		assert.Equal(t, 2, code, "%v: %s", args, errs)
		assert.Contains(t, errs, "usage: mdlc export", args)
	}

	src := filepath.Join(dir, "seq.mdl")
	require.NoError(t, os.WriteFile(src, []byte("model seq(x: f32[N, T, 8]) -> (y) {\n  y = x | positional() as pos\n}\n"), 0o644))
	dst := filepath.Join(dir, "seq.onnx")
	code, _, errs := mdlc(t, "export", src, "-o", dst)
	assert.Equal(t, 1, code, errs)
	assert.Contains(t, errs, `seq.mdl:2:11: layer "pos": positional cannot be exported to ONNX`)
	assert.Contains(t, errs, "give it with --dim T=SIZE")
	assert.NoFileExists(t, dst)
	code, _, errs = mdlc(t, "export", src, "--dim", "T=2000000000", "--max-memory", "1GiB", "-o", dst)
	assert.Equal(t, 1, code, errs)
	assert.Contains(t, errs, "the sinusoidal encoding (2000000000×8) needs 59.6 GiB, more than the memory limit", "a size from --dim is checked before it is allocated")
	code, _, errs = mdlc(t, "export", "gpt", "--dim", "T=300", "-o", dst)
	assert.Equal(t, 1, code, errs)
	assert.Contains(t, errs, "T = 300 positions, but the learned table has 256")
	code, _, errs = mdlc(t, "export", src, "--dim", "T=5", "-o", dst)
	assert.Equal(t, 0, code, errs)
	assert.FileExists(t, dst)
}
