package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/optim"
	"github.com/mdlc/mdlc/train"
)

// trainBenchJSON is what `mdlc bench --train --json` prints: a training
// step's time and rate, and the forward pass's (the evaluator's step, the
// same graph without its backward half) for their ratio.
type trainBenchJSON struct {
	Model           string  `json:"model"`
	Batch           int     `json:"batch"`
	Threads         int     `json:"threads"`
	Kernels         string  `json:"kernels"`
	Runs            int     `json:"runs"`
	MedianMs        float64 `json:"median_ms"`
	MinMs           float64 `json:"min_ms"`
	ImagesPerSecond float64 `json:"images_per_s"`
	ForwardMedianMs float64 `json:"forward_median_ms"`
	StepOverForward float64 `json:"step_over_forward"`
	ArenaBytes      int64   `json:"arena_bytes"`
	LowerBoundBytes int64   `json:"lower_bound_bytes"`
	SavedBytes      int64   `json:"saved_bytes"`
	// Profile: the training plan's steps with --profile (the optimiser's
	// update, after the plan, is the rest of the median).
	Profile []profileRow `json:"profile,omitempty"`
}

// trainBench is what `mdlc bench --train` was asked for.
type trainBench struct {
	batch, warmup, runs int
	d                   time.Duration
	asJSON, profile     bool
	trace               string // the --trace file, or none
}

// benchTrain times training steps of the model in file on a fixed batch of
// sample inputs with labels 0, 1, 2, ... (the rate does not depend on the
// values).
func benchTrain(c *cli, o *compile.Options, file string, tb trainBench) error {
	batch, warmup, runs, d := tb.batch, tb.warmup, tb.runs, tb.d
	if batch == 0 {
		batch = 32
	}
	o.Untrained = true
	load := func() (*compile.Model, *compile.Weights, error) {
		m, err := o.Load(file)
		if err != nil {
			return nil, nil, err
		}
		w, err := o.LoadWeights(m)
		return m, w, err
	}
	m, w, err := load()
	if err != nil {
		return err
	}
	name := m.Graph.Name
	env := map[string]int{compile.BatchSymbol(m.Graph): batch}
	samples, err := compile.Samples(m, env, o.Seed)
	if err != nil {
		return err
	}
	if len(m.Graph.Inputs) != 1 {
		return fmt.Errorf("model %s has %d inputs; a training step reads one", name, len(m.Graph.Inputs))
	}
	// A step takes token ids as floats, as package data serves them.
	x := samples[m.Graph.Inputs[0].Name].Floats().Data
	cfg := train.Config{Objective: train.Objective{Loss: train.SparseCategoricalCrossentropy}, Optimizer: optim.DefaultAdam, LR: optim.Constant(1e-3),
		BatchSize: batch, Threads: o.Threads, Kernels: o.Kernels}
	tr, err := train.New(m.Graph, w.Tensors, cfg)
	if err != nil {
		return err
	}
	defer tr.Close()
	y := make([]int64, batch)
	for i := range y {
		y[i] = int64(i % 2)
	}
	// As timeRuns: with a recorder, every step is profiled, warm-up ones
	// too, and the timed ones recorded.
	var rec *recorder
	var timed func(time.Time, time.Duration)
	if tb.profile || tb.trace != "" {
		rec = &recorder{steps: tr.Plan().Schedule().Steps, trace: tb.trace != ""}
		times := tr.Profile()
		timed = func(t0 time.Time, took time.Duration) { rec.add(t0, took, times) }
	}
	steps, err := timeFunc(func() error { _, err := tr.Step(x, y, batch); return err }, warmup, runs, d, timed)
	if err != nil {
		return err
	}
	if tb.trace != "" {
		if err := rec.writeTrace(tb.trace, name); err != nil {
			return err
		}
	}
	fm, fw, err := load()
	if err != nil {
		return err
	}
	e, err := train.NewEvaluator(fm.Graph, fw.Tensors, cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	fwd, err := timeFunc(func() error { _, err := e.Batch(x, y, batch); return err }, warmup, runs, d, nil)
	if err != nil {
		return err
	}
	s := tr.Plan().Schedule()
	r := trainBenchJSON{Model: name, Batch: batch, Threads: tr.Plan().Threads(), Kernels: string(tr.Plan().Kernels()), Runs: len(steps),
		MedianMs: ms(median(steps)), MinMs: ms(slices.Min(steps)), ForwardMedianMs: ms(median(fwd)),
		ArenaBytes: s.ArenaBytes, LowerBoundBytes: s.LowerBound, SavedBytes: tr.SavedBytes()}
	r.ImagesPerSecond = float64(batch) / median(steps).Seconds()
	r.StepOverForward = r.MedianMs / r.ForwardMedianMs
	if tb.profile {
		r.Profile = rec.rows(len(steps))
	}
	if tb.asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(c.stdout, "%s training step, batch %d, %s, %s kernels, Adam\n", r.Model, r.Batch, plural(r.Threads, "thread"), r.Kernels)
	fmt.Fprintf(c.stdout, "runs:    %d (after %d warm-up)\n", r.Runs, warmup)
	fmt.Fprintf(c.stdout, "median:  %.3f ms (min %.3f): %.0f images/s\n", r.MedianMs, r.MinMs, r.ImagesPerSecond)
	fmt.Fprintf(c.stdout, "forward: %.3f ms: the step takes %.2f x its forward pass\n", r.ForwardMedianMs, r.StepOverForward)
	fmt.Fprintf(c.stdout, "arena:   %s bytes (%.3f x the lower bound %s); %s bytes of activations kept for the backward pass\n",
		commas(r.ArenaBytes), float64(r.ArenaBytes)/float64(max(r.LowerBoundBytes, 1)), commas(r.LowerBoundBytes), commas(r.SavedBytes))
	if r.Profile != nil {
		printProfile(c.stdout, r.Profile, r.Runs, r.MedianMs)
	}
	return nil
}
