package train

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// History records every epoch's figures, as Keras's History, and writes
// them as CSV (Keras's CSVLogger's columns) and as an SVG plot.
type History struct {
	Epochs []Logs
}

func (h *History) EpochBegin(int, int, int) {}
func (h *History) BatchEnd(Logs)            {}

// EpochEnd records the epoch.
func (h *History) EpochEnd(_ *Trainer, l Logs) error {
	h.Epochs = append(h.Epochs, l)
	return nil
}

// metrics are the metrics of the run's epochs.
func (h *History) metrics() []Metric {
	if len(h.Epochs) == 0 {
		return nil
	}
	return h.Epochs[0].Metrics
}

// WriteCSV writes one row per epoch: epoch (from 1), loss, each metric
// (accuracy, top5_accuracy, ...), val_loss and the metrics on the validation
// data (val_accuracy, ...; empty where the run has none), lr, seconds.
func (h *History) WriteCSV(w io.Writer) error {
	c := csv.NewWriter(w)
	ms := h.metrics()
	head := []string{"epoch", "loss"}
	for _, m := range ms {
		head = append(head, m.String())
	}
	head = append(head, "val_loss")
	for _, m := range ms {
		head = append(head, "val_"+m.String())
	}
	if err := c.Write(append(head, "lr", "seconds")); err != nil {
		return err
	}
	f := func(v float64, ok bool) string {
		if !ok {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 8, 64)
	}
	for _, l := range h.Epochs {
		row := []string{strconv.Itoa(l.Epoch + 1), f(l.Loss, true)}
		for _, m := range ms {
			row = append(row, f(l.Value(m)))
		}
		row = append(row, f(l.ValLoss, l.HasVal))
		for _, m := range ms {
			row = append(row, f(l.ValValue(m)))
		}
		if err := c.Write(append(row, f(l.LR, true), f(l.Elapsed.Seconds(), true))); err != nil {
			return err
		}
	}
	c.Flush()
	return c.Error()
}

// WriteSVG plots the loss and then each metric per epoch, a panel each from
// left to right, training and validation, as a self-contained SVG.
func (h *History) WriteSVG(w io.Writer, title string) error {
	const pw, ph, m = 360.0, 240.0, 40.0 // a panel's size and margin
	ms := h.metrics()
	panels := float64(1 + len(ms))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" font-family="sans-serif" font-size="11">`+"\n", panels*(pw+2*m), ph+2*m+20)
	fmt.Fprintf(&b, `<text x="%g" y="16" font-size="13" text-anchor="middle">%s</text>`+"\n", panels*(pw+2*m)/2, escape(title))
	panel := func(x0 float64, name string, train, val func(Logs) (float64, bool)) {
		var lo, hi = math.Inf(1), math.Inf(-1)
		for _, l := range h.Epochs {
			for _, get := range []func(Logs) (float64, bool){train, val} {
				if v, ok := get(l); ok {
					lo, hi = min(lo, v), max(hi, v)
				}
			}
		}
		if math.IsInf(lo, 0) {
			return
		}
		if hi-lo < 1e-9 {
			lo, hi = lo-0.5, hi+0.5
		}
		top := 20 + m
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#888"/>`+"\n", x0+m, top, pw, ph)
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", x0+m+pw/2, top-6, name)
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="end">%.4g</text>`+"\n", x0+m-4, top+10, hi)
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="end">%.4g</text>`+"\n", x0+m-4, top+ph, lo)
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">epoch</text>`+"\n", x0+m+pw/2, top+ph+28)
		n := len(h.Epochs)
		px := func(i int) float64 {
			if n == 1 {
				return x0 + m + pw/2
			}
			return x0 + m + pw*float64(i)/float64(n-1)
		}
		py := func(v float64) float64 { return top + ph*(hi-v)/(hi-lo) }
		for i, l := range h.Epochs {
			fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%d</text>`+"\n", px(i), top+ph+14, l.Epoch+1)
		}
		for _, s := range []struct {
			get   func(Logs) (float64, bool)
			color string
			label string
		}{{train, "#1f77b4", "training"}, {val, "#ff7f0e", "validation"}} {
			var pts []string
			for i, l := range h.Epochs {
				if v, ok := s.get(l); ok {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(i), py(v)))
				}
			}
			if len(pts) == 0 {
				continue
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
			for _, p := range pts {
				xy := strings.Split(p, ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`+"\n", xy[0], xy[1], s.color)
			}
			y := top + 14
			if s.label == "validation" {
				y += 14
			}
			fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="end" fill="%s">%s</text>`+"\n", x0+m+pw-6, y, s.color, s.label)
		}
	}
	panel(0, "loss",
		func(l Logs) (float64, bool) { return l.Loss, true },
		func(l Logs) (float64, bool) { return l.ValLoss, l.HasVal })
	for i, metric := range ms {
		panel(float64(1+i)*(pw+2*m), metric.String(),
			func(l Logs) (float64, bool) { return l.Value(metric) },
			func(l Logs) (float64, bool) { return l.ValValue(metric) })
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// Monitored is the figure checkpoints and early stopping watch: the
// validation loss when there is one, else the training loss.
func Monitored(l Logs) float64 {
	if l.HasVal {
		return l.ValLoss
	}
	return l.Loss
}

// EarlyStopping ends training once the monitored loss (Monitored) has not
// improved by more than MinDelta for Patience epochs, as Keras's.
type EarlyStopping struct {
	Patience int
	MinDelta float64
	best     float64
	wait     int
	started  bool
	// Stopped is the epoch (from 0) after which it stopped training, or -1.
	Stopped int
}

func (e *EarlyStopping) EpochBegin(int, int, int) {}
func (e *EarlyStopping) BatchEnd(Logs)            {}

// EpochEnd counts the epochs without improvement.
func (e *EarlyStopping) EpochEnd(_ *Trainer, l Logs) error {
	v := Monitored(l)
	if !e.started || v < e.best-e.MinDelta {
		e.started, e.best, e.wait, e.Stopped = true, v, 0, -1
		return nil
	}
	if e.wait++; e.wait >= e.Patience {
		e.Stopped = l.Epoch
		return ErrStop
	}
	return nil
}

// MarshalText writes the best loss and the epochs waited since.
func (e *EarlyStopping) MarshalText() ([]byte, error) {
	return bestText(e.started, e.best, e.wait), nil
}

// UnmarshalText reads what MarshalText wrote.
func (e *EarlyStopping) UnmarshalText(b []byte) error {
	var err error
	e.started, e.best, e.wait, err = parseBest(b)
	return err
}

// bestText is a best loss (exactly, as 'g' -1 round-trips) and a count,
// "none" before the first epoch.
func bestText(started bool, best float64, wait int) []byte {
	if !started {
		return []byte("none")
	}
	return []byte(strconv.FormatFloat(best, 'g', -1, 64) + " " + strconv.Itoa(wait))
}

func parseBest(b []byte) (started bool, best float64, wait int, err error) {
	s := string(b)
	if s == "none" {
		return false, 0, 0, nil
	}
	f, w, ok := strings.Cut(s, " ")
	if best, err = strconv.ParseFloat(f, 64); err != nil || !ok {
		return false, 0, 0, fmt.Errorf("best loss %q is not \"LOSS WAIT\"", s)
	}
	if wait, err = strconv.Atoi(w); err != nil || wait < 0 {
		return false, 0, 0, fmt.Errorf("best loss %q: %q is not a count", s, w)
	}
	return true, best, wait, nil
}

// Checkpointer writes a checkpoint after each epoch to a path made from
// Pattern ({epoch} becomes the epoch from 1, {val_loss} and {loss} the
// figures to four decimals), or with Best only when the monitored loss
// improved, as Keras's ModelCheckpoint(save_best_only=True).
type Checkpointer struct {
	Pattern string
	Best    bool
	// Extra is metadata Restore compares (see SaveCheckpoint).
	Extra   map[string]string
	best    float64
	started bool
	// Saved lists the paths written.
	Saved []string
}

func (c *Checkpointer) EpochBegin(int, int, int) {}
func (c *Checkpointer) BatchEnd(Logs)            {}

// EpochEnd writes the checkpoint.
func (c *Checkpointer) EpochEnd(t *Trainer, l Logs) error {
	if v := Monitored(l); c.Best {
		if c.started && v >= c.best {
			return nil
		}
		c.started, c.best = true, v
	}
	path := ExpandPattern(c.Pattern, l)
	if err := t.SaveCheckpoint(path, c.Extra); err != nil {
		return fmt.Errorf("writing checkpoint %s: %w", path, err)
	}
	c.Saved = append(c.Saved, path)
	return nil
}

// MarshalText writes the best loss so far, which save-best compares with.
func (c *Checkpointer) MarshalText() ([]byte, error) { return bestText(c.started, c.best, 0), nil }

// UnmarshalText reads what MarshalText wrote.
func (c *Checkpointer) UnmarshalText(b []byte) error {
	var err error
	c.started, c.best, _, err = parseBest(b)
	return err
}

// ExpandPattern fills a checkpoint path pattern with an epoch's figures.
func ExpandPattern(pattern string, l Logs) string {
	val := "nan"
	if l.HasVal {
		val = fmt.Sprintf("%.4f", l.ValLoss)
	}
	return strings.NewReplacer("{epoch}", strconv.Itoa(l.Epoch+1), "{val_loss}", val, "{loss}", fmt.Sprintf("%.4f", l.Loss)).Replace(pattern)
}
