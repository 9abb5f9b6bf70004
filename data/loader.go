package data

import (
	"fmt"
	"sync"
)

// Loader serves a Dataset in batches, an epoch at a time, preparing the next
// batch on another goroutine while the caller works on the current one: two
// buffers, allocated once, pass between the two goroutines, so a batch costs
// no allocation.
type Loader struct {
	ds     Dataset
	batch  int
	per    int
	labels int // per example: ds.Targets()
	opt    LoaderOptions
	perm   []int
	free   chan *Batch // buffers the producer may fill
	active *Epoch
}

// LoaderOptions are how a Loader orders and cuts the data.
type LoaderOptions struct {
	// Shuffle orders each epoch by Permutation(seed, epoch); otherwise the
	// data set's order is kept.
	Shuffle bool
	Seed    uint64
	// DropLast drops a last batch smaller than the batch size, as
	// PyTorch's drop_last; Keras keeps it (the default).
	DropLast bool
}

// Batch is one batch: N examples in X (N·numel(shape) floats, NHWC) and
// their labels in Y (N·Targets: a class each, or a target per position).
type Batch struct {
	X []float32
	Y []int64
	N int
	x []float32 // the whole buffers X and Y are views of
	y []int64
}

// NewLoader returns a Loader of batches of batch examples (at most the data
// set's length: a larger batch size is cut to it, so an epoch has a batch).
func NewLoader(ds Dataset, batch int, opt LoaderOptions) (*Loader, error) {
	if batch < 1 {
		return nil, fmt.Errorf("data: batch size %d: want at least 1", batch)
	}
	if ds.Len() == 0 {
		return nil, fmt.Errorf("data: the data set is empty")
	}
	per := 1
	for _, d := range ds.Shape() {
		per *= d // the data set holds examples of this size already
	}
	batch = min(batch, ds.Len())
	l := &Loader{ds: ds, batch: batch, per: per, labels: ds.Targets(), opt: opt, perm: make([]int, ds.Len()), free: make(chan *Batch, 2)}
	for range 2 {
		l.free <- &Batch{x: make([]float32, batch*per), y: make([]int64, batch*l.labels)}
	}
	return l, nil
}

// Batches is the number of batches in an epoch.
func (l *Loader) Batches() int {
	if l.opt.DropLast {
		return l.ds.Len() / l.batch
	}
	return (l.ds.Len() + l.batch - 1) / l.batch
}

// Epoch starts serving epoch number epoch (which picks its permutation),
// closing the previous one if it is still open.
func (l *Loader) Epoch(epoch int) *Epoch {
	if l.active != nil {
		l.active.Close()
	}
	if l.opt.Shuffle {
		Permutation(l.perm, l.opt.Seed, uint64(epoch))
	} else {
		for i := range l.perm {
			l.perm[i] = i
		}
	}
	e := &Epoch{l: l, full: make(chan *Batch, 1), done: make(chan struct{}), finished: make(chan struct{})}
	l.active = e
	go e.produce()
	return e
}

// Epoch is one pass over the data; Next gives its batches in order.
type Epoch struct {
	l        *Loader
	full     chan *Batch
	done     chan struct{} // closed by Close: stop producing
	finished chan struct{} // closed by the producer when it returns
	err      error         // set by the producer before it closes full
	cur      *Batch
	ended    bool // Next returned false
	once     sync.Once
}

func (e *Epoch) produce() {
	defer close(e.finished)
	defer close(e.full)
	l := e.l
	for b := range l.Batches() {
		var buf *Batch
		select {
		case buf = <-l.free:
		case <-e.done:
			return
		}
		idx := l.perm[b*l.batch : min((b+1)*l.batch, len(l.perm))]
		buf.N, buf.X, buf.Y = len(idx), buf.x[:len(idx)*l.per], buf.y[:len(idx)*l.labels]
		if err := l.ds.Batch(idx, buf.X, buf.Y); err != nil {
			e.err = err
			l.free <- buf
			return
		}
		select {
		case e.full <- buf:
		case <-e.done:
			l.free <- buf
			return
		}
	}
}

// Next returns the next batch, or false at the end of the epoch or on an
// error (see Err). The batch is valid until the next call of Next or Close.
func (e *Epoch) Next() (*Batch, bool) {
	e.release()
	b, ok := <-e.full
	e.cur, e.ended = b, !ok
	return b, ok
}

func (e *Epoch) release() {
	if e.cur != nil {
		e.l.free <- e.cur
		e.cur = nil
	}
}

// Err is the error that ended the epoch early, once Next has returned false.
func (e *Epoch) Err() error {
	if !e.ended {
		return nil
	}
	<-e.finished
	return e.err
}

// Close stops the epoch and waits for its goroutine to end; the buffers go
// back to the Loader. Calling it again does nothing.
func (e *Epoch) Close() {
	e.once.Do(func() {
		close(e.done)
		<-e.finished
		// A batch produced but never taken goes back to the pool.
		for b := range e.full {
			e.l.free <- b
		}
		e.release()
		if e.l.active == e {
			e.l.active = nil
		}
	})
}
