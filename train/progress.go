package train

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress prints training as Keras's fit does. Verbose 1 draws a progress
// bar with the ETA and the running loss and accuracy, redrawn in place (for
// a terminal); verbose 2 prints one line per epoch (for logs); 0 prints
// nothing.
type Progress struct {
	W       io.Writer
	Verbose int
	epochs  int
	last    time.Time
}

// EpochBegin prints "Epoch e/n".
func (p *Progress) EpochBegin(epoch, epochs, _ int) {
	p.epochs = epochs
	if p.Verbose > 0 {
		fmt.Fprintf(p.W, "Epoch %d/%d\n", epoch+1, epochs)
	}
}

// BatchEnd redraws the bar, at most ten times a second.
func (p *Progress) BatchEnd(l Logs) {
	if p.Verbose != 1 || (l.Step < l.Steps && time.Since(p.last) < 100*time.Millisecond) {
		return
	}
	p.last = time.Now()
	eta := time.Duration(float64(l.Elapsed) / float64(l.Step) * float64(l.Steps-l.Step))
	fmt.Fprintf(p.W, "\r%s %s - ETA: %s%s\x1b[K", counter(l.Step, l.Steps), bar(l.Step, l.Steps), seconds(eta), metrics(l, false))
}

// EpochEnd prints the epoch's line: time, time per step, loss, metrics and
// the validation figures.
func (p *Progress) EpochEnd(_ *Trainer, l Logs) error {
	perStep := time.Duration(0)
	if l.Step > 0 {
		perStep = l.Elapsed / time.Duration(l.Step)
	}
	switch p.Verbose {
	case 1:
		fmt.Fprintf(p.W, "\r%s %s - %s %s/step%s\x1b[K\n", counter(l.Step, l.Steps), bar(l.Steps, l.Steps), seconds(l.Elapsed), msString(perStep), metrics(l, true))
	case 2:
		fmt.Fprintf(p.W, "%s - %s - %s/step%s\n", counter(l.Step, l.Steps), seconds(l.Elapsed), msString(perStep), metrics(l, true))
	}
	return nil
}

// counter is "  41/1875", right-aligned to the total's width.
func counter(step, steps int) string {
	w := len(fmt.Sprint(steps))
	return fmt.Sprintf("%*d/%d", w, step, steps)
}

// bar is Keras's 30-character bar: [=====>........................].
func bar(step, steps int) string {
	const width = 30
	done := width * step / max(steps, 1)
	if step >= steps {
		return "[" + strings.Repeat("=", width) + "]"
	}
	return "[" + strings.Repeat("=", done) + ">" + strings.Repeat(".", width-done-1) + "]"
}

func seconds(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%.0fs", d.Seconds())
}

func msString(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0fus", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
}

// metrics is " - loss: 0.4811 - accuracy: 0.8262 - top5_accuracy:
// 0.9870", with the validation figures when val and the epoch has them.
func metrics(l Logs, val bool) string {
	s := fmt.Sprintf(" - loss: %.4f", l.Loss)
	for i, m := range l.Metrics {
		s += fmt.Sprintf(" - %s: %.4f", m, l.Values[i])
	}
	if val && l.HasVal {
		s += fmt.Sprintf(" - val_loss: %.4f", l.ValLoss)
		for i, m := range l.Metrics {
			s += fmt.Sprintf(" - val_%s: %.4f", m, l.ValValues[i])
		}
	}
	return s
}

// Summary is an evaluation's line: "313/313 - 1.2s - loss: 0.2871 -
// accuracy: 0.9012".
func Summary(l Logs) string {
	return fmt.Sprintf("%s - %s%s", counter(l.Step, l.Steps), seconds(l.Elapsed), metrics(l, false))
}
