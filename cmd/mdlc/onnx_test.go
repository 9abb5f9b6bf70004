package main

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/tensor"
)

// TestONNXModels imports models PyTorch exported (ResNet-18, MobileNetV2, a
// Transformer encoder layer, LSTM/GRU/RNN, a GELU
// feed-forward block, attention in einsums, masked multi-head attention as Hugging Face writes it,
// encoder layers with a padding mask and with a causal one as bench/compare.py exports bert-b8 and gpt-t128;
// a small CNN, bidirectional LSTM and GRU, and a BERT-style encoder with an
// attention mask, each at opsets 9, 11, 13 and 17), checks that patterns became mdlc's layers, and checks mdlc's outputs against PyTorch's
// float32 ones; and that running the .onnx file and running the program
// `mdlc import` wrote from it give the same bits.
func TestONNXModels(t *testing.T) {
	if testing.Short() {
		t.Skip("exports three models with PyTorch")
	}
	if out, err := exec.Command(zooPython, "-c", "import torch, torchvision, onnx").CombinedOutput(); err != nil {
		t.Skipf("the ONNX models are exported by PyTorch: %s needs torch, torchvision and onnx (apt-get install python3-torch python3-torchvision python3-onnx): %v\n%s", zooPython, err, out)
	}
	dir := t.TempDir()
	out, err := exec.Command(zooPython, "../../testdata/onnx/export_models.py", dir).CombinedOutput()
	require.NoError(t, err, "export_models.py:\n%s", out)
	out, err = exec.Command(zooPython, "../../testdata/onnx/make_graphs.py", dir).CombinedOutput()
	require.NoError(t, err, "make_graphs.py:\n%s", out)
	type model struct {
		name string
		dims []string // fixed at import
		// layers the patterns must have become, and text they must not
		// have left
		layers, absent []string
	}
	var opsets []model
	for _, op := range []string{"9", "11", "13", "17"} {
		opsets = append(opsets,
			model{"smallcnn_op" + op, nil, []string{"relu6", "groups=2", "softmax("}, nil},
			model{"birnn_op" + op, nil, []string{"lstm(", "gru(", "bidirectional=true"}, nil},
			model{"bert_op" + op, nil, []string{"embedding(", "attention(", "mask=", "layernorm(", "gelu("}, nil})
	}
	// make_graphs.py's hand-built graphs, as other exporters write them.
	graphs := []model{
		{"clip_attrs", nil, []string{"activation=relu6", "clip(-0.5, 0.7)"}, nil},
		{"hardsigmoid", nil, []string{"hard_sigmoid(input, alpha=0.2)", "hard_swish("}, nil},
		{"upsample7", nil, []string{`resize(size=[12, 10], mode="nearest"`}, nil},
		{"upsample9", nil, []string{`resize(size=[12, 10], mode="nearest"`}, nil},
		{"resize_linear", nil, []string{`mode="bilinear"`}, nil},
		{"resize_align_corners", nil, []string{`coordinates="align_corners"`}, nil},
		{"resize_nearest", nil, []string{`coordinates="asymmetric"`}, nil},
		{"convtranspose_output_padding", nil, []string{"output_padding=1"}, nil},
		{"prelu", nil, []string{"minimum("}, nil},
		{"tf_nhwc", nil, []string{"conv2d(input, 4"}, []string{"transpose("}},
		// One transpose, the input's: the map is flattened as it lies.
		{"flatten_gemm", nil, []string{"reshape([120])", "dense(7)"}, []string{"transpose([0, 3, 1, 2])"}},
		{"flatten_matmul", nil, []string{"reshape([120])", "dense(7, use_bias=false)"}, []string{"transpose([0, 3, 1, 2])"}},
	}
	for _, c := range append([]model{
		{"resnet18", nil, []string{"conv2d(", "activation=relu", "dense(", "block layer_block(x, filters: int) -> (y) {", "= layer_block(relu_1, 64) as layer1_1"}, nil},
		{"mobilenet_v2", nil, []string{"depthwise_conv2d(", "activation=relu6", "block features_block("}, nil},
		{"encoder", []string{"--dim", "batch=2"}, []string{"layernorm(", "attention("}, nil},
		{"encoder2", []string{"--dim", "batch=2"}, []string{"block layers_block(", "attention("}, nil},
		{"recurrent", nil, []string{"lstm(", "bidirectional=true", "gru(", "simple_rnn("}, nil},
		{"feedforward", nil, []string{"gelu(", "layernorm("}, nil},
		{"einsum", nil, []string{"transpose_b=true"}, nil},
		{"masked_attention", nil, []string{"attention(", "mask="}, nil},
		{"padded_encoder", []string{"--dim", "batch=2"}, []string{"layernorm(", "gelu", "attention(", "mask="}, nil},
		{"causal_encoder", nil, []string{"layernorm(", "attention(", "mask="}, []string{"softmax("}},
	}, append(opsets, graphs...)...) {
		t.Run(c.name, func(t *testing.T) {
			path := func(suffix string) string { return filepath.Join(dir, c.name+suffix) }
			mdl := path(".mdl")
			args := append([]string{"import", "-o", mdl}, c.dims...)
			code, _, errs := mdlc(t, append(args, path(".onnx"))...)
			require.Equal(t, 0, code, errs)
			src, err := os.ReadFile(mdl)
			require.NoError(t, err)
			for _, l := range c.layers {
				require.Contains(t, string(src), l)
			}
			for _, l := range c.absent {
				require.NotContains(t, string(src), l)
			}
			// One input is NAME_input.npy; several, NAME_input_<input>.npy.
			inputs := []string{"--input", path("_input.npy")}
			if _, err := os.Stat(path("_input.npy")); err != nil {
				files, err := filepath.Glob(path("_input_*.npy"))
				require.NoError(t, err)
				require.NotEmpty(t, files, "no inputs for %s", c.name)
				inputs = nil
				for _, f := range files {
					name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), c.name+"_input_"), ".npy")
					inputs = append(inputs, "--input", name+"="+f)
				}
			}
			imported := path("_imported.npy")
			code, _, errs = mdlc(t, append([]string{"run", mdl, "--weights", path(".safetensors"), "--output", imported, "--top", "0"}, inputs...)...)
			require.Equal(t, 0, code, errs)
			want, got := readNpy(t, path("_output.npy")), readNpy(t, imported)
			require.Equal(t, want.Shape, got.Shape)
			scale := 0.0
			for _, v := range want.Data {
				scale = max(scale, math.Abs(float64(v)))
			}
			e := tensor.MaxRelErr(got.Data, want.Data, 0.01*scale)
			t.Logf("max relative error against PyTorch float32: %.2g", e)
			require.Less(t, e, 1e-4)
			direct := path("_direct.npy")
			code, _, errs = mdlc(t, append(append([]string{"run", path(".onnx"), "--output", direct, "--top", "0"}, inputs...), c.dims...)...)
			require.Equal(t, 0, code, errs)
			a, err := os.ReadFile(imported)
			require.NoError(t, err)
			b, err := os.ReadFile(direct)
			require.NoError(t, err)
			require.True(t, bytes.Equal(a, b), "running the .onnx and its imported program differ")
			if c.name == "smallcnn_op13" && !testing.Short() {
				// A static binary of the .onnx, whose ports are named input
				// and output as the generated main's own variables once were.
				bin := path("_bin")
				code, _, errs = mdlc(t, "build", "-o", bin, "--batch", "2", path(".onnx"))
				require.Equal(t, 0, code, errs)
				built := path("_built.npy")
				out, err := exec.Command(bin, "--input", path("_input.npy"), "--output", built).CombinedOutput()
				require.NoError(t, err, "%s", out)
				got := readNpy(t, built)
				want := readNpy(t, direct)
				require.LessOrEqual(t, tensor.MaxRelErr(got.Data, want.Data, 0.01), 1e-6)
			}
		})
	}
}

func readNpy(t *testing.T, path string) *tensor.Tensor {
	t.Helper()
	x, err := tensor.ReadNpyFile(path)
	require.NoError(t, err)
	return x
}
