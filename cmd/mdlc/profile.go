package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/tensor"
)

// traceRuns caps the runs --trace writes: enough to see the spread, while
// the file of a model of a few hundred steps stays small enough for a trace
// viewer.
const traceRuns = 100

// keptRuns caps the runs whose step times --profile keeps for its medians.
// Past it every other kept run is dropped and the stride doubles, so the kept
// runs stay spread evenly over all the timed runs in bounded memory.
const keptRuns = 4096

// recorder collects what `mdlc bench --profile` and `--trace` report from
// the timed runs of a profiled arena (plan.Arena.Profile): each step's times
// in the kept runs (every stride-th), and the trace's events.
type recorder struct {
	steps  []plan.StepInfo
	took   [][]time.Duration
	stride int
	runs   int
	// trace: record events for the first traceRuns runs, with timestamps
	// from origin, the first run's start.
	trace  bool
	origin time.Time
	events []traceEvent
}

// add records one run that started at start and took took, whose steps took
// steps.
func (r *recorder) add(start time.Time, took time.Duration, steps []plan.StepTime) {
	if r.took == nil {
		r.took, r.stride = make([][]time.Duration, len(steps)), 1
		if r.trace {
			r.events = make([]traceEvent, 0, traceRuns*(len(steps)+1))
		}
	}
	if r.runs%r.stride == 0 && len(steps) > 0 {
		for i, st := range steps {
			r.took[i] = append(r.took[i], st.Took)
		}
		if len(r.took[0]) == keptRuns {
			for i, t := range r.took {
				r.took[i] = everyOther(t)
			}
			r.stride *= 2
		}
	}
	if r.trace && r.runs < traceRuns {
		if r.runs == 0 {
			r.origin = start
		}
		run := r.runs
		r.events = append(r.events, traceEvent{Name: fmt.Sprintf("run %d", run), Cat: "run", Ph: "X",
			Ts: r.micros(start), Dur: micros(took), Pid: 1, Tid: 1, Args: runArgs{Run: run}})
		for i, st := range steps {
			info := r.steps[i]
			name := info.Op
			if info.Layer != "" {
				name = info.Layer + " " + info.Op
			}
			r.events = append(r.events, traceEvent{Name: name, Cat: "step", Ph: "X", Ts: r.micros(st.Start), Dur: micros(st.Took), Pid: 1, Tid: 1,
				Args: stepArgs{Run: run, Step: i, Op: info.Op, Layer: info.Layer, Kernel: info.Kernel, Shape: info.Shape,
					Flops: info.Flops, ExecutedFlops: info.ExecutedFlops, Bytes: info.ReadBytes + info.Bytes}})
		}
	}
	r.runs++
}

func (r *recorder) micros(t time.Time) float64 { return micros(t.Sub(r.origin)) }

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// everyOther keeps t's elements at even indices, in place.
func everyOther(t []time.Duration) []time.Duration {
	for i := range (len(t) + 1) / 2 {
		t[i] = t[2*i]
	}
	return t[:(len(t)+1)/2]
}

// rows is the profile: each step's median time over the kept runs (a burst
// of load on a shared machine moves a mean, not a median), the slowest step
// first.
func (r *recorder) rows() []profileRow {
	medians := make([]time.Duration, len(r.steps))
	var sum time.Duration
	for i := range r.steps {
		if len(r.took) > i && len(r.took[i]) > 0 {
			medians[i] = median(r.took[i])
		}
		sum += medians[i]
	}
	rows := make([]profileRow, len(r.steps))
	for i, st := range r.steps {
		per := medians[i]
		rows[i] = profileRow{Step: st.Index, Op: st.Op, Layer: st.Layer, Shape: st.Shape, Kernel: st.Kernel, Ms: ms(per),
			ExecutedFlops: st.ExecutedFlops, Bytes: satAdd(st.ReadBytes, st.Bytes)}
		if sum > 0 {
			rows[i].SharePct = 100 * float64(per) / float64(sum)
		}
		if per > 0 {
			rows[i].GFlops = float64(st.ExecutedFlops) / per.Seconds() / 1e9
		}
	}
	slices.SortStableFunc(rows, func(a, b profileRow) int { return cmp.Compare(b.Ms, a.Ms) })
	return rows
}

// printProfile prints the profile as a table, with the steps' total.
func printProfile(w io.Writer, rows []profileRow, runs int, medianMs float64) {
	fmt.Fprintf(w, "\nprofile: median time of each step over %s, slowest first (wall time on the goroutine calling Run, helpers' share of a step included)\n",
		plural(runs, "run"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "step\top\tlayer\toutput\tkernel\tms\tshare\tGFLOP/s\tmoved")
	var total float64
	for _, r := range rows {
		layer := r.Layer
		if layer == "" {
			layer = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.4f\t%.1f%%\t%.2f\t%s\n", r.Step, r.Op, layer, tensor.ShapeString(r.Shape), r.Kernel, r.Ms, r.SharePct, r.GFlops, bytesShort(r.Bytes))
		total += r.Ms
	}
	tw.Flush()
	fmt.Fprintf(w, "steps: %.3f ms, the sum of their medians (the median run: %.3f ms); GFLOP/s of the FLOPs each kernel executes\n", total, medianMs)
}

// bytesShort writes n bytes in a table's few characters: 80 B, 43.6 KiB.
func bytesShort(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v, u = v/1024, u+1
	}
	if u == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}

// traceEvent is a complete event ("ph": "X") of the Chrome trace event
// format, which Perfetto and chrome://tracing load: a span of Dur
// microseconds from Ts, on thread Tid of process Pid. A run's event encloses
// its steps' events, all on one thread: the goroutine calling Run.
type traceEvent struct {
	Name string  `json:"name"`
	Cat  string  `json:"cat"`
	Ph   string  `json:"ph"`
	Ts   float64 `json:"ts"`
	Dur  float64 `json:"dur"`
	Pid  int     `json:"pid"`
	Tid  int     `json:"tid"`
	Args any     `json:"args"`
}

type runArgs struct {
	Run int `json:"run"`
}

type stepArgs struct {
	Run           int    `json:"run"`
	Step          int    `json:"step"`
	Op            string `json:"op"`
	Layer         string `json:"layer,omitempty"`
	Kernel        string `json:"kernel"`
	Shape         []int  `json:"shape"`
	Flops         int64  `json:"flops"`
	ExecutedFlops int64  `json:"executed_flops"`
	Bytes         int64  `json:"bytes"`
}

// traceJSON is the trace file: the events, and what was traced.
type traceJSON struct {
	TraceEvents     []traceEvent `json:"traceEvents"`
	DisplayTimeUnit string       `json:"displayTimeUnit"`
	OtherData       traceInfo    `json:"otherData"`
}

type traceInfo struct {
	Model      string `json:"model"`
	Runs       int    `json:"runs"`
	TracedRuns int    `json:"traced_runs"`
}

// writeTrace writes the trace of the first traceRuns timed runs to path.
func (r *recorder) writeTrace(path, model string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--trace: %w", err)
	}
	t := traceJSON{TraceEvents: r.events, DisplayTimeUnit: "ms", OtherData: traceInfo{Model: model, Runs: r.runs, TracedRuns: min(r.runs, traceRuns)}}
	if err := json.NewEncoder(f).Encode(t); err != nil {
		f.Close()
		return fmt.Errorf("--trace: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--trace: %w", err)
	}
	return nil
}

// satAdd is a + b, or math.MaxInt64 when that overflows: a figure to show.
func satAdd(a, b int64) int64 {
	if s, ok := size.Add(a, b); ok {
		return s
	}
	return math.MaxInt64
}
