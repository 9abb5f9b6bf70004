package main

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
)

// The NEON kernels: 4 lanes per Q register, unroll vectors per loop
// iteration, then one vector at a time, then the last 1-3 elements one at a
// time in lane 0 of a vector (FMOVS loads one float and clears the other
// lanes), reducing lane 0 alone into a scalar accumulator.
//
// Registers: constants and scalar parameters are broadcast into V registers
// once, before the loops, counting down from V31; accumulators take the next
// ones down; the loop bodies allocate from the rest, V0 up, freeing a register
// after its value's last use. General registers: R0-R7 the slices' pointers,
// R8 the count left, R9 a scratch.

// neonUnroll is the most vectors per iteration; fewer if the registers do not
// hold that many bodies beside the constants.
func neonUnroll(k *kernel) int {
	if k.single {
		return 1
	}
	if k.heavy {
		return 2
	}
	return 4
}

// maxConsts is more constants than any kernel has: all held in registers.
const maxConsts = 32

// writeNEON writes the kernels ks and their declarations into f.
func writeNEON(f *neon.File, ks []*kernel) error {
	for _, k := range ks {
		name := k.name + "NEON"
		var err error
		done := false
		// Fewer vectors per iteration first, then fewer constants held in
		// registers: the rest are made where they are used.
		for fixed := maxConsts; fixed >= 0 && !done; fixed -= 4 {
			for u := neonUnroll(k); u >= 1; u-- {
				var fn bytes.Buffer
				if err = neonKernel(&fn, k, name, u, fixed); err == nil {
					f.Asm.Write(fn.Bytes())
					done = true
					break
				}
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		f.Declare(name, k.signature(), docLines(k, name))
	}
	return nil
}

// frame lays out k's arguments as Go's ABI0 does: each at its alignment,
// results from the next multiple of 8.
func frame(k *kernel) (off map[string]int, ret, size int) {
	off = map[string]int{}
	n := 0
	for _, p := range k.params {
		if p.slice {
			n = (n + 7) &^ 7
			off[p.name] = n
			n += 24
		} else {
			n = (n + 3) &^ 3
			off[p.name] = n
			n += 4
		}
	}
	if k.reduce != noReduce {
		n = (n + 7) &^ 7
		ret = n
		n += 4
	}
	return off, ret, n
}

type neonFn struct {
	w          *bytes.Buffer
	k          *kernel
	ptr        map[string]int // slice -> R register
	fixed      map[uint32]int // constant bits -> V register
	scalar     map[string]int // scalar parameter -> V register
	acc        []int          // vector accumulators
	sacc       int            // the scalar accumulator of the tail
	free       []int          // V registers the loop bodies may use
	scalarMode bool           // lowering the tail: one element in lane 0
}

func (f *neonFn) p(format string, args ...any) { fmt.Fprintf(f.w, "\t"+format+"\n", args...) }

// The first fixed constants (in order of first use) are broadcast into
// registers before the loops; any others are made (MOVW, VDUP) in a
// temporary register before each use.
func neonKernel(w *bytes.Buffer, k *kernel, name string, u, fixed int) error {
	main, one := body(k, u, false), body(k, 1, false)
	f := &neonFn{w: w, k: k, ptr: map[string]int{}, fixed: map[uint32]int{}, scalar: map[string]int{}}
	off, ret, size := frame(k)
	fmt.Fprintf(w, "\n// func %s%s\n", name, k.signature()[len("func"):])
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", name, size)
	next := 31
	take := func() int { next--; return next + 1 }
	first := true
	used := main.scalars()
	for _, p := range k.params {
		if !p.slice {
			if !used[p.name] {
				continue
			}
			r := take()
			f.scalar[p.name] = r
			f.p("FMOVS %s+%d(FP), F%d", p.name, off[p.name], r)
			f.p("VDUP V%d.S[0], V%d.S4", r, r)
			continue
		}
		r := len(f.ptr)
		f.ptr[p.name] = r
		f.p("MOVD %s_base+%d(FP), R%d", p.name, off[p.name], r)
		if first {
			f.p("MOVD %s_len+%d(FP), R8", p.name, off[p.name]+8)
			first = false
			continue
		}
		// R8 is the shortest slice's length, so that no slice is read past
		// its end whatever the caller passes.
		f.p("MOVD %s_len+%d(FP), R9", p.name, off[p.name]+8)
		f.p("CMP R9, R8")
		f.p("CSEL LT, R8, R9, R8")
	}
	cs := consts(main, one)
	for _, c := range cs[:min(fixed, len(cs))] {
		r := take()
		f.fixed[c.bits] = r
		f.p("MOVW $0x%08x, R9 // %s", c.bits, c.name)
		f.p("VDUP R9, V%d.S4", r)
	}
	if k.reduce == maxReduce {
		f.p("MOVW $0xff800000, R9 // -Inf")
	}
	if k.reduce != noReduce {
		for range u + 1 {
			r := take()
			f.acc = append(f.acc, r)
			if k.reduce == sumReduce {
				f.p("VEOR V%d.B16, V%d.B16, V%d.B16", r, r, r)
			} else {
				f.p("VDUP R9, V%d.S4", r)
			}
		}
		f.acc, f.sacc = f.acc[:u], f.acc[u]
	}
	if next < 0 {
		return fmt.Errorf("%d constants, scalars and accumulators leave no registers", 31-next)
	}
	for r := 0; r <= next; r++ {
		f.free = append(f.free, r)
	}

	step := func(p *prog, vecs int, label, exit string) error {
		fmt.Fprintf(w, "\n%s:\n", label)
		f.p("CMP $%d, R8", 4*vecs)
		f.p("BLT %s", exit)
		if err := f.lower(p); err != nil {
			return err
		}
		for _, prm := range k.params {
			if prm.slice {
				f.p("ADD $%d, R%d", 16*vecs, f.ptr[prm.name])
			}
		}
		f.p("SUB $%d, R8", 4*vecs)
		f.p("B %s", label)
		return nil
	}
	if u > 1 {
		if err := step(main, u, "loop", "one"); err != nil {
			return err
		}
	}
	if err := step(one, 1, "one", "tail"); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ntail:\n")
	f.p("CBZ R8, done")
	f.scalarMode = true
	if err := f.lower(one); err != nil {
		return err
	}
	for _, prm := range k.params {
		if prm.slice {
			f.p("ADD $4, R%d", f.ptr[prm.name])
		}
	}
	f.p("SUB $1, R8")
	f.p("B tail")
	fmt.Fprintf(w, "\ndone:\n")
	if k.reduce != noReduce {
		a := f.acc[0]
		op, opv := neon.FMAX, "FMAXS"
		if k.reduce == sumReduce {
			op, opv = neon.FADD, "FADDS"
		}
		for _, b := range f.acc[1:] {
			f.p("%s", op(a, a, b))
		}
		if k.reduce == sumReduce {
			f.p("%s", neon.FADDP(a, a, a))
			f.p("%s", neon.FADDPScalar(a, a))
		} else {
			f.p("%s", neon.FMAXV(a, a))
		}
		f.p("%s F%d, F%d, F%d", opv, f.sacc, a, a)
		f.p("FMOVS F%d, ret+%d(FP)", a, ret)
	}
	f.p("RET")
	return nil
}

func (f *neonFn) alloc() (int, error) {
	if len(f.free) == 0 {
		return 0, fmt.Errorf("out of registers")
	}
	r := f.free[0]
	f.free = f.free[1:]
	return r, nil
}

func (f *neonFn) release(r int) {
	i, _ := slices.BinarySearch(f.free, r)
	f.free = slices.Insert(f.free, i, r)
}

// lower emits p: whole vectors, or in scalar mode lane 0 of one.
func (f *neonFn) lower(p *prog) error {
	free := slices.Clone(f.free)
	defer func() { f.free = free }()
	reg := map[*val]int{}
	temp := func(v *val) bool {
		_, held := f.fixed[v.bits]
		return v.op != opScalar && (v.op != opConst || !held)
	}
	for i, v := range p.ops {
		a := v.args
		r := func(j int) int { return reg[a[j]] }
		// done frees the operands whose last use this op is, except keep.
		done := func(keep *val) {
			seen := map[*val]bool{}
			for _, x := range a {
				if x != keep && !seen[x] && x.last == i && temp(x) {
					f.release(reg[x])
				}
				seen[x] = true
			}
		}
		// into is the register of an op that overwrites its operand x:
		// x's own if this is its last use, else a copy.
		into := func(x *val) (int, *val, error) {
			if x.last == i && temp(x) && count(a, x) == 1 {
				return reg[x], x, nil
			}
			d, err := f.alloc()
			if err != nil {
				return 0, nil, err
			}
			f.p("VMOV V%d.B16, V%d.B16", reg[x], d)
			return d, nil, nil
		}
		switch v.op {
		case opConst:
			if r, held := f.fixed[v.bits]; held {
				reg[v] = r
				continue
			}
			d, err := f.alloc()
			if err != nil {
				return err
			}
			f.p("MOVW $0x%08x, R9 // %s", v.bits, v.name)
			f.p("VDUP R9, V%d.S4", d)
			reg[v] = d
			continue
		case opScalar:
			reg[v] = f.scalar[v.name]
			continue
		case opStore:
			if f.scalarMode {
				f.p("FMOVS F%d, (R%d)", r(0), f.ptr[v.name])
			} else {
				f.p("FMOVQ F%d, %d(R%d)", r(0), 16*v.idx, f.ptr[v.name])
			}
			done(nil)
			continue
		case opAccum:
			switch {
			case f.scalarMode && f.k.reduce == sumReduce:
				f.p("FADDS F%d, F%d, F%d", r(0), f.sacc, f.sacc)
			case f.scalarMode:
				f.p("FMAXS F%d, F%d, F%d", r(0), f.sacc, f.sacc)
			case f.k.reduce == sumReduce:
				f.p("%s", neon.FADD(f.acc[v.idx], f.acc[v.idx], r(0)))
			default:
				f.p("%s", neon.FMAX(f.acc[v.idx], f.acc[v.idx], r(0)))
			}
			done(nil)
			continue
		case opFMA, opFNMA, opSelSign, opRelu:
			// Several instructions, or one that overwrites an operand: the
			// operands stay until the result has its register.
			var d int
			var kept *val
			var err error
			switch v.op {
			case opFMA, opFNMA:
				if d, kept, err = into(a[2]); err != nil {
					return err
				}
				ins := map[opcode]string{opFMA: "VFMLA", opFNMA: "VFMLS"}[v.op]
				f.p("%s V%d.S4, V%d.S4, V%d.S4", ins, r(1), r(0), d) // d ±= a·b
			case opSelSign:
				if d, err = f.alloc(); err != nil {
					return err
				}
				f.p("%s", neon.SSHR(d, r(0), 31))
				f.p("VBSL V%d.B16, V%d.B16, V%d.B16", r(2), r(1), d) // d = d ? b : c
			case opRelu:
				if d, err = f.alloc(); err != nil {
					return err
				}
				f.p("%s", neon.FCMLT0(d, r(0)))
				f.p("%s", neon.BIC(d, r(0), d))
			}
			done(kept)
			reg[v] = d
			continue
		}
		// One instruction reading its operands before writing d, which may
		// be an operand's register.
		done(nil)
		d, err := f.alloc()
		if err != nil {
			return err
		}
		reg[v] = d
		switch v.op {
		case opLoad:
			if f.scalarMode {
				f.p("FMOVS (R%d), F%d", f.ptr[v.name], d)
			} else {
				f.p("FMOVQ %d(R%d), F%d", 16*v.idx, f.ptr[v.name], d)
			}
		case opAdd:
			f.p("%s", neon.FADD(d, r(0), r(1)))
		case opSub:
			f.p("%s", neon.FSUB(d, r(0), r(1)))
		case opMul:
			f.p("%s", neon.FMUL(d, r(0), r(1)))
		case opDiv:
			f.p("%s", neon.FDIV(d, r(0), r(1)))
		case opMin: // FMIN and FMAX return NaN if either operand is
			f.p("%s", neon.FMIN(d, r(0), r(1)))
		case opMax:
			f.p("%s", neon.FMAX(d, r(0), r(1)))
		case opAbs:
			f.p("%s", neon.FABS(d, r(0)))
		case opRound:
			f.p("%s", neon.FRINTN(d, r(0)))
		case opCvt:
			f.p("%s", neon.FCVTNS(d, r(0)))
		case opIAdd:
			f.p("VADD V%d.S4, V%d.S4, V%d.S4", r(1), r(0), d)
		case opISub:
			f.p("VSUB V%d.S4, V%d.S4, V%d.S4", r(1), r(0), d) // d = a - b
		case opShl:
			f.p("VSHL $%d, V%d.S4, V%d.S4", v.idx, r(0), d)
		case opSar:
			f.p("%s", neon.SSHR(d, r(0), v.idx))
		case opAnd:
			f.p("VAND V%d.B16, V%d.B16, V%d.B16", r(1), r(0), d)
		case opOr:
			f.p("VORR V%d.B16, V%d.B16, V%d.B16", r(1), r(0), d)
		case opGE0:
			f.p("%s", neon.FCMGE0(d, r(0)))
		case opLT:
			f.p("%s", neon.FCMGT(d, r(1), r(0))) // a < b is b > a
		case opSqrt:
			f.p("%s", neon.FSQRT(d, r(0)))
		default:
			return fmt.Errorf("no NEON lowering of op %d", v.op)
		}
	}
	return nil
}

func count(a []*val, x *val) int {
	n := 0
	for _, y := range a {
		if y == x {
			n++
		}
	}
	return n
}
