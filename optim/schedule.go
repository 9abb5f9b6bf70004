package optim

import "math"

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
// MinLR 0. The zero value is not usable: set LR to the starting rate.
type ReduceOnPlateau struct {
	LR, Factor, MinDelta, MinLR float64
	Patience, Cooldown          int

	best     float64
	seen     bool
	wait     int
	cooldown int
}

// Observe records the epoch's value of the watched quantity and returns the
// learning rate for the next epoch.
func (r *ReduceOnPlateau) Observe(value float64) float64 {
	if r.cooldown > 0 {
		r.cooldown--
		r.wait = 0
	}
	switch {
	case !r.seen || value < r.best-r.MinDelta:
		r.best, r.seen, r.wait = value, true, 0
	case r.cooldown == 0:
		r.wait++
		if r.wait >= r.Patience {
			if lr := max(r.LR*r.Factor, r.MinLR); lr < r.LR {
				r.LR = lr
				r.cooldown, r.wait = r.Cooldown, 0
			}
		}
	}
	return r.LR
}
