package compile

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/diag"
	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/stdlib"
	"github.com/mdlc/mdlc/tensor"
)

// Model is a checked model, whichever frontend read it.
type Model struct {
	Graph *ir.Graph
	// Layers are the layer instances in source order, for summaries.
	Layers []Layer
	// Labels names the classes of a classifier's outputs, by output name.
	Labels map[string][]string
	// File is the path the model was read from, as given; Source its bytes.
	File   string
	Source []byte
	// Train is how the model asks to be trained, nil when it does not say.
	Train *TrainSpec
	// Weights came with the model's file (an ONNX model's initializers, in
	// mdlc's layouts); nil for a .mdl program.
	Weights map[string]*tensor.Tensor
	// Fixed are the dimensions the frontend fixed from LoadOptions.Dims
	// (an ONNX model's dynamic ones), which binding then leaves alone.
	Fixed []string
}

// TrainSpec is how a model asks to be trained, in the words of Keras's
// compile and fit: loss, optimiser and hyperparameters, metrics, batch size,
// epochs, validation split, learning-rate schedule. A zero field was not
// given. `mdlc train` takes it as its defaults, under its flags.
type TrainSpec struct {
	// Loss is a Keras loss name: sparse_categorical_crossentropy, mse, ...;
	// FromLogits its from_logits argument.
	Loss       string
	FromLogits bool
	// Optimizer is adam, adamw, sgd, rmsprop or adagrad, with the
	// hyperparameters given; zero means the optimiser's default.
	Optimizer                 string
	LR, Momentum, WeightDecay float64
	Nesterov                  bool
	// Metrics are the metrics asked for, in order, as mdlc train's
	// --metrics writes them: accuracy, topK (top5).
	Metrics           []string
	BatchSize, Epochs int
	// ValidationSplit is the fraction of the data held out for validation,
	// its last examples as Keras takes them.
	ValidationSplit float64
	// Schedule is the learning-rate schedule: constant, cosine (to 0 over
	// the run), step (times ScheduleGamma every ScheduleEvery epochs),
	// exponential (times ScheduleGamma each epoch) or plateau (times
	// ScheduleFactor when the watched loss has not improved for
	// SchedulePatience epochs, not below ScheduleMinLR; zero: Keras's
	// defaults).
	Schedule         string
	ScheduleEvery    int
	ScheduleGamma    float64
	ScheduleFactor   float64
	SchedulePatience int
	ScheduleMinLR    float64
}

// Layer is one layer instance: its hierarchical name (conv2d_1, res1.conv1),
// its kind in the frontend's language, output, parameters and FLOPs.
type Layer struct {
	Name   string
	Kind   string
	Output *ir.Value
	Params int64
	Flops  int64
}

// Diagnostics are a frontend's findings about a file, rendered as a compiler
// does (file:line:col, the source line, a caret, help). As an error they
// mean the model cannot be used.
type Diagnostics interface {
	error
	Render() string
}

// Frontend reads a model file.
type Frontend interface {
	// Load reads path and checks the model named model, or the file's only
	// model when model is "".
	Load(path, model string, o LoadOptions) (*Model, error)
	// Check checks everything in the file (every model of it).
	Check(path string, o LoadOptions) (warnings Diagnostics, err error)
}

// LoadOptions bound what a frontend may spend on a file.
type LoadOptions struct {
	// MaxNodes caps the IR nodes elaboration may create (0: the frontend's
	// default).
	MaxNodes int
	// Budget bounds what reading the file allocates (0: size.Default()).
	Budget size.Budget
	// Dims fixes an imported model's dynamic dimensions by name.
	Dims map[string]int
}

// frontendFor picks the frontend for a path: ONNX files by their
// extension, .mdl programs and stdlib names otherwise.
func frontendFor(path string) Frontend {
	if strings.EqualFold(filepath.Ext(path), ".onnx") {
		return onnxFrontend{}
	}
	return mdlFrontend{}
}

// Load reads and checks a model with the frontend its path calls for.
func Load(path, model string, o LoadOptions) (*Model, error) {
	return frontendFor(path).Load(path, model, o)
}

// Check checks every model and block of the file at path, as the frontend
// its path calls for sees them: an error (Diagnostics, usually) when any is
// wrong, and the warnings of a valid file.
func Check(path string, o LoadOptions) (warnings Diagnostics, err error) {
	return frontendFor(path).Check(path, o)
}

// mdlFrontend reads .mdl programs, and names of the embedded standard library
// (`cnn` for stdlib/cnn.mdl).
type mdlFrontend struct{}

// diagnostics renders sema's diagnostics with the program's sources.
type diagnostics struct {
	list diag.List
	src  diag.Source
}

func (d diagnostics) Error() string  { return d.list.Error() }
func (d diagnostics) Render() string { return d.list.Render(d.src) }

func (mdlFrontend) Load(path, model string, o LoadOptions) (*Model, error) {
	p, ds := (&sema.Loader{Std: stdlib.FS, MaxNodes: o.MaxNodes}).Load(path)
	return choose(p, ds, path, model)
}

// LoadSource reads and checks the model of a program given as its text, as
// Load does a file's; path names it in messages, and its imports are read
// as the file's would be (stdlib names from the embedded stdlib). A server
// whose program is embedded in its binary loads it so.
func LoadSource(path string, src []byte, model string, o LoadOptions) (*Model, error) {
	p, ds := (&sema.Loader{Std: stdlib.FS, MaxNodes: o.MaxNodes}).LoadSource(path, src)
	return choose(p, ds, path, model)
}

// choose builds model name of a loaded program, or its only model when
// name is "".
func choose(p *sema.Program, ds diag.List, path, model string) (*Model, error) {
	if ds.HasErrors() {
		return nil, diagnostics{ds, source(p)}
	}
	name := model
	if name == "" {
		models := p.Models()
		switch len(models) {
		case 0:
			return nil, fmt.Errorf("%s declares no model (only blocks); add `model name(input: f32[...]) -> (output) { ... }`", path)
		case 1:
			name = models[0]
		default:
			return nil, &UsageError{fmt.Sprintf("%s declares several models (%s): choose one with --model", path, strings.Join(models, ", "))}
		}
	}
	return build(p, name, path)
}

// build elaborates model name of a loaded program into a Model.
func build(p *sema.Program, name, path string) (*Model, error) {
	m, ds := p.Build(name)
	if len(ds) > 0 {
		return nil, diagnostics{ds, source(p)}
	}
	out := &Model{Graph: m.Graph, File: path, Source: p.Source(p.Root.Path), Labels: m.Labels}
	if m.Train != nil {
		// The same fields: the conversion stops compiling if they part.
		t := TrainSpec(*m.Train)
		out.Train = &t
	}
	for _, l := range m.Layers {
		out.Layers = append(out.Layers, Layer{Name: l.Name, Kind: l.Kind, Output: l.Output, Params: l.Params, Flops: l.Flops})
	}
	return out, nil
}

func (mdlFrontend) Check(path string, o LoadOptions) (Diagnostics, error) {
	p, ds := (&sema.Loader{Std: stdlib.FS, MaxNodes: o.MaxNodes}).Load(path)
	if len(ds) == 0 {
		ds = p.Check()
	}
	if ds.HasErrors() {
		return nil, diagnostics{ds, source(p)}
	}
	if len(ds) > 0 {
		return diagnostics{ds, source(p)}, nil
	}
	return nil, nil
}

func source(p *sema.Program) diag.Source {
	if p == nil {
		return nil
	}
	return p.Source
}

// UsageError is a mistake in how mdlc was called (a flag, a missing
// argument) rather than in a model or its data: exit status 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error { return &UsageError{fmt.Sprintf(format, args...)} }
