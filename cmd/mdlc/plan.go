package main

import (
	"encoding/json"
	"flag"
	"fmt"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/plan"
)

func definePlan(fs *flag.FlagSet) func(*cli, []string) error {
	o := modelFlags(fs)
	weightFlags(fs, o)
	threadFlag(fs, o, "threads the plan is built for")
	fs.Var((*kernelsFlag)(&o.Kernels), "kernels", "the kernel `SET` to plan for (its packing and scratch): "+kernelSetNames()+" (default: the one this machine selects)")
	sh := shapeFlags(fs, "batch size the plan is built for")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.BoolVar(&o.NoOpt, "O0", false, "plan the graph as written, without optimisation")
	return func(c *cli, files []string) error {
		m, err := o.Load(files[0])
		if err != nil {
			return err
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
	fmt.Fprintf(c.stdout, "as written:  %s bytes (every result of the model as written, unfused and unplanned; %.1f x the arena)\n", commas(written), float64(written)/float64(max(s.ArenaBytes, 1)))
	return nil
}
