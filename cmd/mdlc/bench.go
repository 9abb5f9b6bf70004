package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/peak"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/tensor"
)

// Timing settings. A timed run lasts at least minRuns runs so that a median
// exists however slow the model; the peak is the best of peakTrials trials of
// peakTrial each (see peak.Measure for why the best).
const (
	minRuns    = 5
	peakTrials = 10
	peakTrial  = 20 * time.Millisecond
)

// benchJSON is what `mdlc bench --json` prints for a model. Flops counts the
// graph as written (ir.Graph.Flops times the batch), so that GFLOP/s compare
// across optimisation levels and with other runtimes running the same model.
// PeakGFlops and PeakPct are absent when no peak figure is known.
type benchJSON struct {
	Model      string  `json:"model"`
	Batch      int     `json:"batch"`
	Threads    int     `json:"threads"`
	Kernels    string  `json:"kernels"`
	Warmup     int     `json:"warmup"`
	Runs       int     `json:"runs"`
	MedianMs   float64 `json:"median_ms"`
	MinMs      float64 `json:"min_ms"`
	Flops      int64   `json:"flops"`
	GFlops     float64 `json:"gflops"`
	PeakGFlops float64 `json:"peak_gflops,omitempty"`
	PeakPct    float64 `json:"peak_pct,omitempty"`
}

// peakJSON is what `mdlc bench --peak --json` prints: the FMA peak of one
// thread and of all of them (GOMAXPROCS) with the selected kernel set, and
// the same for every set this machine can run.
type peakJSON struct {
	Kernel     string    `json:"kernel"`
	PeakGFlops float64   `json:"peak_gflops"`
	AllThreads int       `json:"all_threads"`
	AllGFlops  float64   `json:"peak_gflops_all"`
	Sets       []setPeak `json:"sets"`
}

// setPeak is one kernel set's FMA peak.
type setPeak struct {
	Kernel     string  `json:"kernel"`
	PeakGFlops float64 `json:"peak_gflops"`
	AllGFlops  float64 `json:"peak_gflops_all"`
}

func defineBench(fs *flag.FlagSet) func(*cli, []string) error {
	o := modelFlags(fs)
	weightFlags(fs, o)
	sh := shapeFlags(fs, "batch size")
	threadFlag(fs, o, "threads a run uses")
	runs := fs.Int("runs", 0, "time exactly `R` runs")
	timeFor := fs.Duration("time", time.Second, "time runs for this `DURATION` (at least 5 runs)")
	warmup := fs.Int("warmup", 3, "`W` untimed runs first")
	peakGiven := fs.Float64("peak-gflops", 0, "the FMA peak of --threads threads in `GFLOPS`, for % of peak (default: measured)")
	asJSON := fs.Bool("json", false, "print JSON")
	peakOnly := fs.Bool("peak", false, "measure this machine's FMA peak instead of a model")
	return func(c *cli, files []string) error {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if *peakOnly {
			for name := range set {
				if name != "peak" && name != "json" {
					return usagef("--peak takes no model flags (got --%s)", name)
				}
			}
			if len(files) != 0 {
				return usagef("--peak takes no model file")
			}
			return benchPeak(c, *asJSON)
		}
		switch {
		case len(files) != 1:
			return usagef("expected one .mdl file (or --peak), got %d arguments", len(files))
		case set["runs"] && set["time"]:
			return usagef("give --runs or --time, not both")
		case set["runs"] && *runs < 1:
			return usagef("--runs must be at least 1, got %d", *runs)
		case *timeFor <= 0:
			return usagef("--time must be positive, got %v", *timeFor)
		case *warmup < 0:
			return usagef("--warmup must not be negative, got %d", *warmup)
		case *peakGiven < 0:
			return usagef("--peak-gflops must not be negative, got %g", *peakGiven)
		}
		m, err := o.Load(files[0])
		if err != nil {
			return err
		}
		g := m.Graph
		compiled, err := o.Compile(m, *sh, nil)
		if err != nil {
			return err
		}
		samples, err := compile.Samples(m, compiled.Env, o.Seed)
		if err != nil {
			return err
		}
		p := compiled.Plan
		var inputs []plan.Input
		var outputs [][]float32
		for _, in := range p.Inputs() {
			inputs = append(inputs, plan.Input{Floats: samples[in.Name].Data, Int64s: samples[in.Name].Ints})
		}
		for _, out := range p.Outputs() {
			outputs = append(outputs, make([]float32, tensor.Numel(out.Shape)))
		}
		times, err := timeRuns(p, inputs, outputs, *warmup, *runs, *timeFor)
		if err != nil {
			return err
		}
		return c.benchReport(g.Name, compiled.Env[compile.BatchSymbol(g)], p, compiled.Flops, times, *warmup, *peakGiven, *asJSON)
	}
}

func (c *cli) benchReport(model string, batch int, p *plan.Plan, flops int64, times []time.Duration, warmup int, peakGiven float64, asJSON bool) error {
	slices.Sort(times)
	median := times[len(times)/2]
	if len(times)%2 == 0 {
		median = (times[len(times)/2-1] + median) / 2
	}
	r := benchJSON{Model: model, Batch: max(batch, 1), Threads: p.Threads(), Kernels: string(p.Kernels()), Warmup: warmup, Runs: len(times),
		MedianMs: ms(median), MinMs: ms(times[0]), Flops: flops, GFlops: float64(flops) / median.Seconds() / 1e9}
	switch {
	case peakGiven > 0:
		r.PeakGFlops = peakGiven
	case peak.Asm():
		// Scalar Go's rate is no machine's peak: only assembly measures one.
		r.PeakGFlops = peak.Measure(r.Threads, peakTrials, peakTrial)
	}
	if r.PeakGFlops > 0 {
		r.PeakPct = 100 * r.GFlops / r.PeakGFlops
	}
	if asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(c.stdout, "%s, batch %d, %s, %s kernels\n", r.Model, r.Batch, plural(r.Threads, "thread"), r.Kernels)
	fmt.Fprintf(c.stdout, "runs:   %d (after %d warm-up)\n", r.Runs, r.Warmup)
	fmt.Fprintf(c.stdout, "median: %.3f ms\n", r.MedianMs)
	fmt.Fprintf(c.stdout, "min:    %.3f ms\n", r.MinMs)
	fmt.Fprintf(c.stdout, "speed:  %.2f GFLOP/s (%.4g GFLOP a run)\n", r.GFlops, float64(r.Flops)/1e9)
	if r.PeakGFlops > 0 {
		fmt.Fprintf(c.stdout, "peak:   %.1f%% of %.1f GFLOP/s (FMA peak of %s)\n", r.PeakPct, r.PeakGFlops, plural(r.Threads, "thread"))
	} else {
		fmt.Fprintln(c.stdout, "peak:   unknown (the generic kernel set measures no peak; give --peak-gflops)")
	}
	return nil
}

// timeRuns runs p warmup times, then times each run: exactly runs of them,
// or, if runs is 0, as many as fit in d (at least minRuns).
func timeRuns(p *plan.Plan, inputs []plan.Input, outputs [][]float32, warmup, runs int, d time.Duration) ([]time.Duration, error) {
	a := p.NewArena()
	defer a.Close()
	for range warmup {
		if err := p.Run(a, inputs, outputs); err != nil {
			return nil, err
		}
	}
	times := make([]time.Duration, 0, max(runs, 1024))
	start := time.Now()
	for runs > 0 && len(times) < runs || runs == 0 && (len(times) < minRuns || time.Since(start) < d) {
		t0 := time.Now()
		if err := p.Run(a, inputs, outputs); err != nil {
			return nil, err
		}
		times = append(times, time.Since(t0))
	}
	return times, nil
}

// benchPeak prints the FMA peak of one thread and of GOMAXPROCS threads,
// for each kernel set this machine runs; % of peak in a model's figures uses
// the selected set's.
func benchPeak(c *cli, asJSON bool) error {
	// The kernel follows MDLC_KERNELS, which must then name a set that exists.
	if _, err := cpu.Select(); err != nil {
		return err
	}
	r := peakJSON{Kernel: peak.Kernel(), AllThreads: runtime.GOMAXPROCS(0)}
	for _, set := range peak.Sets() {
		if !slices.Contains(cpu.Available(), set) {
			continue
		}
		one, err := peak.MeasureSet(set, 1, peakTrials, peakTrial)
		if err != nil {
			return err
		}
		all := one
		if r.AllThreads > 1 {
			if all, err = peak.MeasureSet(set, r.AllThreads, peakTrials, peakTrial); err != nil {
				return err
			}
		}
		r.Sets = append(r.Sets, setPeak{Kernel: string(set), PeakGFlops: one, AllGFlops: all})
		if string(set) == r.Kernel {
			r.PeakGFlops, r.AllGFlops = one, all
		}
	}
	if asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(c.stdout, "FMA peak by kernel set, best of %d trials (%s selected):\n", peakTrials, r.Kernel)
	fmt.Fprintf(c.stdout, "  %-8s %12s %12s\n", "set", "1 thread", plural(r.AllThreads, "thread"))
	for _, s := range r.Sets {
		fmt.Fprintf(c.stdout, "  %-8s %7.1f GFLOP/s %7.1f GFLOP/s\n", s.Kernel, s.PeakGFlops, s.AllGFlops)
	}
	if !peak.Asm() {
		fmt.Fprintln(c.stdout, "(generic is scalar Go: not the machine's peak)")
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
