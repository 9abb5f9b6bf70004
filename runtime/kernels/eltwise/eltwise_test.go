package eltwise

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/tensor"
)

// Binary operators and loads are exact; the functions are within 1e-6 of the
// reference's magnitude (kerneltest.Err) in every kernel set: the generic
// ones round the float64 value once, as the reference does, and the assembly
// ones are within the package's bounds; batchnorm's folded scale and shift
// cost a few roundings.
const (
	exact   = 0
	funcTol = 1e-6
	bnTol   = 1e-6
)

// forEachSet runs f for every kernel set this machine runs.
func forEachSet(t *testing.T, f func(t *testing.T, set cpu.Set)) {
	for _, set := range cpu.Available() {
		t.Run(string(set), func(t *testing.T) { f(t, set) })
	}
}

var binaryOps = []struct {
	op   ir.Op
	kind Kind
}{{ir.OpAdd, Add}, {ir.OpSub, Sub}, {ir.OpMul, Mul}, {ir.OpDiv, Div}, {ir.OpMinimum, Minimum}, {ir.OpMaximum, Maximum}}

// pairs are operand shapes that broadcast: trailing axes, size-1 axes on
// either side, scalars, and equal shapes.
var pairs = [][2][]int{
	{{7, 9}, {7, 9}},
	{{3, 8, 17}, {17}},
	{{3, 8, 17}, {8, 1}},
	{{3, 1, 17}, {1, 8, 1}},
	{{16}, {1}},
	{{1}, {9, 33}},
	{{2, 3, 1, 5}, {3, 7, 1}},
	{{31}, {31}},
	{{1, 1}, {1}},
	// Short rows a chain runs several at a time (rowsBelow): an operand
	// that repeats from row to row, per image or not, with a tail past the
	// vectors; one scalar a run of rows.
	{{1, 9, 7, 16}, {1, 1, 1, 16}},
	{{2, 6, 5, 13}, {2, 1, 1, 13}},
	{{300, 3}, {3}},
	{{4, 30, 8}, {4, 1, 1}},
	{{3, 40, 24}, {3, 1, 24}},
}

func outShape(a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 1; i <= n; i++ {
		da, db := 1, 1
		if i <= len(a) {
			da = a[len(a)-i]
		}
		if i <= len(b) {
			db = b[len(b)-i]
		}
		out[n-i] = max(da, db)
	}
	return out
}

func TestBinaryMatchesReference(t *testing.T) { forEachSet(t, testBinaryMatchesReference) }

func testBinaryMatchesReference(t *testing.T, set cpu.Set) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range pairs {
		a, b := kerneltest.Random(r, p[0]...), kerneltest.Random(r, p[1]...)
		out := outShape(p[0], p[1])
		for _, o := range binaryOps {
			want := kerneltest.Ref(t, o.op, nil, a, b)
			// v = a op b, starting from a; and starting from b, swapped, as a
			// plan does to update b in place.
			for _, swap := range []bool{false, true} {
				steps := []Step{{Kind: Load, Operand: 0, Shape: p[0]}, {Kind: o.kind, Operand: 1, Shape: p[1]}}
				if swap {
					steps = []Step{{Kind: Load, Operand: 1, Shape: p[1]}, {Kind: o.kind, Operand: 0, Shape: p[0], Swapped: true}}
				}
				got := make([]float32, tensor.Numel(out))
				NewChain(set, out, steps).Apply(got, 0, [][]float32{a.Data, b.Data})
				kerneltest.Close(t, got, want, exact, "%s %v %v swapped=%v", o.op, p[0], p[1], swap)
			}
		}
	}
}

var unaryOps = []struct {
	op    ir.Op
	attrs ir.Attrs
	step  Step
}{
	{ir.OpRelu, nil, Step{Kind: Relu}},
	{ir.OpLeakyRelu, &ir.LeakyReluAttrs{Alpha: 0.3}, Step{Kind: LeakyRelu, Alpha: 0.3}},
	{ir.OpSigmoid, nil, Step{Kind: Sigmoid}},
	{ir.OpTanh, nil, Step{Kind: Tanh}},
	{ir.OpGelu, &ir.GeluAttrs{}, Step{Kind: Gelu}},
	{ir.OpGelu, &ir.GeluAttrs{Approximate: true}, Step{Kind: GeluTanh}},
	{ir.OpClip, &ir.ClipAttrs{Min: -1.5, Max: 6}, Step{Kind: Clip, Alpha: -1.5, Beta: 6}},
	{ir.OpElu, &ir.EluAttrs{Alpha: 1.2}, Step{Kind: Elu, Alpha: 1.2}},
	{ir.OpSelu, nil, Step{Kind: Selu}},
	{ir.OpSilu, nil, Step{Kind: Silu}},
	{ir.OpHardSigmoid, &ir.HardSigmoidAttrs{Alpha: 1.0 / 6}, Step{Kind: HardSigmoid, Alpha: 1.0 / 6}},
	{ir.OpHardSigmoid, &ir.HardSigmoidAttrs{Alpha: 0.2}, Step{Kind: HardSigmoid, Alpha: 0.2}},
	{ir.OpHardSwish, nil, Step{Kind: HardSwish}},
	{ir.OpMish, nil, Step{Kind: Mish}},
	{ir.OpSoftplus, nil, Step{Kind: Softplus}},
	{ir.OpSoftsign, nil, Step{Kind: Softsign}},
	{ir.OpExp, nil, Step{Kind: Exp}},
	{ir.OpLog, nil, Step{Kind: Log}},
	{ir.OpSqrt, nil, Step{Kind: Sqrt}},
	{ir.OpRsqrt, nil, Step{Kind: Rsqrt}},
	{ir.OpAbs, nil, Step{Kind: Abs}},
	{ir.OpNeg, nil, Step{Kind: Neg}},
	{ir.OpPow, &ir.PowAttrs{Exponent: 2}, Step{Kind: Pow, Alpha: 2}},
	{ir.OpPow, &ir.PowAttrs{Exponent: 3}, Step{Kind: Pow, Alpha: 3}},
	{ir.OpPow, &ir.PowAttrs{Exponent: -0.5}, Step{Kind: Pow, Alpha: -0.5}},
	{ir.OpErf, nil, Step{Kind: Erf}},
}

// bounded reports whether op keeps a chain's values and errors in range
// whatever it is given: exp, log, sqrt, rsqrt and pow amplify the errors
// of the steps before them.
func bounded(op ir.Op) bool {
	return op != ir.OpExp && op != ir.OpLog && op != ir.OpSqrt && op != ir.OpRsqrt && op != ir.OpPow
}

func TestUnaryMatchesReference(t *testing.T) { forEachSet(t, testUnaryMatchesReference) }

func testUnaryMatchesReference(t *testing.T, set cpu.Set) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range kerneltest.Sizes {
		x := kerneltest.Random(r, n, 33)
		for i := range x.Data {
			x.Data[i] *= 4 // reach the tails of sigmoid and tanh
		}
		for _, u := range unaryOps {
			want := kerneltest.Ref(t, u.op, u.attrs, x)
			// In place, as a plan runs a unary op whose operand dies.
			got := slices.Clone(x.Data)
			NewChain(set, x.Shape, []Step{{Kind: Load, Operand: 0, Shape: x.Shape}, u.step}).Apply(got, 0, [][]float32{got})
			kerneltest.Close(t, got, want, funcTol, "%s %v [%d,33]", u.op, u.attrs, n)
		}
	}
}

// A random chain, run by the reference as an elementwise node and here in
// pieces of random length, as a fused conv or matmul applies its epilogue band
// by band.
func TestChainMatchesReference(t *testing.T) { forEachSet(t, testChainMatchesReference) }

func testChainMatchesReference(t *testing.T, set cpu.Set) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 200 {
		x := kerneltest.Random(r, r.IntN(3)+1, r.IntN(9)+1, r.IntN(17)+1)
		// Shapes an operand may take: subsets of x's axes kept.
		in := []*tensor.Tensor{x}
		var chain ir.Chain
		var steps []Step
		steps = append(steps, Step{Kind: Load, Operand: 0, Shape: x.Shape})
		for range r.IntN(6) + 1 {
			if r.IntN(2) == 0 {
				u := unaryOps[r.IntN(len(unaryOps))]
				if !bounded(u.op) {
					continue
				}
				chain = append(chain, ir.Step{Op: u.op, Attrs: u.attrs})
				steps = append(steps, u.step)
				continue
			}
			o := binaryOps[r.IntN(len(binaryOps))]
			shape := slices.Clone(x.Shape)
			for d := range shape {
				if r.IntN(2) == 0 {
					shape[d] = 1
				}
			}
			shape = shape[r.IntN(len(shape)):]
			op := kerneltest.Random(r, shape...)
			if o.op == ir.OpDiv {
				for i := range op.Data {
					op.Data[i] = 1 + r.Float32() // no division by ~0
				}
			}
			swapped := r.IntN(2) == 0 && o.op != ir.OpDiv
			chain = append(chain, ir.Step{Op: o.op, Operand: len(in), Swapped: swapped})
			steps = append(steps, Step{Kind: o.kind, Operand: len(in), Shape: shape, Swapped: swapped})
			in = append(in, op)
		}
		want := kerneltest.Ref(t, ir.OpElementwise, &ir.ElementwiseAttrs{Chain: chain}, in...)
		operands := make([][]float32, len(in))
		for i, x := range in {
			operands[i] = x.Data
		}
		c := NewChain(set, x.Shape, steps)
		got := make([]float32, c.Size())
		for e0 := 0; e0 < len(got); {
			n := min(r.IntN(40)+1, len(got)-e0)
			c.Apply(got[e0:e0+n], e0, operands)
			e0 += n
		}
		kerneltest.Close(t, got, want, funcTol, "trial %d: %s on %v", trial, chain, x.Shape)
	}
}

func TestBatchNormMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range kerneltest.Sizes {
		x := kerneltest.Random(r, 3, 5, c)
		gamma, beta, mean := kerneltest.Random(r, c), kerneltest.Random(r, c), kerneltest.Random(r, c)
		variance := tensor.New(c)
		for i := range variance.Data {
			variance.Data[i] = r.Float32() * 2
		}
		want := kerneltest.Ref(t, ir.OpBatchNorm, &ir.BatchNormAttrs{Epsilon: 1e-3}, x, gamma, beta, mean, variance)
		bn := BatchNorm{C: c, Epsilon: 1e-3}
		got := make([]float32, len(x.Data))
		bn.Run(x.Data, gamma.Data, beta.Data, mean.Data, variance.Data, got, make([]float32, bn.ScratchSize()))
		kerneltest.Close(t, got, want, bnTol, "batchnorm C=%d", c)
	}
}

func TestApplyDoesNotAllocate(t *testing.T) {
	forEachSet(t, func(t *testing.T, set cpu.Set) {
		shape := []int{4, 9, 33}
		c := NewChain(set, shape, []Step{{Kind: Load, Shape: shape}, {Kind: Add, Operand: 1, Shape: []int{33}}, {Kind: Gelu}, {Kind: Mul, Operand: 1, Shape: []int{1}},
			{Kind: Clip, Alpha: -1, Beta: 1}, {Kind: Pow, Alpha: 3}, {Kind: Pow, Alpha: 4}, {Kind: Pow, Alpha: 0.5}, {Kind: Maximum, Operand: 1, Shape: []int{33}}})
		v, bias := make([]float32, c.Size()), make([]float32, 33)
		ops := [][]float32{v, bias}
		if allocs := testing.AllocsPerRun(10, func() { c.Apply(v, 0, ops) }); allocs != 0 {
			t.Errorf("%v allocations per run", allocs)
		}
	})
}

func ExampleChain() {
	// relu(x + bias) over a [2,3] tensor, in place.
	x := []float32{-1, 0, 1, 2, -3, 4}
	bias := []float32{0.5, 0.5, -2}
	c := NewChain(cpu.Generic, []int{2, 3}, []Step{{Kind: Load, Shape: []int{2, 3}}, {Kind: Add, Operand: 1, Shape: []int{3}}, {Kind: Relu}})
	c.Apply(x, 0, [][]float32{x, bias})
	fmt.Println(x)
	// Output: [0 0.5 0 2.5 0 2]
}
