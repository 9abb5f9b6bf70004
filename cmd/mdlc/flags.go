package main

import (
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/internal/cliflag"
	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// The flag groups that several commands share, each registered by one
// function so that a flag means the same everywhere.

// modelFlags registers --model and --max-memory, which every command that
// loads a model takes, and returns the driver options they fill.
func modelFlags(fs *flag.FlagSet) *compile.Options {
	o := &compile.Options{}
	fs.StringVar(&o.Model, "model", "", "the `NAME` of the model to use, if the file declares several")
	fs.Var((*budgetFlag)(&o.Budget), "max-memory", "the most memory one tensor, weight set or arena may take: a `SIZE` such as 512MiB or 8GiB; 0: no limit (default: $"+size.EnvVar+", else half of physical memory)")
	return o
}

// weightFlags registers --weights and --seed.
func weightFlags(fs *flag.FlagSet, o *compile.Options) {
	fs.StringVar(&o.Weights, "weights", "", "the weights, a .safetensors `FILE` (default: Keras-style initialisation from --seed: an untrained model)")
	fs.Var((*layoutFlag)(&o.WeightsLayout), "weights-layout", "the `LAYOUT` of the --weights tensors: mdlc (Keras's HWIO kernels, (in, out) dense kernels) or torch (PyTorch's OIHW kernels, (out, in) linear weights, its attribute names such as conv1.weight and bn.running_var)")
	fs.StringVar(&o.WeightsMap, "weights-map", "", "rename the --weights tensors first by a `FILE` of `PATTERN -> NAME` lines (regular expressions matching whole names; ${1} for a group; NAME - drops the tensor)")
	fs.Uint64Var(&o.Seed, "seed", 1, "the `SEED` of the initial weights and the sample input")
	fs.BoolVar(&o.Untrained, "untrained", false, "initialise a stdlib model from --seed even where trained weights ship with it (lenet, fashion_cnn)")
}

// threadFlag registers --threads.
func threadFlag(fs *flag.FlagSet, o *compile.Options, help string) {
	fs.Var((*threadsFlag)(&o.Threads), "threads", fmt.Sprintf("%s: `N` from 1 to %d (default: GOMAXPROCS)", help, compile.MaxThreads()))
}

// shapeFlags registers --batch and --dim, which bind a model's symbolic
// dimensions.
func shapeFlags(fs *flag.FlagSet, batchHelp string) *compile.Shape {
	s := &compile.Shape{Dims: map[string]int{}}
	fs.Var((*positiveFlag)(&s.Batch), "batch", batchHelp+": `N` examples (default 1, or the input's)")
	fs.Var(dimList(s.Dims), "dim", "`NAME=SIZE` for a symbolic dimension other than the batch, e.g. T=128 (repeatable)")
	return s
}

// layoutFlag is --weights-layout: one of compile.WeightsLayouts.
type layoutFlag string

func (l *layoutFlag) String() string {
	if l == nil {
		return ""
	}
	return string(*l)
}

func (l *layoutFlag) Set(v string) error {
	if !slices.Contains(compile.WeightsLayouts, v) {
		return fmt.Errorf("unknown layout %q: want %s", v, strings.Join(compile.WeightsLayouts, " or "))
	}
	*l = layoutFlag(v)
	return nil
}

// The flag types mdlc build --serve's servers share (package cliflag).
type (
	budgetFlag   = cliflag.Budget
	positiveFlag = cliflag.Positive
	threadsFlag  = cliflag.Threads
)

// dimList collects --dim NAME=SIZE flags.
type dimList map[string]int

func (d dimList) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(d)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, d[k]))
	}
	return strings.Join(parts, ",")
}

func (d dimList) Set(v string) error {
	name, sz, ok := strings.Cut(v, "=")
	n, err := strconv.Atoi(sz)
	if !ok || name == "" || err != nil || n < 1 {
		return fmt.Errorf("want NAME=SIZE with a whole positive size, e.g. T=128, got %q", v)
	}
	if _, dup := d[name]; dup {
		return fmt.Errorf("%s given twice", name)
	}
	d[name] = n
	return nil
}

// inputList collects repeated --input flags.
type inputList []string

func (l *inputList) String() string     { return strings.Join(*l, ",") }
func (l *inputList) Set(v string) error { *l = append(*l, v); return nil }

// kernelsFlag is a kernel set, checked against the sets mdlc knows (any of
// them, not only this machine's: a plan may be built to be written out).
type kernelsFlag cpu.Set

func (k *kernelsFlag) String() string { return string(*k) }

func (k *kernelsFlag) Set(v string) error {
	if !slices.Contains(cpu.Known(), cpu.Set(v)) {
		return fmt.Errorf("unknown kernel set; choose %s", kernelSetNames())
	}
	*k = kernelsFlag(v)
	return nil
}

func kernelSetNames() string {
	var names []string
	for _, s := range cpu.Known() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}
