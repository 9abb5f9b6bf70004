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

	// The current phased job (phases), the goroutines sharing it, the
	// units finished so far over all phases, and per goroutine how far the
	// current phase's units of its share have been taken (shares).
	// Goroutines that stop spinning sleep on phaseDone.
	phased                 phased
	nphases, units, takers int
	finished               atomic.Int64
	shares                 []atomic.Int64
	mu                     sync.Mutex
	phaseDone              *sync.Cond
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
	t.shares = make([]atomic.Int64, helpers+1)
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

// phased is a job in phases, each cut into units: unit u of phase p may
// read what any unit of an earlier phase wrote.
type phased interface {
	phaseUnit(b [][]float32, scratch []float32, p, u int)
}

// phases computes units 0..units-1 of phases 0..phases-1 of j, a phase once
// all of the one before is done, with up to helpers helpers beside the
// calling goroutine, whose scratch is given. Each goroutine has a share of
// every phase's units, the same from phase to phase, so that what a unit
// reads of its own (a recurrent block's weights) stays in that core's
// cache; a goroutine that has done its share takes units left in the
// others'. So one the system deschedules holds up the others by at most the
// unit it has, and a helper slow to wake leaves its share to the others.
// Waking the helpers once for many short phases is what makes phases worth
// having over run: a recurrent loop's steps are some tens of microseconds.
func (t *Team) phases(j phased, phases, units, helpers int, b [][]float32, scratch []float32) {
	if t == nil || min(helpers, len(t.helpers)) == 0 || units == 1 {
		for p := range phases {
			for u := range units {
				j.phaseUnit(b, scratch, p, u)
			}
		}
		return
	}
	helpers = min(helpers, len(t.helpers), units-1)
	t.phased, t.nphases, t.units, t.takers = j, phases, units, helpers+1
	t.finished.Store(0)
	for i := range t.shares {
		t.shares[i].Store(0)
	}
	t.run((*phaseTaker)(t), 0, helpers+1, helpers, b, scratch)
	t.phased = nil
}

// phaseTaker is the team's current phased job as a job of one unit per
// goroutine, which computes phase after phase.
type phaseTaker Team

func (pt *phaseTaker) unit(b [][]float32, scratch []float32, m int) {
	t := (*Team)(pt)
	units := int64(t.units)
	for p := range int64(t.nphases) {
		t.awaitPhase(p * units)
		// Its own share first, then the others' in turn.
		for i := range t.takers {
			share := (m + i) % t.takers
			for {
				u, ok := t.take(share, p)
				if !ok {
					break
				}
				t.phased.phaseUnit(b, scratch, int(p), u)
				if t.finished.Add(1) == (p+1)*units {
					// The phase is done: wake whoever sleeps waiting for it.
					t.mu.Lock()
					t.phaseDone.Broadcast()
					t.mu.Unlock()
				}
			}
		}
	}
}

// take claims the next unit of phase p in share s (units s·U/n to
// (s+1)·U/n-1), false if none is left. A share's counter holds the phase
// it is in, plus one, above bit 32 and how many of its units that phase has
// given out below; a counter still in an earlier phase has given out none.
func (t *Team) take(s int, p int64) (int, bool) {
	lo, hi := s*t.units/t.takers, (s+1)*t.units/t.takers
	c := &t.shares[s]
	for {
		v := c.Load()
		taken := v & (1<<32 - 1)
		switch ph := v>>32 - 1; {
		case ph > p:
			// Phase p is over.
			return 0, false
		case ph < p:
			taken = 0
		}
		if int(taken) >= hi-lo {
			return 0, false
		}
		if c.CompareAndSwap(v, (p+1)<<32|(taken+1)) {
			return lo + int(taken), true
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
	if t.finished.Load() >= f {
		return
	}
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
