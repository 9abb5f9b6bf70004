package train

import (
	"errors"
	"fmt"
	"time"

	"github.com/mdlc/mdlc/data"
)

// Logs are the figures of an epoch so far (or of an evaluation): the mean
// loss and metrics over the examples seen, validation figures once the
// epoch is over.
type Logs struct {
	Epoch    int // from 0
	Step     int // batches done in the epoch
	Steps    int // batches in the epoch
	Examples int
	Loss     float64
	// Metrics are the figures beside the loss (Trainer.Metrics), Values
	// their means, in the same order. Each epoch has its own Values,
	// which change as its batches go.
	Metrics []Metric
	Values  []float64
	// HasVal says the Val fields hold a validation pass's figures.
	HasVal    bool
	ValLoss   float64
	ValValues []float64
	LR        float64
	Elapsed   time.Duration
}

// Value is metric m's figure, and whether the logs have it.
func (l Logs) Value(m Metric) (float64, bool) {
	for i, have := range l.Metrics {
		if have == m {
			return l.Values[i], true
		}
	}
	return 0, false
}

// ValValue is metric m's figure on the validation data, and whether the
// logs have it.
func (l Logs) ValValue(m Metric) (float64, bool) {
	for i, have := range l.Metrics {
		if have == m && l.HasVal {
			return l.ValValues[i], true
		}
	}
	return 0, false
}

// Callback hears about a Fit as it goes, as Keras's callbacks do. EpochEnd
// may return ErrStop to end training after that epoch (early stopping).
type Callback interface {
	EpochBegin(epoch, epochs, steps int)
	BatchEnd(l Logs)
	EpochEnd(t *Trainer, l Logs) error
}

// ErrStop, returned by a callback's EpochEnd, ends Fit without an error
// once every callback has had the epoch's end.
var ErrStop = errors.New("stop training")

// ErrInterrupted is Fit's error when FitOptions.Stop fired: the step under
// way was finished, and the trainer's state is that of a whole number of
// steps (Trainer.Position says where).
var ErrInterrupted = errors.New("training interrupted")

// FitOptions are a Fit's epochs and data order.
type FitOptions struct {
	// Epochs is the epoch to stop before; training starts at the
	// trainer's position (0 for a new trainer, or where a checkpoint
	// left it).
	Epochs  int
	Shuffle bool
	Seed    uint64
	// Validation, if set, is evaluated by ValEval after each epoch.
	Validation data.Dataset
	ValEval    *Evaluator
	Callbacks  []Callback
	// Stop, when closed or sent to, ends training after the current step.
	Stop <-chan struct{}
}

// Position is where a trainer is in its data: the epoch under way (from 0)
// and the batches of it done. Checkpoints record it so a resumed run takes
// the same batches next.
type Position struct {
	Epoch, Batch int
}

// Fit trains on ds, batch after batch in the order FitOptions set (the
// permutation of epoch e depends only on the seed and e, so a resumed run
// sees the batches it would have seen), from the trainer's position to
// FitOptions.Epochs. At the end of each epoch, after the validation pass,
// an adaptive learning rate (Config.LR) is told the monitored loss.
func (t *Trainer) Fit(ds data.Dataset, opt FitOptions) error {
	if err := checkData(t.io.Shape, t.model, t.input, ds); err != nil {
		return err
	}
	if opt.Validation != nil {
		if opt.ValEval == nil {
			return fmt.Errorf("validation data without an evaluator")
		}
		if err := checkData(opt.ValEval.io.Shape, t.model, opt.ValEval.input, opt.Validation); err != nil {
			return fmt.Errorf("the validation data: %w", err)
		}
	}
	loader, err := data.NewLoader(ds, t.cfg.BatchSize, data.LoaderOptions{Shuffle: opt.Shuffle, Seed: opt.Seed})
	if err != nil {
		return err
	}
	for t.pos.Epoch < opt.Epochs {
		epoch := t.pos.Epoch
		steps := loader.Batches()
		for _, c := range opt.Callbacks {
			c.EpochBegin(epoch, opt.Epochs, steps)
		}
		if t.pos.Batch == 0 {
			t.epoch.reset()
		}
		l := Logs{Epoch: epoch, Step: t.pos.Batch, Steps: steps, Metrics: t.metrics, Values: make([]float64, len(t.metrics))}
		t.epoch.fill(&l)
		start := time.Now()
		e := loader.Epoch(epoch)
		for b := range steps {
			batch, ok := e.Next()
			if !ok {
				break
			}
			if b < t.pos.Batch {
				continue // done before the checkpoint this run resumed from
			}
			l.LR = t.cfg.LR.LR(t.upd.Step)
			r, err := t.Step(batch.X, batch.Y, batch.N)
			if err != nil {
				e.Close()
				return fmt.Errorf("epoch %d, batch %d: %w", epoch+1, b+1, err)
			}
			t.pos.Batch = b + 1
			t.epoch.add(r)
			t.epoch.fill(&l)
			l.Step = b + 1
			l.Elapsed = time.Since(start)
			for _, c := range opt.Callbacks {
				c.BatchEnd(l)
			}
			if stopped(opt.Stop) {
				e.Close()
				return ErrInterrupted
			}
		}
		if err := e.Err(); err != nil {
			e.Close()
			return fmt.Errorf("epoch %d: reading the data: %w", epoch+1, err)
		}
		e.Close()
		if opt.Validation != nil {
			if err := opt.ValEval.From(t.Parameters()); err != nil {
				return err
			}
			v, err := opt.ValEval.Evaluate(opt.Validation)
			if err != nil {
				return fmt.Errorf("epoch %d: validation: %w", epoch+1, err)
			}
			l.HasVal, l.ValLoss, l.ValValues = true, v.Loss, v.Values
		}
		l.Elapsed = time.Since(start)
		t.pos = Position{Epoch: epoch + 1}
		t.upd.EndEpoch(Monitored(l))
		// Every callback hears of the epoch, also after one asked to stop:
		// the epoch's checkpoint and history are written either way.
		stop := false
		for _, c := range opt.Callbacks {
			if err := c.EpochEnd(t, l); errors.Is(err, ErrStop) {
				stop = true
			} else if err != nil {
				return err
			}
		}
		if stop {
			return nil
		}
	}
	return nil
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// Evaluate runs ds through the evaluator in batches, in order, and returns
// the mean loss and metrics over its examples.
func (e *Evaluator) Evaluate(ds data.Dataset) (Logs, error) {
	if err := checkData(e.io.Shape, e.model, e.input, ds); err != nil {
		return Logs{}, err
	}
	loader, err := data.NewLoader(ds, e.io.Batch, data.LoaderOptions{})
	if err != nil {
		return Logs{}, err
	}
	start := time.Now()
	l := Logs{Steps: loader.Batches(), Metrics: e.metrics, Values: make([]float64, len(e.metrics))}
	sums := epochSums{hits: make([]int, len(e.metrics))}
	ep := loader.Epoch(0)
	defer ep.Close()
	for {
		batch, ok := ep.Next()
		if !ok {
			break
		}
		r, err := e.Batch(batch.X, batch.Y, batch.N)
		if err != nil {
			return Logs{}, fmt.Errorf("batch %d: %w", l.Step+1, err)
		}
		sums.add(r)
		l.Step++
	}
	if err := ep.Err(); err != nil {
		return Logs{}, err
	}
	sums.fill(&l)
	l.Elapsed = time.Since(start)
	return l, nil
}
