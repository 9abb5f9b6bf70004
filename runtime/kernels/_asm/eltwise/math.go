package main

import (
	"fmt"
	"math"
)

// The vector functions, written once for both architectures. Each lane
// computes in float32 with fused multiply-adds; the polynomial coefficients
// are minimax (Remez) fits of the relative error, rounded to float32. The
// errors each function reaches are measured by the packages' accuracy tests
// and stated in their doc comments.

func f32bits(f float32) uint32 { return math.Float32bits(f) }

// exp is e^x for every float32 x: +Inf above ln(MaxFloat32), subnormal
// results down to 2⁻¹⁴⁹, 0 below, NaN for NaN.
//
// x = n·ln2 + r with n = round(x·log2e), |r| <= ln2/2, r computed with ln2
// split in two (Cody-Waite) so that n·ln2hi is exact; e^r = 1 + r + r²·q(r)
// with q of degree 4 (relative error 3e-9 before rounding). 2^n is applied as
// two factors 2^(n>>1)·2^(n-n>>1), each a normal float, so that n may run
// from -150 to 128: the clamp of x keeps it there, and makes -Inf 0 and +Inf
// +Inf. Where the target scales in one instruction (prog.scalef), y·2^n is
// that, rounded once as the product of the two factors is.
func exp(p *prog, x *val) *val {
	x = p.min(x, p.konst("expHi", 0x1.62e44p+06)) // 88.7229, just above ln(MaxFloat32)
	x = p.max(x, p.konst("expLo", -104))          // below ln(2⁻¹⁵⁰)
	n := p.round(p.mul(x, p.konst("log2e", 0x1.715476p+00)))
	r := p.fnma(n, p.konst("ln2hi", 0x1.63p-01), x)
	r = p.fnma(n, p.konst("ln2lo", -0x1.bd0106p-13), r)
	q := p.horner(r,
		p.konst("exp2", 0x1.fffffcp-02),
		p.konst("exp3", 0x1.555492p-03),
		p.konst("exp4", 0x1.5558f2p-05),
		p.konst("exp5", 0x1.123ap-07),
		p.konst("exp6", 0x1.6a2404p-10))
	one := p.konst("one", 1)
	y := p.addf(p.fma(q, p.mul(r, r), r), one)
	if p.scalef {
		// y·2^n in one rounding, as the two factors below give it: y·2^i1
		// is exact, a normal float. The same bits, 8 operations fewer.
		return p.scale(y, n)
	}
	i := p.cvt(n)
	i1 := p.sar(i, 1)
	i2 := p.isub(i, i1)
	s1 := p.iadd(p.shl(i1, 23), one) // 2^i1: i1 added to the exponent of 1
	s2 := p.iadd(p.shl(i2, 23), one)
	return p.mul(p.mul(y, s1), s2)
}

// negAbs is -|x|: x with its sign bit set.
func negAbs(p *prog, x *val) *val { return p.or(x, p.bitsConst("sign", 0x80000000)) }

// sigmoid is 1/(1+e^-x), as e/(1+e) for x < 0 and 1/(1+e) for x >= 0 with
// e = e^-|x| <= 1, so that neither overflows and the tail below zero keeps
// its relative accuracy.
func sigmoid(p *prog, x *val) *val {
	e := exp(p, negAbs(p, x))
	one := p.konst("one", 1)
	return p.div(p.selSign(x, e, one), p.addf(one, e))
}

// tanh is x + x³·P(x²) for |x| < 0.7 (P of degree 4, relative error 2e-8),
// where 1 - 2/(e^2|x|+1) would lose bits to cancellation, and that with the
// sign of x above.
func tanh(p *prog, x *val) *val {
	one := p.konst("one", 1)
	y := p.mul(x, x)
	q := p.horner(y,
		p.konst("tanh3", -0x1.5554f6p-02),
		p.konst("tanh5", 0x1.10faeep-03),
		p.konst("tanh7", -0x1.b6c112p-05),
		p.konst("tanh9", 0x1.492fd6p-06),
		p.konst("tanh11", -0x1.50c474p-08))
	small := p.fma(q, p.mul(y, x), x)
	a := p.abs(x)
	e := exp(p, p.addf(a, a))
	big := p.sub(one, p.div(p.konst("two", 2), p.addf(e, one)))
	big = p.or(big, p.and(x, p.bitsConst("sign", 0x80000000)))
	return p.selSign(p.sub(a, p.konst("tanhSmall", 0.7)), small, big)
}

// gelu is x·Φ(x), Φ the standard normal CDF, from E = erfc(|x|/√2):
// Φ = E/2 below zero and 1 - E/2 above, so that the tail below zero keeps
// its relative accuracy (1 + erf(x/√2) would cancel). E = e^(-x²/2)·t·P(t)
// with t = 1/(1 + p·|x|/√2), P of degree 8 (relative error 1.3e-8 on
// [0, 14.5/√2]); x² is split into hi + lo exactly (FMA), e^(-hi/2) taken and
// corrected by (1 - lo/2). |x| is clamped to 14.5, where e^(-x²/2) is 0, so
// that nothing overflows: Φ is then exactly 0 or 1.
func gelu(p *prog, x *val) *val {
	one, half := p.konst("one", 1), p.konst("half", 0.5)
	a := p.min(p.abs(x), p.konst("geluMax", 14.5))
	tq, e := erfcParts(p, a)
	g := p.mul(tq, half) // E/2 = g·e
	below := p.mul(p.mul(x, g), e)
	above := p.mul(x, p.fnma(g, e, one))
	return p.selSign(x, below, above)
}

// erfcParts are t·P(t) and e^(-a²/2) (with the correction for the rounding
// of a²), whose product is erfc(a/√2) for 0 <= a <= 14.5, as gelu explains.
func erfcParts(p *prog, a *val) (tq, e *val) {
	one, half := p.konst("one", 1), p.konst("half", 0.5)
	hi := p.mul(a, a)
	nlo := p.fnma(a, a, hi) // hi - a², exactly: -lo
	e = exp(p, p.mul(hi, p.konst("mhalf", -0.5)))
	e = p.fma(e, p.mul(nlo, half), e)
	t := p.div(one, p.fma(a, p.konst("erfcP", 0x1.0f876cp-02), one)) // 0.375/√2
	q := p.horner(t,
		p.konst("erfc0", 0x1.b1618cp-03),
		p.konst("erfc1", 0x1.af77dp-03),
		p.konst("erfc2", 0x1.a4103cp-03),
		p.konst("erfc3", 0x1.f50826p-04),
		p.konst("erfc4", 0x1.16474ap-02),
		p.konst("erfc5", -0x1.cfd6c4p-03),
		p.konst("erfc6", 0x1.b81388p-02),
		p.konst("erfc7", -0x1.24e124p-02),
		p.konst("erfc8", 0x1.f5d6f2p-05))
	return p.mul(t, q), e
}

// geluTanh is 0.5x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), computed as
// x·sigmoid(2u) (the same function), with sigmoid as above.
func geluTanh(p *prog, x *val) *val {
	v := p.mul(x, p.fma(p.mul(x, x), p.konst("gelu1", 0x1.2444f2p-04), p.konst("gelu0", 0x1.988454p+00))) // 2u
	e := exp(p, negAbs(p, v))
	y := p.div(x, p.addf(p.konst("one", 1), e))
	return p.selSign(x, p.mul(y, e), y)
}

// minusOne negates by multiplying: exact, and NaN stays NaN.
func neg(p *prog, x *val) *val { return p.mul(x, p.konst("minusOne", -1)) }

// goMin is Go's min(a, b): NaN if either is, and -0 below +0. VMINPS
// returns its first operand when the two compare equal (±0) or either is
// NaN, and FMIN is already Go's min: so the OR of min(a, b) and min(b, a)
// holds both operands' bits in those cases (-0|+0 is -0; a NaN ORed with
// anything stays NaN) and is the one minimum otherwise.
func goMin(p *prog, a, b *val) *val { return p.or(p.min(a, b), p.min(b, a)) }

// goMax is Go's max(a, b), as -min(-a, -b).
func goMax(p *prog, a, b *val) *val { return neg(p, goMin(p, neg(p, a), neg(p, b))) }

// clamp is min(max(x, lo), hi) as Go computes it.
func clamp(p *prog, x, lo, hi *val) *val { return goMin(p, goMax(p, x, lo), hi) }

// expm1 is e^x - 1 for x <= 0 (elu, selu): for |x| below ln2/2, where the
// subtraction would cancel, exp's own polynomial without its 1, r + r²·q(r)
// with r = x; above, e^x - 1, which loses no more than an ulp of 1 there.
func expm1(p *prog, x *val) *val {
	q := p.horner(x,
		p.konst("exp2", 0x1.fffffcp-02),
		p.konst("exp3", 0x1.555492p-03),
		p.konst("exp4", 0x1.5558f2p-05),
		p.konst("exp5", 0x1.123ap-07),
		p.konst("exp6", 0x1.6a2404p-10))
	small := p.fma(q, p.mul(x, x), x)
	big := p.sub(exp(p, x), p.konst("one", 1))
	return p.selSign(p.sub(p.abs(x), p.konst("expm1Small", 0.34)), small, big)
}

// elu is x for x >= 0 and alpha·(e^x - 1) below (both give -0 at -0).
func elu(p *prog, x, alpha *val) *val {
	return p.selSign(p.ge0(x), x, p.mul(expm1(p, x), alpha))
}

// selu is scale·elu(x) with SELU's alpha, scale·alpha folded into one
// constant.
func selu(p *prog, x *val) *val {
	return p.selSign(p.ge0(x), p.mul(x, p.konst("seluScale", 1.0507009873554805)),
		p.mul(expm1(p, x), p.konst("seluScaleAlpha", 1.7580993408473766)))
}

// silu is x·sigmoid(x).
func silu(p *prog, x *val) *val { return p.mul(x, sigmoid(p, x)) }

// hardSigmoid is clip(alpha·x + 0.5, 0, 1), the product and sum rounded once.
func hardSigmoid(p *prog, x, alpha *val) *val {
	return clamp(p, p.fma(x, alpha, p.konst("half", 0.5)), p.konst("zero", 0), p.konst("one", 1))
}

// hardSwish is x·(clip(x + 3, 0, 6)/6), which cannot overflow where
// x·clip(...) would; x + 3 is exact where it could cancel (x in [-3, -1.5]).
func hardSwish(p *prog, x *val) *val {
	t := clamp(p, p.addf(x, p.konst("three", 3)), p.konst("zero", 0), p.konst("six", 6))
	return p.mul(x, p.div(t, p.konst("six", 6)))
}

// mish is x·tanh(ln(1 + e^x)) = x·n/(n + 2) with n = e^x(e^x + 2), since
// tanh(ln w) = (w² - 1)/(w² + 1). Above x = 20 the ratio is 1 to float32
// precision, and e^x is clamped there so that n stays finite.
func mish(p *prog, x *val) *val {
	e := exp(p, p.min(x, p.konst("mishMax", 20)))
	n := p.fma(e, e, p.addf(e, e))
	return p.mul(x, p.div(n, p.addf(n, p.konst("two", 2))))
}

// atanhSeries is 2s·(1 + s²/3 + s⁴/5 + ...), the first terms of 2·atanh(s),
// which is ln((1+s)/(1-s)).
func atanhSeries(p *prog, s *val, terms int) *val {
	c := []*val{p.konst("one", 1)}
	for i, name := range []string{"inv3", "inv5", "inv7", "inv9", "inv11", "inv13", "inv15", "inv17"}[:terms] {
		c = append(c, p.konst(name, float32(1/float64(2*i+3))))
	}
	z := p.mul(s, s)
	return p.mul(p.addf(s, s), p.horner(z, c...))
}

// log1p is ln(1 + u) for u in [0, 1], as 2·atanh(u/(2 + u)): s is at most
// 1/3, and keeps u's relative accuracy however small u is.
func log1p(p *prog, u *val) *val {
	return atanhSeries(p, p.div(u, p.addf(u, p.konst("two", 2))), 8)
}

// softplus is max(x, 0) + ln(1 + e^-|x|): it neither overflows nor loses
// the tail below zero, where it is about e^x.
func softplus(p *prog, x *val) *val {
	return p.addf(p.relu(x), log1p(p, exp(p, negAbs(p, x))))
}

// softsign is x/(1 + |x|).
func softsign(p *prog, x *val) *val { return p.div(x, p.addf(p.konst("one", 1), p.abs(x))) }

// logf is ln x: x = 2^k·m with m in [√2/2, √2), ln x = k·ln2 + 2·atanh(s),
// s = (m-1)/(m+1), |s| <= 0.172 (five terms of the series, truncation error
// 2e-9); k·ln2 in two parts, as exp splits it. Subnormal x are scaled by
// 2²³ first. The exponent k is read from the bits as a float: the
// exponent field ORed into the mantissa of 2²³ gives 2²³ + field.
// ln 0 is -Inf, ln of a negative number or NaN is NaN, ln +Inf is +Inf.
func logf(p *prog, x *val) *val {
	one := p.konst("one", 1)
	normMin := p.konst("normMin", 0x1p-126)
	small := p.lt(x, normMin)
	two23 := p.konst("two23", 0x1p23)
	xs := p.selSign(small, p.mul(x, two23), x)
	k := p.sub(p.or(p.sar(xs, 23), two23), p.konst("expOffset", 0x1p23+127))
	m := p.or(p.and(xs, p.bitsConst("mantissa", 0x007fffff)), one)
	big := p.lt(p.konst("sqrt2", 1.4142135), m)
	m = p.selSign(big, p.mul(m, p.konst("half", 0.5)), m)
	k = p.selSign(big, p.addf(k, one), k)
	k = p.selSign(small, p.sub(k, p.konst("twentyThree", 23)), k)
	f := p.sub(m, one)
	r := atanhSeries(p, p.div(f, p.addf(f, p.konst("two", 2))), 5)
	r = p.fma(k, p.konst("ln2lo", -0x1.bd0106p-13), r)
	r = p.fma(k, p.konst("ln2hi", 0x1.63p-01), r)
	r = p.selSign(p.ge0(x), r, p.bitsConst("nan", 0x7fc00000))
	r = p.selSign(p.lt(p.abs(xs), normMin), p.bitsConst("neginf", 0xff800000), r)
	return p.selSign(p.lt(p.konst("maxFloat", math.MaxFloat32), x), x, r)
}

// erf: for |x| < 0.75 its Taylor series, 2/√π·Σ (-1)^k x^(2k+1)/(k!(2k+1))
// to x¹⁷ (truncation error 6e-10 relatively), where 1 - erfc would lose
// bits; above, 1 - erfc(|x|) with erfc as gelu computes it (of a = √2|x|,
// clamped to 14.5), with the sign of x.
func erf(p *prog, x *val) *val {
	ax := p.abs(x)
	c := []*val{}
	for k, fact := 0, 1.0; k <= 8; k, fact = k+1, fact*float64(k+1) {
		v := math.Pow(-1, float64(k)) / (fact * float64(2*k+1)) * 2 / math.Sqrt(math.Pi)
		c = append(c, p.konst(fmt.Sprintf("erfT%d", k), float32(v)))
	}
	small := p.mul(x, p.horner(p.mul(x, x), c...))
	a := p.min(p.mul(ax, p.konst("sqrt2", 1.4142135)), p.konst("geluMax", 14.5))
	tq, e := erfcParts(p, a)
	big := p.fnma(tq, e, p.konst("one", 1))
	big = p.or(big, p.and(x, p.bitsConst("sign", 0x80000000)))
	return p.selSign(p.sub(ax, p.konst("erfSmall", 0.75)), small, big)
}
