package memplan

import (
	"cmp"
	"fmt"
	"slices"
)

// Value is how a schedule uses one intermediate tensor.
type Value struct {
	Size int64
	Def  int   // the step that writes it
	Uses []int // the steps that read it, in any order, each after Def
	// Output marks a graph output, which must outlive the last step.
	Output bool
}

// Lifetimes returns the buffer of each value of a schedule of the given
// number of steps: live from its definition to its last use, or to the last
// step for an output. A value nobody reads is live at its definition only,
// since its step still writes it. Graph inputs and parameters are not values:
// the caller owns their memory.
func Lifetimes(steps int, vals []Value) ([]Buffer, error) {
	bufs := make([]Buffer, len(vals))
	for i, v := range vals {
		if v.Size < 0 {
			return nil, fmt.Errorf("value %d: size %d is negative", i, v.Size)
		}
		if v.Def < 0 || v.Def >= steps {
			return nil, fmt.Errorf("value %d: defined at step %d, outside the %d steps", i, v.Def, steps)
		}
		last := v.Def
		for _, u := range v.Uses {
			if u <= v.Def || u >= steps {
				return nil, fmt.Errorf("value %d: defined at step %d but read at step %d of %d", i, v.Def, u, steps)
			}
			last = max(last, u)
		}
		if v.Output {
			last = steps - 1
		}
		bufs[i] = Buffer{Size: v.Size, First: v.Def, Last: last, Output: v.Output}
	}
	return bufs, nil
}

// LowerBound is the largest sum of sizes, each rounded up to align (a power of
// two), of the buffers live at one step: no arena holding them can be smaller.
// It treats the buffers as unaliased.
func LowerBound(bufs []Buffer, align int64) int64 {
	type event struct {
		step  int
		bytes int64
	}
	events := make([]event, 0, 2*len(bufs))
	for _, b := range bufs {
		n := alignUp(b.Size, align)
		events = append(events, event{b.First, n}, event{b.Last + 1, -n})
	}
	slices.SortFunc(events, func(a, b event) int { return cmp.Compare(a.step, b.step) })
	var live, peak int64
	for i, e := range events {
		live += e.bytes
		if i+1 == len(events) || events[i+1].step != e.step {
			peak = max(peak, live)
		}
	}
	return peak
}

// Unplanned is the sum of the sizes of bufs, each rounded up to align: the
// arena without any reuse.
func Unplanned(bufs []Buffer, align int64) int64 {
	var n int64
	for _, b := range bufs {
		n += alignUp(b.Size, align)
	}
	return n
}
