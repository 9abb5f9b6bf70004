package main

import (
	"encoding/json"
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
	require.Equal(t, []string{"batch", "flops", "gflops", "kernels", "median_ms", "min_ms", "model", "peak_gflops", "peak_pct", "runs", "threads", "warmup"},
		jsonKeys(t, out, &r))
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
	require.InDelta(t, 100*r.GFlops/50, r.PeakPct, 1e-9*r.PeakPct)
}

func TestBenchText(t *testing.T) {
	code, out, errs := mdlc(t, "bench", benchModel, "--time", "1ns", "--warmup", "0", "--peak-gflops", "50", "--threads", "1")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "cnn, batch 1, 1 thread, ")
	require.Regexp(t, `runs:   [0-9]+ \(after 0 warm-up\)\nmedian: [0-9.]+ ms\nmin:    [0-9.]+ ms\nspeed:  [0-9.]+ GFLOP/s \(0.007949 GFLOP a run\)\npeak:   [0-9.]+% of 50.0 GFLOP/s \(FMA peak of 1 thread\)\n$`, out)
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
		{[]string{"--batch", "2", fixed}, 2, "model fixed has no batch dimension: its inputs are x: f32[4,8]"},
		{[]string{filepath.Join(dir, "missing.mdl")}, 1, "missing.mdl"},
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
		require.Contains(t, text, "GFLOP/s (FMA peak of ")
	} else {
		require.NotContains(t, keys, "peak_gflops")
		require.NotContains(t, keys, "peak_pct")
		require.Contains(t, text, "peak:   unknown (the generic kernel set measures no peak; give --peak-gflops)\n")
	}
}
