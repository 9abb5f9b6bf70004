package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/passes"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
	"github.com/mdlc/mdlc/weights"
)

func runRun(c *cli, args []string) error {
	fs := c.flags("run")
	model := fs.String("model", "", "the model to run, if the file has several")
	weightsPath := fs.String("weights", "", "weights as .safetensors (default: Keras-style initialisation from --seed)")
	var inputPaths inputList
	fs.Var(&inputPaths, "input", "input as .npy, .png or .jpg, or NAME=FILE for one of several inputs; repeatable (default: a deterministic sample)")
	outputPath := fs.String("output", "", "write the output to this .npy file")
	sh := shapeFlags(fs, "batch size of the sample input")
	seed := fs.Uint64("seed", 1, "seed for initial weights and the sample input")
	top := fs.Int("top", 5, "classes to list for a classifier's output")
	noOpt := fs.Bool("O0", false, "run the graph as written, without optimisation")
	fs.BoolVar(noOpt, "no-opt", false, "the same as -O0")
	files, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if err := sh.check(); err != nil {
		return err
	}
	m, err := c.build(files[0], *model)
	if err != nil {
		return err
	}
	g := m.Graph
	params, err := loadWeights(g, *weightsPath, *seed)
	if err != nil {
		return err
	}
	inputs, err := loadInputs(g, inputPaths, sh.batch, sh.dims, *seed)
	if err != nil {
		return err
	}
	outs, err := execute(g, params, inputs, !*noOpt)
	if err != nil {
		return err
	}
	for _, o := range g.Outputs {
		t := outs[o.Name]
		fmt.Fprintf(c.stdout, "%s: %s%s\n", o.Name, o.Value.Type.DType, tensor.ShapeString(t.Shape))
		if t.IsDistribution() {
			t.WriteTop(c.stdout, *top)
		}
	}
	if *outputPath != "" {
		return writeOutputs(g, outs, *outputPath)
	}
	return nil
}

// execute runs g: optimised and compiled to a plan, or, with optimise off,
// as written on the reference runtime.
func execute(g *ir.Graph, params, inputs map[string]*tensor.Tensor, optimise bool) (map[string]*tensor.Tensor, error) {
	if !optimise {
		return ref.Run(g, params, inputs)
	}
	env, err := ref.Bind(g, inputs)
	if err != nil {
		return nil, err
	}
	if err := passes.BindWeights(g, params); err != nil {
		return nil, err
	}
	if _, err := passes.Run(g, passes.Options{Verify: true}); err != nil {
		return nil, err
	}
	p, err := plan.Build(g, nil, env)
	if err != nil {
		return nil, err
	}
	return p.RunTensors(inputs)
}

func loadWeights(g *ir.Graph, path string, seed uint64) (map[string]*tensor.Tensor, error) {
	if path == "" {
		return weights.Init(g, seed)
	}
	return weights.Load(path, g)
}

// inputList collects repeated --input flags.
type inputList []string

func (l *inputList) String() string     { return strings.Join(*l, ",") }
func (l *inputList) Set(v string) error { *l = append(*l, v); return nil }

// loadInputs reads the --input files; inputs not given get a uniform [0, 1)
// sample, the range the seed's images are scaled to, unless some were given.
func loadInputs(g *ir.Graph, given inputList, batch int, dims dimList, seed uint64) (map[string]*tensor.Tensor, error) {
	inputs := map[string]*tensor.Tensor{}
	for _, arg := range given {
		name, path, named := strings.Cut(arg, "=")
		if !named {
			if len(g.Inputs) != 1 {
				return nil, usageError{fmt.Sprintf("model %s takes %d inputs (%s); give each as --input NAME=FILE", g.Name, len(g.Inputs), inputNames(g))}
			}
			name, path = g.Inputs[0].Name, arg
		}
		in := findInput(g, name)
		if in == nil {
			return nil, usageError{fmt.Sprintf("model %s has no input %q; its inputs are %s", g.Name, name, inputNames(g))}
		}
		if _, dup := inputs[name]; dup {
			return nil, usageError{fmt.Sprintf("input %q given twice", name)}
		}
		t, err := readInput(path, in)
		if err != nil {
			return nil, err
		}
		inputs[name] = t
	}
	if len(given) > 0 {
		for _, in := range g.Inputs {
			if inputs[in.Name] == nil {
				return nil, usageError{fmt.Sprintf("missing --input %s=FILE (%s)", in.Name, in.Type)}
			}
		}
		return inputs, nil
	}
	env, err := bindSymbols(g, batch, dims)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5a4d504c45))
	for _, in := range g.Inputs {
		shape, err := in.Type.Shape.Bind(env)
		if err != nil {
			return nil, err
		}
		inputs[in.Name] = sample(g, in, shape, rng)
	}
	return inputs, nil
}

// sample is a sample input: uniform in [0, 1) for f32, token ids uniform over
// the vocabulary of the embeddings reading them.
func sample(g *ir.Graph, in *ir.Value, shape []int, rng *rand.Rand) *tensor.Tensor {
	if in.Type.DType == ir.F32 {
		t := tensor.New(shape...)
		for j := range t.Data {
			t.Data[j] = rng.Float32()
		}
		return t
	}
	t := tensor.NewInts(shape...)
	limit := g.TokenLimit(in)
	for j := range t.Ints {
		t.Ints[j] = int64(rng.IntN(limit))
	}
	return t
}

func findInput(g *ir.Graph, name string) *ir.Value {
	for _, in := range g.Inputs {
		if in.Name == name {
			return in
		}
	}
	return nil
}

func inputNames(g *ir.Graph) string {
	names := make([]string, len(g.Inputs))
	for i, in := range g.Inputs {
		names[i] = in.Name + ": " + in.Type.String()
	}
	return strings.Join(names, ", ")
}

// readInput loads an .npy array, or an image decoded and resized to the
// input's height and width and scaled to 0..1, as the seed's Keras code does.
func readInput(path string, in *ir.Value) (*tensor.Tensor, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".npy" {
		t, err := tensor.ReadNpyFile(path)
		if err != nil {
			return nil, err
		}
		switch {
		case in.Type.DType != ir.F32 && !t.IsInt():
			return nil, fmt.Errorf("%s: input %s is token ids (%s), but the file holds floats: save the ids as integers (numpy's int32 or int64)", path, in.Name, in.Type)
		case in.Type.DType == ir.F32:
			t = t.Floats()
		}
		// One example without its batch axis is unambiguous: add the axis.
		if len(t.Shape) == in.Type.Shape.Rank()-1 && !in.Type.Shape[0].Known() {
			t.Shape = append([]int{1}, t.Shape...)
		}
		return t, nil
	}
	s := in.Type.Shape
	if in.Type.DType != ir.F32 {
		return nil, fmt.Errorf("%s: input %s is token ids (%s): give them as an .npy of integers", path, in.Name, in.Type)
	}
	if s.Rank() != 4 || !s[1].Known() || !s[2].Known() || !s[3].Known() || (s[3].Size != 1 && s[3].Size != 3) {
		return nil, fmt.Errorf("%s: an image can only feed an input of shape (N, height, width, 1 or 3); input %s is %s", path, in.Name, in.Type)
	}
	return tensor.LoadImage(path, s[1].Size, s[2].Size, s[3].Size)
}

// writeOutputs writes the single output to path, or each output to
// path with its name before the extension.
func writeOutputs(g *ir.Graph, outs map[string]*tensor.Tensor, path string) error {
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

func runInit(c *cli, args []string) error {
	fs := c.flags("init")
	model := fs.String("model", "", "the model, if the file has several")
	seed := fs.Uint64("seed", 1, "random seed")
	out := fs.String("o", "", "output .safetensors file")
	files, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *out == "" {
		return usageError{"-o W.safetensors is required"}
	}
	m, err := c.build(files[0], *model)
	if err != nil {
		return err
	}
	ts, err := weights.Init(m.Graph, *seed)
	if err != nil {
		return err
	}
	return weights.WriteFile(*out, ts, map[string]string{"model": m.Graph.Name, "seed": fmt.Sprint(*seed)})
}
