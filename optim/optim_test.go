package optim

import (
	"math"
	"reflect"
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
	r := &ReduceOnPlateau{LR0: 1, Factor: 0.5, Patience: 2, MinDelta: 0.01, Cooldown: 1, MinLR: 0.2}
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

// TestPlateauStateRoundTrips: a plateau schedule whose state is written
// as text after any observation and read into a new one continues with the
// same rates as the one that went on; text that is not a state is refused.
func TestPlateauStateRoundTrips(t *testing.T) {
	losses := []float64{1, 0.9, 0.95, 0.93, 0.91, 0.9, 0.92, 0.5, 0.6, 0.6, 0.6, 0.6}
	for cut := range len(losses) + 1 {
		a := &ReduceOnPlateau{LR0: 0.3, Factor: 0.5, Patience: 2, MinDelta: 0.01, Cooldown: 1, MinLR: 0.01}
		for _, l := range losses[:cut] {
			a.Observe(l)
		}
		text, err := a.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		b := &ReduceOnPlateau{LR0: 0.3, Factor: 0.5, Patience: 2, MinDelta: 0.01, Cooldown: 1, MinLR: 0.01}
		if err := b.UnmarshalText(text); err != nil {
			t.Fatalf("after %d: %v", cut, err)
		}
		if a.LR(0) != b.LR(0) {
			t.Fatalf("after %d (%s): rate %v, read back %v", cut, text, a.LR(0), b.LR(0))
		}
		for i, l := range losses[cut:] {
			if x, y := a.Observe(l), b.Observe(l); x != y {
				t.Fatalf("cut after %d (%s), observation %d: %v, the restored one %v", cut, text, cut+i, x, y)
			}
		}
	}
	for _, bad := range []string{"", "rate=0 best=1 wait=0 cooldown=0", "rate=0.1 best=NaN wait=0 cooldown=0", "rate=0.1 best=1 wait=-1 cooldown=0", "rate=x best=1 wait=0 cooldown=0"} {
		if err := new(ReduceOnPlateau).UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q was read as a state", bad)
		}
	}
}

// TestEpochSchedules: each schedule reads back from what String writes, and
// makes the rates by step of the schedule it names; misspellings say how
// to write them.
func TestEpochSchedules(t *testing.T) {
	for _, c := range []struct {
		spec string
		want Schedule
	}{
		{"constant", Constant(0.1)},
		{"cosine", Cosine{LR0: 0.1, DecaySteps: 30}},
		{"step:2:0.5", StepDecay{LR0: 0.1, Gamma: 0.5, Every: 20}},
		{"exponential:0.9", Exponential{LR0: 0.1, Rate: 0.9, DecaySteps: 10, Staircase: true}},
		{"plateau", &ReduceOnPlateau{LR0: 0.1, Factor: 0.1, Patience: 10, MinDelta: 1e-4}},
		{"plateau:0.5:3", &ReduceOnPlateau{LR0: 0.1, Factor: 0.5, Patience: 3, MinDelta: 1e-4}},
		{"plateau:0.5:3:1e-05", &ReduceOnPlateau{LR0: 0.1, Factor: 0.5, Patience: 3, MinDelta: 1e-4, MinLR: 1e-5}},
	} {
		s, err := ParseEpochSchedule(c.spec)
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		if got := s.Schedule(0.1, 10, 3); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %#v, want %#v", c.spec, got, c.want)
		}
		again, err := ParseEpochSchedule(s.String())
		if err != nil || again != s {
			t.Errorf("%s: String %q reads back as %v (%v)", c.spec, s.String(), again, err)
		}
	}
	for spec, want := range map[string]string{
		"step:x":           "step:EPOCHS:GAMMA",
		"exponential":      "exponential:GAMMA",
		"plateau:2":        "factor in (0, 1)",
		"plateau:0.1:0":    "patience at least 1",
		"plateau:0.1:5:-1": "min_lr at least 0",
		"cosine:3":         "cosine takes no arguments",
		"linear":           "schedules are constant, cosine",
	} {
		if _, err := ParseEpochSchedule(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", spec, err, want)
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
