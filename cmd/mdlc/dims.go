package main

import (
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/ir"
)

// shape is the flags that bind a model's symbolic dimensions, --batch and
// --dim, which run, plan, bench, gen and build share.
type shape struct {
	batch int
	dims  dimList
}

func shapeFlags(fs *flag.FlagSet, batchHelp string) *shape {
	s := &shape{dims: dimList{}}
	fs.IntVar(&s.batch, "batch", 1, batchHelp)
	fs.Var(s.dims, "dim", "NAME=SIZE for a symbolic dimension other than the batch, e.g. T=128 (repeatable)")
	return s
}

// check reports a batch below 1.
func (s *shape) check() error {
	if s.batch < 1 {
		return usageError{fmt.Sprintf("--batch must be at least 1, got %d", s.batch)}
	}
	return nil
}

// dimList collects --dim NAME=SIZE flags: sizes for a model's symbolic
// dimensions other than the batch (a sequence length T, say).
type dimList map[string]int

func (d dimList) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(d)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, d[k]))
	}
	return strings.Join(parts, ",")
}

func (d dimList) Set(v string) error {
	name, size, ok := strings.Cut(v, "=")
	n, err := strconv.Atoi(size)
	if !ok || name == "" || err != nil || n < 1 {
		return fmt.Errorf("want NAME=SIZE with a positive size, e.g. T=128, got %q", v)
	}
	d[name] = n
	return nil
}

// batchSymbol is the symbol on the first axis of the model's first input
// that has one there: what --batch binds.
func batchSymbol(g *ir.Graph) string {
	for _, in := range g.Inputs {
		if len(in.Type.Shape) > 0 && !in.Type.Shape[0].Known() {
			return in.Type.Shape[0].Sym
		}
	}
	return ""
}

// bindSymbols binds every symbolic dimension of g's inputs: the batch symbol
// to batch, the others to their --dim.
func bindSymbols(g *ir.Graph, batch int, dims dimList) (map[string]int, error) {
	env := map[string]int{}
	batchSym := batchSymbol(g)
	syms := g.Symbols()
	for _, name := range slices.Sorted(maps.Keys(dims)) {
		switch {
		case name == batchSym:
			return nil, usageError{fmt.Sprintf("--dim %s: %s is the batch dimension; set it with --batch", name, name)}
		case !slices.Contains(syms, name):
			return nil, usageError{fmt.Sprintf("--dim %s: model %s has no symbolic dimension %s (its inputs are %s)", name, g.Name, name, inputNames(g))}
		}
	}
	for _, sym := range syms {
		switch size, ok := dims[sym]; {
		case sym == batchSym:
			env[sym] = batch
		case ok:
			env[sym] = size
		default:
			return nil, usageError{fmt.Sprintf("model %s has the symbolic dimension %s (inputs %s): give its size with --dim %s=SIZE", g.Name, sym, inputNames(g), sym)}
		}
	}
	return env, nil
}
