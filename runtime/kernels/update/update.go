// Package update holds the optimisers' fused parameter updates (Adam's,
// SGD's with momentum, RMSprop's and Adagrad's), each one pass over a flat slice of parameters, their
// gradients and the optimiser's state, for package optim.
//
// Kernel sets (package cpu): generic, plain Go compiled on every platform and
// the oracle of the others; AVX2+FMA and AVX-512 (the last 1-15 floats
// under a mask) on amd64 (generated with avo by runtime/kernels/_asm/update);
// NEON on arm64 (the same program's emitter). The assembly fuses products into sums
// (FMA), so its results differ from the generic kernel's by a few float32
// roundings; TestSetsMatchGeneric bounds the difference.
//
// Nothing here allocates.
package update

// The assembly and its declarations are generated; CI regenerates them and
// fails on a difference.
//go:generate go -C ../_asm run ./update -out ../update/update_amd64.s -stubs ../update/update_amd64.go -pkg update -neon ../update/update_arm64
//go:generate go -C ../_asm run ./update -avx512 -out ../update/update_avx512_amd64.s -stubs ../update/update_avx512_amd64.go -pkg update

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// AdamCoef are the scalars of one Adam step (package optim computes them
// from the hyperparameters and the step number): see Kernels.Adam.
type AdamCoef struct {
	B1, C1, B2, C2 float32 // β1, 1-β1, β2, 1-β2
	WD             float32 // L2 weight decay added to the gradient
	Decay          float32 // decoupled decay (AdamW): p is scaled by it first
	Step, K, Eps   float32 // p -= Step·m / (√v·K + Eps)
}

// SGDCoef are the scalars of one step of SGD with momentum: see Kernels.SGD.
type SGDCoef struct {
	LR, Mu, Keep, WD float32 // learning rate, momentum, 1 - dampening, L2 decay
	// The step is A·g' + C·b: 0 and 1 for plain momentum, 1 and Mu for
	// Nesterov's.
	A, C float32
}

// RMSCoef are the scalars of one RMSprop or Adagrad step: see Kernels.RMS.
type RMSCoef struct {
	LR, Rho, C, WD, Eps float32 // Adagrad: Rho = C = 1
	Mu                  float32 // momentum, for RMSMomentum
}

// Kernels is one set's implementations.
type Kernels struct {
	set         cpu.Set
	adam        func(p, g, m, v []float32, n int, b1, c1, b2, c2, wd, decay, step, k, eps float32)
	sgd         func(p, g, b []float32, n int, lr, mu, keep, wd, a, c float32)
	rms         func(p, g, v []float32, n int, lr, rho, c, wd, eps float32)
	rmsMomentum func(p, g, v, b []float32, n int, lr, rho, c, wd, eps, mu float32)
}

var generic = Kernels{set: cpu.Generic, adam: adamGeneric, sgd: sgdGeneric, rms: rmsGeneric, rmsMomentum: rmsMomentumGeneric}

// sets lists the sets this process can run, best first, generic last; the
// files of each assembly set add theirs when the CPU has it.
var sets = cpu.NewFamily("update", &generic)

// For returns the kernels set s runs (the generic ones for a set this build
// has none of).
func For(s cpu.Set) *Kernels { return sets.For(s) }

// Set is the kernel set k belongs to.
func (k *Kernels) Set() cpu.Set { return k.set }

// Adam is Adam's update of p from gradients g and moments m and v, all of
// p's length (shorter ones panic on the slice, before any assembly runs):
//
//	g' = g + WD·p
//	m  = B1·m + C1·g'
//	v  = B2·v + C2·g'²
//	p  = p·Decay - Step·m / (√v·K + Eps)
func (k *Kernels) Adam(p, g, m, v []float32, c *AdamCoef) {
	n := len(p)
	k.adam(p, g[:n], m[:n], v[:n], n, c.B1, c.C1, c.B2, c.C2, c.WD, c.Decay, c.Step, c.K, c.Eps)
}

// SGD is SGD's update with momentum of p from gradients g and momentum b,
// all of p's length (shorter ones panic on the slice):
//
//	g' = g + WD·p
//	b  = Mu·b + Keep·g'
//	p -= LR·(A·g' + C·b)
func (k *Kernels) SGD(p, g, b []float32, c *SGDCoef) {
	n := len(p)
	k.sgd(p, g[:n], b[:n], n, c.LR, c.Mu, c.Keep, c.WD, c.A, c.C)
}

func sgdGeneric(p, g, b []float32, n int, lr, mu, keep, wd, a, c float32) {
	p, g, b = p[:n], g[:n], b[:n]
	for i := range p {
		gi := g[i] + wd*p[i]
		bi := mu*b[i] + keep*gi
		b[i] = bi
		p[i] -= lr * (a*gi + c*bi)
	}
}

// RMS is RMSprop's update (Adagrad's with Rho = C = 1) of p from gradients
// g and the average (Adagrad: sum) of squares v, all of p's length:
//
//	g' = g + WD·p
//	v  = Rho·v + C·g'²
//	p -= LR·(g' / (√v + Eps))
func (k *Kernels) RMS(p, g, v []float32, c *RMSCoef) {
	n := len(p)
	k.rms(p, g[:n], v[:n], n, c.LR, c.Rho, c.C, c.WD, c.Eps)
}

// RMSMomentum is RMS with a momentum buffer b:
//
//	b  = Mu·b + g' / (√v + Eps)
//	p -= LR·b
func (k *Kernels) RMSMomentum(p, g, v, b []float32, c *RMSCoef) {
	n := len(p)
	k.rmsMomentum(p, g[:n], v[:n], b[:n], n, c.LR, c.Rho, c.C, c.WD, c.Eps, c.Mu)
}

func rmsGeneric(p, g, v []float32, n int, lr, rho, c, wd, eps float32) {
	p, g, v = p[:n], g[:n], v[:n]
	for i := range p {
		gi := g[i] + wd*p[i]
		vi := rho*v[i] + c*gi*gi
		v[i] = vi
		p[i] -= lr * (gi / (float32(math.Sqrt(float64(vi))) + eps))
	}
}

func rmsMomentumGeneric(p, g, v, b []float32, n int, lr, rho, c, wd, eps, mu float32) {
	p, g, v, b = p[:n], g[:n], v[:n], b[:n]
	for i := range p {
		gi := g[i] + wd*p[i]
		vi := rho*v[i] + c*gi*gi
		v[i] = vi
		bi := mu*b[i] + gi/(float32(math.Sqrt(float64(vi)))+eps)
		b[i] = bi
		p[i] -= lr * bi
	}
}

func adamGeneric(p, g, m, v []float32, n int, b1, c1, b2, c2, wd, decay, step, k, eps float32) {
	p, g, m, v = p[:n], g[:n], m[:n], v[:n]
	for i := range p {
		pi := p[i]
		gi := g[i] + wd*pi
		mi := b1*m[i] + c1*gi
		vi := b2*v[i] + c2*gi*gi
		m[i], v[i] = mi, vi
		p[i] = pi*decay - step*mi/(float32(math.Sqrt(float64(vi)))*k+eps)
	}
}
