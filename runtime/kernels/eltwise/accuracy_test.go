package eltwise

import (
	"encoding/binary"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// bound is what the assembly kernels promise for a function (the package
// doc's table): |got - exact| <= rel(x)·|exact| where |exact| >= 2⁻¹²⁶,
// <= sub below, and <= abs everywhere (abs 0: no absolute bound, for the
// functions whose results grow without bound).
type bound struct {
	rel      func(x, alpha float64) float64
	sub, abs float64
}

func constant(r float64) func(float64, float64) float64 {
	return func(float64, float64) float64 { return r }
}

// belowSubnormal widens a relative bound r where x·e^x, with e^x subnormal
// (x below -87.3), is itself a normal number: silu and mish there have the
// absolute error of a subnormal e^x, times |x|.
func belowSubnormal(r float64, f func(float64) float64) func(float64, float64) float64 {
	return func(x, _ float64) float64 { return max(r, 0x1p-148*math.Abs(x)/math.Abs(f(x))) }
}

var bounds = map[Kind]bound{
	Sigmoid: {constant(2e-7), 0x1p-149, 1e-7},
	Tanh:    {constant(1.3e-7), 0x1p-149, 8e-8},
	Gelu:    {constant(6e-7), 0x1p-148, 4e-7},
	// gelu_tanh's error grows with |u|, u = √(2/π)(x+0.044715x³) rounded
	// in float32.
	GeluTanh:    {func(x, _ float64) float64 { return max(1e-6, 3.5e-7*math.Abs(tanhArg(x))) }, 2e-43, 6e-7},
	Elu:         {constant(2e-7), 0x1p-149, 1.2e-7},
	Selu:        {constant(2.5e-7), 0x1p-149, 0},
	Silu:        {belowSubnormal(3e-7, truthOf(Silu)), 1e-43, 0},
	HardSigmoid: {constant(1.2e-7), 0x1p-149, 6e-8},
	HardSwish:   {constant(2e-7), 0x1p-149, 0},
	Mish:        {belowSubnormal(5e-7, truthOf(Mish)), 1e-43, 0},
	Softplus:    {constant(3e-7), 0x1p-148, 0},
	Softsign:    {constant(1.3e-7), 0x1p-149, 1e-7},
	Exp:         {constant(1.3e-7), 0x1p-149, 0},
	Log:         {constant(2.6e-7), 0x1p-149, 0},
	Rsqrt:       {constant(1.3e-7), 0x1p-149, 0},
	Erf:         {constant(2.1e-7), 0x1p-149, 1.4e-7},
	// pow's error is exp's of alpha·ln x, which grows with |alpha·ln x|.
	Pow: {func(x, a float64) float64 { return 2e-7 + 1.2e-7*math.Abs(a*math.Log(math.Abs(x))) }, 1.5e-43, 0},
}

func tanhArg(x float64) float64 { return math.Sqrt(2/math.Pi) * (x + 0.044715*x*x*x) }

// logistic is 1/(1+e^-x), accurate in both tails.
func logistic(x float64) float64 {
	if x < 0 {
		e := math.Exp(x)
		return e / (1 + e)
	}
	return 1 / (1 + math.Exp(-x))
}

// softplusTruth is ln(1 + e^x), accurate in both tails.
func softplusTruth(x float64) float64 { return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

// truth are the functions in float64, accurate in the tails (where the
// reference's and the generic kernels' formulas cancel), of x and the
// parameter alpha.
var truth = map[Kind]func(x, alpha float64) float64{
	Sigmoid: func(x, _ float64) float64 { return logistic(x) },
	Tanh:    func(x, _ float64) float64 { return math.Tanh(x) },
	Gelu: func(x, _ float64) float64 {
		if x < 0 {
			return x * 0.5 * math.Erfc(-x/math.Sqrt2)
		}
		return x * (1 - 0.5*math.Erfc(x/math.Sqrt2))
	},
	GeluTanh: func(x, _ float64) float64 { return x * logistic(2*tanhArg(x)) },
	Elu: func(x, a float64) float64 {
		if x > 0 {
			return x
		}
		return a * math.Expm1(x)
	},
	Selu: func(x, _ float64) float64 {
		if x > 0 {
			return seluScale * x
		}
		return seluScale * seluAlpha * math.Expm1(x)
	},
	Silu:        func(x, _ float64) float64 { return x * logistic(x) },
	HardSigmoid: func(x, a float64) float64 { return min(max(a*x+0.5, 0), 1) },
	HardSwish:   func(x, _ float64) float64 { return x * min(max(x+3, 0), 6) / 6 },
	Mish:        func(x, _ float64) float64 { return x * math.Tanh(softplusTruth(x)) },
	Softplus:    func(x, _ float64) float64 { return softplusTruth(x) },
	Softsign:    func(x, _ float64) float64 { return x / (1 + math.Abs(x)) },
	Exp:         func(x, _ float64) float64 { return math.Exp(x) },
	Log:         func(x, _ float64) float64 { return math.Log(x) },
	Rsqrt:       func(x, _ float64) float64 { return 1 / math.Sqrt(x) },
	Erf:         func(x, _ float64) float64 { return math.Erf(x) },
	Pow: func(x, a float64) float64 {
		if x < 0 && a != math.Trunc(a) {
			return math.NaN()
		}
		return math.Pow(x, a)
	},
}

func truthOf(k Kind) func(float64) float64 { return func(x float64) float64 { return truth[k](x, 0) } }

// accuracyCases are the functions TestAccuracy measures, with the parameter
// each is measured at: pow at an exponent of each of its kernels (powFor).
var accuracyCases = []struct {
	kind  Kind
	alpha float32
}{
	{Sigmoid, 0}, {Tanh, 0}, {Gelu, 0}, {GeluTanh, 0}, {Elu, 1}, {Selu, 0}, {Silu, 0},
	{HardSigmoid, 1.0 / 6}, {HardSigmoid, 0.2}, {HardSwish, 0}, {Mish, 0}, {Softplus, 0}, {Softsign, 0},
	{Exp, 0}, {Log, 0}, {Rsqrt, 0}, {Erf, 0}, {Pow, 0.5}, {Pow, -1.5}, {Pow, 3}, {Pow, 4}, {Pow, -3},
}

// sweep is every stride-th float32 in [-20, 20] (the functions are constant
// or linear to float32 precision beyond), then values at the edges: around
// the branch points and the ends of the exp clamp and of the normal range,
// the largest and smallest floats, zeros, infinities and NaN.
func sweep(stride uint32) []float32 {
	var x []float32
	for b := uint32(0); b <= math.Float32bits(20); b += stride {
		f := math.Float32frombits(b)
		x = append(x, f, -f)
	}
	for _, e := range []float32{0.7, 9, 14.42, 14.5, 44, 87.3, 88.72, 88.73, 103.9, 104, 1e10, math.MaxFloat32} {
		for _, f := range []float32{e, math.Nextafter32(e, 0), math.Nextafter32(e, 1e38)} {
			x = append(x, f, -f)
		}
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	return append(x, 0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-30, -1e-30, inf, -inf, nan)
}

var stride = flag.Uint("stride", 1021, "TestAccuracy sweeps every `n`th float32 (the package doc's figures are for 97)")

// TestAccuracy measures each assembly function against float64 math over
// sweep and checks the package's bounds; -v prints the measurements.
// Infinities and NaN must come out as the generic kernels' do.
func TestAccuracy(t *testing.T) {
	x := sweep(uint32(*stride))
	ran := false
	for _, k := range sets.All() {
		if k.set == cpu.Generic {
			continue
		}
		ran = true
		for _, c := range accuracyCases {
			kind := c.kind
			got, want := append([]float32(nil), x...), append([]float32(nil), x...)
			unaryFor(k, kind, c.alpha)(got)
			unaryFor(&generic, kind, c.alpha)(want)
			b, tf := bounds[kind], truth[kind]
			f := func(x float64) float64 { return tf(x, float64(c.alpha)) }
			name := fmt.Sprintf("%s(alpha=%g)", kindNames[kind], c.alpha)
			var maxRel, maxAbs, relAt, absAt, ulps, worst float64
			fails := 0
			for i, xi := range x {
				g, e := float64(got[i]), f(float64(xi))
				if w := float64(want[i]); math.IsNaN(w) || math.IsInf(w, 0) || math.IsNaN(g) || math.IsInf(g, 0) {
					if !(math.IsNaN(w) && math.IsNaN(g)) && w != g {
						t.Errorf("%s %s(%g) = %g, want %g as the generic kernel", k.set, name, xi, g, w)
					}
					continue
				}
				d := math.Abs(g - e)
				if d > maxAbs {
					maxAbs, absAt = d, float64(xi)
				}
				if math.Abs(e) < 0x1p-126 {
					if d > b.sub {
						t.Errorf("%s %s(%g) = %g, want %g: error %.3g > %.3g below 2⁻¹²⁶", k.set, name, xi, g, e, d, b.sub)
					}
					continue
				}
				rel := d / math.Abs(e)
				if rel > maxRel {
					maxRel, relAt = rel, float64(xi)
				}
				_, exp := math.Frexp(e)
				ulps = max(ulps, d/math.Ldexp(1, exp-24))
				worst = max(worst, rel/b.rel(float64(xi), float64(c.alpha)))
				if rel > b.rel(float64(xi), float64(c.alpha)) && fails < 5 {
					fails++
					t.Errorf("%s %s(%g) = %g, want %g: relative error %.3g > %.3g", k.set, name, xi, g, e, rel, b.rel(float64(xi), float64(c.alpha)))
				}
			}
			if b.abs > 0 && maxAbs > b.abs {
				t.Errorf("%s %s: absolute error %.3g at %g > %.3g", k.set, name, maxAbs, absAt, b.abs)
			}
			t.Logf("%s %-9s %d points: max relative error %.3g (%.2f ulp) at %g, %.2f of the bound; max absolute error %.3g at %g",
				k.set, name, len(x), maxRel, ulps, relAt, worst, maxAbs, absAt)
		}
	}
	if !ran {
		t.Skip("no assembly kernels on this machine or build")
	}
}

// sameBits are hashes of the assembly functions' outputs over sweep(1021)
// with the parameter 0.3 (unaryFor), NaNs made one. The generator lowers one prog per function for both
// architectures, the same operations on the same constants, so the AVX2 and
// NEON kernels give the same bits; CI runs both (arm64 under qemu), and a
// change to the math changes these.
var sameBits = map[Kind]uint64{
	Relu: 0xc18cd563aa7a6324, LeakyRelu: 0xdba4b730cd10cc29, Sigmoid: 0xe95d9be71a963ff6,
	Tanh: 0x9999a367263a79d6, Gelu: 0xf385ecd511b30db4, GeluTanh: 0x49006ffc52ac4bc6,
	Clip: 0x271a567959c72046, Elu: 0xb061d07ab91380d1, Selu: 0x901bd5163e108197, Silu: 0xf865c93a6a94e951,
	HardSigmoid: 0x25617d24c2260936, HardSwish: 0xf2038ebcce8664e5, Mish: 0x776258688bee81ae,
	Softplus: 0xe7ad0dbf801b1e7a, Softsign: 0xf053f583415820a2, Exp: 0x1fb94f7b0a7a836, Log: 0x86e129be748325d4,
	Sqrt: 0x37d09171b797bd01, Rsqrt: 0xc3e3903ab6d16d93, Abs: 0x21a3d7f740a9b44a, Neg: 0x32daca50e4aff64a,
	Pow: 0x479518811694e8c1, Erf: 0xd731d356f68605a2,
}

func TestSameBits(t *testing.T) {
	x := sweep(1021)
	for _, k := range sets.All() {
		if k.set == cpu.Generic {
			continue
		}
		for kind, want := range sameBits {
			got := append([]float32(nil), x...)
			unaryFor(k, kind, 0.3)(got)
			var b []byte
			for _, v := range got {
				if v != v {
					v = float32(math.NaN())
				}
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			}
			h := fnv.New64()
			h.Write(b)
			if h.Sum64() != want {
				t.Errorf("%s %s: outputs hash to %#x, want %#x", k.set, kindNames[kind], h.Sum64(), want)
			}
		}
	}
}
