package importer

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mdlc/mdlc/tensor"
)

func TestInstancePrefix(t *testing.T) {
	for module, want := range map[string]string{
		"layer1.0/conv1":                       "layer1.0",
		"layer1.0":                             "layer1.0",
		"features.2/conv.0.0":                  "features.2",
		"encoder/layer.3/attention/self/query": "encoder/layer.3",
		"conv1":                                "",
		"layer1":                               "",
		"":                                     "",
	} {
		assert.Equal(t, want, instancePrefix(module), module)
	}
	for prefix, want := range map[string]string{
		"layer1.0":        "layer",
		"features.12":     "features",
		"encoder/layer.3": "encoder_layer",
		"blocks.0.1":      "blocks",
	} {
		assert.Equal(t, want, blockStem(prefix), prefix)
	}
}

// TestBlocks: instances that differ only in numbers share a block with
// those numbers as parameters; an instance wired otherwise, or with another
// non-number argument, gets none; weights move under the instance.
func TestBlocks(t *testing.T) {
	im := &importer{w: newWriter(), weights: map[string]*tensor.Tensor{}}
	add := func(module string, s *stmt) {
		im.w.module = module
		im.w.add(s)
	}
	add("stem", &stmt{outs: []string{"a"}, call: "relu", in: "x"})
	for i, f := range []string{"8", "16"} {
		p := []string{"l.0", "l.1"}[i]
		in := []string{"a", "b0"}[i]
		conv := []string{"l_0_conv", "l_1_conv"}[i]
		im.weights[conv+".kernel"] = nil
		add(p+"/conv", &stmt{outs: []string{conv}, call: "conv2d", in: in, args: []string{f, "kernel=3"}, as: conv})
		add(p, &stmt{outs: []string{[]string{"b0", "b1"}[i]}, call: "add", in: conv, args: []string{in}})
	}
	// Same numbers, another activation: not the same block.
	add("l.2/conv", &stmt{outs: []string{"c"}, call: "conv2d", in: "b1", args: []string{"16", "kernel=3", "activation=relu"}, as: "l_2_conv"})
	im.extractBlocks([]port{{name: "x"}}, []port{{name: "c"}})
	src := im.w.print(nil, "m", []port{{name: "x", typ: "f32[N, 4, 4, 8]"}}, []port{{name: "c", typ: "f32[N, 4, 4, 16]"}})
	assert.Equal(t, `# onnx: l.0, l.1
block l_block(x, filters: int) -> (y) {
  y = x
    | conv2d(filters, kernel=3) as conv
    | add(x)
}

model m(x: f32[N, 4, 4, 8]) -> (c: f32[N, 4, 4, 16]) {
  a = relu(x)
  # onnx: l.0
  b0 = l_block(a, 8) as l_0
  # onnx: l.1
  b1 = l_block(b0, 16) as l_1
  c = conv2d(b1, 16, kernel=3, activation=relu) as l_2_conv
}
`, src)
	assert.Contains(t, im.weights, "l_0.conv.kernel")
	assert.Contains(t, im.weights, "l_1.conv.kernel")
	assert.NotContains(t, im.weights, "l_0_conv.kernel")
}
