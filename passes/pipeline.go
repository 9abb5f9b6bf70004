// Package passes is mdlc's optimiser: one ordered list of named passes over
// the IR, each a plain function in a file of its own whose first comment gives
// the algorithm and the invariant it leaves. The driver runs them in order,
// times them, can verify the graph after each one and dump it after a named
// one; order constraints are data, checked when the package loads.
package passes

import (
	"fmt"
	"io"
	"time"

	"github.com/mdlc/mdlc/ir"
)

// Pass is one optimisation step.
type Pass struct {
	Name string
	Doc  string
	Run  func(*ir.Graph) error
}

// Pipeline is the optimiser, in order.
var Pipeline = []Pass{
	{"lower", "layers to primitive ops: dense -> matmul + bias, flatten -> reshape, dropout -> identity, batchnorm -> scale and shift", lower},
	{"fold", "evaluate nodes whose operands are all constants", fold},
	{"simplify", "algebraic rewrites from a rule table, including batchnorm's scale and shift folded into conv/matmul weights", simplify},
	{"cse", "merge nodes computing the same op on the same operands", cse},
	{"dce", "drop nodes, parameters and constants no output depends on", dce},
	{"fuse-epilogue", "conv/matmul absorb the elementwise ops after them (bias, activation, residual add, scale)", fuseEpilogue},
	{"fuse-pool", "a non-overlapping max pool joins the conv before it, computed tile by tile", fusePool},
	{"fuse-chains", "runs of elementwise ops become one elementwise op", fuseChains},
}

// Training is the optimiser of a training or evaluation step: a graph whose
// parameters are state the optimiser changes, so nothing may fold them
// into constants, and whose forward values the backward half reads.
var Training = []Pass{
	{"dce", "drop nodes no output depends on (the final softmax a fused cross-entropy replaces); keep every parameter, which is state", dceKeepParams},
}

// orderConstraints are the reasons the pipeline is ordered as it is; init
// checks them, so a reordering that breaks one fails at once.
var orderConstraints = []struct{ before, after, why string }{
	{"lower", "fold", "batchnorm's scale and shift are folded only once lowered"},
	{"lower", "simplify", "simplify's rules match matmul and mul/add, not dense or batchnorm"},
	{"fold", "simplify", "simplify folds per-channel constants into weights, which must be constants by then"},
	{"simplify", "cse", "rewrites expose duplicates"},
	{"cse", "dce", "merged nodes leave dead ones"},
	{"dce", "fuse-epilogue", "fusion needs exact use counts, which dead users would inflate"},
	{"fuse-epilogue", "fuse-pool", "the pool joins a conv whose epilogue (bias, relu) is already fused"},
	{"fuse-epilogue", "fuse-chains", "ops that can join a conv or matmul go there first"},
}

func init() {
	if err := checkOrder(Pipeline); err != nil {
		panic(err)
	}
}

func checkOrder(p []Pass) error {
	at := map[string]int{}
	for i, pass := range p {
		if _, dup := at[pass.Name]; dup {
			return fmt.Errorf("passes: %q appears twice in the pipeline", pass.Name)
		}
		at[pass.Name] = i
	}
	for _, c := range orderConstraints {
		b, okb := at[c.before]
		a, oka := at[c.after]
		if !okb || !oka || b >= a {
			return fmt.Errorf("passes: %s must run before %s: %s", c.before, c.after, c.why)
		}
	}
	return nil
}

// Options control a pipeline run.
type Options struct {
	// Verify runs ir.Verify after every pass (always on in tests).
	Verify bool
	// StopAfter ends the run after the named pass.
	StopAfter string
	// Trace, if set, receives each pass's statistics as it finishes.
	Trace io.Writer
}

// Stat is what one pass did.
type Stat struct {
	Pass        string        `json:"pass"`
	NodesBefore int           `json:"nodes_before"`
	NodesAfter  int           `json:"nodes_after"`
	Duration    time.Duration `json:"duration_ns"`
}

// Run optimises g in place.
func Run(g *ir.Graph, opts Options) ([]Stat, error) {
	if opts.StopAfter != "" && Lookup(opts.StopAfter) == nil {
		return nil, fmt.Errorf("no pass named %q; passes are %s", opts.StopAfter, Names())
	}
	return run(g, Pipeline, opts)
}

// RunTraining optimises a training step in place with Training.
func RunTraining(g *ir.Graph, opts Options) ([]Stat, error) { return run(g, Training, opts) }

func run(g *ir.Graph, pipeline []Pass, opts Options) ([]Stat, error) {
	var stats []Stat
	for _, p := range pipeline {
		before := len(g.Nodes)
		start := time.Now()
		if err := p.Run(g); err != nil {
			return stats, fmt.Errorf("pass %s: %w", p.Name, err)
		}
		st := Stat{Pass: p.Name, NodesBefore: before, NodesAfter: len(g.Nodes), Duration: time.Since(start)}
		stats = append(stats, st)
		if opts.Trace != nil {
			fmt.Fprintf(opts.Trace, "%-14s %4d -> %4d nodes  %v\n", st.Pass, st.NodesBefore, st.NodesAfter, st.Duration)
		}
		if opts.Verify {
			if err := ir.Verify(g); err != nil {
				return stats, fmt.Errorf("after pass %s the IR is invalid: %w", p.Name, err)
			}
		}
		if p.Name == opts.StopAfter {
			break
		}
	}
	return stats, nil
}

// Lookup finds a pass by name.
func Lookup(name string) *Pass {
	for i := range Pipeline {
		if Pipeline[i].Name == name {
			return &Pipeline[i]
		}
	}
	return nil
}

// Names lists the passes in order, comma-separated.
func Names() string {
	s := ""
	for i, p := range Pipeline {
		if i > 0 {
			s += ", "
		}
		s += p.Name
	}
	return s
}
