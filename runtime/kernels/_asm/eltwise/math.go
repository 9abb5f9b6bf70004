package main

import "math"

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
// +Inf.
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
	hi := p.mul(a, a)
	nlo := p.fnma(a, a, hi) // hi - a², exactly: -lo
	e := exp(p, p.mul(hi, p.konst("mhalf", -0.5)))
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
	g := p.mul(p.mul(t, q), half) // E/2 = g·e
	below := p.mul(p.mul(x, g), e)
	above := p.mul(x, p.fnma(g, e, one))
	return p.selSign(x, below, above)
}

// geluTanh is 0.5x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), computed as
// x·sigmoid(2u) (the same function), with sigmoid as above.
func geluTanh(p *prog, x *val) *val {
	v := p.mul(x, p.fma(p.mul(x, x), p.konst("gelu1", 0x1.2444f2p-04), p.konst("gelu0", 0x1.988454p+00))) // 2u
	e := exp(p, negAbs(p, v))
	y := p.div(x, p.addf(p.konst("one", 1), e))
	return p.selSign(x, p.mul(y, e), y)
}
