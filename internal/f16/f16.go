// Package f16 converts the 16-bit float formats weight files store (IEEE 754
// binary16 and bfloat16) to float32, exactly: both are subsets of float32, so
// no rounding happens. Shared by the safetensors and ONNX readers.
package f16

import "math"

// Half converts IEEE 754 binary16 exactly.
func Half(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0: // zero or subnormal: mant × 2^-24, exact in float32
		return math.Float32frombits(math.Float32bits(float32(mant)/(1<<24)) | sign)
	case 0x1f: // infinity or NaN, keeping the payload
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// BFloat converts bfloat16, the top half of a float32's bits.
func BFloat(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// RoundHalf rounds f to the nearest IEEE 754 binary16 value, a tie to the
// even one, as a cast to float16 does: ±∞ from the largest finite half
// (65504) plus half its ulp on, subnormals below 2⁻¹⁴, NaN kept.
func RoundHalf(f float32) float32 { return roundBits(f, 11, -24, 65504) }

// RoundBFloat rounds f to the nearest bfloat16 value, a tie to the even
// one: float32's exponent range with 8 significant bits.
func RoundBFloat(f float32) float32 { return roundBits(f, 8, -133, 0x1.fep127) }

// roundBits rounds f to bits significant bits, a tie to even, no finer
// than 2^minExp (the format's smallest subnormal), and to ±∞ beyond the
// largest finite value, top. Scaling by a power of two is exact in
// float64, so RoundToEven's is the one rounding.
func roundBits(f float32, bits, minExp int, top float64) float32 {
	x := float64(f)
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return f
	}
	_, exp := math.Frexp(x) // |x| = frac·2^exp, frac in [½, 1)
	ulp := math.Ldexp(1, max(exp-bits, minExp))
	r := math.RoundToEven(x/ulp) * ulp
	if math.Abs(r) > top {
		return float32(math.Copysign(math.Inf(1), x))
	}
	return float32(r)
}
