// Package eltwise holds the elementwise kernels: a Chain of unary functions
// and broadcasting binary operators run over a tensor in place, which serves
// the unfused unary and binary ops, the optimiser's elementwise chains and the
// epilogues of fused conv2d and matmul; and batchnorm.
//
// Numerics: binary operators are single float32 operations, exactly the
// reference's. The transcendental functions (sigmoid, tanh, gelu) are
// evaluated in float64 and rounded once, also as the reference does, so they
// agree with it to within one rounding. Batchnorm folds its statistics into a
// per-channel scale and shift, y = x·s + t, which differs from the reference's
// (x-μ)/√(σ²+ε)·γ + β by a few float32 roundings of |x·s| + |t|.
//
// Nothing here allocates.
package eltwise

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
)

// Binary reports whether the step reads an operand.
func (k Kind) Binary() bool { return k <= Div }

// Step is one step of a chain. A binary step computes v = v op operand, or
// operand op v when Swapped; Operand indexes the operand slices given to
// Apply, and Shape is the operand's shape, which broadcasts into the
// chain's.
type Step struct {
	Kind    Kind
	Alpha   float32
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
}

type compiled struct {
	kind    Kind
	alpha   float32
	operand int
	swapped bool
	// strides of the operand along the outer axes; step is its stride along
	// the inner one, 0 (broadcast) or 1.
	strides []int
	step    int
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

// NewChain compiles steps for a tensor of the given shape. Each binary step's
// Shape must broadcast into it (NumPy rules: aligned from the right, each
// dimension equal or 1).
func NewChain(shape []int, steps []Step) *Chain {
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
		cs := compiled{kind: s.Kind, alpha: s.Alpha, operand: s.Operand, swapped: s.Swapped}
		if full[i] != nil {
			cs.strides, cs.step = st[i][:last], st[i][last]
		}
		c.steps = append(c.steps, cs)
	}
	return c
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

// broadcastStrides returns row-major strides of an operand of shape s
// broadcast into out: right-aligned, 0 where s lacks the axis or has size 1.
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
		n := min(c.inner-col, end-pos, chunk)
		seg := v[pos-e0 : pos-e0+n]
		for i := range c.steps {
			s := &c.steps[i]
			if !s.kind.Binary() {
				unary(s.kind, s.alpha, seg)
				continue
			}
			off := s.offset(row, c.outer) + col*s.step
			o := operands[s.operand]
			if s.step == 0 {
				binaryScalar(s.kind, s.swapped, seg, o[off])
			} else {
				binary(s.kind, s.swapped, seg, o[off:off+n])
			}
		}
		pos += n
	}
}
