package exec

import (
	"sync"
	"sync/atomic"
)

// Team is a run's worker goroutines: each parallel step runs on the goroutine
// calling it and up to len(helpers) helpers, which NewTeam starts and Stop
// ends. Between steps they sleep on their start channels. A plan's Arena and
// a generated model's arena each own one.
//
// A parallel step (a job) cuts its work into units; the goroutines take
// units in turn from a shared counter until none are left. A unit's result
// does not depend on which goroutine computes it or on what the others do
// (each has its own scratch), so outputs are the same bit for bit for any
// number of threads. Nothing here allocates per step: the helpers' scratch is
// allocated with the team, and a job is a pointer to a step.
type Team struct {
	helpers []*helper
	done    sync.WaitGroup

	// The current step, set before the helpers are woken.
	job    job
	b      [][]float32
	lo, hi int
	next   atomic.Int64
}

// helper is a worker goroutine and its scratch, which is as large as any
// step's unit needs. The step's own scratch in the arena serves the calling
// goroutine.
type helper struct {
	start   chan struct{}
	scratch []float32
}

// job is a step whose work is cut into units: unit computes unit u with
// scratch of its own, reading and writing through the operand table b.
type job interface {
	unit(b [][]float32, scratch []float32, u int)
}

// NewTeam starts helpers goroutines, each with scratch floats of its own.
func NewTeam(helpers, scratch int) *Team {
	t := &Team{}
	for range helpers {
		// Buffered, so that waking a helper never waits for it.
		h := &helper{start: make(chan struct{}, 1), scratch: make([]float32, scratch)}
		t.helpers = append(t.helpers, h)
		go t.serve(h)
	}
	return t
}

func (t *Team) serve(h *helper) {
	for range h.start {
		t.work(h.scratch)
		t.done.Done()
	}
}

// work computes units until none are left.
func (t *Team) work(scratch []float32) {
	for {
		u := t.lo + int(t.next.Add(1)) - 1
		if u >= t.hi {
			return
		}
		t.job.unit(t.b, scratch, u)
	}
}

// run computes units lo..hi-1 of j with up to helpers helpers beside the
// calling goroutine, whose scratch is given, and returns when all are done.
// A nil team runs them in turn.
func (t *Team) run(j job, lo, hi, helpers int, b [][]float32, scratch []float32) {
	if t != nil {
		helpers = min(helpers, len(t.helpers), hi-lo-1)
	}
	if t == nil || helpers <= 0 {
		for u := lo; u < hi; u++ {
			j.unit(b, scratch, u)
		}
		return
	}
	t.job, t.b, t.lo, t.hi = j, b, lo, hi
	t.next.Store(0)
	t.done.Add(helpers)
	for _, h := range t.helpers[:helpers] {
		h.start <- struct{}{}
	}
	t.work(scratch)
	t.done.Wait()
	t.job, t.b = nil, nil
}

// Stop ends the helpers' goroutines. A nil team has none.
func (t *Team) Stop() {
	if t == nil {
		return
	}
	for _, h := range t.helpers {
		close(h.start)
	}
}
