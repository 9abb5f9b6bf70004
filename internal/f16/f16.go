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
