package optim

import (
	"encoding"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Schedule is a learning rate as a function of a step count: optimiser
// steps or epochs, as the caller counts them (from 0).
type Schedule interface {
	LR(step int) float64
}

// Constant is a fixed learning rate.
type Constant float64

// LR is the rate.
func (c Constant) LR(int) float64 { return float64(c) }

// StepDecay multiplies the rate by Gamma every Every steps, as PyTorch's
// StepLR: LR0·Gamma^⌊step/Every⌋.
type StepDecay struct {
	LR0, Gamma float64
	Every      int
}

// LR is the rate at step.
func (s StepDecay) LR(step int) float64 {
	if s.Every <= 0 {
		return s.LR0
	}
	return s.LR0 * math.Pow(s.Gamma, float64(step/s.Every))
}

// Exponential is Keras's ExponentialDecay: LR0·Rate^(step/DecaySteps),
// the exponent floored when Staircase is set.
type Exponential struct {
	LR0, Rate  float64
	DecaySteps int
	Staircase  bool
}

// LR is the rate at step.
func (e Exponential) LR(step int) float64 {
	if e.DecaySteps <= 0 {
		return e.LR0
	}
	x := float64(step) / float64(e.DecaySteps)
	if e.Staircase {
		x = math.Floor(x)
	}
	return e.LR0 * math.Pow(e.Rate, x)
}

// Cosine is Keras's CosineDecay (without warm-up): the rate falls from LR0
// along half a cosine to Alpha·LR0 at DecaySteps and stays there:
// LR0·((1-Alpha)·½(1 + cos(π·min(step, D)/D)) + Alpha).
// PyTorch's CosineAnnealingLR is the same curve with eta_min = Alpha·LR0.
type Cosine struct {
	LR0, Alpha float64
	DecaySteps int
}

// LR is the rate at step.
func (c Cosine) LR(step int) float64 {
	if c.DecaySteps <= 0 {
		return c.LR0
	}
	x := float64(min(step, c.DecaySteps)) / float64(c.DecaySteps)
	return c.LR0 * ((1-c.Alpha)*0.5*(1+math.Cos(math.Pi*x)) + c.Alpha)
}

// ReduceOnPlateau is Keras's ReduceLROnPlateau watching a quantity to
// minimise (a validation loss): when it has not improved by more than
// MinDelta for Patience observations, the rate is multiplied by Factor (not
// below MinLR), then Cooldown observations pass before counting again.
// Keras's defaults: Factor 0.1, Patience 10, MinDelta 1e-4, Cooldown 0,
// MinLR 0.
//
// It is an Adaptive schedule starting at LR0: its rate changes only when
// Observe is told an epoch's value, and State is where it has got to. Use
// one, by pointer, per run.
type ReduceOnPlateau struct {
	LR0, Factor, MinDelta, MinLR float64
	Patience, Cooldown           int
	State                        PlateauState
}

// PlateauState is a ReduceOnPlateau's progress: before the first
// observation (Started false) the rate is LR0 and the best value +Inf, as
// Keras starts.
type PlateauState struct {
	Started bool
	// Rate is the learning rate now; Best the lowest value seen.
	Rate, Best float64
	// Wait counts the observations without improvement; Cooldown those
	// still to pass before counting again.
	Wait, Cooldown int
}

// LR is the rate now, whatever the step.
func (r *ReduceOnPlateau) LR(int) float64 {
	if !r.State.Started {
		return r.LR0
	}
	return r.State.Rate
}

// Observe records the epoch's value of the watched quantity and returns the
// learning rate for the next epoch.
func (r *ReduceOnPlateau) Observe(value float64) float64 {
	s := &r.State
	if !s.Started {
		*s = PlateauState{Started: true, Rate: r.LR0, Best: math.Inf(1)}
	}
	if s.Cooldown > 0 {
		s.Cooldown--
		s.Wait = 0
	}
	switch {
	case value < s.Best-r.MinDelta:
		s.Best, s.Wait = value, 0
	case s.Cooldown == 0:
		s.Wait++
		if s.Wait >= r.Patience {
			if lr := max(s.Rate*r.Factor, r.MinLR); lr < s.Rate {
				s.Rate = lr
				s.Cooldown, s.Wait = r.Cooldown, 0
			}
		}
	}
	return s.Rate
}

// String is its settings as %+v prints a struct, without its state: what a
// checkpoint compares.
func (r ReduceOnPlateau) String() string {
	return fmt.Sprintf("{LR0:%v Factor:%v MinDelta:%v MinLR:%v Patience:%v Cooldown:%v}", r.LR0, r.Factor, r.MinDelta, r.MinLR, r.Patience, r.Cooldown)
}

// MarshalText writes the state as "rate=R best=B wait=W cooldown=C", the
// floats in the fewest digits that read back exactly.
func (r *ReduceOnPlateau) MarshalText() ([]byte, error) {
	s := r.State
	if !s.Started {
		s = PlateauState{Rate: r.LR0, Best: math.Inf(1)} // what Observe starts from
	}
	return fmt.Appendf(nil, "rate=%s best=%s wait=%d cooldown=%d",
		strconv.FormatFloat(s.Rate, 'g', -1, 64), strconv.FormatFloat(s.Best, 'g', -1, 64), s.Wait, s.Cooldown), nil
}

// UnmarshalText reads a state MarshalText wrote (from a checkpoint, so
// checked: a positive finite rate, a best that is a number, counts not
// negative).
func (r *ReduceOnPlateau) UnmarshalText(text []byte) error {
	var s PlateauState
	var rate, best string
	if _, err := fmt.Sscanf(string(text), "rate=%s best=%s wait=%d cooldown=%d", &rate, &best, &s.Wait, &s.Cooldown); err != nil {
		return fmt.Errorf("reduce-on-plateau state %q: %v", text, err)
	}
	var err1, err2 error
	s.Rate, err1 = strconv.ParseFloat(rate, 64)
	s.Best, err2 = strconv.ParseFloat(best, 64)
	if err1 != nil || err2 != nil || !(s.Rate > 0) || math.IsInf(s.Rate, 0) || math.IsNaN(s.Best) || s.Wait < 0 || s.Cooldown < 0 {
		return fmt.Errorf("reduce-on-plateau state %q: want a positive rate, a best value and counts of at least 0", text)
	}
	s.Started = true
	r.State = s
	return nil
}

// Adaptive is a schedule whose rate also follows a watched quantity
// (ReduceOnPlateau): Observe is told its value at the end of each epoch.
// Its state is text (encoding.TextMarshaler), which a checkpoint keeps so
// that a resumed run continues exactly.
type Adaptive interface {
	Schedule
	Observe(value float64) float64
	encoding.TextMarshaler
	encoding.TextUnmarshaler
}

var _ Adaptive = (*ReduceOnPlateau)(nil)

// ScheduleKind names a learning-rate schedule by epochs (EpochSchedule).
type ScheduleKind uint8

const (
	ScheduleConstant ScheduleKind = iota
	ScheduleCosine
	ScheduleStep
	ScheduleExponential
	SchedulePlateau
	scheduleKinds
)

var scheduleNames = [scheduleKinds]string{"constant", "cosine", "step", "exponential", "plateau"}

func (k ScheduleKind) String() string {
	if k < scheduleKinds {
		return scheduleNames[k]
	}
	return fmt.Sprintf("ScheduleKind(%d)", k)
}

// GoString is the constant's name, as mdlc gen writes it.
func (k ScheduleKind) GoString() string {
	if k < scheduleKinds {
		return "optim.Schedule" + strings.ToUpper(scheduleNames[k][:1]) + scheduleNames[k][1:]
	}
	return fmt.Sprintf("optim.ScheduleKind(%d)", k)
}

// EpochSchedule is a learning-rate schedule in epochs, as mdlc train's
// --schedule and a train block name it; Schedule makes it a rate by
// optimiser step once a run's length is known. mdlc train and the trainers
// mdlc gen --train writes both make their rates with it, so that they take
// the same steps.
type EpochSchedule struct {
	Kind ScheduleKind
	// Every and Gamma: step multiplies the rate by Gamma every Every
	// epochs, exponential by Gamma every epoch (staircase).
	Every int
	Gamma float64
	// Factor, Patience and MinLR: plateau's (ReduceOnPlateau with Keras's
	// MinDelta 1e-4 and no cooldown).
	Factor   float64
	Patience int
	MinLR    float64
}

// DefaultPlateau is Keras's ReduceLROnPlateau: factor 0.1, patience 10.
var DefaultPlateau = EpochSchedule{Kind: SchedulePlateau, Factor: 0.1, Patience: 10}

// NeedsRun says whether the rate by step depends on the run's length
// (cosine decays over all its steps) or its epochs' (step, exponential).
func (s EpochSchedule) NeedsRun() bool {
	return s.Kind == ScheduleCosine || s.Kind == ScheduleStep || s.Kind == ScheduleExponential
}

// Schedule is the rate by step from lr, for a run of epochs epochs of
// stepsPerEpoch steps each when NeedsRun. Each call makes a new one: a
// plateau's holds the state of its run.
func (s EpochSchedule) Schedule(lr float64, stepsPerEpoch, epochs int) Schedule {
	switch s.Kind {
	case ScheduleCosine:
		return Cosine{LR0: lr, DecaySteps: stepsPerEpoch * epochs}
	case ScheduleStep:
		return StepDecay{LR0: lr, Gamma: s.Gamma, Every: s.Every * stepsPerEpoch}
	case ScheduleExponential:
		return Exponential{LR0: lr, Rate: s.Gamma, DecaySteps: stepsPerEpoch, Staircase: true}
	case SchedulePlateau:
		return &ReduceOnPlateau{LR0: lr, Factor: s.Factor, Patience: s.Patience, MinDelta: 1e-4, MinLR: s.MinLR}
	}
	return Constant(lr)
}

// String is the schedule as ParseEpochSchedule reads it: constant, cosine,
// step:EPOCHS:GAMMA, exponential:GAMMA, plateau:FACTOR:PATIENCE:MIN_LR.
func (s EpochSchedule) String() string {
	g := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	switch s.Kind {
	case ScheduleStep:
		return fmt.Sprintf("step:%d:%s", s.Every, g(s.Gamma))
	case ScheduleExponential:
		return "exponential:" + g(s.Gamma)
	case SchedulePlateau:
		return fmt.Sprintf("plateau:%s:%d:%s", g(s.Factor), s.Patience, g(s.MinLR))
	}
	return s.Kind.String()
}

// ScheduleHelp says how ParseEpochSchedule's schedules are written.
const ScheduleHelp = "constant, cosine, step:EPOCHS:GAMMA, exponential:GAMMA, plateau[:FACTOR[:PATIENCE[:MIN_LR]]]"

// ParseEpochSchedule reads a schedule as String writes it; plateau's
// arguments may be left off from the right (Keras's factor 0.1, patience
// 10, min_lr 0).
func ParseEpochSchedule(spec string) (EpochSchedule, error) {
	kind, args, _ := strings.Cut(spec, ":")
	parts := strings.Split(args, ":")
	if args == "" {
		parts = nil
	}
	num := func(i int) (float64, bool) {
		x, err := strconv.ParseFloat(parts[i], 64)
		return x, err == nil && !math.IsNaN(x) && !math.IsInf(x, 0)
	}
	switch kind {
	case "constant", "cosine":
		if len(parts) == 0 {
			return EpochSchedule{Kind: map[string]ScheduleKind{"constant": ScheduleConstant, "cosine": ScheduleCosine}[kind]}, nil
		}
		return EpochSchedule{}, fmt.Errorf("%s takes no arguments", kind)
	case "step":
		if len(parts) == 2 {
			e, err := strconv.Atoi(parts[0])
			g, ok := num(1)
			if err == nil && ok && e >= 1 && g > 0 {
				return EpochSchedule{Kind: ScheduleStep, Every: e, Gamma: g}, nil
			}
		}
		return EpochSchedule{}, fmt.Errorf("write step:EPOCHS:GAMMA, e.g. step:10:0.1")
	case "exponential":
		if len(parts) == 1 {
			if g, ok := num(0); ok && g > 0 {
				return EpochSchedule{Kind: ScheduleExponential, Gamma: g}, nil
			}
		}
		return EpochSchedule{}, fmt.Errorf("write exponential:GAMMA, e.g. exponential:0.9")
	case "plateau":
		s := DefaultPlateau
		ok := len(parts) <= 3
		if ok && len(parts) > 0 {
			s.Factor, ok = num(0)
			ok = ok && s.Factor > 0 && s.Factor < 1
		}
		if ok && len(parts) > 1 {
			var err error
			s.Patience, err = strconv.Atoi(parts[1])
			ok = err == nil && s.Patience >= 1
		}
		if ok && len(parts) > 2 {
			s.MinLR, ok = num(2)
			ok = ok && s.MinLR >= 0
		}
		if ok {
			return s, nil
		}
		return EpochSchedule{}, fmt.Errorf("write plateau:FACTOR:PATIENCE:MIN_LR, e.g. plateau:0.1:5 (factor in (0, 1), patience at least 1 epoch, min_lr at least 0)")
	}
	return EpochSchedule{}, fmt.Errorf("schedules are %s", ScheduleHelp)
}
