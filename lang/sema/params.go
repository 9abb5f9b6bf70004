package sema

import "slices"

// paramDoc documents one parameter a layer adds: its name after the layer's
// (conv2d_1.kernel), its shape in the layer's arguments, and its layout where
// a framework's would differ. `mdlc layers` prints it and the weights a file
// must hold follow it; TestParamDocs builds every layer and checks the
// parameters it makes against this table.
type paramDoc struct {
	suffix, shape, note string
	// when names the argument that adds the parameter, if not always there.
	when string
	// torch is how PyTorch's module for the layer stores the parameter;
	// empty where PyTorch has no such module.
	torch TorchForm
}

// TorchForm is how a PyTorch module stores a parameter in its state_dict:
// under the attribute Name (weight, running_mean, weight_ih_l0), in a layout
// that Perm takes to mdlc's: mdlc's axis i is PyTorch's axis Perm[i] (nil:
// the same layout). SplitFirst views PyTorch's first axis as two, sized as
// mdlc's axes 2 and 3, before permuting: a depthwise kernel's (C·m, 1, kh,
// kw) read as (C, m, kh, kw).
type TorchForm struct {
	Name       string
	Perm       []int
	SplitFirst bool
}

var (
	biasOf = func(n string) paramDoc {
		return paramDoc{suffix: "bias", shape: "(" + n + ")", when: "use_bias=true", torch: TorchForm{Name: "bias"}}
	}
	transposed = []int{1, 0}
	// recurrentDocs: the gates are stacked along the last axis in PyTorch's
	// order, named in each layer's doc.
	recurrentDocs = []paramDoc{
		{suffix: "kernel", shape: "(features, gates·units)", note: "x·kernel, the gates side by side; PyTorch's is transposed",
			torch: TorchForm{Name: "weight_ih_l0", Perm: transposed}},
		{suffix: "bias", shape: "(gates·units)", torch: TorchForm{Name: "bias_ih_l0"}},
		{suffix: "recurrent_kernel", shape: "(units, gates·units)", note: "h·recurrent_kernel; PyTorch's is transposed",
			torch: TorchForm{Name: "weight_hh_l0", Perm: transposed}},
		{suffix: "recurrent_bias", shape: "(gates·units)", torch: TorchForm{Name: "bias_hh_l0"}},
		{suffix: "reverse.*", shape: "as above", note: "the backward direction's; PyTorch's names end in _reverse", when: "bidirectional=true"},
	}
	attentionDocs = func() []paramDoc {
		var d []paramDoc
		for _, p := range []string{"q", "k", "v"} {
			d = append(d, paramDoc{suffix: p + ".kernel", shape: "(d_model, d_model)", note: "[in, out]; PyTorch's is transposed", when: "packed=false",
				torch: TorchForm{Name: p + "_proj_weight", Perm: transposed}},
				paramDoc{suffix: p + ".bias", shape: "(d_model)", when: "packed=false, use_bias=true"})
		}
		return append(d,
			paramDoc{suffix: "qkv.kernel", shape: "(d_model, 3·d_model)", note: "q, k, v side by side; PyTorch's is transposed", when: "packed=true",
				torch: TorchForm{Name: "in_proj_weight", Perm: transposed}},
			paramDoc{suffix: "qkv.bias", shape: "(3·d_model)", when: "packed=true, use_bias=true", torch: TorchForm{Name: "in_proj_bias"}},
			paramDoc{suffix: "out.kernel", shape: "(d_model, d_model)", note: "PyTorch's is transposed", torch: TorchForm{Name: "out_proj.weight", Perm: transposed}},
			paramDoc{suffix: "out.bias", shape: "(d_model)", when: "use_bias=true", torch: TorchForm{Name: "out_proj.bias"}})
	}()
	// normDocs documents a normalisation's parameters, given as pairs of
	// mdlc's name and PyTorch's.
	normDocs = func(names ...string) []paramDoc {
		var d []paramDoc
		for i := 0; i < len(names); i += 2 {
			d = append(d, paramDoc{suffix: names[i], shape: "(features)", torch: TorchForm{Name: names[i+1]}})
		}
		return d
	}
)

// paramDocs are the parameters of every layer that has some, by layer name.
var paramDocs = map[string][]paramDoc{
	"conv2d": {{suffix: "kernel", shape: "(kh, kw, in/groups, filters)", note: "HWIO, as Keras; PyTorch's OIHW permuted (2, 3, 1, 0)",
		torch: TorchForm{Name: "weight", Perm: []int{2, 3, 1, 0}}}, biasOf("filters")},
	"depthwise_conv2d": {{suffix: "kernel", shape: "(kh, kw, channels, multiplier)", note: "as Keras's DepthwiseConv2D; output channel c·multiplier+j is filter j of channel c, as in PyTorch's groups=channels, whose weight (channels·multiplier, 1, kh, kw) holds the same values",
		torch: TorchForm{Name: "weight", Perm: []int{2, 3, 0, 1}, SplitFirst: true}},
		biasOf("channels·multiplier")},
	"conv1d": {{suffix: "kernel", shape: "(k, in/groups, filters)", note: "as Keras's Conv1D; PyTorch's Conv1d.weight (out, in/groups, k) permuted (2, 1, 0)",
		torch: TorchForm{Name: "weight", Perm: []int{2, 1, 0}}}, biasOf("filters")},
	"conv2d_transpose": {{suffix: "kernel", shape: "(kh, kw, filters, in)", note: "as Keras's Conv2DTranspose; PyTorch's ConvTranspose2d.weight (in, filters, kh, kw) permuted (2, 3, 1, 0)",
		torch: TorchForm{Name: "weight", Perm: []int{2, 3, 1, 0}}}, biasOf("filters")},
	"separable_conv2d": {{suffix: "depthwise_kernel", shape: "(kh, kw, channels, depth_multiplier)", note: "as depthwise_conv2d's kernel"},
		{suffix: "pointwise_kernel", shape: "(1, 1, channels·depth_multiplier, filters)", note: "HWIO, as conv2d's"}, biasOf("filters")},
	"dense":      {{suffix: "kernel", shape: "(in, units)", note: "as Keras; PyTorch's Linear.weight transposed", torch: TorchForm{Name: "weight", Perm: transposed}}, biasOf("units")},
	"batchnorm":  normDocs("gamma", "weight", "beta", "bias", "moving_mean", "running_mean", "moving_variance", "running_var"),
	"layernorm":  normDocs("gamma", "weight", "beta", "bias"),
	"rmsnorm":    normDocs("gamma", "weight"),
	"embedding":  {{suffix: "embeddings", shape: "(vocab, dim)", torch: TorchForm{Name: "weight"}}},
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
		if p.torch.Name != "" && p.torch.Name != p.suffix {
			line += " [PyTorch: " + p.torch.Name + "]"
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

// torchIgnored are state_dict entries of PyTorch modules that are not
// weights: batch norm's count of batches seen only matters to its momentum
// default, which inference and mdlc's training do not use.
var torchIgnored = map[string][]string{"batchnorm": {"num_batches_tracked"}}

// TorchParam is a parameter of a layer as PyTorch's module stores it:
// Suffix is mdlc's name for it after the layer's ("" for an entry that is
// not a weight, to be dropped).
type TorchParam struct {
	Suffix string
	Form   TorchForm
}

// TorchParams maps the state_dict attributes of the PyTorch module standing
// for a layer of this kind to the layer's parameters; nil when PyTorch has
// no such module. A bidirectional recurrent layer's backward direction is
// PyTorch's names with _reverse.
func TorchParams(kind string) map[string]TorchParam {
	out := map[string]TorchParam{}
	for _, d := range paramDocs[kind] {
		if d.torch.Name == "" {
			continue
		}
		out[d.torch.Name] = TorchParam{Suffix: d.suffix, Form: d.torch}
		if slices.ContainsFunc(paramDocs[kind], func(p paramDoc) bool { return p.suffix == "reverse.*" }) {
			rev := d.torch
			rev.Name += "_reverse"
			out[rev.Name] = TorchParam{Suffix: "reverse." + d.suffix, Form: rev}
		}
	}
	for _, name := range torchIgnored[kind] {
		out[name] = TorchParam{}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// TorchSuffix is the parameter suffix of a layer of this kind that a
// PyTorch-layout tensor named suffix stands for, with its PyTorch form:
// suffix is either PyTorch's attribute or mdlc's own name. ok is false for
// a suffix the layer does not have; Suffix is "" for an entry to drop.
func TorchSuffix(kind, suffix string) (p TorchParam, ok bool) {
	ps := TorchParams(kind)
	if p, ok := ps[suffix]; ok {
		return p, true
	}
	for _, p := range ps {
		if p.Suffix == suffix {
			return p, true
		}
	}
	return TorchParam{}, false
}
