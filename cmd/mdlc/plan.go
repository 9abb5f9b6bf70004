package main

import (
	"encoding/json"
	"flag"
	"fmt"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/optim"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/train"
)

func definePlan(fs *flag.FlagSet) func(*cli, []string) error {
	o := modelFlags(fs)
	weightFlags(fs, o)
	threadFlag(fs, o, "threads the plan is built for")
	fs.Var((*kernelsFlag)(&o.Kernels), "kernels", "the kernel `SET` to plan for (its packing and scratch): "+kernelSetNames()+" (default: the one this machine selects)")
	sh := shapeFlags(fs, "batch size the plan is built for")
	o.Dims = sh.Dims // an ONNX model fixes these when importing
	asJSON := fs.Bool("json", false, "print JSON")
	fs.BoolVar(&o.NoOpt, "O0", false, "plan the graph as written, without optimisation")
	forTraining := fs.Bool("train", false, "plan the training step (forward, loss, backward) at --batch instead of inference, with the bytes of activations kept for the backward pass")
	loss, logits, output := objectiveFlags(fs)
	return func(c *cli, files []string) error {
		m, err := o.Load(files[0])
		if err != nil {
			return err
		}
		if *forTraining {
			// The model's train block gives the loss, under the flags.
			given := map[string]bool{}
			fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
			(&trainFlags{loss: loss, fromLogits: logits}).specDefaults(m.Train, given)
			return planTraining(c, o, m, sh.Batch, sh.Dims, *loss, *logits, *output, *asJSON)
		}
		compiled, err := o.Compile(m, *sh, nil)
		if err != nil {
			return err
		}
		p := compiled.Plan
		if o.NoOpt {
			if p, err = o.Plan(m, compiled.Weights.Tensors, compiled.Env); err != nil {
				return err
			}
		}
		return printPlan(c, m.Graph, p, compiled.AsWritten, *asJSON)
	}
}

// planJSON is the schedule with the model-as-written figure beside it.
type planJSON struct {
	plan.Schedule
	AsWritten int64 `json:"as_written_bytes"`
}

func printPlan(c *cli, g *ir.Graph, p *plan.Plan, written int64, asJSON bool) error {
	s := p.Schedule()
	if asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(planJSON{Schedule: s, AsWritten: written})
	}
	fmt.Fprintf(c.stdout, "plan of %s, %d steps\n\n%s\n%s\n", g.Name, len(s.Steps), s, p.Timeline())
	fmt.Fprintf(c.stdout, "arena:       %s bytes (%.3f x the lower bound)\n", commas(s.ArenaBytes), float64(s.ArenaBytes)/float64(max(s.LowerBound, 1)))
	fmt.Fprintf(c.stdout, "lower bound: %s bytes (the most bytes live at one step)\n", commas(s.LowerBound))
	fmt.Fprintf(c.stdout, "unplanned:   %s bytes (every intermediate of this plan in its own buffer; %.1f x the arena)\n", commas(s.Unplanned), float64(s.Unplanned)/float64(max(s.ArenaBytes, 1)))
	if written > 0 {
		fmt.Fprintf(c.stdout, "as written:  %s bytes (every result of the model as written, unfused and unplanned; %.1f x the arena)\n", commas(written), float64(written)/float64(max(s.ArenaBytes, 1)))
	}
	return nil
}

// planTraining prints the plan of m's training step at batch size batch
// (default 32), its other symbolic sizes bound by dims, with the bytes the
// backward pass keeps alive.
func planTraining(c *cli, o *compile.Options, m *compile.Model, batch int, dims map[string]int, loss string, logits bool, output string, asJSON bool) error {
	obj, err := objective(loss, logits, output)
	if err != nil {
		return err
	}
	if batch == 0 {
		batch = 32
	}
	o.Untrained = true
	w, err := o.LoadWeights(m)
	if err != nil {
		return err
	}
	name := m.Graph.Name
	tr, err := train.New(m.Graph, w.Tensors, train.Config{Objective: obj, Optimizer: optim.SGD{}, LR: optim.Constant(0), BatchSize: batch, Dims: dims, Threads: o.Threads, Kernels: o.Kernels})
	if err != nil {
		return err
	}
	defer tr.Close()
	p := tr.Plan()
	if err := printPlan(c, m.Graph, p, 0, asJSON); err != nil || asJSON {
		return err
	}
	fmt.Fprintf(c.stdout, "kept for the backward pass: %s bytes of activations (%s)\n", commas(tr.SavedBytes()), name)
	fmt.Fprintf(c.stdout, "parameters:  %s bytes, as the plan's state; gradients %s bytes, outputs\n", commas(int64(len(p.Parameters()))*4), commas(int64(trainableFloats(p))*4))
	return nil
}

func trainableFloats(p *plan.Plan) int {
	n := 0
	for _, r := range p.Layout() {
		if r.Trainable {
			n += r.Size()
		}
	}
	return n
}
