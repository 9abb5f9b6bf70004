// Command norm generates the normalisation kernels of package
// runtime/kernels/norm: the AVX2+FMA ones with avo (norm_amd64.s and their Go
// declarations), and the NEON ones with the small emitter in neon.go
// (norm_arm64.s and its declarations), because avo writes only amd64; with
// -avx512, the AVX-512 ones (avx512.go), in files of their own.
//
// Run it from runtime/kernels/_asm, as the go:generate line in package norm
// does:
//
//	go run ./norm -out ../norm/norm_amd64.s -stubs ../norm/norm_amd64.go -pkg norm -neon ../norm/norm_arm64
//	go run ./norm -avx512 -out ../norm/norm_avx512_amd64.s -stubs ../norm/norm_avx512_amd64.go -pkg norm
//
// The output depends only on these arguments.
//
// Each kernel normalises every row of a tensor in one call: a Transformer's
// rows are a few hundred floats, so a call per row or per pass would cost a
// good part of the row. A row is read in passes (statistics, then the output);
// at these sizes it stays in L1 between them.
package main

import (
	"flag"
	"math"
	"strconv"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/avx2"
	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// avx512 selects the AVX-512 kernels: the AVX2 files are checked for AVX2's
// 16 registers.
var avx512 = flag.Bool("avx512", false, "generate the AVX-512 kernels instead")

func main() {
	flag.Parse()
	if *avx512 {
		generateAVX512()
		return
	}
	ConstraintExpr("amd64,!purego")
	tail := GLOBL("tailmask", RODATA|NOPTR)
	for i := range 8 {
		DATA(4*i, U32(0xffffffff))
	}
	for i := 8; i < 16; i++ {
		DATA(4*i, U32(0))
	}
	// F64(1) would be written $(1), the integer: 1.0 by its bits.
	one := ConstData("one", U64(math.Float64bits(1)))
	layerAVX2(tail, one)
	rmsAVX2(tail, one)
	avx2.Generate()
	neon.Generate("norm", writeNEON)
}

// The kernels' contracts, as the reference loops in Go, for their doc
// comments.

const layerSig = "func(x, gamma, beta, out []float32, rows, c int, eps float32)"

func layerDoc(name string, lanes int) []string {
	return []string{
		name + " normalises rows rows of c floats as layer normalisation does,",
		"its statistics in float32 lanes (the package doc bounds the error):",
		"",
		"\tfor r := range rows {",
		"\t\trow, o := x[r*c:(r+1)*c], out[r*c:(r+1)*c]",
		"\t\tvar s, sd, sq float32 // each summed in " + strconv.Itoa(lanes) + " partial sums",
		"\t\tfor _, v := range row {",
		"\t\t\ts += v - row[0]",
		"\t\t}",
		"\t\tm := float32(float64(row[0]) + float64(s)/float64(c))",
		"\t\tfor _, v := range row {",
		"\t\t\tsd += v - m",
		"\t\t\tsq += (v - m) * (v - m) // fused",
		"\t\t}",
		"\t\tcorr := float64(sd) / float64(c)",
		"\t\tvariance := max(float64(sq)/float64(c)-corr*corr, 0)",
		"\t\tinv := float32(1 / math.Sqrt(variance+float64(eps)))",
		"\t\tlo := float32(corr)",
		"\t\tfor j, v := range row {",
		"\t\t\to[j] = ((v-m)-lo)*inv*gamma[j] + beta[j] // the last two fused",
		"\t\t}",
		"\t}",
		"",
		"c must be at least 1; out may be x. The caller checks the lengths.",
	}
}

const rmsSig = "func(x, gamma, out []float32, rows, c int, eps float32)"

func rmsDoc(name string, lanes int) []string {
	return []string{
		name + " normalises rows rows of c floats as RMS normalisation does, its",
		"sum of squares in float32 lanes (the package doc bounds the error):",
		"",
		"\tfor r := range rows {",
		"\t\trow, o := x[r*c:(r+1)*c], out[r*c:(r+1)*c]",
		"\t\tvar sq float32 // summed in " + strconv.Itoa(lanes) + " partial sums",
		"\t\tfor _, v := range row {",
		"\t\t\tsq += v * v // fused",
		"\t\t}",
		"\t\tinv := float32(1 / math.Sqrt(float64(sq)/float64(c)+float64(eps)))",
		"\t\tfor j, v := range row {",
		"\t\t\to[j] = v * inv * gamma[j]",
		"\t\t}",
		"\t}",
		"",
		"c must be at least 1; out may be x. The caller checks the lengths.",
	}
}

// group is how many vectors a step of a pass carries: four independent
// accumulators hide the latency of the adds.
const group = 4

// avx2Pass emits a pass over the c floats of a row: body handles group
// vectors while at least 8·group floats are left, then 1 vector at a time,
// then the last 1-7 floats under mask (masked says so). n counts the floats
// left; ptrs advance by what body consumed.
func avx2Pass(label string, n GPVirtual, ptrs []GPVirtual, body func(vecs int, masked bool)) {
	step := func(l string, vecs int, next string) {
		Label(label + "_" + l)
		CMPQ(n, U8(8*vecs))
		JL(LabelRef(label + "_" + next))
		body(vecs, false)
		for _, p := range ptrs {
			ADDQ(U8(32*vecs), p)
		}
		SUBQ(U8(8*vecs), n)
		JMP(LabelRef(label + "_" + l))
	}
	step("group", group, "one")
	step("one", 1, "tail")
	Label(label + "_tail")
	TESTQ(n, n)
	JE(LabelRef(label + "_done"))
	body(1, true)
	for _, p := range ptrs {
		// Past the row: the pointers end where the next row starts.
		LEAQ(Mem{Base: p, Index: n, Scale: 4}, p)
	}
	Label(label + "_done")
}

// tailMask loads the mask whose first n lanes are set: 8 words from
// tailmask+32-4n.
func tailMask(tail Mem, n GPVirtual) VecVirtual {
	neg, base := GP64(), GP64()
	MOVQ(n, neg)
	NEGQ(neg)
	LEAQ(tail.Offset(32), base)
	m := YMM()
	VMOVDQU(Mem{Base: base, Index: neg, Scale: 4}, m)
	return m
}

// hsum adds the lanes of the accumulators into lane 0 of the first one's
// low half, which it returns.
func hsum(acc []VecVirtual) Register {
	a := acc[0]
	for _, b := range acc[1:] {
		VADDPS(b, a, a)
	}
	hi := XMM()
	VEXTRACTF128(U8(1), a, hi)
	lo := a.AsX()
	VADDPS(hi, lo, lo)
	t := XMM()
	VMOVHLPS(lo, lo, t)
	VADDPS(t, lo, lo)
	VMOVSHDUP(lo, t)
	VADDSS(t, lo, lo)
	return lo
}

// loader loads vectors, under mask if masked (VMASKMOVPS zeroes the other
// lanes).
func loader(mask VecVirtual, masked bool) func(m Mem, y VecVirtual) {
	return func(m Mem, y VecVirtual) {
		if masked {
			VMASKMOVPS(m, mask, y)
		} else {
			VMOVUPS(m, y)
		}
	}
}

// zeros is n zeroed vectors.
func zeros(n int) []VecVirtual {
	v := make([]VecVirtual, n)
	for i := range v {
		v[i] = YMM()
		VXORPS(v[i], v[i], v[i])
	}
	return v
}

// invSqrt is float32(1/sqrt(v+eps)) from the float64 v in a register and
// the float32 eps in memory, broadcast.
func invSqrt(v Register, eps, one Mem) VecVirtual {
	e := XMM()
	VCVTSS2SD(eps, e, e)
	VADDSD(e, v, v)
	VSQRTSD(v, v, v)
	r := XMM()
	VMOVSD(one, r)
	VDIVSD(v, r, r)
	VCVTSD2SS(r, r, r)
	b := YMM()
	VBROADCASTSS(r, b)
	return b
}

// toF64 is the float32 in lane 0 of x as a float64, in place.
func toF64(x Register) Register {
	VCVTSS2SD(x, x, x)
	return x
}

// layerAVX2: the three passes of layerDoc over each row, a vector of 8
// floats at a time. The masked lanes of the tail are zero after the load;
// the passes that subtract from them clear them again (VANDPS) before they
// reach a sum.
func layerAVX2(tail, one Mem) {
	name := "layerNormAVX2"
	TEXT(name, NOSPLIT, layerSig)
	Pragma("noescape")
	Doc(layerDoc(name, 8*group)...)
	x := Load(Param("x").Base(), GP64())
	gamma := Load(Param("gamma").Base(), GP64())
	beta := Load(Param("beta").Base(), GP64())
	out := Load(Param("out").Base(), GP64())
	rows := Load(Param("rows"), GP64())
	c := Load(Param("c"), GP64()).(GPVirtual)
	eps := resolve("eps")
	t := GP64()
	MOVQ(c, t)
	ANDQ(U8(7), t)
	mask := tailMask(tail, t)
	n, p, g, b, o := GP64(), GP64(), GP64(), GP64(), GP64()

	Label("row")
	// Pass 1: s = Σ (v - row[0]).
	x0 := YMM()
	VBROADCASTSS(Mem{Base: x}, x0)
	s := zeros(group)
	MOVQ(x, p)
	MOVQ(c, n)
	avx2Pass("mean", n, []GPVirtual{p}, func(vecs int, masked bool) {
		load := loader(mask, masked)
		for j := range vecs {
			v := YMM()
			load(Mem{Base: p, Disp: 32 * j}, v)
			VSUBPS(x0, v, v)
			if masked {
				VANDPS(mask, v, v)
			}
			VADDPS(v, s[j], s[j])
		}
	})
	cf := XMM()
	VCVTSI2SDQ(c, cf, cf)
	mean := toF64(hsum(s))
	VDIVSD(cf, mean, mean)
	VADDSD(toF64(x0.AsX()), mean, mean)
	VCVTSD2SS(mean, mean, mean)
	m := YMM()
	VBROADCASTSS(mean, m)

	// Pass 2: sd = Σ (v - m), sq = Σ (v - m)².
	sd, sq := zeros(group), zeros(group)
	MOVQ(x, p)
	MOVQ(c, n)
	avx2Pass("var", n, []GPVirtual{p}, func(vecs int, masked bool) {
		load := loader(mask, masked)
		for j := range vecs {
			d := YMM()
			load(Mem{Base: p, Disp: 32 * j}, d)
			VSUBPS(m, d, d)
			if masked {
				VANDPS(mask, d, d)
			}
			VADDPS(d, sd[j], sd[j])
			VFMADD231PS(d, d, sq[j])
		}
	})
	corr := toF64(hsum(sd))
	VDIVSD(cf, corr, corr)
	v := toF64(hsum(sq))
	VDIVSD(cf, v, v)
	c2 := XMM()
	VMULSD(corr, corr, c2)
	VSUBSD(c2, v, v)
	// max(v, 0) with v second, so that a NaN (from a NaN or Inf in the
	// row) is kept.
	z := XMM()
	VXORPD(z, z, z)
	VMAXSD(v, z, v)
	inv := invSqrt(v, eps, one)
	VCVTSD2SS(corr, corr, corr)
	lo := YMM()
	VBROADCASTSS(corr, lo)

	// Pass 3: o = ((v-m)-lo)·inv·gamma + beta.
	MOVQ(x, p)
	MOVQ(gamma, g)
	MOVQ(beta, b)
	MOVQ(out, o)
	MOVQ(c, n)
	avx2Pass("out", n, []GPVirtual{p, g, b, o}, func(vecs int, masked bool) {
		load := loader(mask, masked)
		for j := range vecs {
			d, gj, bj := YMM(), YMM(), YMM()
			load(Mem{Base: p, Disp: 32 * j}, d)
			VSUBPS(m, d, d)
			VSUBPS(lo, d, d)
			VMULPS(inv, d, d)
			load(Mem{Base: g, Disp: 32 * j}, gj)
			load(Mem{Base: b, Disp: 32 * j}, bj)
			VFMADD213PS(bj, gj, d)
			if masked {
				VMASKMOVPS(d, mask, Mem{Base: o})
			} else {
				VMOVUPS(d, Mem{Base: o, Disp: 32 * j})
			}
		}
	})
	MOVQ(p, x)
	MOVQ(o, out)
	DECQ(rows)
	JNZ(LabelRef("row"))
	VZEROUPPER()
	RET()
}

// rmsAVX2: the two passes of rmsDoc over each row.
func rmsAVX2(tail, one Mem) {
	name := "rmsNormAVX2"
	TEXT(name, NOSPLIT, rmsSig)
	Pragma("noescape")
	Doc(rmsDoc(name, 8*group)...)
	x := Load(Param("x").Base(), GP64())
	gamma := Load(Param("gamma").Base(), GP64())
	out := Load(Param("out").Base(), GP64())
	rows := Load(Param("rows"), GP64())
	c := Load(Param("c"), GP64()).(GPVirtual)
	eps := resolve("eps")
	t := GP64()
	MOVQ(c, t)
	ANDQ(U8(7), t)
	mask := tailMask(tail, t)
	n, p, g, o := GP64(), GP64(), GP64(), GP64()

	Label("row")
	sq := zeros(group)
	MOVQ(x, p)
	MOVQ(c, n)
	avx2Pass("sq", n, []GPVirtual{p}, func(vecs int, masked bool) {
		load := loader(mask, masked)
		for j := range vecs {
			v := YMM()
			load(Mem{Base: p, Disp: 32 * j}, v)
			VFMADD231PS(v, v, sq[j])
		}
	})
	cf := XMM()
	VCVTSI2SDQ(c, cf, cf)
	ms := toF64(hsum(sq))
	VDIVSD(cf, ms, ms)
	inv := invSqrt(ms, eps, one)

	MOVQ(x, p)
	MOVQ(gamma, g)
	MOVQ(out, o)
	MOVQ(c, n)
	avx2Pass("out", n, []GPVirtual{p, g, o}, func(vecs int, masked bool) {
		load := loader(mask, masked)
		for j := range vecs {
			v, gj := YMM(), YMM()
			load(Mem{Base: p, Disp: 32 * j}, v)
			VMULPS(inv, v, v)
			load(Mem{Base: g, Disp: 32 * j}, gj)
			VMULPS(gj, v, v)
			if masked {
				VMASKMOVPS(v, mask, Mem{Base: o})
			} else {
				VMOVUPS(v, Mem{Base: o, Disp: 32 * j})
			}
		}
	})
	MOVQ(p, x)
	MOVQ(o, out)
	DECQ(rows)
	JNZ(LabelRef("row"))
	VZEROUPPER()
	RET()
}

// resolve is the address of an argument.
func resolve(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}
