package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/data"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/optim"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/train"
)

// objectiveFlags registers --loss, --from-logits and --output, which train
// and evaluate share.
func objectiveFlags(fs *flag.FlagSet) (*string, *bool, *string) {
	loss := fs.String("loss", "sparse_categorical_crossentropy", "the `LOSS`: sparse_categorical_crossentropy (class ids), categorical_crossentropy (one-hot labels made from the ids), binary_crossentropy, mse, mae")
	logits := fs.Bool("from-logits", false, "the output is logits: do not look for a final softmax or sigmoid")
	output := fs.String("output-name", "", "the `NAME` of the output the loss is on, for a model with several")
	return loss, logits, output
}

// metricsFlag registers --metrics, which train and evaluate share.
func metricsFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "metrics", "", "the `METRICS` reported beside the loss, comma-separated: accuracy; topK, e.g. top5 (the label among the K highest scores: classes tied at the K-th place all count, as Keras's in_top_k); Keras's sparse_top_k_categorical_accuracy[:K] (K 5 unless given). Default: accuracy for a classifier")
}

// metricsOf reads --metrics; empty is the trainer's default.
func metricsOf(list string) ([]train.Metric, error) {
	if list == "" {
		return nil, nil
	}
	ms, err := train.ParseMetrics(list)
	if err != nil {
		return nil, usagef("--metrics: %v", err)
	}
	return ms, nil
}

func objective(loss string, logits bool, output string) (train.Objective, error) {
	l, err := train.ParseLoss(loss)
	if err != nil {
		return train.Objective{}, usagef("--loss: %v", err)
	}
	return train.Objective{Loss: l, FromLogits: logits, Output: output}, nil
}

// openData reads --data or --validation-data for model m, whose one input
// gives a folder's images their size and token sequences their length: the
// input's, or dims's for a symbolic one (--dim T=SIZE). Next-token data
// sets a length still unknown to its longest sequence's, in dims.
func openData(spec string, m *compile.Model, o *compile.Options, dims map[string]int) (*data.Memory, error) {
	opt := data.OpenOptions{Budget: o.MemoryBudget()}
	var length ir.Dim
	if in := m.Graph.Inputs; len(in) == 1 {
		switch s := in[0].Type.Shape; {
		case s.Rank() == 4:
			opt.Height, opt.Width, opt.Channels = s[1].Size, s[2].Size, s[3].Size
		case s.Rank() == 2 && in[0].Type.DType != ir.F32:
			length, opt.SeqLen = s[1], s[1].Size
			if !length.Known() {
				opt.SeqLen = dims[length.Sym]
			}
		}
	}
	ds, err := data.Open(spec, opt)
	if err == nil && !length.Known() && length.Sym != "" {
		dims[length.Sym] = ds.Shape()[0]
	}
	return ds, err
}

// dimsFlag registers --dim for train and evaluate: the model's symbolic
// sizes other than the batch.
func dimsFlag(fs *flag.FlagSet, o *compile.Options) map[string]int {
	dims := map[string]int{}
	fs.Var(dimList(dims), "dim", "`NAME=SIZE` for a symbolic dimension other than the batch, e.g. T=128 for a language model's length (repeatable; default for T: next-token data's longest sequence less one)")
	o.Dims = dims // an ONNX model fixes these when importing
	return dims
}

// checkDims refuses a --dim that names the batch or no symbolic size of
// m's.
func checkDims(m *compile.Model, dims map[string]int) error {
	syms := m.Graph.Symbols()
	for _, name := range slices.Sorted(maps.Keys(dims)) {
		if name == compile.BatchSymbol(m.Graph) {
			return usagef("--dim %s: %s is the batch dimension; set it with --batch-size", name, name)
		}
		if !slices.Contains(syms, name) && !slices.Contains(m.Fixed, name) {
			return usagef("--dim %s: model %s has no symbolic dimension %s (its inputs are %s)", name, m.Graph.Name, name, compile.InputNames(m.Graph))
		}
	}
	return nil
}

// trainLong is `mdlc help train`'s word on the model's train block.
const trainLong = `A model may say how it is trained, as Keras's compile and fit do, in a train
block among its statements; its settings are the defaults, and flags override
them:

  train {
    loss = sparse_categorical_crossentropy      # or (from_logits=true)
    optimizer = adam(lr=0.001)                  # sgd(lr=, momentum=, nesterov=,
                                                # weight_decay=), rmsprop, adamw, adagrad
    metrics = [accuracy, top_k(k=5)]            # or Keras's names:
                                                # sparse_top_k_categorical_accuracy(k=5)
    batch_size = 32
    epochs = 6
    validation_split = 0.1
    schedule = cosine                           # constant, step(every=, gamma=),
                                                # exponential(gamma=), plateau(factor=,
                                                # patience=, min_lr=)
  }

The file's hyperparameters apply only when its optimizer is the one used.
mdlc evaluate takes the file's loss and metrics too.

A plateau schedule is Keras's ReduceLROnPlateau: the rate is multiplied by
factor (0.1) when the loss watched has not improved by 1e-4 for patience
epochs (10), not below min_lr (0). It watches the validation loss, or the
training loss of the epoch when there is no validation data; a checkpoint
keeps its state, so --resume continues it exactly.`

type trainFlags struct {
	data, valData           string
	valSplit                float64
	optimizer               string
	lr, momentum, decay     float64
	nesterov                bool
	schedule                string
	metrics                 string
	epochs                  int
	batch                   positiveFlag
	shuffle                 bool
	dataSeed                uint64
	out, checkpoint, resume string
	saveBest                bool
	patience                int
	csv                     string
	json                    bool
	verbose                 int
	clip                    float64
	loss, outputName        *string
	fromLogits              *bool
	// dims is --dim, and the length next-token data sets.
	dims map[string]int
	// given names the flags given, under which a train block's settings
	// are the defaults (mdlc gen --train).
	given map[string]bool
}

func defineTrain(fs *flag.FlagSet) func(*cli, []string) error {
	o := modelFlags(fs)
	weightFlags(fs, o)
	threadFlag(fs, o, "threads a training step uses")
	f := &trainFlags{dims: dimsFlag(fs, o)}
	f.loss, f.fromLogits, f.outputName = objectiveFlags(fs)
	fs.StringVar(&f.data, "data", "", "the training data: "+data.SpecHelp)
	fs.StringVar(&f.valData, "validation-data", "", "data evaluated after each epoch (`SPEC`, as --data)")
	fs.Float64Var(&f.valSplit, "validation-split", 0, "hold out this `FRACTION` of --data, its last examples as Keras takes them, for validation")
	optimizerFlags(fs, f)
	metricsFlag(fs, &f.metrics)
	fs.IntVar(&f.epochs, "epochs", 1, "the number of `EPOCHS` (with --resume, the epoch to stop after)")
	fs.Var(&f.batch, "batch-size", "examples per step: `N` (default 32)")
	fs.BoolVar(&f.shuffle, "shuffle", true, "shuffle the training data each epoch (seeded by --data-seed and the epoch)")
	fs.Uint64Var(&f.dataSeed, "data-seed", 1, "the `SEED` of the shuffles")
	fs.StringVar(&f.out, "o", "", "write the trained weights to this .safetensors `FILE` (default: MODEL.safetensors)")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "write a checkpoint (weights, optimiser state, position) after each epoch to `PATTERN`, e.g. ckpt-{epoch}-{val_loss}.safetensors")
	fs.BoolVar(&f.saveBest, "save-best", false, "write --checkpoint only when the validation loss (or the loss, without validation) improves")
	fs.IntVar(&f.patience, "early-stopping", 0, "stop when the validation loss (or the loss) has not improved for `N` epochs (0: never)")
	fs.StringVar(&f.resume, "resume", "", "continue from a checkpoint `FILE`, exactly where and as it was written")
	fs.StringVar(&f.csv, "csv", "", "write each epoch's figures to this CSV `FILE`, and a plot of them beside it (.svg)")
	fs.BoolVar(&f.json, "json", false, "print each epoch's figures as a JSON line instead of Keras's progress output")
	fs.IntVar(&f.verbose, "verbose", -1, "0 silent, 1 a progress bar, 2 one line per epoch (default: 1 on a terminal, else 2)")
	return func(c *cli, files []string) error {
		given := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
		return f.run(c, o, files[0], given)
	}
}

// specDefaults takes the settings of the model's train block for the flags
// not given: flags override the file, the file the built-in defaults. The
// file's hyperparameters belong to its optimiser, so they apply only when
// that is the optimiser used.
func (f *trainFlags) specDefaults(s *compile.TrainSpec, given map[string]bool) {
	if s == nil {
		return
	}
	take := func(flag string, inFile bool, set func()) {
		if inFile && !given[flag] {
			set()
		}
	}
	take("loss", s.Loss != "", func() { *f.loss = s.Loss })
	take("from-logits", s.FromLogits, func() { *f.fromLogits = true })
	take("optimizer", s.Optimizer != "", func() { f.optimizer = s.Optimizer })
	if f.optimizer == s.Optimizer {
		take("lr", s.LR != 0, func() { f.lr = s.LR })
		take("momentum", s.Momentum != 0, func() { f.momentum = s.Momentum })
		take("nesterov", s.Nesterov, func() { f.nesterov = true })
		take("weight-decay", s.WeightDecay != 0, func() { f.decay = s.WeightDecay })
	}
	take("batch-size", s.BatchSize != 0, func() { f.batch = positiveFlag(s.BatchSize) })
	take("epochs", s.Epochs != 0, func() { f.epochs = s.Epochs })
	take("validation-split", s.ValidationSplit != 0 && !given["validation-data"], func() { f.valSplit = s.ValidationSplit })
	take("schedule", s.Schedule != "", func() { f.schedule = blockSchedule(s).String() })
	take("metrics", len(s.Metrics) > 0, func() { f.metrics = strings.Join(s.Metrics, ",") })
}

// blockSchedule is a train block's schedule; plateau's arguments not given
// are Keras's.
func blockSchedule(s *compile.TrainSpec) optim.EpochSchedule {
	var e optim.EpochSchedule
	switch s.Schedule {
	case "cosine":
		e.Kind = optim.ScheduleCosine
	case "step":
		e = optim.EpochSchedule{Kind: optim.ScheduleStep, Every: s.ScheduleEvery, Gamma: s.ScheduleGamma}
	case "exponential":
		e = optim.EpochSchedule{Kind: optim.ScheduleExponential, Gamma: s.ScheduleGamma}
	case "plateau":
		e = optim.DefaultPlateau
		if s.ScheduleFactor != 0 {
			e.Factor = s.ScheduleFactor
		}
		if s.SchedulePatience != 0 {
			e.Patience = s.SchedulePatience
		}
		e.MinLR = s.ScheduleMinLR
	}
	return e
}

// optimizerFlags registers the optimiser's flags, which train and gen
// --train share.
func optimizerFlags(fs *flag.FlagSet, f *trainFlags) {
	fs.StringVar(&f.optimizer, "optimizer", "adam", "the `OPTIMIZER`: adam (Keras's: β 0.9/0.999, ε 1e-7), adam-pytorch (ε 1e-8, PyTorch's form), adamw, sgd, rmsprop, adagrad")
	fs.Float64Var(&f.lr, "lr", 0, "the learning `RATE` (default: the optimiser's Keras default: 0.001, 0.01 for sgd)")
	fs.Float64Var(&f.momentum, "momentum", 0, "momentum for sgd and rmsprop")
	fs.BoolVar(&f.nesterov, "nesterov", false, "Nesterov momentum for sgd")
	fs.Float64Var(&f.decay, "weight-decay", 0, "L2 weight decay (decoupled for adamw, default 0.01 there)")
	fs.Float64Var(&f.clip, "clip-norm", 0, "scale the gradients to at most this global L2 `NORM` (0: no clipping)")
	fs.StringVar(&f.schedule, "schedule", "constant", "the learning-rate `SCHEDULE`: constant; cosine (to 0 over the run); step:EPOCHS:GAMMA; exponential:GAMMA (times GAMMA each epoch); "+
		"plateau[:FACTOR[:PATIENCE[:MIN_LR]]] (Keras's ReduceLROnPlateau: times FACTOR, 0.1, when the validation loss, or the training loss without validation data, has not improved by 1e-4 for PATIENCE epochs, 10; not below MIN_LR, 0)")
}

// makeOptimizer makes the optimiser, its update run by the kernel set set
// (empty: cpu.Select's choice), and its learning rate: --lr, or the
// optimiser's default.
func (f *trainFlags) makeOptimizer(set cpu.Set) (optim.Optimizer, float64, error) {
	var opt optim.Optimizer
	lr := 1e-3
	switch f.optimizer {
	case "adam":
		a := optim.DefaultAdam
		a.WeightDecay, a.Set = f.decay, set
		opt = a
	case "adam-pytorch":
		opt = optim.Adam{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: f.decay, Form: optim.PyTorch, Set: set}
	case "adamw":
		a := optim.DefaultAdamW
		if f.decay != 0 {
			a.WeightDecay = f.decay
		}
		a.Set = set
		opt = a
	case "sgd":
		opt, lr = optim.SGD{Momentum: f.momentum, Nesterov: f.nesterov, WeightDecay: f.decay, Set: set}, 0.01
	case "rmsprop":
		r := optim.DefaultRMSprop
		r.Momentum, r.WeightDecay, r.Set = f.momentum, f.decay, set
		opt = r
	case "adagrad":
		opt = optim.Adagrad{Epsilon: 1e-10, WeightDecay: f.decay, Set: set}
	default:
		return nil, 0, usagef("--optimizer %s: optimisers are adam, adam-pytorch, adamw, sgd, rmsprop, adagrad", f.optimizer)
	}
	if f.lr != 0 {
		lr = f.lr
	}
	if lr < 0 || f.momentum < 0 || f.decay < 0 || f.clip < 0 {
		return nil, 0, usagef("--lr, --momentum, --weight-decay and --clip-norm must not be negative")
	}
	return opt, lr, nil
}

// epochSchedule reads --schedule.
func epochSchedule(spec string) (optim.EpochSchedule, error) {
	s, err := optim.ParseEpochSchedule(spec)
	if err != nil {
		return s, usagef("--schedule %s: %v", spec, err)
	}
	return s, nil
}

// scheduleFor reads --schedule for a run of stepsPerEpoch·epochs steps.
func scheduleFor(spec string, lr float64, stepsPerEpoch, epochs int) (optim.Schedule, error) {
	s, err := epochSchedule(spec)
	if err != nil {
		return nil, err
	}
	return s.Schedule(lr, stepsPerEpoch, epochs), nil
}

func (f *trainFlags) run(c *cli, o *compile.Options, file string, given map[string]bool) error {
	if f.data == "" {
		return usagef("--data is required: %s", data.SpecHelp)
	}
	load := func() (*compile.Model, error) { return o.Load(file) }
	m, err := load()
	if err != nil {
		return err
	}
	if err := checkDims(m, f.dims); err != nil {
		return err
	}
	f.specDefaults(m.Train, given)
	if f.valSplit < 0 || f.valSplit >= 1 {
		return usagef("--validation-split %g: want a fraction in [0, 1)", f.valSplit)
	}
	if f.valSplit > 0 && f.valData != "" {
		return usagef("give --validation-split or --validation-data, not both")
	}
	if f.epochs < 1 || f.patience < 0 || f.clip < 0 || f.verbose > 2 || f.verbose < -1 {
		return usagef("--epochs must be at least 1, --early-stopping and --clip-norm not negative, --verbose 0, 1 or 2")
	}
	if f.saveBest && f.checkpoint == "" {
		return usagef("--save-best needs --checkpoint PATTERN")
	}
	obj, err := objective(*f.loss, *f.fromLogits, *f.outputName)
	if err != nil {
		return err
	}
	opt, lr, err := f.makeOptimizer("")
	if err != nil {
		return err
	}
	metrics, err := metricsOf(f.metrics)
	if err != nil {
		return err
	}
	batch := int(f.batch)
	if batch == 0 {
		batch = 32
	}
	ds, err := openData(f.data, m, o, f.dims)
	if err != nil {
		return err
	}
	var val data.Dataset
	switch {
	case f.valData != "":
		v, err := openData(f.valData, m, o, f.dims)
		if err != nil {
			return err
		}
		val = v
	case f.valSplit > 0:
		n := ds.Len() - int(float64(ds.Len())*f.valSplit)
		a, b, err := ds.Split(n)
		if err != nil {
			return err
		}
		if b.Len() == 0 || a.Len() == 0 {
			return usagef("--validation-split %g of %d examples leaves a part empty", f.valSplit, ds.Len())
		}
		ds, val = a, b
	}
	steps := (ds.Len() + batch - 1) / min(batch, ds.Len())
	sched, err := scheduleFor(f.schedule, lr, steps, f.epochs)
	if err != nil {
		return err
	}
	o.Untrained = true // training starts from --weights or from scratch, never from stdlib's shipped weights
	w, err := o.LoadWeights(m)
	if err != nil {
		return err
	}
	cfg := train.Config{Objective: obj, Optimizer: opt, LR: sched, BatchSize: min(batch, ds.Len()), Dims: f.dims, Metrics: metrics, ClipNorm: f.clip, Threads: o.Threads}
	tr, err := train.New(m.Graph, w.Tensors, cfg)
	if err != nil {
		return err
	}
	defer tr.Close()
	extra := map[string]string{"data_seed": strconv.FormatUint(f.dataSeed, 10), "shuffle": strconv.FormatBool(f.shuffle), "data": f.data}
	var ckpt *train.Checkpointer
	if f.checkpoint != "" {
		ckpt = &train.Checkpointer{Pattern: f.checkpoint, Best: f.saveBest, Extra: extra}
		tr.Keep("save_best", ckpt)
	}
	var early *train.EarlyStopping
	if f.patience > 0 {
		early = &train.EarlyStopping{Patience: f.patience}
		tr.Keep("early_stopping", early)
	}
	if f.resume != "" {
		if err := tr.Restore(f.resume, extra, o.MemoryBudget()); err != nil {
			return err
		}
		if tr.Position().Epoch >= f.epochs {
			return usagef("%s was written after epoch %d: ask for more --epochs to continue", f.resume, tr.Position().Epoch)
		}
	}
	fit := train.FitOptions{Epochs: f.epochs, Shuffle: f.shuffle, Seed: f.dataSeed, Validation: val}
	if val != nil {
		vm, err := load()
		if err != nil {
			return err
		}
		if fit.ValEval, err = train.NewEvaluator(vm.Graph, w.Tensors, cfg); err != nil {
			return err
		}
		defer fit.ValEval.Close()
	}
	verbose := f.verbose
	if verbose < 0 {
		verbose = 2
		if isTerminal(c.stdout) {
			verbose = 1
		}
	}
	if f.json {
		verbose = 0
		fit.Callbacks = append(fit.Callbacks, jsonLines{c})
	}
	history := &train.History{}
	fit.Callbacks = append(fit.Callbacks, &train.Progress{W: c.stdout, Verbose: verbose}, history)
	// Early stopping counts the epoch before the checkpoint records its
	// state.
	if early != nil {
		fit.Callbacks = append(fit.Callbacks, early)
	}
	if ckpt != nil {
		fit.Callbacks = append(fit.Callbacks, ckpt)
	}
	out := f.out
	if out == "" {
		out = m.Graph.Name + ".safetensors"
	}
	if verbose > 0 {
		fmt.Fprintf(c.stdout, "Training %s on %d examples (%s), validating on %d; batch %d, %d steps per epoch, %s, loss %s\n",
			m.Graph.Name, ds.Len(), f.data, lenOf(val), cfg.BatchSize, steps, f.optimizer, obj.Loss)
	}
	stop := make(chan struct{})
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt)
	defer signal.Stop(interrupt)
	go func() {
		if _, ok := <-interrupt; ok {
			close(stop)
			signal.Stop(interrupt) // a second Ctrl-C ends the process at once
		}
	}()
	fit.Stop = stop
	err = tr.Fit(ds, fit)
	if f.csv != "" && len(history.Epochs) > 0 {
		if werr := writeHistory(f.csv, history, m.Graph.Name); werr != nil {
			return werr
		}
	}
	if errors.Is(err, train.ErrInterrupted) {
		path := strings.TrimSuffix(out, filepath.Ext(out)) + ".interrupted.safetensors"
		if werr := tr.SaveCheckpoint(path, extra); werr != nil {
			return fmt.Errorf("interrupted, and writing the checkpoint failed: %w", werr)
		}
		p := tr.Position()
		return fmt.Errorf("interrupted in epoch %d after batch %d: checkpoint written to %s; continue with --resume %s", p.Epoch+1, p.Batch, path, path)
	}
	if err != nil {
		return err
	}
	if early != nil && early.Stopped >= 0 && verbose > 0 {
		fmt.Fprintf(c.stdout, "Stopped early after epoch %d: no improvement in %d epochs\n", early.Stopped+1, f.patience)
	}
	if err := tr.SaveWeights(out, weightsMetadata(m.Graph.Name, f, cfg, tr.Position().Epoch, history)); err != nil {
		return err
	}
	if verbose > 0 {
		fmt.Fprintf(c.stdout, "Weights written to %s\n", out)
	}
	return nil
}

func lenOf(ds data.Dataset) int {
	if ds == nil {
		return 0
	}
	return ds.Len()
}

// writeHistory writes the CSV and, beside it, the SVG plot.
func writeHistory(path string, h *train.History, model string) error {
	var b strings.Builder
	if err := h.WriteCSV(&b); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	b.Reset()
	if err := h.WriteSVG(&b, "mdlc train "+model); err != nil {
		return err
	}
	return os.WriteFile(strings.TrimSuffix(path, filepath.Ext(path))+".svg", []byte(b.String()), 0o644)
}

// jsonLines prints each epoch as one JSON object.
type jsonLines struct{ c *cli }

func (jsonLines) EpochBegin(int, int, int) {}
func (jsonLines) BatchEnd(train.Logs)      {}
func (j jsonLines) EpochEnd(_ *train.Trainer, l train.Logs) error {
	rec := map[string]any{"epoch": l.Epoch + 1, "lr": l.LR, "seconds": l.Elapsed.Seconds()}
	figures(rec, l)
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(j.c.stdout, "%s\n", b)
	return err
}

// figures puts an epoch's or evaluation's figures in a JSON record: loss,
// examples, each metric by name (accuracy, top5_accuracy), and the
// validation ones (val_loss, val_accuracy, ...).
func figures(rec map[string]any, l train.Logs) {
	rec["loss"], rec["examples"] = l.Loss, l.Examples
	for i, m := range l.Metrics {
		rec[m.String()] = l.Values[i]
	}
	if l.HasVal {
		rec["val_loss"] = l.ValLoss
		for i, m := range l.Metrics {
			rec["val_"+m.String()] = l.ValValues[i]
		}
	}
}

// isTerminal reports whether w is a terminal (a character device), where a
// progress bar can redraw itself.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func defineEvaluate(fs *flag.FlagSet) func(*cli, []string) error {
	o := modelFlags(fs)
	weightFlags(fs, o)
	threadFlag(fs, o, "threads a step uses")
	dims := dimsFlag(fs, o)
	loss, logits, output := objectiveFlags(fs)
	var metricList string
	metricsFlag(fs, &metricList)
	spec := fs.String("data", "", "the data: "+data.SpecHelp)
	var batch positiveFlag
	fs.Var(&batch, "batch-size", "examples per step: `N` (default 32)")
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	return func(c *cli, files []string) error {
		if *spec == "" {
			return usagef("--data is required: %s", data.SpecHelp)
		}
		m, err := o.Load(files[0])
		if err != nil {
			return err
		}
		if err := checkDims(m, dims); err != nil {
			return err
		}
		// The model's train block says how it is measured, under the flags.
		given := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
		f := &trainFlags{loss: loss, fromLogits: logits, metrics: metricList}
		f.specDefaults(m.Train, given)
		obj, err := objective(*loss, *logits, *output)
		if err != nil {
			return err
		}
		metrics, err := metricsOf(f.metrics)
		if err != nil {
			return err
		}
		ds, err := openData(*spec, m, o, dims)
		if err != nil {
			return err
		}
		w, err := o.LoadWeights(m)
		if err != nil {
			return err
		}
		if w.Fresh {
			fmt.Fprintf(c.stderr, "mdlc evaluate: note: no --weights given: the weights are freshly initialised (seed %d), an untrained model\n", o.Seed)
		}
		n := int(batch)
		if n == 0 {
			n = 32
		}
		e, err := train.NewEvaluator(m.Graph, w.Tensors, train.Config{Objective: obj, BatchSize: min(n, ds.Len()), Dims: dims, Metrics: metrics, Threads: o.Threads})
		if err != nil {
			return err
		}
		defer e.Close()
		l, err := e.Evaluate(ds)
		if err != nil {
			return err
		}
		if *asJSON {
			rec := map[string]any{}
			figures(rec, l)
			b, _ := json.Marshal(rec)
			fmt.Fprintf(c.stdout, "%s\n", b)
			return nil
		}
		fmt.Fprintln(c.stdout, train.Summary(l))
		return nil
	}
}

// weightsMetadata says how the weights were trained, for whoever loads them
// (mdlc run prints the description of a stdlib model's shipped weights).
func weightsMetadata(model string, f *trainFlags, cfg train.Config, epochs int, h *train.History) map[string]string {
	meta := map[string]string{"model": model, "trained_by": "mdlc train", "data": f.data, "loss": cfg.Loss.String(),
		"optimizer": f.optimizer, "batch_size": strconv.Itoa(cfg.BatchSize), "epochs": strconv.Itoa(epochs)}
	desc := fmt.Sprintf("trained by mdlc train on %s for %d epochs (batch %d, %s)", f.data, epochs, cfg.BatchSize, f.optimizer)
	if n := len(h.Epochs); n > 0 {
		last := h.Epochs[n-1]
		meta["loss_final"] = strconv.FormatFloat(last.Loss, 'g', 6, 64)
		if acc, ok := last.ValValue(train.Accuracy); ok {
			meta["val_accuracy"] = strconv.FormatFloat(acc, 'f', 4, 64)
			what := "the validation data"
			if f.valData != "" {
				what = f.valData
			}
			desc += fmt.Sprintf("; accuracy %.4f on %s", acc, what)
		}
	}
	meta["description"] = desc
	return meta
}
