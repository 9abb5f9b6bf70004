package codegen

import (
	"bytes"
	"fmt"
	"go/format"
	"hash/crc32"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/optim"
	"github.com/mdlc/mdlc/runtime/exec"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/train/step"
)

// Training is what mdlc gen --train adds to a package (Options.Train): a
// Trainer that runs the training step's program (package train's plan, its
// parameters as state) and package step's host half around it, as
// train.Trainer does, and the evaluation step's program, which reads the
// same parameters.
type Training struct {
	// Step and Eval are the programs of train.New's and train.NewEvaluator's
	// plans; Layout and EvalLayout their parameters' places in their state
	// (plan.Layout: the trainable ones first).
	Step, Eval         plan.Program
	Layout, EvalLayout []plan.ParamRange
	// Params is the parameters' initial values, laid out as Layout says.
	Params []float32
	// Weights names the parameters Trainer.Weights returns: the model's
	// own, not state training adds (dropout's step counter).
	Weights []string
	Shape   step.Shape
	// Optimizer, LR (the starting rate), Schedule and ClipNorm are the
	// update; OptimizerName and Loss name it and the objective for the doc.
	Optimizer           optim.Optimizer
	LR, ClipNorm        float64
	Schedule            optim.EpochSchedule
	OptimizerName, Loss string
	// Check is what the generated test checks (with Options.Tests).
	Check *TrainCheck
}

// TrainCheck is what train.Trainer computed on the batches the generated
// test takes, its rate the schedule's for a run of len(N) epochs of one
// step: TrainStep on the Sample batch of N[i] examples (class ids
// SampleIDs(n, LabelLimit)) returns Loss[i] and Correct[i]; after them the
// parameters have the CRC-32C Params, and Evaluate on a full batch returns
// EvalLoss and EvalCorrect.
type TrainCheck struct {
	N, Correct  []int
	Loss        []float32
	Params      uint32
	EvalLoss    float32
	EvalCorrect int
}

// TrainBatches is the examples of each step the generated test takes: a full
// batch, one short of it (padded), a full one.
func TrainBatches(s step.Shape) []int {
	return []int{s.Batch, max(s.Batch-1, 1), s.Batch}
}

// LabelLimit bounds the class ids the generated test gives a step of shape
// s: 2 for one prediction per example, else one per class.
func LabelLimit(s step.Shape) int {
	if s.Pred == 1 {
		return 2
	}
	if s.Classes > 1 {
		return s.Classes
	}
	return s.Pred
}

// trainer holds what the training files are made of.
type trainer struct {
	*gen
	t *Training
	// trainable is the floats of the trainable parameters (a prefix of
	// Params); stepAt and evalAt each program's state slots' offsets in
	// Params; stepConsts and evalConsts their constant slots' floats.
	trainable              int
	stepAt, evalAt         []int
	stepConsts, evalConsts int
}

// trainFiles writes the training wrapper (the Trainer), the programs, their
// weights and, with tests, the training test.
func (g *gen) trainFiles(t *Training, tests bool, files Files) error {
	if g.external {
		return fmt.Errorf("--train with --external-weights: a generated trainer embeds its weights; leave out --external-weights")
	}
	tr := &trainer{gen: g, t: t}
	if err := tr.check(); err != nil {
		return err
	}
	blob := littleEndian(nil, t.Params)
	for _, p := range []plan.Program{t.Step, t.Eval} {
		for _, s := range p.Slots {
			if s.Kind == exec.SlotConstant {
				blob = littleEndian(blob, s.Data)
			}
		}
	}
	wrapper, err := tr.wrapper(blob)
	if err != nil {
		return err
	}
	var body strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&body, format, args...) }
	imports := map[string]bool{"github.com/mdlc/mdlc/runtime/exec": true}
	if err := g.program(w, "// trainProgram is the training step's plan: the loss, the predictions and\n// every trainable parameter's gradient, with the parameters as state.\nfunc trainProgram() *exec.Program", g.pkg+" training step", t.Step, "trainArenaFloats", imports); err != nil {
		return fmt.Errorf("the training step: %w", err)
	}
	w("\n")
	if err := g.program(w, "// evalProgram is the evaluation step's plan: the loss and the predictions.\nfunc evalProgram() *exec.Program", g.pkg+" evaluation step", t.Eval, "evalArenaFloats", imports); err != nil {
		return fmt.Errorf("the evaluation step: %w", err)
	}
	progs, err := g.file(body.String(), slices.Collect(maps.Keys(imports))...)
	if err != nil {
		return err
	}
	files[g.pkg+"_train.go"], files[g.pkg+"_trainprog.go"], files[g.pkg+"_train.weights"] = wrapper, progs, blob
	if tests {
		if t.Check == nil {
			return fmt.Errorf("--tests --train: no training results to check (a bug in mdlc)")
		}
		src, err := tr.testSource()
		if err != nil {
			return err
		}
		files[g.pkg+"_train_test.go"] = src
	}
	return nil
}

// check refuses programs whose ports and state are not laid out as the
// Trainer binds them: inputs (examples, labels, sample weights); outputs
// (loss, predictions, then the trainable parameters' gradients in Layout
// order); state slots, in slot order, the parameters of the layout.
func (tr *trainer) check() error {
	t := tr.t
	at := map[string]plan.ParamRange{}
	for i, r := range t.Layout {
		if r.Trainable && i > 0 && !t.Layout[i-1].Trainable {
			return fmt.Errorf("the training step's parameter %s is trainable but follows one that is not (a bug in mdlc)", r.Name)
		}
		if r.Trainable {
			tr.trainable += r.Size()
		}
		at[r.Name] = r
	}
	if len(t.Params) != total(t.Layout) {
		return fmt.Errorf("%d initial parameter values for a layout of %d (a bug in mdlc)", len(t.Params), total(t.Layout))
	}
	var grads []string
	for _, r := range t.Layout {
		if r.Trainable {
			grads = append(grads, step.GradPrefix+r.Name)
		}
	}
	for _, c := range []struct {
		what   string
		prog   plan.Program
		layout []plan.ParamRange
		outs   []string
		at     *[]int
		consts *int
	}{{"training", t.Step, t.Layout, grads, &tr.stepAt, &tr.stepConsts}, {"evaluation", t.Eval, t.EvalLayout, nil, &tr.evalAt, &tr.evalConsts}} {
		if len(c.prog.Inputs) != 3 || len(c.prog.Outputs) != 2+len(c.outs) {
			return fmt.Errorf("the %s step has %d inputs and %d outputs, want 3 and %d (a bug in mdlc)", c.what, len(c.prog.Inputs), len(c.prog.Outputs), 2+len(c.outs))
		}
		for i, name := range c.outs {
			if got := c.prog.Outputs[2+i].Name; got != name {
				return fmt.Errorf("the %s step's output %d is %s, want %s (a bug in mdlc)", c.what, 2+i, got, name)
			}
		}
		k := 0
		for _, s := range c.prog.Slots {
			switch s.Kind {
			case exec.SlotConstant:
				*c.consts += s.N
			case exec.SlotState:
				if k == len(c.layout) {
					return fmt.Errorf("the %s step has more state than parameters (a bug in mdlc)", c.what)
				}
				r, ok := at[c.layout[k].Name]
				if !ok || r.Size() != s.N || c.layout[k].Size() != s.N {
					return fmt.Errorf("the %s step's state slot of %d floats is not the training step's parameter %s (a bug in mdlc)", c.what, s.N, c.layout[k].Name)
				}
				*c.at = append(*c.at, r.Offset)
				k++
			}
		}
		if k != len(c.layout) {
			return fmt.Errorf("the %s step has %d state slots for %d parameters (a bug in mdlc)", c.what, k, len(c.layout))
		}
	}
	for _, name := range t.Weights {
		if _, ok := at[name]; !ok {
			return fmt.Errorf("no parameter %s in the training step (a bug in mdlc)", name)
		}
	}
	return nil
}

func total(layout []plan.ParamRange) int {
	n := 0
	for _, r := range layout {
		n += r.Size()
	}
	return n
}

// file formats a Go file of the package with the header, body and imports
// (standard library paths first).
func (g *gen) file(body string, imports ...string) ([]byte, error) {
	var out bytes.Buffer
	fmt.Fprintf(&out, "// Code generated by mdlc gen. DO NOT EDIT.\n\npackage %s\n\nimport (\n", g.pkg)
	slices.SortFunc(imports, func(a, b string) int {
		if sa, sb := !strings.Contains(a, "."), !strings.Contains(b, "."); sa != sb {
			if sa {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	for i, p := range imports {
		if i > 0 && strings.Contains(p, ".") && !strings.Contains(imports[i-1], ".") {
			out.WriteString("\n")
		}
		if p == "embed" {
			fmt.Fprintf(&out, "\t_ %q\n", p)
		} else {
			fmt.Fprintf(&out, "\t%q\n", p)
		}
	}
	out.WriteString(")\n\n" + body)
	src, err := format.Source(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("generated code does not parse (a bug in mdlc): %w", err)
	}
	return src, nil
}

// ints is a Go slice literal of ints.
func ints(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return "[]int{" + strings.Join(s, ", ") + "}"
}

// wrapper is the Trainer: its constants, the optimiser, and TrainStep,
// Evaluate and Weights over package step.
func (tr *trainer) wrapper(blob []byte) ([]byte, error) {
	t, g := tr.t, tr.gen
	var body strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&body, format, args...) }
	imports := map[string]bool{}
	lit := func(v any) (string, error) {
		var sb strings.Builder
		err := literal(&sb, reflect.ValueOf(v), imports)
		return sb.String(), err
	}
	opt, err := lit(t.Optimizer)
	if err != nil {
		return nil, fmt.Errorf("the optimiser: %w", err)
	}
	sched, err := lit(t.Schedule)
	if err != nil {
		return nil, fmt.Errorf("the schedule: %w", err)
	}
	shape, err := lit(t.Shape)
	if err != nil {
		return nil, err
	}

	w("const (\n")
	w("\t// TrainBatch is the most examples TrainStep and Evaluate take at once.\n\tTrainBatch = %d\n", t.Shape.Batch)
	w("\t// ExampleFloats is the floats of one example TrainStep and Evaluate read.\n\tExampleFloats = %d\n", t.Shape.Example)
	w("\t// ExampleLabels is the labels of one example TrainStep and Evaluate read:\n\t// 1, or a language model's target per position (-1 for padding).\n\tExampleLabels = %d\n", t.Shape.PerExample())
	w("\t// LearningRate is the %s optimiser's starting rate.\n\tLearningRate = %s\n", t.OptimizerName, strconv.FormatFloat(t.LR, 'g', -1, 64))
	w("\t// ClipNorm, if positive, bounds the gradients' global L2 norm.\n\tClipNorm = %s\n\n", strconv.FormatFloat(t.ClipNorm, 'g', -1, 64))
	w("\tparamFloats = %d // all parameters, the trainable ones first\n\ttrainableFloats = %d\n", len(t.Params), tr.trainable)
	w("\ttrainConstFloats = %d\n\tevalConstFloats = %d\n", tr.stepConsts, tr.evalConsts)
	w("\ttrainArenaFloats = %d\n\tevalArenaFloats = %d\n", t.Step.ArenaFloats, t.Eval.ArenaFloats)
	w("\ttrainWeightsCRC = %#08x // CRC-32C of the training weights file\n)\n\n", crc32.Checksum(blob, castagnoli))

	w("// optimizer is the update rule, as mdlc gen --train --optimizer %s made it.\nvar optimizer = %s\n\n", t.OptimizerName, opt)
	w("// schedule is the learning rate by epochs, as mdlc gen --train --schedule %s\n// made it: mdlc train makes its rates with it too.\nvar schedule = %s\n\n", t.Schedule, sched)
	w("// stepShape is the sizes package step binds a batch with.\nvar stepShape = %s\n\n", shape)
	w("// trainState and evalState place each program's state slots, in slot\n// order, in a Trainer's parameters.\nvar (\n\ttrainState = %s\n\tevalState = %s\n)\n\n", ints(tr.stepAt), ints(tr.evalAt))
	w("// parameters are the model's parameters, in a Trainer's parameters.\nvar parameters = [...]struct {\n\tname string\n\toff, n int\n}{\n")
	byName := map[string]plan.ParamRange{}
	for _, r := range t.Layout {
		byName[r.Name] = r
	}
	for _, name := range t.Weights {
		r := byName[name]
		w("\t{%q, %d, %d}, // %v\n", name, r.Offset, r.Size(), r.Shape)
	}
	w("}\n\n")
	w("// gradients are the sizes of the training step's gradient outputs, one\n// after another in a Trainer's gradients.\nvar gradients = %s\n\n", ints(gradSizes(t.Layout)))

	w("//go:embed %s_train.weights\nvar trainWeightsFile []byte\n\n", g.pkg)
	w("// trainWeights is the embedded file, checked and decoded once: the initial\n// parameters, then the two programs' constants.\n")
	w("var trainWeights = sync.OnceValues(func() ([]float32, error) {\n")
	w("\tdata := trainWeightsFile\n\tn := paramFloats + trainConstFloats + evalConstFloats\n")
	w("\tif len(data) != 4*n || crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) != trainWeightsCRC {\n")
	w("\t\treturn nil, fmt.Errorf(\"%s: the embedded training weights: corrupt (%%d bytes, want %%d with CRC-32C %%#08x); regenerate the package\", len(data), 4*n, uint32(trainWeightsCRC))\n\t}\n", g.pkg)
	w("\tw := make([]float32, n)\n\tfor i := range w {\n\t\tw[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))\n\t}\n\treturn w, nil\n})\n\n")

	clip := ""
	if t.ClipNorm > 0 {
		clip = ", clipping the gradients to a global norm of ClipNorm"
	}
	w("// Trainer trains the model as mdlc train does: the same plan, the same host\n// half (package train/step), the same bits. Its loss is %s;\n// its optimiser %s, from learning rate LearningRate on the %s schedule%s.\n// It takes TrainBatch examples at a time.\n//\n", t.Loss, t.OptimizerName, t.Schedule, clip)
	w("// As mdlc train, a run of epochs goes SetEpochs(stepsPerEpoch, epochs), then\n// for each epoch TrainStep on each batch (the data's order is the caller's)\n// and EndEpoch with the loss the schedule watches.\n//\n")
	w("// Each Trainer has its own parameters, starting from the ones the package\n// was generated with (or SetWeights'), and its own optimiser state; one\n// Trainer runs one step at a time.\n")
	w("type Trainer struct {\n\ttrain, eval *exec.Program\n\ttrainArena, evalArena *exec.Arena\n\tparams, grads []float32\n\tbatch *step.Batch\n\tupdate *step.Update\n\ttrainOut, evalOut [][]float32\n\t// epoch is the training loss of the epoch so far; run says SetEpochs\n\t// gave the run's length.\n\tepoch step.LossMean\n\trun bool\n}\n\n")

	w("// NewTrainer makes a trainer whose steps spread their larger work over\n// threads goroutines (at least 1). Results do not depend on threads. Close it\n// when done.\n")
	w("func NewTrainer(threads int) (*Trainer, error) {\n")
	w("\tif !slices.Contains(cpu.Available(), Kernels) {\n")
	w("\t\treturn nil, fmt.Errorf(\"%s: generated for the %%s kernels, which this CPU or build cannot run (available: %%v); regenerate with mdlc gen --kernels %%s\", Kernels, cpu.Available(), cpu.Available()[0])\n\t}\n", g.pkg)
	w("\tw, err := trainWeights()\n\tif err != nil {\n\t\treturn nil, err\n\t}\n")
	w("\tt := &Trainer{train: trainProgram(), eval: evalProgram(), params: slices.Clone(w[:paramFloats]), grads: make([]float32, trainableFloats), batch: step.NewBatch(stepShape)}\n")
	w("\tt.update = step.NewUpdate(optimizer, schedule.Schedule(LearningRate, 0, 0), ClipNorm, trainableFloats)\n")
	w("\tconsts := w[paramFloats:]\n")
	w("\tif err := step.Bind(t.train, consts[:trainConstFloats], t.params, trainState); err != nil {\n\t\treturn nil, err\n\t}\n")
	w("\tif err := step.Bind(t.eval, consts[trainConstFloats:], t.params, evalState); err != nil {\n\t\treturn nil, err\n\t}\n")
	w("\tfor _, p := range []*exec.Program{t.train, t.eval} {\n\t\tif err := p.Compile(); err != nil {\n\t\t\treturn nil, err\n\t\t}\n\t}\n")
	w("\tgrads := make([][]float32, len(gradients))\n\toff := 0\n\tfor i, n := range gradients {\n\t\tgrads[i] = t.grads[off : off+n]\n\t\toff += n\n\t}\n")
	w("\tt.trainOut, t.evalOut = t.batch.Outputs(grads...), t.batch.Outputs()\n")
	w("\tt.trainArena, t.evalArena = t.train.NewArena(threads), t.eval.NewArena(threads)\n\treturn t, nil\n}\n\n")

	w("// SetEpochs starts a run of epochs epochs of stepsPerEpoch steps each (the\n// data's batches), which the schedule's rate by step depends on, as mdlc\n// train's does on the data it reads. A schedule other than constant or\n// plateau needs it before the first TrainStep; a plateau's watching\n// starts again.\n")
	w("func (t *Trainer) SetEpochs(stepsPerEpoch, epochs int) error {\n\tif stepsPerEpoch < 1 || epochs < 1 {\n")
	w("\t\treturn fmt.Errorf(\"%s: a run of %%d epochs of %%d steps: want at least 1 of each\", epochs, stepsPerEpoch)\n\t}\n", g.pkg)
	w("\tt.update.LR, t.run = schedule.Schedule(LearningRate, stepsPerEpoch, epochs), true\n\treturn nil\n}\n\n")
	w("// TrainStep trains on a batch of n examples, 1 ≤ n ≤ TrainBatch: x holds\n// them (n·ExampleFloats floats), labels their class ids (n·ExampleLabels;\n// a language model's -1, padding, counts for nothing). It returns the\n// batch's loss, the mean over its labels, and the labels predicted right\n// before the update.\n")
	w("func (t *Trainer) TrainStep(x []float32, labels []int64, n int) (loss float32, correct int, err error) {\n")
	w("\tif schedule.NeedsRun() && !t.run {\n\t\treturn 0, 0, fmt.Errorf(\"%s: the %%s schedule spans the run: call SetEpochs first\", schedule.Kind)\n\t}\n", g.pkg)
	w("\tloss, correct, err = t.batch.Run(t.train, t.trainArena, t.trainOut, x, labels, n)\n\tif err != nil {\n\t\treturn 0, 0, err\n\t}\n")
	w("\tif err := t.update.Apply(loss, t.params[:trainableFloats], t.grads); err != nil {\n\t\treturn 0, 0, fmt.Errorf(\"%s: %%w\", err)\n\t}\n\tt.epoch.Add(loss, t.batch.Labelled())\n\treturn loss, correct, nil\n}\n\n", g.pkg)
	w("// InTopK counts the last step's examples whose label is among their k\n// highest predictions, classes tied at the k-th place all counting as in\n// (Keras's top-k accuracy, TensorFlow's in_top_k).\n")
	w("func (t *Trainer) InTopK(k int) int { return t.batch.InTopK(k) }\n\n")
	w("// EpochLoss is the mean training loss of the epoch's steps so far, as mdlc\n// train reports it.\nfunc (t *Trainer) EpochLoss() float64 { return t.epoch.Mean() }\n\n")
	w("// EndEpoch ends an epoch: a plateau schedule watches watched, which mdlc\n// train makes the validation loss, or EpochLoss without validation data;\n// the other schedules ignore it.\n")
	w("func (t *Trainer) EndEpoch(watched float64) {\n\tt.update.EndEpoch(watched)\n\tt.epoch = step.LossMean{}\n}\n\n")
	w("// Rate is the learning rate the next step takes.\nfunc (t *Trainer) Rate() float64 { return t.update.LR.LR(t.update.Step) }\n\n")
	w("// Evaluate is a batch's loss and the labels predicted right, as\n// TrainStep takes it, without training.\n")
	w("func (t *Trainer) Evaluate(x []float32, labels []int64, n int) (loss float32, correct int, err error) {\n")
	w("\treturn t.batch.Run(t.eval, t.evalArena, t.evalOut, x, labels, n)\n}\n\n")
	w("// Predictions are the last step's predictions (logits for the\n// cross-entropies), TrainBatch examples' (a language model's: a row of\n// logits per position); valid until the next step.\n")
	w("func (t *Trainer) Predictions() []float32 { return t.batch.Predictions }\n\n")
	w("// Steps is the number of optimiser steps taken.\nfunc (t *Trainer) Steps() int { return t.update.Step }\n\n")
	w("// Weights are the model's current parameters, copied, by name.\n")
	w("func (t *Trainer) Weights() map[string][]float32 {\n\tm := make(map[string][]float32, len(parameters))\n")
	w("\tfor _, p := range parameters {\n\t\tm[p.name] = slices.Clone(t.params[p.off : p.off+p.n])\n\t}\n\treturn m\n}\n\n")
	w("// SetWeights sets the model's parameters by name, as Weights gives them\n// (or mdlc train writes them): each one, of its size.\n")
	w("func (t *Trainer) SetWeights(w map[string][]float32) error {\n\tfor _, p := range parameters {\n\t\tif len(w[p.name]) != p.n {\n")
	w("\t\t\treturn fmt.Errorf(\"%s: SetWeights: %%s has %%d values, want %%d\", p.name, len(w[p.name]), p.n)\n\t\t}\n\t}\n", g.pkg)
	w("\tif len(w) != len(parameters) {\n\t\treturn fmt.Errorf(\"%s: SetWeights: %%d weights for %%d parameters\", len(w), len(parameters))\n\t}\n", g.pkg)
	w("\tfor _, p := range parameters {\n\t\tcopy(t.params[p.off:p.off+p.n], w[p.name])\n\t}\n\treturn nil\n}\n\n")
	w("// Close releases the trainer's arenas and their goroutines.\nfunc (t *Trainer) Close() {\n\tt.trainArena.Close()\n\tt.evalArena.Close()\n}\n")

	imports["embed"] = true
	for _, p := range []string{"encoding/binary", "fmt", "hash/crc32", "math", "slices", "sync",
		"github.com/mdlc/mdlc/optim", "github.com/mdlc/mdlc/runtime/exec", "github.com/mdlc/mdlc/runtime/kernels/cpu", "github.com/mdlc/mdlc/train/step"} {
		imports[p] = true
	}
	return g.file(body.String(), slices.Collect(maps.Keys(imports))...)
}

// gradSizes is the sizes of the trainable parameters, in layout order.
func gradSizes(layout []plan.ParamRange) []int {
	var n []int
	for _, r := range layout {
		if r.Trainable {
			n = append(n, r.Size())
		}
	}
	return n
}

// testSource is the training test: two trainers, one after the other, take
// the steps train.Trainer took (TrainCheck) and get its losses, accuracy and
// parameters, bit for bit, on one thread and on two; the second, made before
// the first trained, starts from the initial parameters all the same. A
// step before SetEpochs is refused when the schedule needs the run's
// length; SetWeights sets what Weights reads and refuses a missing one. It
// uses the main test's checksum.
func (tr *trainer) testSource() ([]byte, error) {
	c := tr.t.Check
	if len(c.N) != len(c.Loss) || len(c.N) != len(c.Correct) {
		return nil, fmt.Errorf("%d training steps with %d losses and %d counts (a bug in mdlc)", len(c.N), len(c.Loss), len(c.Correct))
	}
	var sb strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	bits := make([]string, len(c.Loss))
	for i, l := range c.Loss {
		bits[i] = fmt.Sprintf("%#08x", math.Float32bits(l))
	}
	w("// What mdlc computed with train.Trainer, the same plan on the same batches:\n// each step's examples, loss (bits) and examples classified right; the\n// CRC-32C of the parameters after them; Evaluate's loss and count then.\n")
	w("var (\n\ttestN = %s\n\ttestLoss = []uint32{%s}\n\ttestCorrect = %s\n)\n\n", ints(c.N), strings.Join(bits, ", "), ints(c.Correct))
	w("const (\n\ttestParamsCRC = %#08x\n\ttestEvalLoss = %#08x\n\ttestEvalCorrect = %d\n\ttestLabelLimit = %d\n)\n\n", c.Params, math.Float32bits(c.EvalLoss), c.EvalCorrect, LabelLimit(tr.t.Shape))
	w("func TestTrainer(t *testing.T) {\n")
	w("\tx := make([]float32, TrainBatch*ExampleFloats)\n\tfor i := range x {\n\t\tx[i] = float32(int32(uint32(i)*2654435761)>>8) / (1 << 23)\n\t}\n")
	w("\tlabels := make([]int64, TrainBatch*ExampleLabels)\n\tfor i := range labels {\n\t\tlabels[i] = int64(uint32(i)*2654435761>>8) %% testLabelLimit\n\t}\n")
	w("\tvar trainers []*Trainer\n\tfor threads := 1; threads <= 2; threads++ {\n\t\ttr, err := NewTrainer(threads)\n\t\tif err != nil {\n\t\t\tt.Fatal(err)\n\t\t}\n\t\tdefer tr.Close()\n\t\ttrainers = append(trainers, tr)\n\t}\n")
	w("\tfor k, tr := range trainers {\n\t\tif err := tr.SetEpochs(1, len(testN)); err != nil {\n\t\t\tt.Fatal(err)\n\t\t}\n")
	w("\t\tfor i, n := range testN {\n\t\t\tloss, correct, err := tr.TrainStep(x, labels, n)\n\t\t\tif err != nil {\n\t\t\t\tt.Fatal(err)\n\t\t\t}\n")
	w("\t\t\tif math.Float32bits(loss) != testLoss[i] || correct != testCorrect[i] {\n\t\t\t\tt.Fatalf(\"trainer %%d, step %%d: loss %%v (bits %%#08x), %%d right; mdlc's train.Trainer had bits %%#08x, %%d right\", k, i, loss, math.Float32bits(loss), correct, testLoss[i], testCorrect[i])\n\t\t\t}\n\t\t}\n")
	w("\t\tif got := checksum(tr.params); got != testParamsCRC {\n\t\t\tt.Fatalf(\"trainer %%d: the parameters after %%d steps have CRC-32C %%#08x, train.Trainer's %%#08x\", k, len(testN), got, uint32(testParamsCRC))\n\t\t}\n")
	w("\t\tloss, correct, err := tr.Evaluate(x, labels, TrainBatch)\n\t\tif err != nil {\n\t\t\tt.Fatal(err)\n\t\t}\n")
	w("\t\tif math.Float32bits(loss) != testEvalLoss || correct != testEvalCorrect {\n\t\t\tt.Fatalf(\"trainer %%d: Evaluate: loss %%v (bits %%#08x), %%d right; train.Evaluator had bits %%#08x, %%d right\", k, loss, math.Float32bits(loss), correct, uint32(testEvalLoss), testEvalCorrect)\n\t\t}\n")
	w("\t\tif tr.Steps() != len(testN) || len(tr.Weights()) != len(parameters) {\n\t\t\tt.Fatalf(\"trainer %%d: %%d steps, %%d weights\", k, tr.Steps(), len(tr.Weights()))\n\t\t}\n\t}\n")
	w("\tif _, _, err := trainers[0].TrainStep(x, labels, TrainBatch+1); err == nil {\n\t\tt.Fatal(\"a batch larger than TrainBatch was taken\")\n\t}\n")
	w("\tfresh, err := NewTrainer(1)\n\tif err != nil {\n\t\tt.Fatal(err)\n\t}\n\tdefer fresh.Close()\n")
	w("\tif _, _, err := fresh.TrainStep(x, labels, 1); (err != nil) != schedule.NeedsRun() {\n\t\tt.Fatalf(\"a step before SetEpochs on the %%s schedule: %%v\", schedule, err)\n\t}\n")
	w("\tw := trainers[0].Weights()\n\tfor _, v := range w {\n\t\tv[0]++\n\t}\n\tif err := trainers[1].SetWeights(w); err != nil {\n\t\tt.Fatal(err)\n\t}\n")
	w("\tfor name, v := range trainers[1].Weights() {\n\t\tif v[0] != w[name][0] {\n\t\t\tt.Fatalf(\"SetWeights: %%s[0] is %%v, want %%v\", name, v[0], w[name][0])\n\t\t}\n\t\tdelete(w, name)\n\t\tbreak\n\t}\n")
	w("\tif err := trainers[1].SetWeights(w); err == nil {\n\t\tt.Fatal(\"SetWeights took weights with one missing\")\n\t}\n}\n")
	return tr.file(sb.String(), "math", "testing")
}
