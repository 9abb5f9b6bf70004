package neon

import "testing"

// The words are llvm-mc's encodings of the instructions in the comments
// (llvm-mc -triple=aarch64 -show-encoding); distinct registers put each
// operand's field to the test.
func TestEncoders(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{FADD(1, 2, 3), "WORD $0x4e23d441 // FADD V1.4S, V2.4S, V3.4S"},
		{FSUB(1, 2, 3), "WORD $0x4ea3d441 // FSUB V1.4S, V2.4S, V3.4S"},
		{FMUL(1, 2, 3), "WORD $0x6e23dc41 // FMUL V1.4S, V2.4S, V3.4S"},
		{FDIV(1, 2, 3), "WORD $0x6e23fc41 // FDIV V1.4S, V2.4S, V3.4S"},
		{FMAX(1, 2, 3), "WORD $0x4e23f441 // FMAX V1.4S, V2.4S, V3.4S"},
		{FMIN(1, 2, 3), "WORD $0x4ea3f441 // FMIN V1.4S, V2.4S, V3.4S"},
		{FMLA(1, 2, 3), "WORD $0x4e23cc41 // FMLA V1.4S, V2.4S, V3.4S"},
		{FMLAElem(1, 2, 3, 2), "WORD $0x4f831841 // FMLA V1.4S, V2.4S, V3.S[2]"},
		{FMLAElem(31, 30, 29, 1), "WORD $0x4fbd13df // FMLA V31.4S, V30.4S, V29.S[1]"},
		{FADDP(1, 2, 3), "WORD $0x6e23d441 // FADDP V1.4S, V2.4S, V3.4S"},
		{FADDPScalar(1, 2), "WORD $0x7e30d841 // FADDP S1, V2.2S"},
		{FMAXV(1, 2), "WORD $0x6e30f841 // FMAXV S1, V2.4S"},
		{FCMGT(1, 2, 3), "WORD $0x6ea3e441 // FCMGT V1.4S, V2.4S, V3.4S"},
		{FCMGE0(1, 2), "WORD $0x6ea0c841 // FCMGE V1.4S, V2.4S, #0.0"},
		{FCMLT0(1, 2), "WORD $0x4ea0e841 // FCMLT V1.4S, V2.4S, #0.0"},
		{FABS(1, 2), "WORD $0x4ea0f841 // FABS V1.4S, V2.4S"},
		{FSQRT(1, 2), "WORD $0x6ea1f841 // FSQRT V1.4S, V2.4S"},
		{FRINTN(1, 2), "WORD $0x4e218841 // FRINTN V1.4S, V2.4S"},
		{FCVTNS(1, 2), "WORD $0x4e21a841 // FCVTNS V1.4S, V2.4S"},
		{BIC(1, 2, 3), "WORD $0x4e631c41 // BIC V1.16B, V2.16B, V3.16B"},
		{EXT(1, 2, 3, 8), "WORD $0x6e034041 // EXT V1.16B, V2.16B, V3.16B, #8"},
		{EXT(1, 2, 3, 4), "WORD $0x6e032041 // EXT V1.16B, V2.16B, V3.16B, #4"},
		{SSHR(1, 2, 31), "WORD $0x4f210441 // SSHR V1.4S, V2.4S, #31"},
		{SSHR(1, 2, 1), "WORD $0x4f3f0441 // SSHR V1.4S, V2.4S, #1"},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
}

func TestQList(t *testing.T) {
	if got, want := QList(26, 3), "[V26.S4, V27.S4, V28.S4]"; got != want {
		t.Errorf("QList(26, 3) = %s, want %s", got, want)
	}
}
