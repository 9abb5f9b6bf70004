package autodiff

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
	"github.com/mdlc/mdlc/runtime/plan"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
)

// The gradient rules are checked against central differences of the
// forward graph: loss = Σ w⊙f(params) with fixed random weights w, its
// gradient from Grad against (L(θ+hu) - L(θ-hu))/2h along a random
// direction u (or along every coordinate, the full Jacobian, on tiny
// shapes), with Richardson extrapolation over h and h/2 so the truncation
// error is O(h⁴).
//
// The evaluator is runtime/ref: it stores float32 but computes every op in
// float64 and rounds once. The sum Σ w⊙f is taken in float64 from f's
// elements, so an element the perturbation leaves alone cancels exactly.
// What remains is float32 rounding (relative ε = 2^-24) of f's elements and
// of the perturbed parameters, magnified by 1/h: the check allows that
// (noiseBound) plus a relative fdTol, far below what a wrong rule gives (a
// 1% error in one term of layernorm's rule fails).
// Inputs of functions with kinks (relu, clip, abs, max, ...) are drawn from a
// grid 0.1·k + 0.05, at least 0.05 from any kink, and h·|u| <= 0.01 never
// crosses one; max pools draw distinct values, so no window has a tie.

const (
	fdH   = 0.01
	fdTol = 1e-3
)

// noiseBound bounds the rounding in a central difference: each of the four
// evaluations (at ±h and ±h/2) rounds the terms of Σ w⊙f, of total size s,
// by at most ε·s, and the perturbed parameters by ε·|x|, which moves the
// loss by ε·Σ|g⊙x|; Richardson's (4·D(h/2) - D(h))/3 weighs them by at most
// 3/h in all.
func noiseBound(s, gx float64) float64 { return 3 / fdH * 0x1p-24 * 2 * (s + gx) }

// gen says how a parameter's values are drawn.
type gen int

const (
	smooth   gen = iota // U(-2, 2)
	grid                // 0.1·k + 0.05, k in -20..19: away from kinks at 0, ±0.5, ±1, ±2.5, ±3
	grid0               // 0.1·k: differs from every grid value by at least 0.05
	positive            // U(0.5, 2): log, sqrt, rsqrt, pow with fractional exponents, divisors
	distinct            // a permutation of 0.05·i, shifted: no ties within a pool window
	small               // U(-0.5, 0.5): recurrent kernels, whose products over steps would saturate the gates at U(-2, 2)
)

type fdCase struct {
	name string
	full bool // the full Jacobian, coordinate by coordinate
	// build makes the forward graph through c.
	build func(c *fdGraph) *ir.Value
}

// fdGraph is the graph of a case and the data of its parameters and inputs.
type fdGraph struct {
	t      *testing.T
	g      *ir.Graph
	r      *rand.Rand
	params []*ir.Value
	w      map[string]*tensor.Tensor
	in     map[string]*tensor.Tensor
	// wy weighs f's elements in the loss.
	wy []float32
}

func (c *fdGraph) param(kind gen, shape ...int) *ir.Value {
	name := fmt.Sprintf("p%d", len(c.params))
	v := c.g.AddParam(name, ir.T(intsAny(shape)...), ir.Init{Kind: ir.InitZeros}, true)
	c.params = append(c.params, v)
	c.w[name] = c.values(kind, shape)
	return v
}

// constant is a value drawn as param draws it that gets no gradient.
func (c *fdGraph) constant(kind gen, shape ...int) *ir.Value {
	return c.g.AddConst(fmt.Sprintf("c%d", len(c.g.Consts)), ir.T(intsAny(shape)...), c.values(kind, shape).Data)
}

func (c *fdGraph) values(kind gen, shape []int) *tensor.Tensor {
	x := tensor.New(shape...)
	perm := c.r.Perm(len(x.Data))
	for i := range x.Data {
		switch kind {
		case smooth:
			x.Data[i] = 4*c.r.Float32() - 2
		case grid:
			x.Data[i] = 0.1*float32(c.r.IntN(40)-20) + 0.05
		case grid0:
			x.Data[i] = 0.1 * float32(c.r.IntN(40)-20)
		case positive:
			x.Data[i] = 0.5 + 1.5*c.r.Float32()
		case distinct:
			x.Data[i] = 0.05*float32(perm[i]) - 0.025*float32(len(x.Data))
		case small:
			x.Data[i] = c.r.Float32() - 0.5
		}
	}
	return x
}

func (c *fdGraph) ids(vocab int, shape ...int) *ir.Value {
	name := fmt.Sprintf("ids%d", len(c.in))
	v := c.g.AddInput(name, ir.Type{DType: ir.I32, Shape: ir.T(intsAny(shape)...).Shape})
	x := tensor.NewInts(shape...)
	for i := range x.Ints {
		x.Ints[i] = int64(c.r.IntN(vocab))
	}
	c.in[name] = x
	return v
}

func (c *fdGraph) node(op ir.Op, attrs ir.Attrs, in ...*ir.Value) *ir.Value {
	v, err := c.g.AddNode(op, attrs, in, "", ir.Pos{})
	require.NoError(c.t, err, "%s", op)
	return v
}

func intsAny(s []int) []any {
	a := make([]any, len(s))
	for i, d := range s {
		a[i] = d
	}
	return a
}

// loss evaluates Σ wy⊙f, f the graph's output y by the reference with
// weights w, in float64.
func (c *fdGraph) loss(w map[string]*tensor.Tensor) float64 {
	out, err := ref.Run(c.g, w, c.in)
	require.NoError(c.t, err)
	var l float64
	for i, v := range out["y"].Data {
		l += float64(c.wy[i]) * float64(v)
	}
	return l
}

// perturbed is the weights moved by h along u.
func (c *fdGraph) perturbed(u map[string][]float64, h float64) map[string]*tensor.Tensor {
	w := map[string]*tensor.Tensor{}
	for name, x := range c.w {
		y := &tensor.Tensor{Shape: x.Shape, Data: slices.Clone(x.Data)}
		for i := range y.Data {
			y.Data[i] = float32(float64(y.Data[i]) + h*u[name][i])
		}
		w[name] = y
	}
	return w
}

// fd is the directional derivative along u, extrapolated.
func (c *fdGraph) fd(u map[string][]float64) float64 {
	d := func(h float64) float64 { return (c.loss(c.perturbed(u, h)) - c.loss(c.perturbed(u, -h))) / (2 * h) }
	return (4*d(fdH/2) - d(fdH)) / 3
}

func runFD(t *testing.T, seed uint64, fc fdCase) {
	c := &fdGraph{t: t, g: ir.NewGraph(fc.name), r: rand.New(rand.NewPCG(seed, 13)), w: map[string]*tensor.Tensor{}, in: map[string]*tensor.Tensor{}}
	y := fc.build(c)
	shape, err := y.Type.Shape.Bind(nil)
	require.NoError(t, err)
	c.wy = make([]float32, tensor.Numel(shape))
	for i := range c.wy {
		c.wy[i] = 2*c.r.Float32() - 1
	}
	c.g.AddOutput("y", y)

	var dirs []map[string][]float64
	if fc.full {
		for _, p := range c.params {
			for i := range c.w[p.Name].Data {
				u := map[string][]float64{}
				for _, q := range c.params {
					u[q.Name] = make([]float64, len(c.w[q.Name].Data))
				}
				u[p.Name][i] = 1
				dirs = append(dirs, u)
			}
		}
	} else {
		for range 2 {
			u := map[string][]float64{}
			for _, p := range c.params {
				u[p.Name] = make([]float64, len(c.w[p.Name].Data))
				for i := range u[p.Name] {
					u[p.Name][i] = 2*c.r.Float64() - 1
				}
			}
			dirs = append(dirs, u)
		}
	}
	want := make([]float64, len(dirs))
	for i, u := range dirs {
		want[i] = c.fd(u)
	}

	weighted := c.node(ir.OpMul, nil, y, c.g.AddConst("weights", y.Type, c.wy))
	loss := c.node(ir.OpSumTo, &ir.ReshapeAttrs{Shape: ir.Shape{}}, weighted)
	grads, err := Grad(c.g, loss, c.params)
	require.NoError(t, err)
	for i, p := range c.params {
		c.g.AddOutput("d"+p.Name, grads[i])
	}
	require.NoError(t, ir.Verify(c.g))
	got, err := ref.Run(c.g, c.w, c.in)
	require.NoError(t, err)
	var size, gx float64
	for i, v := range got["y"].Data {
		size += math.Abs(float64(c.wy[i]) * float64(v))
	}
	for _, p := range c.params {
		for j, v := range got["d"+p.Name].Data {
			gx += math.Abs(float64(v) * float64(c.w[p.Name].Data[j]))
		}
	}
	// worst is the largest difference as a fraction of its bound, planWorst
	// the plan's largest error (kerneltest.Err), shown by -v.
	var worst, planWorst float64
	for i, u := range dirs {
		var an float64
		for _, p := range c.params {
			for j, v := range got["d"+p.Name].Data {
				an += float64(v) * u[p.Name][j]
			}
		}
		bound := fdTol*(math.Abs(an)+math.Abs(want[i]))/2 + noiseBound(size, gx)
		require.LessOrEqual(t, math.Abs(an-want[i]), bound, "direction %d: analytic %g, central differences %g", i, an, want[i])
		worst = max(worst, math.Abs(an-want[i])/bound)
	}

	// The plan's kernels for the backward ops agree with the reference's.
	p, err := plan.Build(c.g, c.w, nil)
	require.NoError(t, err)
	fast, err := p.RunTensors(c.in)
	require.NoError(t, err)
	for name, x := range got {
		e := kerneltest.Err(fast[name].Data, x.Data)
		require.LessOrEqual(t, e, 1e-4, "plan output %s", name)
		planWorst = max(planWorst, e)
	}
	t.Logf("central differences: worst difference %.2g of its bound; plan against reference: %.2g", worst, planWorst)
}
