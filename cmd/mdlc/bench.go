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
// across optimisation levels and with other runtimes running the same model;
// Effective says that rate is an effective one, because some kernel of the
// plan (Winograd) executes fewer operations than the model counts.
// ExecutedFlops is what the plan's kernels execute (plan.StepInfo), and
// PeakPct compares its rate, ExecutedGFlops, with the FMA peak. PeakGFlops
// and PeakPct are absent when no peak figure is known; Profile is there with
// --profile.
type benchJSON struct {
	Model          string       `json:"model"`
	Batch          int          `json:"batch"`
	Threads        int          `json:"threads"`
	Kernels        string       `json:"kernels"`
	Warmup         int          `json:"warmup"`
	Runs           int          `json:"runs"`
	MedianMs       float64      `json:"median_ms"`
	MinMs          float64      `json:"min_ms"`
	Flops          int64        `json:"flops"`
	GFlops         float64      `json:"gflops"`
	Effective      bool         `json:"effective"`
	ExecutedFlops  int64        `json:"executed_flops"`
	ExecutedGFlops float64      `json:"executed_gflops"`
	PeakGFlops     float64      `json:"peak_gflops,omitempty"`
	PeakPct        float64      `json:"peak_pct,omitempty"`
	Profile        []profileRow `json:"profile,omitempty"`
}

// profileRow is one step of `mdlc bench --profile`: its mean wall time per
// run, its share of the steps' total, the rate of the FLOPs its kernel
// executes, and the bytes it reads (operands) and writes (result).
type profileRow struct {
	Step          int     `json:"step"`
	Op            string  `json:"op"`
	Layer         string  `json:"layer,omitempty"`
	Shape         []int   `json:"shape"`
	Kernel        string  `json:"kernel"`
	Ms            float64 `json:"ms"`
	SharePct      float64 `json:"share_pct"`
	ExecutedFlops int64   `json:"executed_flops"`
	GFlops        float64 `json:"gflops"`
	Bytes         int64   `json:"bytes"`
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
	o.Dims = sh.Dims // an ONNX model fixes these when importing
	threadFlag(fs, o, "threads a run uses")
	runs := fs.Int("runs", 0, "time exactly `R` runs")
	timeFor := fs.Duration("time", time.Second, "time runs for this `DURATION` (at least 5 runs)")
	warmup := fs.Int("warmup", 3, "`W` untimed runs first")
	peakGiven := fs.Float64("peak-gflops", 0, "the FMA peak of --threads threads in `GFLOPS`, for % of peak (default: measured)")
	profile := fs.Bool("profile", false, "time every step of the plan and print them sorted by time")
	tracePath := fs.String("trace", "", "write the steps of the first 100 timed runs to `FILE` in the Chrome trace format (Perfetto, chrome://tracing)")
	asJSON := fs.Bool("json", false, "print JSON")
	peakOnly := fs.Bool("peak", false, "measure this machine's FMA peak instead of a model")
	trainStep := fs.Bool("train", false, "time a training step (forward, sparse categorical cross-entropy, from logits if the model's train block says so, backward, Adam) and the forward pass it starts with, in images per second (--batch default 32)")
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
		case set["trace"] && *tracePath == "":
			return usagef("--trace needs a file name")
		}
		if *trainStep {
			return benchTrain(c, o, files[0], sh.Batch, *warmup, *runs, *timeFor, *profile, *tracePath, *asJSON)
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
		var rec *recorder
		if *profile || *tracePath != "" {
			rec = &recorder{steps: p.Schedule().Steps, trace: *tracePath != ""}
		}
		times, err := timeRuns(p, inputs, outputs, *warmup, *runs, *timeFor, rec)
		if err != nil {
			return err
		}
		if *tracePath != "" {
			if err := rec.writeTrace(*tracePath, g.Name); err != nil {
				return err
			}
		}
		if !*profile {
			rec = nil
		}
		return c.benchReport(g.Name, compiled.Env[compile.BatchSymbol(g)], p, compiled.Flops, times, rec, *warmup, *peakGiven, *asJSON)
	}
}

func (c *cli) benchReport(model string, batch int, p *plan.Plan, flops int64, times []time.Duration, rec *recorder, warmup int, peakGiven float64, asJSON bool) error {
	median := median(times)
	r := benchJSON{Model: model, Batch: max(batch, 1), Threads: p.Threads(), Kernels: string(p.Kernels()), Warmup: warmup, Runs: len(times),
		MedianMs: ms(median), MinMs: ms(slices.Min(times)), Flops: flops, GFlops: float64(flops) / median.Seconds() / 1e9}
	for _, st := range p.Schedule().Steps {
		r.ExecutedFlops = satAdd(r.ExecutedFlops, st.ExecutedFlops)
		r.Effective = r.Effective || st.ExecutedFlops < st.Flops
	}
	r.ExecutedGFlops = float64(r.ExecutedFlops) / median.Seconds() / 1e9
	if rec != nil {
		r.Profile = rec.rows()
	}
	switch {
	case peakGiven > 0:
		r.PeakGFlops = peakGiven
	case peak.Asm():
		// Scalar Go's rate is no machine's peak: only assembly measures one.
		r.PeakGFlops = peak.Measure(r.Threads, peakTrials, peakTrial)
	}
	if r.PeakGFlops > 0 {
		r.PeakPct = 100 * r.ExecutedGFlops / r.PeakGFlops
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
	if r.Effective {
		fmt.Fprintf(c.stdout, "speed:  %.2f GFLOP/s effective (%.4g GFLOP a run as written; the kernels execute %.4g: %.2f GFLOP/s)\n",
			r.GFlops, float64(r.Flops)/1e9, float64(r.ExecutedFlops)/1e9, r.ExecutedGFlops)
	} else {
		fmt.Fprintf(c.stdout, "speed:  %.2f GFLOP/s (%.4g GFLOP a run)\n", r.GFlops, float64(r.Flops)/1e9)
	}
	if r.PeakGFlops > 0 {
		fmt.Fprintf(c.stdout, "peak:   %.1f%% of %.1f GFLOP/s (FLOPs executed, against the FMA peak of %s)\n", r.PeakPct, r.PeakGFlops, plural(r.Threads, "thread"))
	} else {
		fmt.Fprintln(c.stdout, "peak:   unknown (the generic kernel set measures no peak; give --peak-gflops)")
	}
	if r.Profile != nil {
		printProfile(c.stdout, r.Profile, r.Runs, r.MedianMs)
	}
	return nil
}

// timeRuns runs p warmup times, then times each run: exactly runs of them,
// or, if runs is 0, as many as fit in d (at least minRuns). With rec, every
// run is profiled (warm-up runs too, so that all run alike) and rec records
// the timed ones.
func timeRuns(p *plan.Plan, inputs []plan.Input, outputs [][]float32, warmup, runs int, d time.Duration, rec *recorder) ([]time.Duration, error) {
	a := p.NewArena()
	defer a.Close()
	var steps []plan.StepTime
	var timed func(time.Time, time.Duration)
	if rec != nil {
		steps = a.Profile()
		timed = func(t0 time.Time, took time.Duration) { rec.add(t0, took, steps) }
	}
	return timeFunc(func() error { return p.Run(a, inputs, outputs) }, warmup, runs, d, timed)
}

// timeFunc calls f warmup times, then times each call: exactly runs of
// them, or, if runs is 0, as many as fit in d (at least minRuns). timed, if
// set, hears when each timed call began and how long it took.
func timeFunc(f func() error, warmup, runs int, d time.Duration, timed func(time.Time, time.Duration)) ([]time.Duration, error) {
	for range warmup {
		if err := f(); err != nil {
			return nil, err
		}
	}
	times := make([]time.Duration, 0, max(runs, 1024))
	start := time.Now()
	for runs > 0 && len(times) < runs || runs == 0 && (len(times) < minRuns || time.Since(start) < d) {
		t0 := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		took := time.Since(t0)
		times = append(times, took)
		if timed != nil {
			timed(t0, took)
		}
	}
	return times, nil
}

// median is the median of times (the mean of the middle two for an even
// count).
func median(times []time.Duration) time.Duration {
	s := slices.Clone(times)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + m) / 2
	}
	return m
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
