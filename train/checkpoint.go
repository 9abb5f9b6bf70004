package train

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/optim"
	"github.com/mdlc/mdlc/tensor"
	"github.com/mdlc/mdlc/weights"
)

// A checkpoint is a safetensors file holding the model's parameters under
// their names (so mdlc run reads it as weights), the optimiser's state as
// optimizer/slot<i> (one flat tensor per slot, over the trainable
// parameters in the plan's layout), and in its metadata where training was
// (step, epoch, batch), the figures of the epoch so far, an adaptive
// learning rate's state and the settings a resumed run must share.
const (
	checkpointFormat = "mdlc-checkpoint/1"
	slotPrefix       = "optimizer/slot"
)

// settings are what a resumed run must do as the interrupted one did, or
// its steps would differ: recorded in a checkpoint, compared on Restore.
func (t *Trainer) settings() map[string]string {
	return map[string]string{
		"model":      t.model,
		"loss":       t.cfg.Loss.String(),
		"optimizer":  fmt.Sprintf("%T%+v", t.cfg.Optimizer, t.cfg.Optimizer),
		"lr":         fmt.Sprintf("%T%+v", t.cfg.LR, t.cfg.LR),
		"batch_size": strconv.Itoa(t.cfg.BatchSize),
		"clip_norm":  strconv.FormatFloat(t.cfg.ClipNorm, 'g', -1, 64),
	}
}

// SaveCheckpoint writes the trainer's state to path, with extra metadata
// (a caller's own settings, such as the data order's seed, which Restore
// compares too). The file is written beside path and renamed over it, so an
// interruption never leaves half a checkpoint.
func (t *Trainer) SaveCheckpoint(path string, extra map[string]string) error {
	ts := weightsOf(t.plan) // with the step counter dropout adds

	for i, s := range t.upd.State {
		ts[fmt.Sprintf("%s%d", slotPrefix, i)] = &tensor.Tensor{Shape: []int{len(s)}, Data: s}
	}
	meta := t.settings()
	for k, v := range extra {
		meta["x-"+k] = v
	}
	meta["format"] = checkpointFormat
	meta["step"] = strconv.Itoa(t.upd.Step)
	meta["epoch"] = strconv.Itoa(t.pos.Epoch)
	meta["batch"] = strconv.Itoa(t.pos.Batch)
	meta["epoch_loss_sum"] = strconv.FormatFloat(t.epoch.loss.Sum, 'g', -1, 64)
	meta["epoch_examples"] = strconv.Itoa(t.epoch.examples)
	meta["epoch_labels"] = strconv.Itoa(t.epoch.loss.Labels)
	hits := make([]string, len(t.metrics))
	for i, m := range t.metrics {
		hits[i] = m.String() + "=" + strconv.Itoa(t.epoch.hits[i])
	}
	meta["epoch_hits"] = strings.Join(hits, ",")
	if a, ok := t.cfg.LR.(optim.Adaptive); ok {
		text, err := a.MarshalText()
		if err != nil {
			return err
		}
		meta["lr_state"] = string(text)
	}
	for name, k := range t.kept {
		text, err := k.MarshalText()
		if err != nil {
			return err
		}
		meta["callback_"+name] = string(text)
	}
	return writeAtomic(path, ts, meta)
}

// SaveWeights writes the model's parameters only, for mdlc run --weights.
func (t *Trainer) SaveWeights(path string, meta map[string]string) error {
	return writeAtomic(path, t.Weights(), meta)
}

func writeAtomic(path string, ts map[string]*tensor.Tensor, meta map[string]string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := weights.Write(tmp, ts, meta); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Restore loads a checkpoint SaveCheckpoint wrote: parameters, optimiser
// state, position, the figures of the epoch so far and an adaptive learning
// rate's state, after checking that it was written by a run with the same
// settings and extra metadata, so training continues exactly as the
// interrupted run would have. A checkpoint from the middle of an epoch must
// have been written by a run with the same metrics, whose counts it holds.
func (t *Trainer) Restore(path string, extra map[string]string, budget size.Budget) error {
	ts, meta, err := weights.ReadFileMetadata(path, budget)
	if err != nil {
		return err
	}
	if meta["format"] != checkpointFormat {
		return fmt.Errorf("%s is not an mdlc checkpoint (no format %q in its metadata): to start from its weights, give it as --weights", path, checkpointFormat)
	}
	want := t.settings()
	for k, v := range extra {
		want["x-"+k] = v
	}
	for k, v := range want {
		if meta[k] != v {
			return fmt.Errorf("%s was written with %s %s, this run has %s: resume with the settings of the run that wrote it", path, k, meta[k], v)
		}
	}
	var pos [3]int
	for i, k := range []string{"step", "epoch", "batch"} {
		if pos[i], err = strconv.Atoi(meta[k]); err != nil || pos[i] < 0 {
			return fmt.Errorf("%s: metadata %s = %q is not a count", path, k, meta[k])
		}
	}
	epoch, err := t.epochOf(meta, pos[2] > 0)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if a, ok := t.cfg.LR.(optim.Adaptive); ok {
		if err := a.UnmarshalText([]byte(meta["lr_state"])); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	for name, k := range t.kept {
		// A checkpoint from before callbacks' state was kept starts them
		// afresh.
		if text, ok := meta["callback_"+name]; ok {
			if err := k.UnmarshalText([]byte(text)); err != nil {
				return fmt.Errorf("%s: callback %s: %w", path, name, err)
			}
		}
	}
	params := t.plan.Parameters()
	for _, r := range t.plan.Layout() {
		w := ts[r.Name]
		if w == nil || len(w.Data) != r.Size() {
			return fmt.Errorf("%s: no parameter %s of %d values", path, r.Name, r.Size())
		}
		copy(params[r.Offset:], w.Data)
	}
	for i, s := range t.upd.State {
		w := ts[fmt.Sprintf("%s%d", slotPrefix, i)]
		if w == nil || len(w.Data) != len(s) {
			return fmt.Errorf("%s: no optimiser state %s%d of %d values", path, slotPrefix, i, len(s))
		}
		copy(s, w.Data)
	}
	t.upd.Step, t.pos, t.epoch = pos[0], Position{Epoch: pos[1], Batch: pos[2]}, epoch
	return nil
}

// epochOf reads the figures of the epoch under way from a checkpoint's
// metadata: zero at an epoch's start (mid false), or in a checkpoint
// written before they were kept.
func (t *Trainer) epochOf(meta map[string]string, mid bool) (epochSums, error) {
	e := epochSums{hits: make([]int, len(t.metrics))}
	if !mid || meta["epoch_examples"] == "" {
		return e, nil
	}
	var err error
	e.examples, err = strconv.Atoi(meta["epoch_examples"])
	if err != nil || e.examples < 0 {
		return e, fmt.Errorf("metadata epoch_examples = %q is not a count", meta["epoch_examples"])
	}
	// The loss and hits are over labels, which were the examples until
	// labels per position came (and a checkpoint without epoch_labels).
	e.loss.Labels = e.examples
	if l, ok := meta["epoch_labels"]; ok {
		if e.loss.Labels, err = strconv.Atoi(l); err != nil || e.loss.Labels < 0 {
			return e, fmt.Errorf("metadata epoch_labels = %q is not a count", l)
		}
	}
	if e.loss.Sum, err = strconv.ParseFloat(meta["epoch_loss_sum"], 64); err != nil {
		return e, fmt.Errorf("metadata epoch_loss_sum = %q is not a number", meta["epoch_loss_sum"])
	}
	var names []string
	for i, kv := range strings.Split(meta["epoch_hits"], ",") {
		name, count, _ := strings.Cut(kv, "=")
		if kv == "" {
			break
		}
		names = append(names, name)
		n, err := strconv.Atoi(count)
		if err != nil || n < 0 || n > e.loss.Labels {
			return e, fmt.Errorf("metadata epoch_hits = %q: %q is not a count of the epoch's %d labels", meta["epoch_hits"], kv, e.loss.Labels)
		}
		if i < len(e.hits) {
			e.hits[i] = n
		}
	}
	want := make([]string, len(t.metrics))
	for i, m := range t.metrics {
		want[i] = m.String()
	}
	if !slices.Equal(names, want) {
		return e, fmt.Errorf("written in the middle of an epoch by a run whose metrics were [%s], and this run's are [%s]: resume with the same metrics, whose counts so far it holds",
			strings.Join(names, ", "), strings.Join(want, ", "))
	}
	return e, nil
}
