package main

import "fmt"

// A prog is the straight-line body of a kernel's loop, for some number of
// vectors at once: the math is written once against it (math.go), and each
// architecture lowers it (amd64.go, arm64.go). Values are SSA: every op makes
// a new one, and lowering frees a register after its value's last use.
type prog struct {
	ops []*val
	// scalef: the target scales by powers of two in one instruction
	// (AVX-512's VSCALEFPS), for opScale.
	scalef bool
}

// val is one op and the value it makes (none for stores and accumulations).
type val struct {
	op   opcode
	args []*val
	// Operands that are not values: a constant's bits and name, a stream or
	// scalar parameter's index, a shift count, an accumulator's index, a load
	// or store's vector offset.
	bits uint32
	name string
	idx  int
	last int // index in prog.ops of the last op using this value
}

type opcode uint8

const (
	opLoad     opcode = iota // vector idx of stream name
	opStore                  // args[0] to vector idx of stream name
	opAccum                  // accumulator idx = reduce(accumulator, args[0])
	opScalar                 // the broadcast float32 parameter name
	opConst                  // bits, broadcast
	opAdd                    // a + b
	opSub                    // a - b
	opMul                    // a · b
	opDiv                    // a / b
	opFMA                    // a·b + c, rounded once
	opFNMA                   // c - a·b, rounded once
	opMin                    // min(a, b), NaN if a is NaN
	opMax                    // max(a, b), NaN if a is NaN
	opAbs                    // |a|
	opRound                  // a rounded to an integer, ties to even
	opCvt                    // a, an integer float, as an int32
	opIAdd                   // int32 a + b
	opISub                   // int32 a - b
	opShl                    // int32 a << idx
	opSar                    // int32 a >> idx, arithmetic
	opAnd                    // a & b, bitwise
	opOr                     // a | b, bitwise
	opSelSign                // sign bit of a set ? b : c
	opGE0                    // a >= 0 ? all ones : 0 (false for NaN)
	opRelu                   // a < 0 ? 0 : a (NaN and -0 unchanged)
	opLT                     // a < b ? all ones : 0 (false for NaN)
	opSqrt                   // √a, correctly rounded
	opScale                  // a·2^b for an integer float b, rounded once (prog.scalef only)
	opNumCodes               // sentinel
)

func (p *prog) add(op opcode, args ...*val) *val {
	if len(args) != arity[op] {
		panic(fmt.Sprintf("op %d takes %d arguments, got %d", op, arity[op], len(args)))
	}
	v := &val{op: op, args: args, last: -1}
	for _, a := range args {
		a.last = len(p.ops)
	}
	p.ops = append(p.ops, v)
	return v
}

var arity = [opNumCodes]int{
	opStore: 1, opAccum: 1,
	opAdd: 2, opSub: 2, opMul: 2, opDiv: 2, opFMA: 3, opFNMA: 3, opMin: 2, opMax: 2,
	opAbs: 1, opRound: 1, opCvt: 1, opIAdd: 2, opISub: 2, opShl: 1, opSar: 1,
	opAnd: 2, opOr: 2, opSelSign: 3, opGE0: 1, opRelu: 1, opLT: 2, opSqrt: 1, opScale: 2,
}

func (p *prog) load(stream string, vec int) *val {
	v := p.add(opLoad)
	v.name, v.idx = stream, vec
	return v
}

func (p *prog) store(stream string, vec int, x *val) {
	v := p.add(opStore, x)
	v.name, v.idx = stream, vec
}

func (p *prog) accum(i int, x *val) { p.add(opAccum, x).idx = i }

func (p *prog) scalar(name string) *val {
	v := p.add(opScalar)
	v.name = name
	return v
}

// konst is a named float32 constant; bitsConst one given by its bits.
func (p *prog) konst(name string, f float32) *val { return p.bitsConst(name, f32bits(f)) }

func (p *prog) bitsConst(name string, bits uint32) *val {
	v := p.add(opConst)
	v.name, v.bits = name, bits
	return v
}

func (p *prog) addf(a, b *val) *val       { return p.add(opAdd, a, b) }
func (p *prog) sub(a, b *val) *val        { return p.add(opSub, a, b) }
func (p *prog) mul(a, b *val) *val        { return p.add(opMul, a, b) }
func (p *prog) div(a, b *val) *val        { return p.add(opDiv, a, b) }
func (p *prog) fma(a, b, c *val) *val     { return p.add(opFMA, a, b, c) }
func (p *prog) fnma(a, b, c *val) *val    { return p.add(opFNMA, a, b, c) }
func (p *prog) min(a, b *val) *val        { return p.add(opMin, a, b) }
func (p *prog) max(a, b *val) *val        { return p.add(opMax, a, b) }
func (p *prog) abs(a *val) *val           { return p.add(opAbs, a) }
func (p *prog) round(a *val) *val         { return p.add(opRound, a) }
func (p *prog) cvt(a *val) *val           { return p.add(opCvt, a) }
func (p *prog) scale(a, b *val) *val      { return p.add(opScale, a, b) }
func (p *prog) iadd(a, b *val) *val       { return p.add(opIAdd, a, b) }
func (p *prog) isub(a, b *val) *val       { return p.add(opISub, a, b) }
func (p *prog) and(a, b *val) *val        { return p.add(opAnd, a, b) }
func (p *prog) or(a, b *val) *val         { return p.add(opOr, a, b) }
func (p *prog) selSign(m, a, b *val) *val { return p.add(opSelSign, m, a, b) }
func (p *prog) ge0(a *val) *val           { return p.add(opGE0, a) }
func (p *prog) relu(a *val) *val          { return p.add(opRelu, a) }
func (p *prog) lt(a, b *val) *val         { return p.add(opLT, a, b) }
func (p *prog) sqrt(a *val) *val          { return p.add(opSqrt, a) }
func (p *prog) shl(a *val, n int) *val    { v := p.add(opShl, a); v.idx = n; return v }
func (p *prog) sar(a *val, n int) *val    { v := p.add(opSar, a); v.idx = n; return v }
func (p *prog) horner(x *val, c ...*val) *val { // c[0] + x·(c[1] + x·(...))
	q := c[len(c)-1]
	for i := len(c) - 2; i >= 0; i-- {
		q = p.fma(q, x, c[i])
	}
	return q
}

// body is the prog of u vectors of k, their ops interleaved so that the
// independent chains of dependent ops overlap without relying on the
// out-of-order window.
func body(k *kernel, u int, scalef bool) *prog {
	parts := make([]*prog, u)
	for vec := range parts {
		parts[vec] = &prog{scalef: scalef}
		k.body(parts[vec], vec)
	}
	p := &prog{scalef: scalef}
	for i := 0; len(p.ops) < u*len(parts[0].ops); i++ {
		for _, q := range parts {
			p.ops = append(p.ops, q.ops[i])
		}
	}
	for i, v := range p.ops {
		for _, a := range v.args {
			a.last = i
		}
	}
	return p
}

// uses reports whether p has an op with code op.
func (p *prog) uses(op opcode) bool {
	for _, v := range p.ops {
		if v.op == op {
			return true
		}
	}
	return false
}

// scalars is the set of scalar parameters p reads: only those are broadcast.
func (p *prog) scalars() map[string]bool {
	s := map[string]bool{}
	for _, v := range p.ops {
		if v.op == opScalar {
			s[v.name] = true
		}
	}
	return s
}

// consts lists the distinct constants of the progs, by bits, in order of first
// use.
func consts(ps ...*prog) []*val {
	var out []*val
	seen := map[uint32]bool{}
	for _, p := range ps {
		for _, v := range p.ops {
			if v.op == opConst && !seen[v.bits] {
				seen[v.bits] = true
				out = append(out, v)
			}
		}
	}
	return out
}
