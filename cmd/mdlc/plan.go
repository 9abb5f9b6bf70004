package main

import (
	"encoding/json"
	"fmt"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/tensor"
)

func runPlan(c *cli, args []string) error {
	fs := c.flags("plan")
	model := fs.String("model", "", "the model, if the file has several")
	sh := shapeFlags(fs, "batch size the plan is built for")
	asJSON := fs.Bool("json", false, "print JSON")
	weightsPath := fs.String("weights", "", "weights (default: initialised from --seed)")
	seed := fs.Uint64("seed", 1, "seed for initial weights")
	noOpt := fs.Bool("O0", false, "plan the graph as written, without optimisation")
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
	env, err := bindSymbols(g, sh.batch, sh.dims)
	if err != nil {
		return err
	}
	written, err := intermediateBytes(g, env)
	if err != nil {
		return err
	}
	var params map[string]*tensor.Tensor
	if *noOpt {
		if params, err = loadWeights(g, *weightsPath, *seed); err != nil {
			return err
		}
	} else if _, err := optimise(g, *weightsPath, *seed, ""); err != nil {
		return err
	}
	p, err := plan.Build(g, params, env)
	if err != nil {
		return err
	}
	return printPlan(c, g, p, written, *asJSON)
}

// planJSON is the schedule with the model-as-written figure beside it.
type planJSON struct {
	plan.Schedule
	AsWritten int64 `json:"as_written_bytes"`
}

// intermediateBytes is what running the graph as written, each result in a
// buffer of its own, allocates: the baseline for fusion and planning together.
func intermediateBytes(g *ir.Graph, env map[string]int) (int64, error) {
	var n int64
	for _, node := range g.Nodes {
		shape, err := node.Outputs[0].Type.Shape.Bind(env)
		if err != nil {
			return 0, err
		}
		n += int64(tensor.Numel(shape)) * int64(node.Outputs[0].Type.DType.Size())
	}
	return n, nil
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
