package update

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// sizes cover the vector loops and every tail length of both widths.
var sizes = []int{0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1027}

func operands(r *rand.Rand, n int) (p, g, m, v []float32) {
	p, g, m, v = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range n {
		p[i], g[i], m[i] = float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64()*0.1)
		v[i] = float32(r.Float64() * 0.01)
	}
	return
}

var coefs = []AdamCoef{
	{B1: 0.9, C1: 0.1, B2: 0.999, C2: 0.001, Decay: 1, Step: 1e-3, K: 1, Eps: 1e-7},               // Keras's Adam
	{B1: 0.8, C1: 0.2, B2: 0.99, C2: 0.01, WD: 0.01, Decay: 0.999, Step: 0.05, K: 3.2, Eps: 1e-8}, // L2 and AdamW's decay, PyTorch's form
}

// TestSetsMatchGeneric: every set's Adam is the generic one's up to the
// roundings the fused products save: each result within a few float32
// roundings of the magnitude of the terms it sums.
func TestSetsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range sets.All() {
		for _, c := range coefs {
			for _, n := range sizes {
				p, g, m, v := operands(r, n)
				p0, m0, v0 := clone(p), clone(m), clone(v)
				wp, wm, wv := clone(p), clone(m), clone(v)
				generic.Adam(wp, g, wm, wv, &c)
				k.Adam(p, g, m, v, &c)
				for i := range n {
					step := math.Abs(float64(c.Step) * float64(wm[i]) / (math.Sqrt(float64(wv[i]))*float64(c.K) + float64(c.Eps)))
					if d := math.Abs(float64(p[i] - wp[i])); d > 0x1p-20*(math.Abs(float64(wp[i]))+step) {
						t.Fatalf("%s n=%d: p[%d] = %v, generic %v", k.set, n, i, p[i], wp[i])
					}
					gi := math.Abs(float64(g[i])) + math.Abs(float64(c.WD*p0[i]))
					if !near(m[i], wm[i], math.Abs(float64(c.B1*m0[i]))+float64(c.C1)*gi) || !near(v[i], wv[i], float64(c.B2*v0[i])+float64(c.C2)*gi*gi) {
						t.Fatalf("%s n=%d: m[%d], v[%d] = %v, %v, generic %v, %v", k.set, n, i, i, m[i], v[i], wm[i], wv[i])
					}
				}
			}
		}
	}
}

var sgdCoefs = []SGDCoef{
	{LR: 0.1, Mu: 0.9, Keep: 1, C: 1},                      // momentum
	{LR: 0.05, Mu: 0.9, Keep: 0.9, WD: 0.01, A: 1, C: 0.9}, // Nesterov, dampening, decay
}

// TestSGDSetsMatchGeneric: as for Adam, every set's SGD within a few
// roundings of the magnitude of the terms.
func TestSGDSetsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, k := range sets.All() {
		for _, c := range sgdCoefs {
			for _, n := range sizes {
				p, g, b, _ := operands(r, n)
				p0, b0 := clone(p), clone(b)
				wp, wb := clone(p), clone(b)
				generic.SGD(wp, g, wb, &c)
				k.SGD(p, g, b, &c)
				for i := range n {
					gi := math.Abs(float64(g[i])) + math.Abs(float64(c.WD*p0[i]))
					bs := math.Abs(float64(c.Mu*b0[i])) + float64(c.Keep)*gi
					if !near(b[i], wb[i], bs) || !near(p[i], wp[i], math.Abs(float64(p0[i]))+float64(c.LR)*(float64(c.A)*gi+float64(c.C)*bs)) {
						t.Fatalf("%s n=%d: p[%d], b[%d] = %v, %v, generic %v, %v", k.set, n, i, i, p[i], b[i], wp[i], wb[i])
					}
				}
			}
		}
	}
}

var rmsCoefs = []RMSCoef{
	{LR: 1e-3, Rho: 0.9, C: 0.1, Eps: 1e-7},                      // Keras's RMSprop
	{LR: 0.01, Rho: 0.99, C: 0.01, WD: 0.01, Eps: 1e-8, Mu: 0.5}, // decay, momentum
	{LR: 0.1, Rho: 1, C: 1, WD: 0.01, Eps: 1e-10},                // Adagrad
}

// TestRMSSetsMatchGeneric: as for Adam, with and without momentum.
func TestRMSSetsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, k := range sets.All() {
		for _, c := range rmsCoefs {
			for _, momentum := range []bool{false, true} {
				for _, n := range sizes {
					p, g, b, v := operands(r, n)
					p0, v0, b0 := clone(p), clone(v), clone(b)
					wp, wv, wb := clone(p), clone(v), clone(b)
					if momentum {
						generic.RMSMomentum(wp, g, wv, wb, &c)
						k.RMSMomentum(p, g, v, b, &c)
					} else {
						generic.RMS(wp, g, wv, &c)
						k.RMS(p, g, v, &c)
					}
					for i := range n {
						gi := math.Abs(float64(g[i])) + math.Abs(float64(c.WD*p0[i]))
						ratio := gi / (math.Sqrt(float64(wv[i])) + float64(c.Eps))
						bs := math.Abs(float64(c.Mu*b0[i])) + ratio
						ps := math.Abs(float64(p0[i])) + float64(c.LR)*ratio
						if momentum {
							ps = math.Abs(float64(p0[i])) + float64(c.LR)*bs
						}
						if !near(v[i], wv[i], float64(c.Rho*v0[i])+float64(c.C)*gi*gi) || !near(b[i], wb[i], bs) || !near(p[i], wp[i], ps) {
							t.Fatalf("%s %+v momentum %t n=%d: p, v, b [%d] = %v %v %v, generic %v %v %v", k.set, c, momentum, n, i, p[i], v[i], b[i], wp[i], wv[i], wb[i])
						}
					}
				}
			}
		}
	}
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }

// near: a and b differ by at most 8 roundings of terms of magnitude scale (a
// gradient rounded differently counts twice in its square).
func near(a, b float32, scale float64) bool {
	return math.Abs(float64(a-b)) <= 8*0x1p-24*scale
}

// TestRequire fails a CI run that asked (MDLC_REQUIRE) for a kernel set that
// was not selected, and checks the family's registry.
func TestRequire(t *testing.T) {
	kerneltest.Family(t, sets, func(k *Kernels) cpu.Set { return k.set })
}

func TestDoesNotAllocate(t *testing.T) {
	for _, set := range cpu.Available() {
		k := For(set)
		p, g, m, v := operands(rand.New(rand.NewPCG(3, 4)), 100)
		if a := testing.AllocsPerRun(10, func() {
			k.Adam(p, g, m, v, &coefs[0])
			k.SGD(p, g, m, &sgdCoefs[1])
			k.RMSMomentum(p, g, v, m, &rmsCoefs[1])
		}); a != 0 {
			t.Errorf("%s: %v allocations", set, a)
		}
	}
}
