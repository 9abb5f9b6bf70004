package main

import (
	"bytes"
	"fmt"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
)

// The NEON kernels follow the AVX2 ones with 4 lanes per Q register.
// Registers: R0-R3 walk p, g, m and v (SGD: p, g, b), R4 counts the floats
// left. V16-V24 hold the scalars broadcast, in the signature's order, V0-V4
// the operands and a temporary. The
// products into gi, mi, vi and the denominator are fused (FMLA); p's
// update is a multiply, a multiply and a subtraction, as FMLS would need an
// encoder of its own.

const neonFused = "Products are fused (FMLA) into gi, mi, vi and the denominator;\np = p*decay - (step*(mi/denominator)), unfused."

func writeNEON(f *neon.File) error {
	adamNEON(&f.Asm)
	f.Declare("adamNEON", adamSig, adamDoc("adamNEON", neonFused))
	sgdNEON(&f.Asm)
	f.Declare("sgdNEON", sgdSig, sgdDoc("sgdNEON", "Products are fused (FMLA) into gi, bi and the sum;\nthe sum is scaled by lr and subtracted, unfused."))
	for _, momentum := range []bool{false, true} {
		rmsNEON(&f.Asm, momentum)
		name := rmsName("NEON", momentum)
		f.Declare(name, rmsSig(momentum), rmsDoc(name, momentum, "Products are fused (FMLA) into gi and vi; b and p are updated unfused."))
	}
	return nil
}

func adamNEON(w *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	label := func(l string) { fmt.Fprintf(w, "\n%s:\n", l) }
	// Frame: four slices (24 bytes each), n, then nine float32s.
	const scalars = 4*24 + 8
	fmt.Fprintf(w, "\n// func adamNEON%s\n", adamSig[len("func"):])
	fmt.Fprintf(w, "TEXT ·adamNEON(SB), NOSPLIT, $0-%d\n", scalars+9*4)
	p("MOVD p_base+0(FP), R0")
	p("MOVD g_base+24(FP), R1")
	p("MOVD m_base+48(FP), R2")
	p("MOVD v_base+72(FP), R3")
	p("MOVD n+96(FP), R4")
	for j, name := range []string{"b1", "c1", "b2", "c2", "wd", "decay", "step", "k", "eps"} {
		p("FMOVS %s+%d(FP), F%d", name, scalars+4*j, 16+j)
		p("VDUP V%d.S[0], V%d.S4", 16+j, 16+j)
	}
	const b1, c1, b2, c2, wd, decay, step, k, eps = 16, 17, 18, 19, 20, 21, 22, 23, 24
	label("vec")
	p("CMP $4, R4")
	p("BLT tail")
	p("VLD1 (R0), [V0.S4]")
	p("VLD1.P 16(R1), [V1.S4]")
	p("VLD1 (R2), [V2.S4]")
	p("VLD1 (R3), [V3.S4]")
	p("%s", neon.FMLA(1, wd, 0)) // g += wd*p
	p("%s", neon.FMUL(2, 2, b1)) // m *= b1
	p("%s", neon.FMLA(2, c1, 1)) // m += c1*g
	p("%s", neon.FMUL(4, 1, 1))  // t = g*g
	p("%s", neon.FMUL(3, 3, b2)) // v *= b2
	p("%s", neon.FMLA(3, c2, 4)) // v += c2*t
	p("VST1.P [V2.S4], 16(R2)")
	p("VST1.P [V3.S4], 16(R3)")
	p("%s", neon.FSQRT(4, 3))                    // t = sqrt(v)
	p("VORR V%d.B16, V%d.B16, V1.B16", eps, eps) // g = eps (g is spent)
	p("%s", neon.FMLA(1, 4, k))                  // g = eps + t*k
	p("%s", neon.FDIV(4, 2, 1))                  // t = m / g
	p("%s", neon.FMUL(4, 4, step))               // t *= step
	p("%s", neon.FMUL(0, 0, decay))              // p *= decay
	p("%s", neon.FSUB(0, 0, 4))                  // p -= t
	p("VST1.P [V0.S4], 16(R0)")
	p("SUB $4, R4")
	p("B vec")
	label("tail")
	p("CBZ R4, done")
	p("FMOVS (R0), F0")
	p("FMOVS.P 4(R1), F1")
	p("FMOVS (R2), F2")
	p("FMOVS (R3), F3")
	p("FMADDS F%d, F1, F0, F1", wd) // g = p*wd + g
	p("FMULS F%d, F2, F2", b1)      // m *= b1
	p("FMADDS F%d, F2, F1, F2", c1) // m = g*c1 + m
	p("FMULS F1, F1, F4")           // t = g*g
	p("FMULS F%d, F3, F3", b2)      // v *= b2
	p("FMADDS F%d, F3, F4, F3", c2) // v = t*c2 + v
	p("FMOVS.P F2, 4(R2)")
	p("FMOVS.P F3, 4(R3)")
	p("FSQRTS F3, F4")                   // t = sqrt(v)
	p("FMADDS F%d, F%d, F4, F1", k, eps) // g = t*k + eps
	p("FDIVS F1, F2, F4")                // t = m / g
	p("FMULS F%d, F4, F4", step)         // t *= step
	p("FMULS F%d, F0, F0", decay)        // p *= decay
	p("FSUBS F4, F0, F0")                // p -= t
	p("FMOVS.P F0, 4(R0)")
	p("SUB $1, R4")
	p("B tail")
	label("done")
	p("RET")
}

func sgdNEON(w *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	label := func(l string) { fmt.Fprintf(w, "\n%s:\n", l) }
	// Frame: three slices (24 bytes each), n, then six float32s.
	const scalars = 3*24 + 8
	fmt.Fprintf(w, "\n// func sgdNEON%s\n", sgdSig[len("func"):])
	fmt.Fprintf(w, "TEXT ·sgdNEON(SB), NOSPLIT, $0-%d\n", scalars+6*4)
	p("MOVD p_base+0(FP), R0")
	p("MOVD g_base+24(FP), R1")
	p("MOVD b_base+48(FP), R2")
	p("MOVD n+72(FP), R4")
	for j, name := range []string{"lr", "mu", "keep", "wd", "a", "c"} {
		p("FMOVS %s+%d(FP), F%d", name, scalars+4*j, 16+j)
		p("VDUP V%d.S[0], V%d.S4", 16+j, 16+j)
	}
	const lr, mu, keep, wd, a, c = 16, 17, 18, 19, 20, 21
	label("vec")
	p("CMP $4, R4")
	p("BLT tail")
	p("VLD1 (R0), [V0.S4]")
	p("VLD1.P 16(R1), [V1.S4]")
	p("VLD1 (R2), [V2.S4]")
	p("%s", neon.FMLA(1, wd, 0))   // g += wd*p
	p("%s", neon.FMUL(2, 2, mu))   // b *= mu
	p("%s", neon.FMLA(2, keep, 1)) // b += keep*g
	p("VST1.P [V2.S4], 16(R2)")
	p("%s", neon.FMUL(3, 1, a))  // u = g*a
	p("%s", neon.FMLA(3, c, 2))  // u += c*b
	p("%s", neon.FMUL(3, 3, lr)) // u *= lr
	p("%s", neon.FSUB(0, 0, 3))  // p -= u
	p("VST1.P [V0.S4], 16(R0)")
	p("SUB $4, R4")
	p("B vec")
	label("tail")
	p("CBZ R4, done")
	p("FMOVS (R0), F0")
	p("FMOVS.P 4(R1), F1")
	p("FMOVS (R2), F2")
	p("FMADDS F%d, F1, F0, F1", wd)   // g = p*wd + g
	p("FMULS F%d, F2, F2", mu)        // b *= mu
	p("FMADDS F%d, F2, F1, F2", keep) // b = g*keep + b
	p("FMOVS.P F2, 4(R2)")
	p("FMULS F%d, F1, F3", a)      // u = g*a
	p("FMADDS F%d, F3, F2, F3", c) // u = b*c + u
	p("FMULS F%d, F3, F3", lr)     // u *= lr
	p("FSUBS F3, F0, F0")          // p -= u
	p("FMOVS.P F0, 4(R0)")
	p("SUB $1, R4")
	p("B tail")
	label("done")
	p("RET")
}

func rmsNEON(w *bytes.Buffer, momentum bool) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	name := rmsName("NEON", momentum)
	label := func(l string) { fmt.Fprintf(w, "\n%s:\n", l) }
	// Frame: three or four slices (24 bytes each), n, then the float32s.
	slices, names := 3, []string{"lr", "rho", "c", "wd", "eps"}
	if momentum {
		slices, names = 4, append(names, "mu")
	}
	scalars := slices*24 + 8
	fmt.Fprintf(w, "\n// func %s%s\n", name, rmsSig(momentum)[len("func"):])
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", name, scalars+4*len(names))
	p("MOVD p_base+0(FP), R0")
	p("MOVD g_base+24(FP), R1")
	p("MOVD v_base+48(FP), R2")
	if momentum {
		p("MOVD b_base+72(FP), R3")
	}
	p("MOVD n+%d(FP), R4", slices*24)
	for j, n := range names {
		p("FMOVS %s+%d(FP), F%d", n, scalars+4*j, 16+j)
		p("VDUP V%d.S[0], V%d.S4", 16+j, 16+j)
	}
	const lr, rho, c, wd, eps, mu = 16, 17, 18, 19, 20, 21
	label("vec")
	p("CMP $4, R4")
	p("BLT tail")
	p("VLD1 (R0), [V0.S4]")
	p("VLD1.P 16(R1), [V1.S4]")
	p("VLD1 (R2), [V2.S4]")
	p("%s", neon.FMLA(1, wd, 0))  // g += wd*p
	p("%s", neon.FMUL(4, 1, 1))   // t = g*g
	p("%s", neon.FMUL(2, 2, rho)) // v *= rho
	p("%s", neon.FMLA(2, c, 4))   // v += c*t
	p("VST1.P [V2.S4], 16(R2)")
	p("%s", neon.FSQRT(4, 2))     // t = sqrt(v)
	p("%s", neon.FADD(4, 4, eps)) // t += eps
	p("%s", neon.FDIV(4, 1, 4))   // t = g / t
	if momentum {
		p("VLD1 (R3), [V3.S4]")
		p("%s", neon.FMUL(3, 3, mu)) // b *= mu
		p("%s", neon.FADD(3, 3, 4))  // b += t
		p("VST1.P [V3.S4], 16(R3)")
		p("%s", neon.FMUL(4, 3, lr)) // t = b*lr
	} else {
		p("%s", neon.FMUL(4, 4, lr)) // t *= lr
	}
	p("%s", neon.FSUB(0, 0, 4)) // p -= t
	p("VST1.P [V0.S4], 16(R0)")
	p("SUB $4, R4")
	p("B vec")
	label("tail")
	p("CBZ R4, done")
	p("FMOVS (R0), F0")
	p("FMOVS.P 4(R1), F1")
	p("FMOVS (R2), F2")
	p("FMADDS F%d, F1, F0, F1", wd) // g = p*wd + g
	p("FMULS F1, F1, F4")           // t = g*g
	p("FMULS F%d, F2, F2", rho)     // v *= rho
	p("FMADDS F%d, F2, F4, F2", c)  // v = t*c + v
	p("FMOVS.P F2, 4(R2)")
	p("FSQRTS F2, F4")          // t = sqrt(v)
	p("FADDS F%d, F4, F4", eps) // t += eps
	p("FDIVS F4, F1, F4")       // t = g / t
	if momentum {
		p("FMOVS (R3), F3")
		p("FMULS F%d, F3, F3", mu) // b *= mu
		p("FADDS F4, F3, F3")      // b += t
		p("FMOVS.P F3, 4(R3)")
		p("FMULS F%d, F3, F4", lr) // t = b*lr
	} else {
		p("FMULS F%d, F4, F4", lr) // t *= lr
	}
	p("FSUBS F4, F0, F0") // p -= t
	p("FMOVS.P F0, 4(R0)")
	p("SUB $1, R4")
	p("B tail")
	label("done")
	p("RET")
}
