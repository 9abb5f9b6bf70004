package sema

// paramDoc documents one parameter a layer adds: its name after the layer's
// (conv2d_1.kernel), its shape in the layer's arguments, and its layout where
// a framework's would differ. `mdlc layers` prints it and the weights a file
// must hold follow it; TestParamDocs builds every layer and checks the
// parameters it makes against this table.
type paramDoc struct {
	suffix, shape, note string
	// when names the argument that adds the parameter, if not always there.
	when string
}

var (
	biasOf = func(n string) paramDoc { return paramDoc{suffix: "bias", shape: "(" + n + ")", when: "use_bias=true"} }
	// recurrentDocs: the gates are stacked along the last axis in PyTorch's
	// order, named in each layer's doc.
	recurrentDocs = []paramDoc{
		{suffix: "kernel", shape: "(features, gates·units)", note: "x·kernel, the gates side by side"},
		{suffix: "bias", shape: "(gates·units)"},
		{suffix: "recurrent_kernel", shape: "(units, gates·units)", note: "h·recurrent_kernel"},
		{suffix: "recurrent_bias", shape: "(gates·units)"},
		{suffix: "reverse.*", shape: "as above", note: "the backward direction's", when: "bidirectional=true"},
	}
	attentionDocs = func() []paramDoc {
		var d []paramDoc
		for _, p := range []string{"q", "k", "v"} {
			d = append(d, paramDoc{suffix: p + ".kernel", shape: "(d_model, d_model)", note: "[in, out]", when: "packed=false"},
				paramDoc{suffix: p + ".bias", shape: "(d_model)", when: "packed=false, use_bias=true"})
		}
		return append(d,
			paramDoc{suffix: "qkv.kernel", shape: "(d_model, 3·d_model)", note: "q, k, v side by side", when: "packed=true"},
			paramDoc{suffix: "qkv.bias", shape: "(3·d_model)", when: "packed=true, use_bias=true"},
			paramDoc{suffix: "out.kernel", shape: "(d_model, d_model)"},
			paramDoc{suffix: "out.bias", shape: "(d_model)", when: "use_bias=true"})
	}()
	normDocs = func(names ...string) []paramDoc {
		var d []paramDoc
		for _, n := range names {
			d = append(d, paramDoc{suffix: n, shape: "(features)"})
		}
		return d
	}
)

// paramDocs are the parameters of every layer that has some, by layer name.
var paramDocs = map[string][]paramDoc{
	"conv2d": {{suffix: "kernel", shape: "(kh, kw, in/groups, filters)", note: "HWIO, as Keras; PyTorch's OIHW permuted (2, 3, 1, 0)"}, biasOf("filters")},
	"depthwise_conv2d": {{suffix: "kernel", shape: "(kh, kw, channels, multiplier)", note: "as Keras's DepthwiseConv2D; output channel c·multiplier+j is filter j of channel c, as in PyTorch's groups=channels"},
		biasOf("channels·multiplier")},
	"conv1d":           {{suffix: "kernel", shape: "(k, in/groups, filters)", note: "as Keras's Conv1D; PyTorch's Conv1d.weight (out, in/groups, k) permuted (2, 1, 0)"}, biasOf("filters")},
	"conv2d_transpose": {{suffix: "kernel", shape: "(kh, kw, filters, in)", note: "as Keras's Conv2DTranspose; PyTorch's ConvTranspose2d.weight (in, filters, kh, kw) permuted (2, 3, 1, 0)"}, biasOf("filters")},
	"separable_conv2d": {{suffix: "depthwise_kernel", shape: "(kh, kw, channels, depth_multiplier)", note: "as depthwise_conv2d's kernel"},
		{suffix: "pointwise_kernel", shape: "(1, 1, channels·depth_multiplier, filters)", note: "HWIO, as conv2d's"}, biasOf("filters")},
	"dense":      {{suffix: "kernel", shape: "(in, units)", note: "as Keras; PyTorch's Linear.weight transposed"}, biasOf("units")},
	"batchnorm":  normDocs("gamma", "beta", "moving_mean", "moving_variance"),
	"layernorm":  normDocs("gamma", "beta"),
	"rmsnorm":    normDocs("gamma"),
	"embedding":  {{suffix: "embeddings", shape: "(vocab, dim)"}},
	"positional": {{suffix: "positions", shape: "(max_len, d_model)", when: "learned=true"}},
	"simple_rnn": recurrentDocs, "lstm": recurrentDocs, "gru": recurrentDocs,
	"multihead_attention": attentionDocs,
	"variable":            {{suffix: "value", shape: "(shape)", note: "zeros until weights are loaded"}},
}

// paramLines writes a layer's parameters for `mdlc layers`, one a line.
func paramLines(layer string) []string {
	var out []string
	for _, p := range paramDocs[layer] {
		line := p.suffix + " " + p.shape
		if p.note != "" {
			line += ": " + p.note
		}
		if p.when != "" {
			line += " (with " + p.when + ")"
		}
		out = append(out, line)
	}
	return out
}

// LayerDoc is a built-in layer as `mdlc layers` shows it.
type LayerDoc struct {
	Signature, Doc string
	// Params are the parameters it adds, with their shapes and layouts.
	Params []string
}
