package optim

import (
	"math"
	"strings"
	"testing"
)

// TestAdamKeras: Keras's form against a float64 transcription of Keras 3's
// Adam.update_step (lr·√(1-β2^t)/(1-β1^t), then m/(√v + ε)) over a few steps.
func TestAdamKeras(t *testing.T) {
	o := DefaultAdam
	p := []float32{0.5, -1, 2, 1e-3}
	g := [][]float32{{0.1, -0.2, 0.3, 1e-4}, {-0.5, 0.1, 0.2, 0}, {0.3, 0.3, -0.1, 1e-5}}
	state := newState(o, len(p))
	ref, m, v := make([]float64, len(p)), make([]float64, len(p)), make([]float64, len(p))
	for i := range p {
		ref[i] = float64(p[i])
	}
	const lr = 1e-3
	for step, gs := range g {
		if err := o.Update(p, gs, state, lr, step); err != nil {
			t.Fatal(err)
		}
		n := float64(step + 1)
		alpha := lr * math.Sqrt(1-math.Pow(0.999, n)) / (1 - math.Pow(0.9, n))
		for i := range ref {
			gi := float64(gs[i])
			m[i] += (gi - m[i]) * (1 - 0.9)
			v[i] += (gi*gi - v[i]) * (1 - 0.999)
			ref[i] -= alpha * m[i] / (math.Sqrt(v[i]) + 1e-7)
		}
		for i := range p {
			if d := math.Abs(float64(p[i]) - ref[i]); d > 1e-6*math.Max(math.Abs(ref[i]), 1e-3) {
				t.Fatalf("step %d: parameter %d is %v, want %v", step, i, p[i], ref[i])
			}
		}
	}
}

func TestClipGlobalNorm(t *testing.T) {
	g := []float32{3, 4}
	if n := ClipGlobalNorm(g, 10); n != 5 || g[0] != 3 || g[1] != 4 {
		t.Fatalf("below the bound: norm %v, %v", n, g)
	}
	if n := ClipGlobalNorm(g, 1); n != 5 || math.Abs(float64(g[0])-0.6) > 1e-6 || math.Abs(float64(g[1])-0.8) > 1e-6 {
		t.Fatalf("clipped: norm %v, %v", n, g)
	}
}

func TestSchedules(t *testing.T) {
	for _, c := range []struct {
		s    Schedule
		step int
		want float64
	}{
		{Constant(0.1), 7, 0.1},
		{StepDecay{LR0: 1, Gamma: 0.1, Every: 3}, 2, 1},
		{StepDecay{LR0: 1, Gamma: 0.1, Every: 3}, 7, 0.01},
		{Exponential{LR0: 1, Rate: 0.5, DecaySteps: 2}, 3, math.Pow(0.5, 1.5)},
		{Exponential{LR0: 1, Rate: 0.5, DecaySteps: 2, Staircase: true}, 3, 0.5},
		{Cosine{LR0: 1, DecaySteps: 10}, 5, 0.5},
		{Cosine{LR0: 2, Alpha: 0.1, DecaySteps: 10}, 20, 0.2},
		{Cosine{LR0: 1, DecaySteps: 4}, 0, 1},
	} {
		if got := c.s.LR(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%#v at %d: %v, want %v", c.s, c.step, got, c.want)
		}
	}
}

// TestReduceOnPlateau follows Keras's ReduceLROnPlateau step by step.
func TestReduceOnPlateau(t *testing.T) {
	r := &ReduceOnPlateau{LR: 1, Factor: 0.5, Patience: 2, MinDelta: 0.01, Cooldown: 1, MinLR: 0.2}
	for i, c := range []struct{ loss, lr float64 }{
		{1.0, 1},    // the first value is the best
		{0.995, 1},  // not better by MinDelta: wait 1
		{0.99, 0.5}, // wait 2 = Patience: halve, cooldown 1
		{0.99, 0.5}, // the cooldown ends, and (as in Keras) this counts: wait 1
		{0.99, 0.25},
		{0.99, 0.25},
		{0.5, 0.25}, // a new best
		{0.6, 0.25},
		{0.6, 0.2}, // halved, but not below MinLR
		{0.6, 0.2},
		{0.6, 0.2}, // at MinLR: no change
	} {
		if got := r.Observe(c.loss); got != c.lr {
			t.Fatalf("observation %d (%v): lr %v, want %v", i, c.loss, got, c.lr)
		}
	}
}

func TestUpdateChecksLengths(t *testing.T) {
	p := make([]float32, 4)
	for _, o := range []Optimizer{SGD{Momentum: 0.9}, DefaultAdam, DefaultRMSprop, Adagrad{}} {
		s := newState(o, 4)
		if err := o.Update(p, make([]float32, 3), s, 0.1, 0); err == nil || !strings.Contains(err.Error(), "3 gradients for 4 parameters") {
			t.Errorf("%T: %v", o, err)
		}
		s[0] = s[0][:2]
		if err := o.Update(p, make([]float32, 4), s, 0.1, 0); err == nil || !strings.Contains(err.Error(), "state slice 0 holds 2") {
			t.Errorf("%T: %v", o, err)
		}
		if err := o.Update(p, make([]float32, 4), nil, 0.1, 0); err == nil {
			t.Errorf("%T: no error without state", o)
		}
	}
}

// TestNoAlloc: a step allocates nothing.
func TestNoAlloc(t *testing.T) {
	p, g := make([]float32, 1000), make([]float32, 1000)
	for _, o := range []Optimizer{SGD{}, SGD{Momentum: 0.9, Nesterov: true}, DefaultAdam, DefaultAdamW, DefaultRMSprop, RMSprop{Rho: 0.9, Momentum: 0.9}, Adagrad{Epsilon: 1e-10}} {
		s := newState(o, len(p))
		step := 0
		if a := testing.AllocsPerRun(10, func() { o.Update(p, g, s, 1e-3, step); step++ }); a != 0 {
			t.Errorf("%T: %v allocations a step", o, a)
		}
	}
}
