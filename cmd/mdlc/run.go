package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/tensor"
	"github.com/mdlc/mdlc/weights"
)

func defineRun(fs *flag.FlagSet) func(*cli, []string) error {
	o := modelFlags(fs)
	weightFlags(fs, o)
	threadFlag(fs, o, "threads a run uses")
	var inputs inputList
	fs.Var(&inputs, "input", "an input: a .npy, .png or .jpg `FILE`, or NAME=FILE for one of several inputs; repeatable (default: a deterministic sample)")
	outputPath := fs.String("output", "", "write the output to this .npy `FILE` (NAME inserted before .npy when there are several)")
	sh := shapeFlags(fs, "batch size of the sample input")
	o.Dims = sh.Dims // an ONNX model fixes these when importing
	top := fs.Int("top", 5, "the `K` most probable classes to list for a classifier's output (0: none)")
	labelsPath := fs.String("labels", "", "a `FILE` of class names, one per line, for a classifier's output (default: the model's own)")
	fs.BoolVar(&o.NoOpt, "O0", false, "run the graph as written on the reference runtime, without optimisation")
	fs.BoolVar(&o.NoOpt, "no-opt", false, "the same as -O0")
	return func(c *cli, files []string) error {
		if *top < 0 {
			return usagef("--top must not be negative, got %d", *top)
		}
		m, err := o.Load(files[0])
		if err != nil {
			return err
		}
		labels, err := readLabels(*labelsPath, m)
		if err != nil {
			return err
		}
		fed, err := o.ReadInputs(m, inputs)
		if err != nil {
			return err
		}
		compiled, err := o.Compile(m, *sh, fed)
		if err != nil {
			return err
		}
		if compiled.Weights.Fresh {
			fmt.Fprintf(c.stderr, "mdlc run: note: no --weights given: the weights are freshly initialised (seed %d), so the outputs are not those of a trained model\n", o.Seed)
		}
		if compiled.Weights.Shipped != "" {
			fmt.Fprintf(c.stderr, "mdlc run: the weights that ship with %s: %s\n", m.Graph.Name, compiled.Weights.Shipped)
		}
		if len(fed) == 0 {
			if fed, err = compile.Samples(m, compiled.Env, o.Seed); err != nil {
				return err
			}
		}
		outs, err := o.Execute(compiled, fed)
		if err != nil {
			return err
		}
		for _, out := range m.Graph.Outputs {
			t := outs[out.Name]
			fmt.Fprintf(c.stdout, "%s: %s%s\n", out.Name, out.Value.Type.DType, tensor.ShapeString(t.Shape))
			if *top > 0 && t.IsDistribution() {
				t.WriteTop(c.stdout, *top, labels[out.Name])
			}
		}
		if *outputPath != "" {
			return writeOutputs(m, outs, *outputPath)
		}
		return nil
	}
}

// readLabels reads --labels, one class name per line, for the model's one
// classifier output; without it, the model's own labels.
func readLabels(path string, m *compile.Model) (map[string][]string, error) {
	if path == "" {
		return m.Labels, nil
	}
	g := m.Graph
	if len(g.Outputs) != 1 {
		return nil, usagef("--labels: model %s has %d outputs; name the classes in the model instead", g.Name, len(g.Outputs))
	}
	data, err := safeio.ReadFile(path, safeio.MaxLabels)
	if err != nil {
		return nil, err
	}
	labels := strings.Split(strings.TrimRight(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n"), "\n")
	out := g.Outputs[0]
	shape := out.Value.Type.Shape
	if n := shape.Rank(); n == 0 || !shape[n-1].Known() || shape[n-1].Size != len(labels) {
		return nil, fmt.Errorf("%s: %d class names, but output %s is %s: give one name per class, one per line", path, len(labels), out.Name, out.Value.Type)
	}
	return map[string][]string{out.Name: labels}, nil
}

// writeOutputs writes the single output to path, or each output to path
// with its name before the extension.
func writeOutputs(m *compile.Model, outs map[string]*tensor.Tensor, path string) error {
	g := m.Graph
	if len(g.Outputs) == 1 {
		return tensor.WriteNpyFile(path, outs[g.Outputs[0].Name])
	}
	ext := filepath.Ext(path)
	for _, o := range g.Outputs {
		if err := tensor.WriteNpyFile(strings.TrimSuffix(path, ext)+"-"+o.Name+ext, outs[o.Name]); err != nil {
			return err
		}
	}
	return nil
}

func defineInit(fs *flag.FlagSet) func(*cli, []string) error {
	o := modelFlags(fs)
	fs.Uint64Var(&o.Seed, "seed", 1, "the random `SEED`")
	out := fs.String("o", "", "the .safetensors `FILE` to write (required)")
	return func(c *cli, files []string) error {
		if *out == "" {
			return usagef("-o W.safetensors is required")
		}
		m, err := o.Load(files[0])
		if err != nil {
			return err
		}
		w, err := o.LoadWeights(m)
		if err != nil {
			return err
		}
		return weights.WriteFile(*out, w.Tensors, map[string]string{"model": m.Graph.Name, "seed": fmt.Sprint(o.Seed)})
	}
}
