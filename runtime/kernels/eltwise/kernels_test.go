package eltwise

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/stretchr/testify/require"
)

// lengths are the awkward slice lengths the kernel comparisons sweep: empty,
// around the vector widths (4 and 8) and the unrolled loops (16, 32), and
// long.
var lengths = []int{0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 127, 1000}

// TestRequire fails a CI run that asked (MDLC_REQUIRE) for a kernel set that
// was not selected, and checks that the selected set's kernels are the ones a
// chain gets.
func TestRequire(t *testing.T) {
	s, err := cpu.Select()
	require.NoError(t, err)
	kerneltest.Family(t, sets, func(k *kernels) cpu.Set { return k.set })
	c := NewChain(s, []int{8}, []Step{{Kind: Sigmoid}})
	require.Equal(t, fmt.Sprintf("%p", sets.For(s).unary[Sigmoid]), fmt.Sprintf("%p", c.steps[0].unary))
}

// TestEveryKindHasKernels checks every registered set's tables: each kind has
// its kernel (TestRequire checks no set is missing).
func TestEveryKindHasKernels(t *testing.T) {
	for _, k := range sets.All() {
		for kind := range kindCount {
			if kind.Binary() {
				require.NotNil(t, k.vector[kind], "%s %d", k.set, kind)
				require.NotNil(t, k.vectorRev[kind], "%s %d", k.set, kind)
				require.NotNil(t, k.scalar[kind], "%s %d", k.set, kind)
				require.NotNil(t, k.scalarRev[kind], "%s %d", k.set, kind)
			} else if kind != Clip {
				require.NotNil(t, k.unary[kind], "%s %d", k.set, kind)
			}
		}
		require.NotNil(t, k.clip, k.set)
		require.NotNil(t, k.powEven, k.set)
		require.NotNil(t, k.powOdd, k.set)
	}
}

var kindNames = [kindCount]string{
	Load: "load", Add: "add", Sub: "sub", Mul: "mul", Div: "div", Relu: "relu", LeakyRelu: "leaky_relu",
	Sigmoid: "sigmoid", Tanh: "tanh", Gelu: "gelu", GeluTanh: "gelu_tanh",
	Minimum: "minimum", Maximum: "maximum", Clip: "clip", Elu: "elu", Selu: "selu", Silu: "silu",
	HardSigmoid: "hard_sigmoid", HardSwish: "hard_swish", Mish: "mish", Softplus: "softplus", Softsign: "softsign",
	Exp: "exp", Log: "log", Sqrt: "sqrt", Rsqrt: "rsqrt", Abs: "abs", Neg: "neg", Pow: "pow", Erf: "erf",
}

// randomData is n standard normal values times 4 (reaching the saturated
// tails of sigmoid, tanh and gelu), with some exact zeros of both signs.
func randomData(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(50) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = float32(math.Copysign(0, -1))
		default:
			x[i] = 4 * float32(r.NormFloat64())
		}
	}
	return x
}

// guard is how many floats past the end of each slice the comparisons check
// are left alone.
const guard = 9

// withGuard returns x copied into a longer buffer, at an odd offset so that
// vectors are unaligned, and the slice of it holding x.
func withGuard(x []float32) (buf, s []float32) {
	buf = make([]float32, 1+len(x)+guard)
	for i := range buf {
		buf[i] = 12345
	}
	copy(buf[1:], x)
	return buf, buf[1 : 1+len(x)]
}

func checkGuard(t *testing.T, buf []float32, n int, what string) {
	t.Helper()
	if buf[0] != 12345 || slices.ContainsFunc(buf[1+n:], func(v float32) bool { return v != 12345 }) {
		t.Errorf("%s: wrote outside the slice of %d", what, n)
	}
}

// TestKernelsMatchGeneric runs every kernel of every assembly set this
// machine runs against the generic one, on random data at awkward lengths:
// the binary operators, loads, relu and leaky_relu must agree bit for bit
// (NaN for NaN), the functions within their accuracy bounds (plus the
// generic one's half ulp).
func TestKernelsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, k := range sets.All() {
		if k.set == cpu.Generic {
			continue
		}
		for _, n := range lengths {
			x, o := randomData(r, n), randomData(r, n)
			for kind := range kindCount {
				name := fmt.Sprintf("%s %s n=%d", k.set, kindNames[kind], n)
				if kind == Relu {
					// relu's gradient: x as dy, o as the forward's input.
					want := slices.Clone(x)
					generic.reluGrad(want, o)
					buf, got := withGuard(x)
					k.reluGrad(got, o)
					checkGuard(t, buf, n, name)
					compare(t, Load, 0, x, got, want, name+" reluGrad")
				}
				if !kind.Binary() {
					for _, alpha := range alphas(kind) {
						want := slices.Clone(x)
						unaryFor(&generic, kind, alpha)(want)
						buf, got := withGuard(x)
						unaryFor(k, kind, alpha)(got)
						checkGuard(t, buf, n, name)
						compare(t, kind, alpha, x, got, want, fmt.Sprintf("%s alpha=%g", name, alpha))
					}
					continue
				}
				for rev, fns := range [][2][kindCount]func(v, o []float32){{k.vector, generic.vector}, {k.vectorRev, generic.vectorRev}} {
					want := slices.Clone(x)
					fns[1][kind](want, o)
					buf, got := withGuard(x)
					fns[0][kind](got, o)
					checkGuard(t, buf, n, name)
					compare(t, kind, 0, x, got, want, fmt.Sprintf("%s vector rev=%d", name, rev))
				}
				for rev, fns := range [][2][kindCount]func([]float32, float32){{k.scalar, generic.scalar}, {k.scalarRev, generic.scalarRev}} {
					s := 4 * float32(r.NormFloat64())
					want := slices.Clone(x)
					fns[1][kind](want, s)
					buf, got := withGuard(x)
					fns[0][kind](got, s)
					checkGuard(t, buf, n, name)
					compare(t, kind, 0, x, got, want, fmt.Sprintf("%s scalar %g rev=%d", name, s, rev))
				}
			}
		}
	}
}

// Each set's rows kernels against the generic ones, bit for bit: row
// lengths around the vector widths, whole rows then a part of one, which
// they leave alone.
func TestRowsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, k := range sets.All() {
		for kind, f := range k.rows {
			if f == nil {
				continue
			}
			for _, c := range []int{1, 3, 7, 8, 9, 15, 16, 17, 24, 32, 33, 40, 72} {
				for _, n := range []int{0, c - 1, c, 2*c + c/2, 5 * c} {
					x, o := randomData(r, n), randomData(r, c)
					name := fmt.Sprintf("%s %s rows c=%d n=%d", k.set, kindNames[kind], c, n)
					want := slices.Clone(x)
					generic.rows[kind](want, o)
					buf, got := withGuard(x)
					f(got, o)
					checkGuard(t, buf, n, name)
					compare(t, Load, 0, x, got, want, name)
					for i := n / c * c; i < n; i++ {
						if got[i] != x[i] {
							t.Errorf("%s: changed element %d past the last whole row", name, i)
						}
					}
				}
			}
		}
	}
	if generic.rows[Add] == nil || generic.rows[Mul] == nil {
		t.Error("no generic rows kernels for add and mul")
	}
}

// alphas are the parameters each unary kind is tested with: pow's exponents
// reach each of its kernels (powFor).
func alphas(kind Kind) []float32 {
	if kind == Pow {
		return []float32{0, 1, 2, -1, 3, 4, -3, 0.5, -1.5, 1.0 / 3}
	}
	return []float32{0.3}
}

// unaryFor is k's kernel for a unary kind with parameter alpha, as a chain
// would run it; clip's bounds are [-alpha, 20·alpha].
func unaryFor(k *kernels, kind Kind, alpha float32) func(v []float32) {
	switch kind {
	case Clip:
		return func(v []float32) { k.clip(v, -alpha, 20*alpha) }
	case Pow:
		f := k.powFor(alpha)
		return func(v []float32) { f(v, alpha) }
	}
	return func(v []float32) { k.unary[kind](v, alpha) }
}

// compare checks got against the generic kernel's want for inputs x.
func compare(t *testing.T, kind Kind, alpha float32, x, got, want []float32, what string) {
	t.Helper()
	b, approx := bounds[kind]
	for i := range want {
		g, w := got[i], want[i]
		if g == w && math.Signbit(float64(g)) == math.Signbit(float64(w)) || g != g && w != w {
			continue
		}
		if approx && !math.IsNaN(float64(g)) && !math.IsInf(float64(g), 0) && !math.IsNaN(float64(w)) && !math.IsInf(float64(w), 0) {
			d := math.Abs(float64(g) - float64(w))
			if d <= (b.rel(float64(x[i]), float64(alpha))+0x1p-24)*math.Abs(float64(w))+max(b.sub, genericAbs) {
				continue
			}
		}
		t.Errorf("%s: element %d of f(%g): got %g, want %g", what, i, x[i], g, w)
		return
	}
}

// genericAbs bounds the generic functions' own absolute error, where their
// float64 formulas cancel (1 + erf and 1 + tanh in the tails below zero).
const genericAbs = 1e-15
