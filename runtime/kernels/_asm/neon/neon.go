// Package neon is the small arm64 emitter the kernel generators share, since
// avo writes only amd64: encoders for the vector instructions that Go's arm64
// assembler has no mnemonic for, and Generate, which writes a generator's
// kernels to <prefix>.s and their Go declarations to <prefix>.go, for the
// prefix its -neon flag names.
//
// Each encoder returns a WORD directive with the instruction, in Arm syntax,
// in a comment. Its arguments are register numbers in Arm's operand order,
// destination first (d, n, m for Vd, Vn, Vm), not in the Go assembler's,
// which puts the destination last. Floating-point encoders work on four
// single-precision lanes (.4S).
package neon

import (
	"fmt"
	"strings"
)

// word is the directive for the instruction w, with the instruction, format
// and args, in a comment.
func word(w int, format string, args ...any) string {
	return fmt.Sprintf("WORD $0x%08x // %s", w, fmt.Sprintf(format, args...))
}

// vec3 is the three-register instruction base on 4S: d = n op m.
func vec3(base int, mnemonic string, d, n, m int) string {
	return word(base|m<<16|n<<5|d, "%s V%d.4S, V%d.4S, V%d.4S", mnemonic, d, n, m)
}

// vec2 is the two-register instruction base on 4S, d = op n, suffix the
// text after its operands.
func vec2(base int, mnemonic, suffix string, d, n int) string {
	return word(base|n<<5|d, "%s V%d.4S, V%d.4S%s", mnemonic, d, n, suffix)
}

// FADD is FADD Vd.4S, Vn.4S, Vm.4S: d = n + m.
func FADD(d, n, m int) string { return vec3(0x4e20d400, "FADD", d, n, m) }

// FSUB is FSUB Vd.4S, Vn.4S, Vm.4S: d = n - m.
func FSUB(d, n, m int) string { return vec3(0x4ea0d400, "FSUB", d, n, m) }

// FMUL is FMUL Vd.4S, Vn.4S, Vm.4S: d = n·m.
func FMUL(d, n, m int) string { return vec3(0x6e20dc00, "FMUL", d, n, m) }

// FDIV is FDIV Vd.4S, Vn.4S, Vm.4S: d = n / m.
func FDIV(d, n, m int) string { return vec3(0x6e20fc00, "FDIV", d, n, m) }

// FMAX is FMAX Vd.4S, Vn.4S, Vm.4S: d = max(n, m), NaN if either is NaN and
// +0 for max(-0, +0), as Go's max.
func FMAX(d, n, m int) string { return vec3(0x4e20f400, "FMAX", d, n, m) }

// FMIN is FMIN Vd.4S, Vn.4S, Vm.4S: d = min(n, m), NaN if either is NaN.
func FMIN(d, n, m int) string { return vec3(0x4ea0f400, "FMIN", d, n, m) }

// FMLA is FMLA Vd.4S, Vn.4S, Vm.4S: d += n·m, fused (one rounding).
func FMLA(d, n, m int) string { return vec3(0x4e20cc00, "FMLA", d, n, m) }

// FMLAElem is FMLA Vd.4S, Vn.4S, Vm.S[lane]: d += n·m[lane], fused, for
// lane 0-3.
func FMLAElem(d, n, m, lane int) string {
	w := 0x4f801000 | (lane&1)<<21 | m<<16 | (lane>>1)<<11 | n<<5 | d
	return word(w, "FMLA V%d.4S, V%d.4S, V%d.S[%d]", d, n, m, lane)
}

// FADDP is FADDP Vd.4S, Vn.4S, Vm.4S: the sums of adjacent pairs, n's in
// d's low half, m's in its high half.
func FADDP(d, n, m int) string { return vec3(0x6e20d400, "FADDP", d, n, m) }

// FADDPScalar is FADDP Sd, Vn.2S: d = n[0] + n[1].
func FADDPScalar(d, n int) string {
	return word(0x7e30d800|n<<5|d, "FADDP S%d, V%d.2S", d, n)
}

// FMAXV is FMAXV Sd, Vn.4S: d = the largest of n's lanes.
func FMAXV(d, n int) string {
	return word(0x6e30f800|n<<5|d, "FMAXV S%d, V%d.4S", d, n)
}

// FCMGT is FCMGT Vd.4S, Vn.4S, Vm.4S: d = n > m, each lane all ones or zero.
func FCMGT(d, n, m int) string { return vec3(0x6ea0e400, "FCMGT", d, n, m) }

// FCMEQ is FCMEQ Vd.4S, Vn.4S, Vm.4S: d = all ones where n == m (never
// for a NaN), else 0.
func FCMEQ(d, n, m int) string { return vec3(0x4e20e400, "FCMEQ", d, n, m) }

// FCMGE0 is FCMGE Vd.4S, Vn.4S, #0.0: d = n >= 0, each lane all ones or
// zero (zero for NaN).
func FCMGE0(d, n int) string { return vec2(0x6ea0c800, "FCMGE", ", #0.0", d, n) }

// FCMLT0 is FCMLT Vd.4S, Vn.4S, #0.0: d = n < 0, each lane all ones or zero
// (zero for NaN and -0).
func FCMLT0(d, n int) string { return vec2(0x4ea0e800, "FCMLT", ", #0.0", d, n) }

// FSQRT is FSQRT Vd.4S, Vn.4S: d = √n, correctly rounded.
func FSQRT(d, n int) string { return vec2(0x6ea1f800, "FSQRT", "", d, n) }

// FABS is FABS Vd.4S, Vn.4S: d = |n|.
func FABS(d, n int) string { return vec2(0x4ea0f800, "FABS", "", d, n) }

// FRINTN is FRINTN Vd.4S, Vn.4S: d = n rounded to the nearest integer, ties
// to even.
func FRINTN(d, n int) string { return vec2(0x4e218800, "FRINTN", "", d, n) }

// FCVTNS is FCVTNS Vd.4S, Vn.4S: d = n converted to int32, rounded to the
// nearest, ties to even.
func FCVTNS(d, n int) string { return vec2(0x4e21a800, "FCVTNS", "", d, n) }

// BIC is BIC Vd.16B, Vn.16B, Vm.16B: d = n &^ m.
func BIC(d, n, m int) string {
	return word(0x4e601c00|m<<16|n<<5|d, "BIC V%d.16B, V%d.16B, V%d.16B", d, n, m)
}

// EXT is EXT Vd.16B, Vn.16B, Vm.16B, #index: d = bytes index to index+15 of
// m:n, n the low half (so EXT d, n, n, #8 swaps n's halves).
func EXT(d, n, m, index int) string {
	w := 0x6e000000 | m<<16 | index<<11 | n<<5 | d
	return word(w, "EXT V%d.16B, V%d.16B, V%d.16B, #%d", d, n, m, index)
}

// SSHR is SSHR Vd.4S, Vn.4S, #shift: d = n >> shift, arithmetic, for shift
// 1-32.
func SSHR(d, n, shift int) string {
	return word(0x4f000400|(64-shift)<<16|n<<5|d, "SSHR V%d.4S, V%d.4S, #%d", d, n, shift)
}

// QList is the Go assembler's list of n registers from V<first>, as 4S:
// [V<first>.S4, V<first+1>.S4, ...], for VLD1 and VST1.
func QList(first, n int) string {
	r := make([]string, n)
	for i := range r {
		r[i] = fmt.Sprintf("V%d.S4", first+i)
	}
	return "[" + strings.Join(r, ", ") + "]"
}
