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

	// The current phased job (phases): units claimed and finished so far,
	// counted over all phases; goroutines that stop spinning sleep on
	// phaseDone.
	phased            phased
	nphases, units    int
	claimed, finished atomic.Int64
	mu                sync.Mutex
	phaseDone         *sync.Cond
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
	t.phaseDone = sync.NewCond(&t.mu)
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

// size is how many goroutines run would compute a job's units on, given
// enough units: the caller and up to helpers helpers.
func (t *Team) size(helpers int) int {
	if t == nil {
		return 1
	}
	return 1 + min(helpers, len(t.helpers))
}

// phased is a job in phases, each cut into units: unit u of phase p may
// read what any unit of an earlier phase wrote.
type phased interface {
	phaseUnit(b [][]float32, scratch []float32, p, u int)
}

// phases computes units 0..units-1 of phases 0..phases-1 of j, a phase once
// all of the one before is done, with up to helpers helpers beside the
// calling goroutine, whose scratch is given. The goroutines take units one
// at a time, of the current phase only, so that one the system deschedules
// holds up the others by at most the unit it has, and a helper that is slow
// to wake leaves its share to the others. Waking the helpers once for many
// short phases is what makes phases worth having over run: a recurrent
// loop's steps are some tens of microseconds each.
func (t *Team) phases(j phased, phases, units, helpers int, b [][]float32, scratch []float32) {
	if t == nil || min(helpers, len(t.helpers)) == 0 || units == 1 {
		for p := range phases {
			for u := range units {
				j.phaseUnit(b, scratch, p, u)
			}
		}
		return
	}
	t.phased, t.nphases, t.units = j, phases, units
	t.claimed.Store(0)
	t.finished.Store(0)
	helpers = min(helpers, units-1)
	t.run((*phaseTaker)(t), 0, helpers+1, helpers, b, scratch)
	t.phased = nil
}

// phaseTaker is the team's current phased job as a job of one unit per
// goroutine, which takes the phased job's units until none are left.
type phaseTaker Team

func (pt *phaseTaker) unit(b [][]float32, scratch []float32, _ int) {
	t := (*Team)(pt)
	units := int64(t.units)
	total := int64(t.nphases) * units
	for {
		// Unit k is unit k%units of phase k/units.
		k := t.claimed.Load()
		if k >= total {
			return
		}
		if t.finished.Load() < k/units*units {
			t.awaitPhase(k / units * units)
			continue
		}
		if !t.claimed.CompareAndSwap(k, k+1) {
			continue
		}
		t.phased.phaseUnit(b, scratch, int(k/units), int(k%units))
		if f := t.finished.Add(1); f%units == 0 {
			// A phase is done: wake whoever sleeps waiting for it.
			t.mu.Lock()
			t.phaseDone.Broadcast()
			t.mu.Unlock()
		}
	}
}

// spins is how many times a goroutine polls for the end of a phase before
// sleeping: some tens of microseconds, longer than a unit of a recurrent
// loop takes, so that it sleeps only when the unit's goroutine has lost its
// thread.
const spins = 1 << 15

// awaitPhase returns once f units are finished.
func (t *Team) awaitPhase(f int64) {
	for range spins {
		if t.finished.Load() >= f {
			return
		}
	}
	t.mu.Lock()
	for t.finished.Load() < f {
		t.phaseDone.Wait()
	}
	t.mu.Unlock()
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
