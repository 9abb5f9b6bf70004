// Package eltwise holds the elementwise kernels: a Chain of unary functions
// and broadcasting binary operators run over a tensor in place, which serves
// the unfused unary and binary ops, the optimiser's elementwise chains and the
// epilogues of fused conv2d and matmul; and batchnorm.
//
// Kernel sets: every step runs a function of the set (cpu.Set) the chain was
// built for, chosen once by NewChain: the generic Go loops (funcs.go), or
// AVX2+FMA, AVX-512 or NEON assembly generated from
// runtime/kernels/_asm/eltwise.
//
// Numerics: binary operators, loads, relu and leaky_relu are single float32
// operations in every set, exactly the reference's. The generic
// transcendental functions (sigmoid, tanh, gelu) are evaluated in float64 and
// rounded once, as the reference does, so they agree with it to within one
// rounding. The assembly ones compute in float32 with FMAs: e^x by range
// reduction and a degree-6 minimax polynomial (within 1 ulp); sigmoid as
// e/(1+e) or 1/(1+e) with e = e^-|x|; tanh by an odd polynomial below 0.7 and
// 1 - 2/(e^2|x|+1) above; gelu's Φ through erfc(|x|/√2) = e^(-x²/2)·t·P(t),
// t = 1/(1+p|x|), so that the tail below zero keeps its relative accuracy
// (1+erf would cancel; Abramowitz-Stegun 7.1.26, good to 1.4e-7 absolutely,
// is off by 7e-4 relatively at x = -4.2 and 5% at -14.5); P has degree 8 and
// p = 0.375/√2, fitted for relative error; gelu_tanh as x·sigmoid(2u). AVX2,
// AVX-512 and NEON run the same operations, so they give the same bits
// (AVX-512 scales e^r by 2^n with one VSCALEFPS where the others multiply by
// two exact powers of two: the same one rounding; 25-50% more exp, silu and
// sigmoid a second on Zen 5, BenchmarkUnary). Against float64
// math, over every 97th float32 in [-20, 20] and the edges (TestAccuracy
// -stride 97 -v; the test holds them to bounds about 20% above these):
//
//	            max relative error              max absolute error
//	sigmoid     1.7e-7 (2.3 ulp)                8.9e-8
//	tanh        1.0e-7 (1.1 ulp)                6.3e-8
//	gelu        4.4e-7 (7.1 ulp)                3.8e-7
//	gelu_tanh   7.8e-7 for x >= -3; below,      5.2e-7
//	            2.9e-7·|u|, from the float32 rounding of u =
//	            √(2/π)(x+0.044715x³) itself (1.3e-5 at x = -10,
//	            where gelu_tanh is -2e-38)
//
// The functions added with issue 12, built from the same pieces (exp, the
// erfc of gelu) plus ln x = k·ln2 + 2·atanh((m-1)/(m+1)) from the exponent
// and mantissa bits, and Go's min and max made exact from VMINPS (see
// _asm/eltwise/math.go for each formula):
//
//	            max relative error              max absolute error
//	elu         1.7e-7 (1.7 ulp)                4.9e-8
//	selu        2.3e-7 (2.0 ulp)                (grows with x)
//	silu        2.1e-7 (3.0 ulp)                (grows with x)
//	hard_sigmoid 6.0e-8 (0.5 ulp: one FMA)     3.0e-8
//	hard_swish  1.4e-7 (1.9 ulp)                (grows with x)
//	mish        2.6e-7 (3.8 ulp)                (grows with x)
//	softplus    2.6e-7 (3.3 ulp)                (grows with x)
//	softsign    1.2e-7 (1.5 ulp)                8.6e-8
//	exp         8.0e-8 (1.0 ulp)
//	log         2.2e-7 (2.8 ulp)
//	rsqrt       8.9e-8 (1.5 ulp)
//	erf         1.8e-7 (2.4 ulp)                1.3e-7
//	pow         2e-7 + 8e-8·|p·ln|x||: e^(p·ln|x|) carries ln's error times
//	            p·ln|x| (6.9e-6 at x³ of 3e-13); x^0, x^1, x², 1/x are
//	            exact, by their one rounded operation
//
// silu and mish below x = -87.3, where e^x is subnormal, keep its absolute
// error (2⁻¹⁴⁹ times |x|). clip, minimum, maximum, hard_sigmoid's clamp,
// abs, neg and sqrt are exact in every set; clip, minimum and maximum are
// Go's min and max (NaN if an operand is; -0 below +0).
//
// Relative errors count results of magnitude at least 2⁻¹²⁶; those below
// are within 2⁻¹⁴⁹ (gelu 2⁻¹⁴⁸, gelu_tanh 2e-43) of the exact value, down to
// 0. NaN gives NaN; ±Inf give what the reference's formulas give: the limits
// (sigmoid 0 and 1, tanh ±1, gelu and gelu_tanh +Inf at +Inf) and NaN for
// gelu and gelu_tanh at -Inf.
//
// Batchnorm folds its statistics into a per-channel scale and shift,
// y = x·s + t, which differs from the reference's (x-μ)/√(σ²+ε)·γ + β by a
// few float32 roundings of |x·s| + |t|.
//
// Nothing here allocates.
package eltwise

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

//go:generate go -C ../_asm run ./eltwise -out ../eltwise/eltwise_amd64.s -stubs ../eltwise/eltwise_amd64.go -pkg eltwise -neon ../eltwise/eltwise_arm64
//go:generate go -C ../_asm run ./eltwise -avx512 -out ../eltwise/eltwise_avx512_amd64.s -stubs ../eltwise/eltwise_avx512_amd64.go -pkg eltwise

// Kind is what one step of a chain does to the running value v.
type Kind uint8

const (
	// Load sets v to the operand (broadcast): the start of a chain that does
	// not run over a value already in place.
	Load Kind = iota
	Add
	Sub
	Mul
	Div
	Relu
	LeakyRelu // Alpha is the slope below zero
	Sigmoid
	Tanh
	Gelu     // exact, with erf
	GeluTanh // the tanh approximation

	// Appended, so that the kinds above keep the numbers generated packages
	// spell them by.
	Minimum
	Maximum
	Clip // Alpha and Beta are the bounds
	Elu  // Alpha scales e^x - 1 below zero
	Selu
	Silu
	HardSigmoid // clip(Alpha·x + 0.5, 0, 1)
	HardSwish
	Mish
	Softplus
	Softsign
	Exp
	Log
	Sqrt
	Rsqrt
	Abs
	Neg
	Pow // Alpha is the exponent
	Erf

	kindCount // sentinel
)

// Binary reports whether the step reads an operand.
func (k Kind) Binary() bool { return k <= Div || k == Minimum || k == Maximum }

// Step is one step of a chain. A binary step computes v = v op operand, or
// operand op v when Swapped; Operand indexes the operand slices given to
// Apply, and Shape is the operand's shape, which broadcasts into the
// chain's.
type Step struct {
	Kind  Kind
	Alpha float32
	// Beta is clip's upper bound; the other kinds leave it 0.
	Beta    float32
	Operand int
	Swapped bool
	Shape   []int
}

// Chain is a sequence of steps compiled for one output shape: its axes are
// collapsed as far as every operand's broadcasting allows, so that each step
// runs over long contiguous rows.
type Chain struct {
	steps []compiled
	// The output is seen as rows of inner contiguous elements; outer are the
	// collapsed axes that make up the rows, outermost first.
	outer []int
	inner int
	size  int
	// rows is how many whole rows a run may span (see NewChain), or 0 if
	// runs stop at the end of each row.
	rows int
}

type compiled struct {
	alpha, beta float32
	operand     int
	// strides of the operand along the outer axes; step is its stride along
	// the inner one, 0 (broadcast) or 1.
	strides []int
	step    int
	// The kernel: unary for a unary step; for a binary one, vector over a
	// slice of the operand, or scalar if it is broadcast along the inner axis.
	unary  func(v []float32, alpha float32)
	clip   func(v []float32, lo, hi float32)
	vector func(v, o []float32)
	scalar func(v []float32, x float32)
	// rows is the kernel for an operand that repeats from row to row (its
	// stride along the last outer axis 0, along the inner one 1), if the
	// set has one for the step's kind.
	rows func(v, o []float32)
}

// offset is the operand's offset of the first element of a row.
func (s *compiled) offset(row int, outer []int) int {
	off := 0
	for d := len(outer) - 1; d >= 0 && row > 0; d-- {
		off += row % outer[d] * s.strides[d]
		row /= outer[d]
	}
	return off
}

// chunk bounds the run of elements every step of a chain passes over before
// the next run starts, so that the run stays in L1.
const chunk = 1024

// rowsBelow is the row length below which a chain runs several rows at a
// time where it can: the calls a row costs (the offset of each operand, a
// kernel call per step) outweigh its elements. BenchmarkGate
// (squeeze-excitation gates x·g in place, AMD EPYC Zen 5, one thread, 2 runs
// of 300 on a shared machine, Gelem/s a row a run → several, AVX-512 /
// AVX2): 56×56×16 0.7-0.9 → 7.6-8.4 / 1.1 → 7.4-9.1, 112×112×32 1.6-1.7
// → 8.9-10.9 / 1.3-1.6 → 8.7-9.6, 28×28×72 3.4-3.9 → 6.5-7.4 / 2.8-3.4 →
// 10.5-11.9, 56×56×144 5.2-5.7 → 13.6-14.7 / 4.4 → 9.9-10.6. From a
// quarter chunk on, a row a run costs a call per 256 elements or more.
const rowsBelow = chunk / 4

// NewChain compiles steps for a tensor of the given shape, with the kernels
// of set (the generic ones if this build has none of it). Each binary step's
// Shape must broadcast into it (NumPy rules: aligned from the right, each
// dimension equal or 1).
func NewChain(set cpu.Set, shape []int, steps []Step) *Chain {
	k := sets.For(set)
	// Right-aligned strides of each binary step's operand, 0 on broadcast axes.
	full := make([][]int, len(steps))
	for i, s := range steps {
		if s.Kind.Binary() {
			full[i] = broadcastStrides(s.Shape, shape)
		}
	}
	// Collapse: drop axes of size 1, and merge an axis into the one before it
	// when every operand walks both as one.
	var dims []int
	st := make([][]int, len(steps))
	for d, n := range shape {
		if n == 1 {
			continue
		}
		if k := len(dims); k > 0 && mergeable(full, st, d, n) {
			dims[k-1] *= n
			for i := range st {
				if full[i] != nil {
					st[i][k-1] = full[i][d]
				}
			}
			continue
		}
		dims = append(dims, n)
		for i := range st {
			if full[i] != nil {
				st[i] = append(st[i], full[i][d])
			}
		}
	}
	if len(dims) == 0 { // a scalar, or all ones
		dims = []int{1}
		for i := range st {
			if full[i] != nil {
				st[i] = []int{0}
			}
		}
	}
	last := len(dims) - 1
	c := &Chain{outer: dims[:last], inner: dims[last], size: prod(shape)}
	for i, s := range steps {
		cs := compiled{alpha: s.Alpha, beta: s.Beta, operand: s.Operand}
		switch {
		case s.Kind == Clip:
			cs.clip = k.clip
		case s.Kind == Pow:
			cs.unary = k.powFor(s.Alpha)
		case !s.Kind.Binary():
			cs.unary = k.unary[s.Kind]
		case s.Swapped:
			cs.vector, cs.scalar = k.vectorRev[s.Kind], k.scalarRev[s.Kind]
		default:
			cs.vector, cs.scalar = k.vector[s.Kind], k.scalar[s.Kind]
		}
		if full[i] != nil {
			cs.strides, cs.step = st[i][:last], st[i][last]
		}
		cs.rows = k.rows[s.Kind] // Add and Mul, which commute: Swapped or not
		c.steps = append(c.steps, cs)
	}
	if c.inner < rowsBelow && len(c.outer) > 0 && c.spansRows() {
		c.rows = chunk / c.inner
	}
	return c
}

// spansRows reports whether each step can run over several whole rows at
// once (along the last outer axis) in one call: unary steps; binary ones
// whose operand is contiguous across the rows (a vector over all of them),
// repeats from row to row (a rows kernel), or is one scalar for them all.
func (c *Chain) spansRows() bool {
	last := len(c.outer) - 1
	for _, s := range c.steps {
		if s.strides == nil {
			continue
		}
		switch {
		case s.step == 1 && s.strides[last] == c.inner:
		case s.step == 1 && s.strides[last] == 0 && s.rows != nil:
		case s.step == 0 && s.strides[last] == 0:
		default:
			return false
		}
	}
	return true
}

// mergeable reports whether axis d, of size n, can join the last collapsed
// axis: for every operand, stepping that axis once is stepping axis d n times.
func mergeable(full, st [][]int, d, n int) bool {
	for i := range full {
		if full[i] != nil && st[i][len(st[i])-1] != full[i][d]*n {
			return false
		}
	}
	return true
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Size is the number of elements of the chain's shape.
func (c *Chain) Size() int { return c.size }

// Apply runs the chain over v, which holds elements e0..e0+len(v)-1 of the
// output in row-major order: for each element e,
//
//	for s in steps: v[e] = s(v[e], operands[s.Operand][offset of e in s.Shape])
//
// v may be an operand itself (an update in place) only if that operand is the
// whole output and only the first step reads it.
func (c *Chain) Apply(v []float32, e0 int, operands [][]float32) {
	for pos, end := e0, e0+len(v); pos < end; {
		row, col := pos/c.inner, pos%c.inner
		if c.rows > 0 && col == 0 && end-pos >= 2*c.inner {
			pos += c.applyRows(v[pos-e0:], row, operands)
			continue
		}
		n := min(c.inner-col, end-pos, chunk)
		seg := v[pos-e0 : pos-e0+n]
		for i := range c.steps {
			s := &c.steps[i]
			if s.clip != nil {
				s.clip(seg, s.alpha, s.beta)
				continue
			}
			if s.unary != nil {
				s.unary(seg, s.alpha)
				continue
			}
			off := s.offset(row, c.outer) + col*s.step
			o := operands[s.operand]
			if s.step == 0 {
				s.scalar(seg, o[off])
			} else {
				s.vector(seg, o[off:off+n])
			}
		}
		pos += n
	}
}

// applyRows runs the steps over whole rows from row on at the start of v,
// as many as fit in a chunk, in v, and in the last outer axis, and returns
// the elements done.
func (c *Chain) applyRows(v []float32, row int, operands [][]float32) int {
	last := c.outer[len(c.outer)-1]
	n := c.inner * min(c.rows, len(v)/c.inner, last-row%last)
	seg := v[:n]
	for i := range c.steps {
		s := &c.steps[i]
		switch {
		case s.clip != nil:
			s.clip(seg, s.alpha, s.beta)
			continue
		case s.unary != nil:
			s.unary(seg, s.alpha)
			continue
		}
		off := s.offset(row, c.outer)
		o := operands[s.operand]
		switch {
		case s.step == 0:
			s.scalar(seg, o[off])
		case s.strides[len(s.strides)-1] == 0:
			s.rows(seg, o[off:off+c.inner])
		default:
			s.vector(seg, o[off:off+n])
		}
	}
	return n
}

// broadcastStrides is the stride of each axis of out in a row-major tensor of
// shape s that broadcasts into it (aligned from the right), 0 where s has size
// 1 or no axis. It is tensor.BroadcastStrides, kept here so that kernels, and
// the generated packages that link them, do not import package tensor and
// the image decoders it brings.
func broadcastStrides(s, out []int) []int {
	st := make([]int, len(out))
	n := 1
	for i := 1; i <= len(s); i++ {
		if d := s[len(s)-i]; d != 1 {
			st[len(out)-i] = n
			n *= d
		}
	}
	return st
}
