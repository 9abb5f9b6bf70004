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

	// The current gang job (gang), its size, and its barrier: arrived
	// counts the members at the barrier, passed how often it has opened;
	// members that stop spinning sleep on opened.
	member  member
	members int
	arrived atomic.Int32
	passed  atomic.Uint32
	mu      sync.Mutex
	opened  *sync.Cond
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
	t.opened = sync.NewCond(&t.mu)
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

// member is a job whose n members run at once and wait for each other at
// t.sync: member m of n computes its share of the work with scratch of its
// own. Its result must not depend on n.
type member interface {
	member(t *Team, b [][]float32, scratch []float32, m, n int)
}

// gang runs the members of j, one on the calling goroutine (whose scratch is
// given) and one on each of up to helpers helpers, and returns when all are
// done. Unlike run's units, members may wait for each other, so each runs
// on a goroutine of its own: a gang of n is run's job of n units on n
// goroutines, and no goroutine takes a second unit before every unit has
// been taken, as no member finishes before all have reached its first sync.
func (t *Team) gang(j member, helpers int, b [][]float32, scratch []float32) {
	n := 1
	if t != nil {
		n += min(helpers, len(t.helpers))
	}
	if n == 1 {
		j.member(t, b, scratch, 0, 1)
		return
	}
	t.member, t.members = j, n
	t.run((*gangJob)(t), 0, n, n-1, b, scratch)
	t.member = nil
}

// gangJob is the team's current gang as a job of one unit per member.
type gangJob Team

func (g *gangJob) unit(b [][]float32, scratch []float32, u int) {
	t := (*Team)(g)
	t.member.member(t, b, scratch, u, t.members)
}

// spins is how many times a member at the barrier polls it before sleeping:
// some tens of microseconds, more than members usually differ by at a
// recurrent loop's step, less than a time slice of a busy machine's.
const spins = 1 << 15

// sync is a gang's barrier: it returns once all n members have called it.
// The members spin at first, since waking a sleeper costs about 10µs, more
// than the wait between steps of a recurrent loop usually is; then they
// sleep, so that a member whose thread the system has descheduled does not
// leave the others burning theirs.
func (t *Team) sync(n int) {
	if n == 1 {
		return
	}
	p := t.passed.Load()
	if int(t.arrived.Add(1)) == n {
		t.arrived.Store(0)
		t.mu.Lock()
		t.passed.Add(1)
		t.opened.Broadcast()
		t.mu.Unlock()
		return
	}
	for range spins {
		if t.passed.Load() != p {
			return
		}
	}
	t.mu.Lock()
	for t.passed.Load() == p {
		t.opened.Wait()
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
