package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/runtime/plan"
)

// TestRecorderKeepsRunsSpread: past keptRuns, the recorder keeps every
// stride-th run, spread over all of them, so a step's median is the median
// of the whole series and memory stays bounded.
func TestRecorderKeepsRunsSpread(t *testing.T) {
	r := &recorder{steps: []plan.StepInfo{{Index: 0, Op: "a"}, {Index: 1, Op: "b"}}}
	const runs = 3*keptRuns + 5
	for run := range runs {
		// Step a takes run µs, so its median over all runs is about runs/2;
		// step b a constant 7 µs but for a burst of slow runs, which a mean
		// would show and a median does not.
		b := 7 * time.Microsecond
		if run%10 == 0 {
			b = time.Second
		}
		r.add(time.Now(), 0, []plan.StepTime{{Took: time.Duration(run) * time.Microsecond}, {Took: b}})
	}
	require.Equal(t, 4, r.stride)
	require.LessOrEqual(t, len(r.took[0]), keptRuns)
	for i, d := range r.took[0] {
		require.Equal(t, time.Duration(i*r.stride)*time.Microsecond, d, "kept run %d", i)
	}
	rows := r.rows()
	require.Equal(t, "a", rows[0].Op, "slowest first")
	require.InDelta(t, float64(runs)/2/1000, rows[0].Ms, 0.01)
	require.Equal(t, 0.007, rows[1].Ms)
	require.InDelta(t, 100, rows[0].SharePct+rows[1].SharePct, 1e-9)
}
