package sema

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/diag"
	"github.com/mdlc/mdlc/lang/syntax"
)

// TrainSpec is a model's train block: how it asks to be trained, in the
// words of Keras's compile and fit. A zero field was not given (the counts
// and the learning rate cannot be zero when given). The fields are plain,
// so that compile.TrainSpec is the same type under another name.
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

// trainSettings are the keys of a train block, each with what reads its
// value into the spec. The names follow Keras's compile and fit.
var trainSettings = map[string]func(*trainCheck, *syntax.Expr){
	"loss":             (*trainCheck).loss,
	"optimizer":        (*trainCheck).optimizer,
	"metrics":          (*trainCheck).metrics,
	"batch_size":       func(c *trainCheck, v *syntax.Expr) { c.count(v, "batch_size", &c.spec.BatchSize) },
	"epochs":           func(c *trainCheck, v *syntax.Expr) { c.count(v, "epochs", &c.spec.Epochs) },
	"validation_split": (*trainCheck).validationSplit,
	"schedule":         (*trainCheck).schedule,
}

// trainLosses are the losses a train block may name: what package train
// implements, with Keras's aliases (a test in cmd/mdlc keeps them in step).
var trainLosses = []string{"sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
	"mse", "mae", "mean_squared_error", "mean_absolute_error"}

// trainOptimizers are the optimisers a train block may name, each with the
// hyperparameters it takes.
var trainOptimizers = map[string][]string{
	"adam":    {"lr", "weight_decay"},
	"adamw":   {"lr", "weight_decay"},
	"sgd":     {"lr", "momentum", "nesterov", "weight_decay"},
	"rmsprop": {"lr", "momentum", "weight_decay"},
	"adagrad": {"lr", "weight_decay"},
}

// hyperparameters read an optimiser's keyword arguments into the spec:
// lr > 0, momentum in [0, 1), weight_decay >= 0, nesterov a bool.
var hyperparameters = map[string]func(*trainCheck, *syntax.Expr){
	"lr": func(c *trainCheck, v *syntax.Expr) {
		c.number(v, "lr", &c.spec.LR, func(x float64) bool { return x > 0 }, "positive")
	},
	"momentum": func(c *trainCheck, v *syntax.Expr) {
		c.number(v, "momentum", &c.spec.Momentum, func(x float64) bool { return x >= 0 && x < 1 }, "in [0, 1)")
	},
	"weight_decay": func(c *trainCheck, v *syntax.Expr) {
		c.number(v, "weight_decay", &c.spec.WeightDecay, func(x float64) bool { return x >= 0 }, "at least 0")
	},
	"nesterov": func(c *trainCheck, v *syntax.Expr) { c.boolean(v, "nesterov", &c.spec.Nesterov) },
}

// trainMetrics are the metrics a train block may ask for: accuracy, and
// top-k accuracy by its short name and Keras's two (the same here: labels
// are class ids whatever the loss), k=5 unless given. Without metrics, mdlc
// reports accuracy for a classifier.
var trainMetrics = []string{"accuracy", "sparse_top_k_categorical_accuracy", "top_k", "top_k_categorical_accuracy"}

const metricsHelp = "metrics are accuracy and top_k(k=K) (Keras's sparse_top_k_categorical_accuracy(k=K)), k 5 unless given"

// trainSchedules are the learning-rate schedules, each with the arguments
// it takes, all of them required but plateau's, whose missing ones are
// Keras's defaults.
var trainSchedules = map[string][]string{
	"constant":    nil,
	"cosine":      nil,
	"step":        {"every", "gamma"},
	"exponential": {"gamma"},
	"plateau":     {"factor", "patience", "min_lr"},
}

// scheduleArgs read a schedule's arguments into the spec: every and
// patience at least 1, gamma positive, factor in (0, 1), min_lr at least 0.
var scheduleArgs = map[string]func(*trainCheck, *syntax.Expr){
	"every":    func(c *trainCheck, v *syntax.Expr) { c.count(v, "every", &c.spec.ScheduleEvery) },
	"patience": func(c *trainCheck, v *syntax.Expr) { c.count(v, "patience", &c.spec.SchedulePatience) },
	"gamma": func(c *trainCheck, v *syntax.Expr) {
		c.number(v, "gamma", &c.spec.ScheduleGamma, func(x float64) bool { return x > 0 }, "positive")
	},
	"factor": func(c *trainCheck, v *syntax.Expr) {
		c.number(v, "factor", &c.spec.ScheduleFactor, func(x float64) bool { return x > 0 && x < 1 }, "in (0, 1)")
	},
	"min_lr": func(c *trainCheck, v *syntax.Expr) {
		c.number(v, "min_lr", &c.spec.ScheduleMinLR, func(x float64) bool { return x >= 0 }, "at least 0")
	},
}

// scheduleExamples write each schedule that takes arguments.
var scheduleExamples = map[string]string{
	"step":        "step(every=10, gamma=0.1)",
	"exponential": "exponential(gamma=0.9)",
	"plateau":     "plateau(factor=0.1, patience=5)",
}

const schedulesHelp = "schedules are constant, cosine, step(every=EPOCHS, gamma=G), exponential(gamma=G), plateau(factor=F, patience=EPOCHS, min_lr=LR)"

// trainSpec checks a model's first train block, as written, and reads it;
// nil when the model has none. checkNames reports a second one. Its metrics
// are checked against the model's outputs.
func trainSpec(ts []*syntax.Train, outputs []ir.Output) (*TrainSpec, diag.List) {
	if len(ts) == 0 {
		return nil, nil
	}
	c := &trainCheck{spec: &TrainSpec{}}
	first := map[string]*syntax.Setting{}
	for _, s := range ts[0].Settings {
		read, ok := trainSettings[s.Key.Name]
		if !ok {
			c.errorf(s.Key.Pos, s.Key.EndPos, "settings are "+strings.Join(sortedKeys(trainSettings), ", "),
				"unknown train setting `%s`", s.Key.Name)
			c.suggest(s.Key.Name, sortedKeys(trainSettings))
			continue
		}
		if prev, dup := first[s.Key.Name]; dup {
			c.errorf(s.Key.Pos, s.Key.EndPos, "remove one of them", "`%s` is set twice", s.Key.Name)
			c.ds[len(c.ds)-1].Notes = []diag.Note{{Pos: pos(prev.Pos), Msg: "first set here"}}
			continue
		}
		first[s.Key.Name] = s
		read(c, s.Value)
	}
	c.metricsFit(outputs)
	return c.spec, c.ds
}

// checkTrainPlacement reports train blocks where they do not belong: in a
// block, or after a model's first.
func checkTrainPlacement(d *syntax.Decl) diag.List {
	var ds diag.List
	for i, t := range d.Train {
		start, end := t.Pos, t.Pos
		end.Column += len("train")
		switch {
		case d.Kind != "model":
			ds = append(ds, &diag.Diagnostic{Pos: pos(start), End: pos(end),
				Msg:  "only a model has a train block, not block `" + d.Name + "`",
				Help: "move it into the model that uses this block"})
		case i > 0:
			ds = append(ds, &diag.Diagnostic{Pos: pos(start), End: pos(end),
				Msg:   "model `" + d.Name + "` has a second train block",
				Notes: []diag.Note{{Pos: pos(d.Train[0].Pos), Msg: "the first is here"}},
				Help:  "put all its settings in one train block"})
		}
	}
	return ds
}

// trainCheck reads one train block.
type trainCheck struct {
	spec *TrainSpec
	ds   diag.List
	// metricAt and metricK are each metric's item in the block and its k
	// (0 for accuracy).
	metricAt []*syntax.Expr
	metricK  []int
}

func (c *trainCheck) errorf(start, end lexer.Position, help, format string, args ...any) {
	c.ds = append(c.ds, &diag.Diagnostic{Pos: pos(start), End: pos(end), Msg: fmt.Sprintf(format, args...), Help: help})
}

// suggest puts "did you mean" before the help of the last diagnostic.
func (c *trainCheck) suggest(name string, candidates []string) {
	if s := didYouMean(name, candidates); s != "" {
		d := c.ds[len(c.ds)-1]
		d.Help = s + " " + d.Help
	}
}

// named reads a name, or a call of one with keyword arguments only:
// `cosine`, `adam(lr=0.001)`. what says what the value names, for messages.
func (c *trainCheck) named(v *syntax.Expr, key, what string) (*syntax.Call, bool) {
	call := plainTerm(v)
	if call == nil || call.Call == nil || len(call.Call.Name) != 1 || call.Call.As != nil {
		c.errorf(v.Pos, v.EndPos, "write the "+what+" by name, e.g. "+exampleOf[key],
			"`%s` wants the name of %s, not %s", key, article(what), describe(v))
		return nil, false
	}
	if call.Call.Args != nil {
		for _, a := range call.Call.Args.List {
			if a.Keyword == nil {
				c.errorf(a.Pos, a.EndPos, "name it, e.g. "+exampleOf[key], "the arguments of `%s` are given by name", call.Call.Name[0])
				return nil, false
			}
		}
	}
	return call.Call, true
}

// exampleOf writes each setting and argument with a good value, for the
// help of a mistake.
var exampleOf = map[string]string{
	"loss":             "loss = sparse_categorical_crossentropy",
	"optimizer":        "optimizer = adam(lr=0.001)",
	"schedule":         "schedule = cosine",
	"batch_size":       "batch_size = 32",
	"epochs":           "epochs = 10",
	"validation_split": "validation_split = 0.1",
	"lr":               "lr=0.001",
	"metric":           "top_k(k=5)",
	"k":                "k=5",
	"factor":           "factor=0.1",
	"patience":         "patience=5",
	"min_lr":           "min_lr=1e-5",
	"momentum":         "momentum=0.9",
	"weight_decay":     "weight_decay=0.01",
	"every":            "every=10",
	"gamma":            "gamma=0.1",
}

// args checks that a call's keyword arguments are among takes, each given
// once, and gives them to read in order.
func (c *trainCheck) args(call *syntax.Call, takes []string, read func(kw string, v *syntax.Expr)) {
	if call.Args == nil {
		return
	}
	name := call.Name[0]
	seen := map[string]bool{}
	for _, a := range call.Args.List {
		kw := a.Keyword.Name
		switch {
		case !slices.Contains(takes, kw):
			help := name + " takes no arguments"
			if len(takes) > 0 {
				help = name + " takes " + strings.Join(takes, ", ")
			}
			c.errorf(a.Keyword.Pos, a.Keyword.EndPos, help, "%s takes no `%s`", name, kw)
			c.suggest(kw, takes)
		case seen[kw]:
			c.errorf(a.Keyword.Pos, a.Keyword.EndPos, "remove one of them", "`%s` is given twice", kw)
		default:
			seen[kw] = true
			read(kw, a.Value)
		}
	}
}

func (c *trainCheck) loss(v *syntax.Expr) {
	call, ok := c.named(v, "loss", "loss")
	if !ok {
		return
	}
	name := call.Name[0]
	if !slices.Contains(trainLosses, name) {
		c.errorf(call.Pos, call.EndPos, "losses are "+strings.Join(trainLosses, ", "), "unknown loss `%s`", name)
		c.suggest(name, trainLosses)
		return
	}
	c.spec.Loss = name
	c.args(call, []string{"from_logits"}, func(_ string, v *syntax.Expr) { c.boolean(v, "from_logits", &c.spec.FromLogits) })
}

func (c *trainCheck) optimizer(v *syntax.Expr) {
	call, ok := c.named(v, "optimizer", "optimizer")
	if !ok {
		return
	}
	name := call.Name[0]
	takes, ok := trainOptimizers[name]
	if !ok {
		names := sortedKeys(trainOptimizers)
		c.errorf(call.Pos, call.EndPos, "optimizers are "+strings.Join(names, ", "), "unknown optimizer `%s`", name)
		c.suggest(name, names)
		return
	}
	c.spec.Optimizer = name
	c.args(call, takes, func(kw string, v *syntax.Expr) { hyperparameters[kw](c, v) })
}

func (c *trainCheck) schedule(v *syntax.Expr) {
	call, ok := c.named(v, "schedule", "schedule")
	if !ok {
		return
	}
	name := call.Name[0]
	needs, ok := trainSchedules[name]
	if !ok {
		names := sortedKeys(trainSchedules)
		c.errorf(call.Pos, call.EndPos, schedulesHelp, "unknown schedule `%s`", name)
		c.suggest(name, names)
		return
	}
	c.spec.Schedule = name
	given := map[string]bool{}
	c.args(call, needs, func(kw string, v *syntax.Expr) {
		given[kw] = true
		scheduleArgs[kw](c, v)
	})
	for _, kw := range needs {
		if !given[kw] && name != "plateau" {
			c.errorf(call.Pos, call.EndPos, "write "+name+"("+strings.Join(needs, "=..., ")+"=...), e.g. "+scheduleExamples[name],
				"the %s schedule needs `%s`", name, kw)
			return
		}
	}
}

func (c *trainCheck) metrics(v *syntax.Expr) {
	t := plainTerm(v)
	if t == nil || t.List == nil {
		c.errorf(v.Pos, v.EndPos, "write a list: metrics = [accuracy]", "`metrics` wants a list of metric names, not %s", describe(v))
		return
	}
	for _, it := range t.List.Items {
		m := plainTerm(it)
		if m == nil || m.Call == nil || len(m.Call.Name) != 1 || m.Call.As != nil {
			c.errorf(it.Pos, it.EndPos, metricsHelp, "a metric is a name, not %s", describe(it))
			continue
		}
		name := m.Call.Name[0]
		if !slices.Contains(trainMetrics, name) {
			c.errorf(it.Pos, it.EndPos, metricsHelp, "unknown metric `%s`", name)
			if k, err := strconv.Atoi(strings.TrimPrefix(name, "top")); err == nil && k > 0 && strings.HasPrefix(name, "top") {
				c.ds[len(c.ds)-1].Help = fmt.Sprintf("write top_k(k=%d); %s", k, metricsHelp)
			} else {
				c.suggest(name, trainMetrics)
			}
			continue
		}
		call, ok := c.named(it, "metric", "metric")
		if !ok {
			continue
		}
		k, takes, errs := 0, []string(nil), len(c.ds)
		if name != "accuracy" {
			k, takes = 5, []string{"k"}
		}
		c.args(call, takes, func(_ string, v *syntax.Expr) { c.count(v, "k", &k) })
		if len(c.ds) > errs {
			continue
		}
		spelled := "accuracy"
		if k > 0 {
			spelled = fmt.Sprintf("top%d", k)
		}
		if i := slices.Index(c.spec.Metrics, spelled); i >= 0 {
			c.errorf(it.Pos, it.EndPos, "remove one of them", "the metric %s is asked for twice", spelled)
			c.ds[len(c.ds)-1].Notes = []diag.Note{{Pos: pos(c.metricAt[i].Pos), Msg: "first asked for here"}}
			continue
		}
		c.spec.Metrics = append(c.spec.Metrics, spelled)
		c.metricAt, c.metricK = append(c.metricAt, it), append(c.metricK, k)
	}
}

// regressionLosses are the losses whose predictions are not classes.
var regressionLosses = []string{"mse", "mae", "mean_squared_error", "mean_absolute_error"}

// metricsFit reports the metrics that do not fit a model with one output of
// known size: accuracy of predictions that are not classes (a regression
// loss on an output that is not one score per class), top-k of predictions
// that are not one score per class, or of k classes or fewer. Package train
// refuses the same (train.Config.Metrics): a test in cmd/mdlc holds the two
// rules together.
func (c *trainCheck) metricsFit(outputs []ir.Output) {
	if len(c.metricAt) == 0 || len(outputs) != 1 || outputs[0].Value.Type.Shape.Rank() == 0 {
		return
	}
	out := outputs[0]
	shape := out.Value.Type.Shape
	pred := 1
	for _, d := range shape[1:] {
		if !d.Known() {
			return
		}
		pred *= d.Size
	}
	classes := 0
	if r := shape.Rank(); r > 1 {
		classes = shape[r-1].Size
	}
	loss := c.spec.Loss
	if loss == "" {
		loss = trainLosses[0] // mdlc train's default
	}
	perClass := classes > 1 && pred == classes
	for i, at := range c.metricAt {
		switch k := c.metricK[i]; {
		case k == 0 && !perClass && slices.Contains(regressionLosses, loss):
			c.errorf(at.Pos, at.EndPos, "leave accuracy out of the metrics, or train a classifier with a cross-entropy loss",
				"accuracy needs predictions that are classes, but output `%s` (%s), trained with %s, is a regression", out.Name, out.Value.Type, loss)
		case k > 0 && !perClass:
			c.errorf(at.Pos, at.EndPos, "use accuracy instead",
				"top-%d accuracy ranks one score per class, but output `%s` is %s, %s per example", k, out.Name, out.Value.Type, plural(pred, "value"))
		case k > 0 && k >= classes:
			c.errorf(at.Pos, at.EndPos, fmt.Sprintf("choose k below %d, e.g. top_k(k=%d), or leave it out", classes, classes-1),
				"top-%d accuracy needs more than %d classes, but output `%s` (%s) has %d: every label is among its top %d", k, k, out.Name, out.Value.Type, classes, k)
		}
	}
}

func (c *trainCheck) validationSplit(v *syntax.Expr) {
	c.number(v, "validation_split", &c.spec.ValidationSplit, func(x float64) bool { return x >= 0 && x < 1 }, "a fraction in [0, 1)")
}

// count reads a positive integer.
func (c *trainCheck) count(v *syntax.Expr, key string, into *int) {
	x, isInt, ok := c.literal(v, key, "an integer")
	if !ok {
		return
	}
	if !isInt {
		c.errorf(v.Pos, v.EndPos, "write a whole number, e.g. "+exampleOf[key], "`%s` wants an integer, not %s", key, describe(v))
		return
	}
	if x < 1 || x > 1<<31-1 {
		c.errorf(v.Pos, v.EndPos, "for example "+exampleOf[key], "`%s` must be at least 1, not %s", key, numberText(v))
		return
	}
	*into = int(x)
}

// number reads a number for which valid holds, which is what valid says.
func (c *trainCheck) number(v *syntax.Expr, key string, into *float64, valid func(float64) bool, is string) {
	x, _, ok := c.literal(v, key, "a number")
	if !ok {
		return
	}
	if !valid(x) {
		c.errorf(v.Pos, v.EndPos, "for example "+exampleOf[key], "`%s` must be %s, not %s", key, is, numberText(v))
		return
	}
	*into = x
}

// literal reads a number literal, possibly negated.
func (c *trainCheck) literal(v *syntax.Expr, key, want string) (x float64, isInt, ok bool) {
	t := plainTerm(v)
	neg := false
	for t != nil && t.Neg != nil {
		neg, t = !neg, t.Neg
	}
	if t == nil || t.Number == nil {
		c.errorf(v.Pos, v.EndPos, "write the number itself, e.g. "+exampleOf[key], "`%s` wants %s, not %s", key, want, describe(v))
		return 0, false, false
	}
	x, err := strconv.ParseFloat(t.Number.Text, 64)
	if err != nil {
		c.errorf(v.Pos, v.EndPos, "write a number a float64 holds", "`%s`: %s is out of range", key, t.Number.Text)
		return 0, false, false
	}
	if neg != t.Number.Neg {
		x = -x
	}
	return x, t.Number.IsInt(), true
}

func (c *trainCheck) boolean(v *syntax.Expr, key string, into *bool) {
	t := plainTerm(v)
	if t == nil || t.Call == nil || t.Call.Args != nil || len(t.Call.Name) != 1 || (t.Call.Name[0] != "true" && t.Call.Name[0] != "false") {
		c.errorf(v.Pos, v.EndPos, "write "+key+"=true or "+key+"=false", "`%s` wants true or false, not %s", key, describe(v))
		return
	}
	*into = t.Call.Name[0] == "true"
}

// plainTerm is the term an expression is when it is nothing more: no
// operators, no pipeline.
func plainTerm(v *syntax.Expr) *syntax.Term {
	if len(v.Ops) > 0 || len(v.Stages) > 0 {
		return nil
	}
	return v.Head
}

// describe says what kind of value an expression is, for messages.
func describe(v *syntax.Expr) string {
	t := plainTerm(v)
	switch {
	case t == nil:
		return "an expression"
	case t.Neg != nil || t.Number != nil:
		return "the number " + numberText(v)
	case t.String != nil:
		return "the string " + strconv.Quote(*t.String)
	case t.List != nil:
		return "a list"
	case t.Call != nil && t.Call.Args != nil:
		return "a call of `" + t.Call.QualifiedName() + "`"
	case t.Call != nil:
		return "the name `" + t.Call.QualifiedName() + "`"
	}
	return "an expression"
}

// numberText writes a number literal, possibly negated, as written.
func numberText(v *syntax.Expr) string {
	t, sign := plainTerm(v), ""
	for t != nil && t.Neg != nil {
		sign, t = sign+"-", t.Neg
	}
	if t == nil || t.Number == nil {
		return describe(v)
	}
	if t.Number.Neg {
		sign += "-"
	}
	return sign + t.Number.Text
}

// plural is "1 value", "3 values".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func article(what string) string {
	if strings.IndexByte("aeiou", what[0]) >= 0 {
		return "an " + what
	}
	return "a " + what
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TrainNames lists the losses, optimizers, schedules and metrics a train
// block may name, so that a test can hold them to what `mdlc train` runs.
func TrainNames() (losses, optimizers, schedules, metrics []string) {
	return slices.Clone(trainLosses), sortedKeys(trainOptimizers), sortedKeys(trainSchedules), slices.Clone(trainMetrics)
}
