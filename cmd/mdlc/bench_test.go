package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/peak"
)

// Bench tests check flags, output shape and errors: never timings.

const benchModel = "../../stdlib/cnn.mdl"

// jsonKeys decodes one JSON object and returns its sorted keys.
func jsonKeys(t *testing.T, out string, v any) []string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m))
	require.NoError(t, json.Unmarshal([]byte(out), v))
	return slices.Sorted(maps.Keys(m))
}

func TestBenchJSON(t *testing.T) {
	code, out, errs := mdlc(t, "bench", "--json", "--runs", "3", "--warmup", "1", "--batch", "2", "--threads", "2", "--peak-gflops", "50", benchModel)
	require.Equal(t, 0, code, errs)
	var r benchJSON
	require.Equal(t, []string{"batch", "effective", "executed_flops", "executed_gflops", "flops", "gflops", "kernels", "median_ms", "min_ms", "model",
		"peak_gflops", "peak_pct", "runs", "threads", "warmup"}, jsonKeys(t, out, &r))
	require.Equal(t, "cnn", r.Model)
	require.Equal(t, 2, r.Batch)
	require.Equal(t, 2, r.Threads, "--threads reaches the plan")
	require.Equal(t, 3, r.Runs)
	require.Equal(t, 1, r.Warmup)
	require.Equal(t, 50.0, r.PeakGFlops)

	// FLOPs are those of the graph as written, times the batch.
	code, out, errs = mdlc(t, "summary", "--json", benchModel)
	require.Equal(t, 0, code, errs)
	var s summaryJSON
	require.NoError(t, json.Unmarshal([]byte(out), &s))
	require.Equal(t, 2*s.Flops, r.Flops)

	require.Positive(t, r.MinMs)
	require.LessOrEqual(t, r.MinMs, r.MedianMs)
	require.InDelta(t, float64(r.Flops)/r.MedianMs/1e6, r.GFlops, 1e-9*r.GFlops)
	// Winograd runs the second conv: fewer FLOPs executed than the model counts,
	// so GFlops is effective, and % of peak uses the executed count.
	require.True(t, r.Effective)
	require.Positive(t, r.ExecutedFlops)
	require.Less(t, r.ExecutedFlops, r.Flops)
	require.InDelta(t, float64(r.ExecutedFlops)/r.MedianMs/1e6, r.ExecutedGFlops, 1e-9*r.ExecutedGFlops)
	require.InDelta(t, 100*r.ExecutedGFlops/50, r.PeakPct, 1e-9*r.PeakPct)
}

func TestBenchText(t *testing.T) {
	code, out, errs := mdlc(t, "bench", benchModel, "--time", "1ns", "--warmup", "0", "--peak-gflops", "50", "--threads", "1")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "cnn, batch 1, 1 thread, ")
	require.Regexp(t, `runs:   [0-9]+ \(after 0 warm-up\)\nmedian: [0-9.]+ ms\nmin:    [0-9.]+ ms\nspeed:  [0-9.]+ GFLOP/s effective \(0.007949 GFLOP a run as written; the kernels execute 0.00417: [0-9.]+ GFLOP/s\)\n`+
		`peak:   [0-9.]+% of 50.0 GFLOP/s \(FLOPs executed, against the FMA peak of 1 thread\)\n$`, out)
	// A timed bench makes at least minRuns runs, however short the time; a
	// plan's threads are GOMAXPROCS unless --threads says otherwise.
	var r benchJSON
	code, out, errs = mdlc(t, "bench", "--json", benchModel, "--time", "1ns", "--warmup", "0", "--peak-gflops", "50")
	require.Equal(t, 0, code, errs)
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.GreaterOrEqual(t, r.Runs, minRuns)
	require.Equal(t, runtime.GOMAXPROCS(0), r.Threads)
}

func TestBenchPeak(t *testing.T) {
	code, out, errs := mdlc(t, "bench", "--peak", "--json")
	require.Equal(t, 0, code, errs)
	var r peakJSON
	require.Equal(t, []string{"all_threads", "kernel", "peak_gflops", "peak_gflops_all", "sets"}, jsonKeys(t, out, &r))
	require.Equal(t, peak.Kernel(), r.Kernel)
	require.Equal(t, runtime.GOMAXPROCS(0), r.AllThreads)
	require.Positive(t, r.PeakGFlops)
	require.Positive(t, r.AllGFlops)
	var sets []string
	for _, s := range r.Sets {
		sets = append(sets, s.Kernel)
		require.Positive(t, s.PeakGFlops, s.Kernel)
	}
	var want []string
	for _, s := range peak.Sets() {
		if slices.Contains(cpu.Available(), s) {
			want = append(want, string(s))
		}
	}
	require.Equal(t, want, sets, "a peak for every set this machine runs")

	code, out, errs = mdlc(t, "bench", "--peak")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "("+peak.Kernel()+" selected)")
	require.Contains(t, out, "1 thread")
}

func TestBenchErrors(t *testing.T) {
	dir := t.TempDir()
	fixed := filepath.Join(dir, "fixed.mdl")
	require.NoError(t, os.WriteFile(fixed, []byte("model fixed(x: f32[4, 8]) -> (y: f32[4, 8]) {\n  y = x | relu\n}\n"), 0o644))
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{}, 2, "expected one .mdl file (or --peak), got 0 arguments"},
		{[]string{benchModel, benchModel}, 2, "expected one .mdl file (or --peak), got 2 arguments"},
		{[]string{"--batch", "0", benchModel}, 2, "--batch 0: must be a whole number of at least 1"},
		{[]string{"--threads", "0", benchModel}, 2, "--threads 0: must be a whole number of at least 1"},
		{[]string{"--runs", "0", benchModel}, 2, "--runs must be at least 1, got 0"},
		{[]string{"--runs", "3", "--time", "1s", benchModel}, 2, "give --runs or --time, not both"},
		{[]string{"--time", "0s", benchModel}, 2, "--time must be positive, got 0s"},
		{[]string{"--warmup", "-1", benchModel}, 2, "--warmup must not be negative, got -1"},
		{[]string{"--peak-gflops", "-1", benchModel}, 2, "--peak-gflops must not be negative, got -1"},
		{[]string{"--frobnicate", benchModel}, 2, "unknown flag --frobnicate"},
		{[]string{"--peak", benchModel}, 2, "--peak takes no model file"},
		{[]string{"--peak", "--runs", "3"}, 2, "--peak takes no model flags (got --runs)"},
		{[]string{"--peak", "--profile"}, 2, "--peak takes no model flags (got --profile)"},
		{[]string{"--trace", "", benchModel}, 2, "--trace needs a file name"},
		{[]string{"--runs", "1", "--trace", filepath.Join(dir, "missing", "t.json"), benchModel}, 1, "--trace: open " + filepath.Join(dir, "missing", "t.json")},
		{[]string{"--batch", "2", fixed}, 2, "model fixed has no batch dimension: its inputs are x: f32[4,8]"},
		{[]string{filepath.Join(dir, "missing.mdl")}, 1, "missing.mdl"},
		{[]string{"--train", "--runs", "1", "--dim", "X=3", "../../stdlib/gpt.mdl"}, 2, "--dim X: model gpt has no symbolic dimension X"},
	} {
		code, out, errs := mdlc(t, append([]string{"bench"}, c.args...)...)
		require.Equal(t, c.code, code, "%v: %s", c.args, errs)
		require.Empty(t, out, "%v", c.args)
		require.Contains(t, errs, c.msg, "%v", c.args)
	}

	// A fixed-shape model benches at batch 1 without --batch.
	code, out, errs := mdlc(t, "bench", "--json", "--runs", "1", "--peak-gflops", "50", fixed)
	require.Equal(t, 0, code, errs)
	var r benchJSON
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, 1, r.Batch)
	require.Equal(t, int64(32), r.Flops)
	require.False(t, r.Effective, "relu runs what it counts")
	require.Equal(t, int64(32), r.ExecutedFlops)
	code, out, errs = mdlc(t, "bench", "--runs", "1", "--peak-gflops", "50", fixed)
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `\nspeed:  [0-9.]+ GFLOP/s \(3.2e-08 GFLOP a run\)\npeak:   `, out)

	t.Setenv("MDLC_KERNELS", "sse9")
	for _, args := range [][]string{{benchModel}, {"--peak"}} {
		code, _, errs = mdlc(t, append([]string{"bench"}, args...)...)
		require.Equal(t, 1, code, "%v", args)
		require.Contains(t, errs, "MDLC_KERNELS=sse9: unknown kernel set", "%v", args)
	}
}

// TestBenchMeasuresPeak: without --peak-gflops, bench measures the peak if
// assembly can (not in a purego build), and otherwise leaves the peak fields
// out.
func TestBenchMeasuresPeak(t *testing.T) {
	code, out, errs := mdlc(t, "bench", "--json", "--runs", "1", "--warmup", "0", benchModel)
	require.Equal(t, 0, code, errs)
	var r benchJSON
	keys := jsonKeys(t, out, &r)
	code, text, errs := mdlc(t, "bench", "--runs", "1", "--warmup", "0", benchModel)
	require.Equal(t, 0, code, errs)
	if peak.Asm() {
		require.Contains(t, keys, "peak_gflops")
		require.Contains(t, keys, "peak_pct")
		require.Positive(t, r.PeakGFlops)
		require.Contains(t, text, "GFLOP/s (FLOPs executed, against the FMA peak of ")
	} else {
		require.NotContains(t, keys, "peak_gflops")
		require.NotContains(t, keys, "peak_pct")
		require.Contains(t, text, "peak:   unknown (the generic kernel set measures no peak; give --peak-gflops)\n")
	}
}

// TestBenchProfile: a row per step of the plan, slowest first, in text and
// JSON; the shares add up to the whole.
func TestBenchProfile(t *testing.T) {
	code, out, errs := mdlc(t, "bench", "--json", "--profile", "--runs", "3", "--warmup", "1", "--peak-gflops", "50", "--threads", "1", benchModel)
	require.Equal(t, 0, code, errs)
	var r benchJSON
	require.Contains(t, jsonKeys(t, out, &r), "profile")
	code, plan, errs := mdlc(t, "plan", "--json", benchModel)
	require.Equal(t, 0, code, errs)
	var s struct{ Steps []struct{ Index int } }
	require.NoError(t, json.Unmarshal([]byte(plan), &s))
	require.Len(t, r.Profile, len(s.Steps))
	var rowKeys []string
	{
		var raw struct{ Profile []map[string]any }
		require.NoError(t, json.Unmarshal([]byte(out), &raw))
		rowKeys = slices.Sorted(maps.Keys(raw.Profile[0]))
	}
	require.Equal(t, []string{"bytes", "executed_flops", "gflops", "kernel", "layer", "ms", "op", "shape", "share_pct", "step"}, rowKeys)
	var steps []int
	var share float64
	for i, row := range r.Profile {
		steps = append(steps, row.Step)
		share += row.SharePct
		if i > 0 {
			require.LessOrEqual(t, row.Ms, r.Profile[i-1].Ms, "slowest first")
		}
		require.NotEmpty(t, row.Kernel)
		require.NotEmpty(t, row.Shape)
		require.Positive(t, row.Bytes)
	}
	require.ElementsMatch(t, []int{0, 1, 2, 3}, steps)
	require.InDelta(t, 100, share, 1e-6)
	first := r.Profile[slices.IndexFunc(r.Profile, func(p profileRow) bool { return p.Step == 0 })]
	require.Equal(t, "fused_conv2d", first.Op)
	require.Equal(t, "conv/direct+maxpool", first.Kernel)
	require.Equal(t, []int{1, 15, 15, 32}, first.Shape)
	require.Equal(t, int64(4*(32*32*3+3*3*3*32+32+15*15*32)), first.Bytes, "image, kernel and bias read, pooled result written")

	code, out, errs = mdlc(t, "bench", "--profile", "--runs", "3", "--warmup", "1", "--peak-gflops", "50", "--threads", "1", benchModel)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "\nprofile: median time of each step over 3 runs, slowest first (wall time on the goroutine calling Run, helpers' share of a step included)\n")
	require.Regexp(t, `\nstep +op +layer +output +kernel +ms +share +GFLOP/s +moved\n`, out)
	require.Regexp(t, `\n0 +fused_conv2d +conv2d +\[1,15,15,32\] +conv/direct\+maxpool +[0-9.]+ +[0-9.]+% +[0-9.]+ +43\.6 KiB\n`, out)
	require.Regexp(t, `\n3 +softmax +dense +\[1,10\] +softmax +[0-9.]+ +[0-9.]+% +[0-9.]+ +80 B\n`, out)
	require.Regexp(t, `\nsteps: [0-9.]+ ms, the sum of their medians \(the median run: [0-9.]+ ms\); GFLOP/s of the FLOPs each kernel executes\n$`, out)
}

// TestBenchTrace: the trace parses back as Chrome trace events, one run
// event enclosing its steps' events, in order, for the first traceRuns runs.
func TestBenchTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.json")
	const runs = traceRuns + 5
	code, _, errs := mdlc(t, "bench", "--runs", fmt.Sprint(runs), "--warmup", "1", "--peak-gflops", "50", "--threads", "2", "--trace", path, benchModel)
	require.Equal(t, 0, code, errs)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var raw struct {
		TraceEvents []map[string]any
	}
	require.NoError(t, json.Unmarshal(data, &raw))
	for _, e := range raw.TraceEvents {
		require.Equal(t, []string{"args", "cat", "dur", "name", "ph", "pid", "tid", "ts"}, slices.Sorted(maps.Keys(e)))
	}
	var tr traceJSON
	require.NoError(t, json.Unmarshal(data, &tr))
	require.Equal(t, traceInfo{Model: "cnn", Runs: runs, TracedRuns: traceRuns}, tr.OtherData)
	const steps = 4
	require.Len(t, tr.TraceEvents, traceRuns*(1+steps))
	var end float64
	for run := range traceRuns {
		events := tr.TraceEvents[run*(1+steps) : (run+1)*(1+steps)]
		r := events[0]
		require.Equal(t, fmt.Sprintf("run %d", run), r.Name)
		require.Equal(t, "run", r.Cat)
		require.GreaterOrEqual(t, r.Ts, end, "runs in order, apart")
		if run == 0 {
			require.Zero(t, r.Ts, "timestamps start at the first run")
		}
		at := r.Ts
		for i, e := range events[1:] {
			require.Equal(t, "X", e.Ph)
			require.Equal(t, "step", e.Cat)
			require.Equal(t, 1, e.Pid)
			require.Equal(t, r.Tid, e.Tid)
			require.GreaterOrEqual(t, e.Ts+1e-3, at, "run %d step %d starts after what precedes it (to the nanosecond)", run, i)
			require.GreaterOrEqual(t, e.Dur, 0.0)
			at = e.Ts + e.Dur
			args := e.Args.(map[string]any)
			require.Equal(t, float64(run), args["run"])
			require.Equal(t, float64(i), args["step"])
			require.NotEmpty(t, args["kernel"])
		}
		require.LessOrEqual(t, at, r.Ts+r.Dur+1e-3, "run %d encloses its steps", run)
		end = r.Ts + r.Dur
	}
	require.Equal(t, "conv2d fused_conv2d", tr.TraceEvents[1].Name)
	require.Equal(t, "dense softmax", tr.TraceEvents[steps].Name)
}

// TestBenchTrainProfileSteps: --train --profile has a row per step of the
// training plan (forward, loss, backward: its filter gradients among them),
// in JSON and text; --trace writes the steps of the training plan.
func TestBenchTrainProfileSteps(t *testing.T) {
	code, out, errs := mdlc(t, "bench", "--train", "--json", "--profile", "--runs", "2", "--warmup", "1", "--batch", "2", "--threads", "1", "../../stdlib/lenet.mdl")
	require.Equal(t, 0, code, errs)
	var r trainBenchJSON
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	code, plan, errs := mdlc(t, "plan", "--train", "--json", "--batch", "2", "../../stdlib/lenet.mdl")
	require.Equal(t, 0, code, errs)
	var s struct{ Steps []struct{ Op string } }
	require.NoError(t, json.Unmarshal([]byte(plan), &s))
	require.Len(t, r.Profile, len(s.Steps)+1, "the plan's steps and the update")
	var filters int
	for _, row := range r.Profile {
		if row.Op == "conv2d_grad_filter" {
			filters++
		}
	}
	require.Equal(t, 2, filters)

	trace := filepath.Join(t.TempDir(), "trace.json")
	code, out, errs = mdlc(t, "bench", "--train", "--profile", "--trace", trace, "--runs", "2", "--warmup", "1", "--batch", "2", "--threads", "1", "../../stdlib/lenet.mdl")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "\nprofile: median time of each step over 2 runs, slowest first")
	require.Regexp(t, `\n[0-9]+ +conv2d_grad_filter +conv2d +\[5,5,1,6\] `, out)
	var tr struct{ TraceEvents []struct{ Name string } }
	data, err := os.ReadFile(trace)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &tr))
	require.Len(t, tr.TraceEvents, 2*(len(s.Steps)+2), "a run, its steps and its update")
}

// TestBenchTrainTokenIDs: a model reading token ids gets its sample ids.
func TestBenchTrainTokenIDs(t *testing.T) {
	code, out, errs := mdlc(t, "bench", "--train", "--json", "--runs", "2", "--warmup", "1", "--batch", "2", "../../stdlib/bert.mdl")
	require.Equal(t, 0, code, errs)
	var r trainBenchJSON
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, "bert_classifier", r.Model)
	require.Equal(t, 2, r.Batch)
}

// TestBenchTrainProfile: a training step's profile has a row per step of
// its plan and one for the optimiser's update, whose bytes are Adam's (the
// parameters, gradients and two moments read; all but the gradients
// written); the trace holds the same steps per run.
func TestBenchTrainProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.json")
	code, out, errs := mdlc(t, "bench", "--train", "--json", "--profile", "--trace", path, "--runs", "2", "--warmup", "1", "--batch", "2", "--threads", "1", "--untrained", "../../stdlib/lenet.mdl")
	require.Equal(t, 0, code, errs)
	var r trainBenchJSON
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.NotEmpty(t, r.Profile)
	var share float64
	var update *profileRow
	for i, row := range r.Profile {
		share += row.SharePct
		require.NotEmpty(t, row.Kernel)
		if row.Op == "optimizer update" {
			update = &r.Profile[i]
		}
	}
	require.InDelta(t, 100, share, 1e-6)
	require.NotNil(t, update)
	require.Equal(t, len(r.Profile)-1, update.Step, "the update comes after the plan's steps")
	params := update.Shape[0]
	require.Equal(t, 61706, params, "LeNet-5's parameters")
	require.Equal(t, int64(4*params*(4+3)), update.Bytes)

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var tr traceJSON
	require.NoError(t, json.Unmarshal(data, &tr))
	require.Equal(t, traceInfo{Model: "lenet training step", Runs: 2, TracedRuns: 2}, tr.OtherData)
	require.Len(t, tr.TraceEvents, 2*(1+len(r.Profile)))
	require.Equal(t, "optimizer update", tr.TraceEvents[len(r.Profile)].Name)

	code, out, errs = mdlc(t, "bench", "--train", "--profile", "--runs", "2", "--warmup", "1", "--batch", "2", "--threads", "1", "--untrained", "../../stdlib/lenet.mdl")
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `\n[0-9]+ +optimizer update +- +\[61706\] +update/[a-z0-9]+ +[0-9.]+ +[0-9.]+% +0\.00 +1\.6 MiB\n`, out)
}

// TestBenchTrainLanguageModel: --dim binds a language model's length, its
// train block says it is trained from logits, and its labels are a class
// id per position.
func TestBenchTrainLanguageModel(t *testing.T) {
	code, out, errs := mdlc(t, "bench", "--train", "--json", "--runs", "1", "--warmup", "0", "--batch", "2", "--dim", "T=8", "../../stdlib/gpt.mdl")
	require.Equal(t, 0, code, errs)
	var r trainBenchJSON
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, "gpt", r.Model)
	require.Positive(t, r.MedianMs)
	code, _, errs = mdlc(t, "bench", "--train", "--runs", "1", "--batch", "2", "../../stdlib/gpt.mdl")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "model gpt has the symbolic dimension T (inputs ids: i32[N,T]): give its size with --dim T=SIZE")
}
