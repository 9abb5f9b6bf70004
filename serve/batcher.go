package serve

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/tensor"
)

// Dynamic batching, as Triton's dynamic batcher does it: requests for a
// model wait in one bounded queue; an instance (a worker goroutine, one per
// Config.Instances) takes the first, then keeps taking queued requests with
// the same binding of the non-batch dimensions until the batch holds
// MaxBatch rows or MaxQueueDelay has passed since the first was queued (or,
// with preferred batch sizes, until it holds the largest, or one of them
// with nothing more queued). The batch runs as one execution of the plan
// built for its total rows, and each request gets its own rows of every
// output back.
//
// A request that finds the queue empty and an execution slot free runs at
// once on its own goroutine, as a batch of one (when MaxQueueDelay is 0, or
// the model does not batch: what a worker would have run too): that spares
// it the hand-off to a worker and back, two goroutine wake-ups, which cost
// more than a small model's run on a busy machine. Workers and such
// requests share the Instances slots, so no more executions run at once.
//
// Invariants: a queued job is answered exactly once (done is buffered, so a
// client that stopped waiting never blocks a worker); the queue never holds
// more than MaxQueue jobs; at most Instances executions run at once; a
// panic in an execution fails that batch's jobs and leaves the worker
// running.

var errQueueFull = errors.New("queue full")

type batcher struct {
	m *Model
	q chan *job
	// slots holds a token per execution running (cap Instances).
	slots chan struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
}

func newBatcher(m *Model) *batcher {
	n := max(m.cfg.Instances, 1)
	return &batcher{m: m, q: make(chan *job, max(m.cfg.MaxQueue, 1)), slots: make(chan struct{}, n), stop: make(chan struct{})}
}

func (b *batcher) start() {
	for range max(b.m.cfg.Instances, 1) {
		b.wg.Go(b.work)
	}
}

// close stops the workers once the jobs queued so far have run.
func (b *batcher) close() {
	close(b.stop)
	b.wg.Wait()
}

// submit queues j, or runs it at once (above), or refuses it at once when
// the queue is full. Either way j's answer is on j.done, or will be.
func (b *batcher) submit(j *job) error {
	j.enqueued = time.Now()
	b.m.metrics.queued.Add(1)
	if (b.m.cfg.MaxQueueDelay == 0 || !b.m.batchable) && len(b.q) == 0 {
		select {
		case b.slots <- struct{}{}:
			defer func() { <-b.slots }()
			b.run([]*job{j})
			return nil
		default:
		}
	}
	select {
	case b.q <- j:
		return nil
	default:
		b.m.metrics.queued.Add(-1)
		return errQueueFull
	}
}

func (b *batcher) work() {
	var next *job
	for {
		first := next
		next = nil
		if first == nil {
			select {
			case first = <-b.q:
			case <-b.stop:
				// Drain: a job queued before stop still gets its answer.
				for len(b.q) > 0 {
					b.runInSlot([]*job{<-b.q})
				}
				return
			}
		}
		// The slot is taken before the batch is collected: what queues
		// while another execution holds it joins this batch.
		b.slots <- struct{}{}
		batch := []*job{first}
		if b.m.batchable {
			batch, next = b.collect(batch)
		}
		b.run(batch)
		<-b.slots
	}
}

func (b *batcher) runInSlot(batch []*job) {
	b.slots <- struct{}{}
	defer func() { <-b.slots }()
	b.run(batch)
}

// collect adds queued jobs that share first's binding to the batch, until
// it is full or the first job has waited MaxQueueDelay. A job that cannot
// join (another binding, or too many rows) is returned to start the next
// batch, so the order of the queue is kept.
func (b *batcher) collect(batch []*job) ([]*job, *job) {
	first := batch[0]
	rows := first.rows
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	limit, preferred := b.m.cfg.MaxBatch, b.m.cfg.PreferredBatch
	if len(preferred) > 0 {
		limit = preferred[len(preferred)-1]
	}
	for rows < limit {
		var j *job
		select {
		case j = <-b.q:
		default:
			if slices.Contains(preferred, rows) {
				return batch, nil // a preferred size, and nothing more queued
			}
			wait := time.Until(first.enqueued.Add(b.m.cfg.MaxQueueDelay))
			if wait <= 0 {
				return batch, nil
			}
			if timer == nil {
				timer = time.NewTimer(wait)
			}
			select {
			case j = <-b.q:
			case <-timer.C:
				return batch, nil
			}
		}
		if j.key != first.key || rows+j.rows > limit {
			return batch, j
		}
		batch, rows = append(batch, j), rows+j.rows
	}
	return batch, nil
}

// run executes a batch and answers each of its jobs. The jobs count as
// pending (the queued gauge) until here, waiting for a batch to fill
// included.
func (b *batcher) run(batch []*job) {
	b.m.metrics.queued.Add(-int64(len(batch)))
	live := batch[:0]
	rows := 0
	for _, j := range batch {
		select {
		case <-j.cancelled:
			j.done <- jobResult{err: errCancelled}
		default:
			live, rows = append(live, j), rows+j.rows
		}
	}
	if len(live) == 0 {
		return
	}
	start := time.Now()
	mm := b.m.metrics
	for _, j := range live {
		mm.queueUs.Add(start.Sub(j.enqueued).Microseconds())
	}
	outs, shapes, err := b.execute(live, rows)
	compute := time.Since(start)
	mm.computeUs.Add(compute.Microseconds())
	mm.execs.Add(1)
	mm.inferences.Add(int64(rows))
	mm.batchSize.observe(float64(rows))
	if err != nil {
		for _, j := range live {
			j.done <- jobResult{err: err}
		}
		return
	}
	// Each job's rows of every output: contiguous, as the batch axis is the
	// first of each output.
	off := 0
	for _, j := range live {
		res := jobResult{outputs: make([][]float32, len(outs)), shapes: make([][]int, len(outs))}
		for k, o := range outs {
			if !b.m.batchable {
				// One job, and outputs that may have no batch axis.
				res.outputs[k], res.shapes[k] = o, shapes[k]
				continue
			}
			rowLen := len(o) / rows
			res.outputs[k] = o[off*rowLen : (off+j.rows)*rowLen : (off+j.rows)*rowLen]
			res.shapes[k] = append([]int{j.rows}, shapes[k][1:]...)
		}
		off += j.rows
		j.done <- res
	}
}

// errCancelled answers a job whose client stopped waiting before it ran:
// its deadline passed (504), or it went away (and reads no status).
var errCancelled = &protocolError{http.StatusGatewayTimeout, "the request's deadline passed while it was queued"}

// internalError is a failure of the server, not of the request: a 500.
type internalError struct{ err error }

func (e *internalError) Error() string { return e.err.Error() }

// execute runs the plan for the batch's rows on the jobs' inputs, laid end
// to end, and returns the outputs with their shapes. A panic is recovered
// into an internal error, logged with its stack.
func (b *batcher) execute(live []*job, rows int) (outs [][]float32, shapes [][]int, err error) {
	defer func() {
		if r := recover(); r != nil {
			b.m.log().Error("panic in an execution", "model", b.m.Name, "version", b.m.Version, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = &internalError{fmt.Errorf("internal error running model %s (logged)", b.m.Name)}
		}
	}()
	e, err := b.m.plans.get(b.m, live[0].dims, rows)
	if err != nil {
		return nil, nil, err
	}
	inputs := make([]plan.Input, len(b.m.inputs))
	for i := range b.m.inputs {
		if len(live) == 1 {
			inputs[i] = plan.Input{Floats: live[0].data[i].floats, Int64s: live[0].data[i].ints}
			continue
		}
		// Laid end to end in one slice per input, sized once: each job's
		// length was checked against its shape, and the batch's rows
		// against MaxBatch.
		n := 0
		for _, j := range live {
			n += len(j.data[i].floats) + len(j.data[i].ints)
		}
		var in plan.Input
		if b.m.inputs[i].limit > 0 {
			in.Int64s = make([]int64, 0, n)
		} else {
			in.Floats = make([]float32, 0, n)
		}
		for _, j := range live {
			in.Int64s = append(in.Int64s, j.data[i].ints...)
			in.Floats = append(in.Floats, j.data[i].floats...)
		}
		inputs[i] = in
	}
	ports := e.p.Outputs()
	outs = make([][]float32, len(ports))
	shapes = make([][]int, len(ports))
	for i, p := range ports {
		outs[i] = make([]float32, tensor.Numel(p.Shape))
		shapes[i] = p.Shape
	}
	a := e.arena()
	if err := e.p.Run(a, inputs, outs); err != nil {
		a.Close()
		return nil, nil, &internalError{err}
	}
	e.release(a)
	return outs, shapes, nil
}
