package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mdlc/mdlc/compile"
	"github.com/mdlc/mdlc/optim"
	"github.com/mdlc/mdlc/runtime/plan"
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
	// Profile is the training step's, with --profile: the plan's steps,
	// then the optimiser's update.
	Profile []profileRow `json:"profile,omitempty"`
}

// benchTrain times training steps of the model in file on a fixed batch of
// sample inputs with labels 0, 1, 2, ... (the rate does not depend on the
// values). With profile or tracePath, the training step is profiled as
// `mdlc bench --profile` profiles a plan, its optimiser update as one more
// step.
func benchTrain(c *cli, o *compile.Options, file string, batch, warmup, runs int, d time.Duration, profile bool, tracePath string, asJSON bool) error {
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
	env, err := o.Bind(m, compile.Shape{Batch: batch, Dims: o.Dims}, nil)
	if err != nil {
		return err
	}
	samples, err := compile.Samples(m, env, o.Seed)
	if err != nil {
		return err
	}
	if len(m.Graph.Inputs) != 1 {
		return fmt.Errorf("model %s has %d inputs; a training step reads one", name, len(m.Graph.Inputs))
	}
	// A step takes token ids as floats, as package data serves them.
	x := samples[m.Graph.Inputs[0].Name].Floats().Data
	// Sparse categorical cross-entropy on the labels below, from logits
	// where the model's train block says its output is logits.
	obj := train.Objective{Loss: train.SparseCategoricalCrossentropy, FromLogits: m.Train != nil && m.Train.FromLogits}
	cfg := train.Config{Objective: obj, Optimizer: optim.DefaultAdam, LR: optim.Constant(1e-3),
		BatchSize: batch, Dims: o.Dims, Threads: o.Threads, Kernels: o.Kernels}
	tr, err := train.New(m.Graph, w.Tensors, cfg)
	if err != nil {
		return err
	}
	defer tr.Close()
	// A language model takes a class id per position.
	y := make([]int64, batch*max(tr.StepShape().Targets, 1))
	for i := range y {
		y[i] = int64(i % 2)
	}
	var rec *recorder
	var timed func(time.Time, time.Duration)
	if profile || tracePath != "" {
		rec, timed = profileTraining(tr, tracePath != "")
	}
	steps, err := timeFunc(func() error { _, err := tr.Step(x, y, batch); return err }, warmup, runs, d, timed)
	if err != nil {
		return err
	}
	if tracePath != "" {
		if err := rec.writeTrace(tracePath, name+" training step"); err != nil {
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
	if profile {
		r.Profile = rec.rows()
	}
	if asJSON {
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

// profileTraining makes tr record its steps' times and returns a recorder
// of them and the callback that feeds it each timed step: the plan's steps,
// then the optimiser's update as a step of its own.
func profileTraining(tr *train.Trainer, trace bool) (*recorder, func(time.Time, time.Duration)) {
	steps, update := tr.Profile()
	info := tr.Plan().Schedule().Steps
	params, read, written := tr.UpdateSize()
	info = append(slices.Clip(info), plan.StepInfo{Index: len(info), Op: "optimizer update", Kernel: "update/" + string(tr.Plan().Kernels()),
		Shape: []int{params}, ReadBytes: read, Bytes: written})
	rec := &recorder{steps: info, trace: trace}
	all := make([]plan.StepTime, len(steps)+1)
	return rec, func(t0 time.Time, took time.Duration) {
		copy(all, steps)
		all[len(steps)] = *update
		rec.add(t0, took, all)
	}
}
