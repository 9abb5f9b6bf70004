package backward

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
)

// UnaryGrad is the derivative of one unary function, out = dy·f'(x),
// compiled for a kernel set: the function's kind is looked at once, here,
// never per element.
//
// The functions whose derivative is a selection (relu, leaky relu, clip)
// select dy in float32, exactly (relu with the set's eltwise.ReluGrad
// kernel). Those whose derivative is a polynomial of vector functions
// (sigmoid, tanh, silu, softplus, exp, gelu in both forms, elu, selu, mish,
// erf) evaluate them with the set's vector kernels (runtime/kernels/eltwise,
// a few ulp) over blocks of scratch and combine in float32:
// sigmoid' = s(1−s), tanh' = 1−t², silu' = s + x·s(1−s),
// gelu' = Φ(x) + x·φ(x), and the others beside their paths. The rest (the
// piecewise-polynomial and power functions, rarely trained through) take
// derivative's float64 formula, as runtime/ref does. BenchmarkUnaryGrad
// (Zen 5, one thread, 692 Ki elements, the machine shared): relu 6.4-8.6 ms
// with the float64 formula against 0.94-1.3 ms; tanh 32-46 against 2.1-3.0.
// Gelu's float64 formula took 42% of a BERT-style classifier's training
// step (mdlc bench --train --profile).
//
// From the function's result y (output: unary_grad's from=output, for relu,
// tanh and sigmoid) no function is evaluated: relu's selection is the same
// (y > 0 exactly when x > 0), tanh' = 1−y², sigmoid' = y(1−y) in float32.
//
// Tanh's and sigmoid's polynomials are combined by the set's vector
// kernels too, pass by pass over a block in scratch (t = y·y, t = 1−t,
// out = dy·t): the roundings of the float32 loop dy·(1−y·y) with none
// fused, so its bits. LeNet's training step (batch 64, Intel
// Xeon, avx512, one thread) spent 0.53 ms of its 7 in the loop over its
// first layer's tanh' (CPU profile); BenchmarkUnaryGradFromOutput (that
// layer, the machine at a load of 6 on 2 CPUs, CPU time, 3 runs): tanh
// 2.8-5.2 ms by the loop, 1.18-1.34 by the vector kernels; sigmoid
// 2.8-3.1 against 1.32-1.34.
type UnaryGrad struct {
	s      eltwise.Step
	output bool
	run    func(g *UnaryGrad, x, dy, out, scratch []float32)
	// f, f2 and f3 are the set's kernels of the vector functions the
	// derivative is made of (silu's f is the sigmoid); rg relu's
	// gradient's.
	f, f2, f3 func(v []float32, alpha float32)
	rg        func(dy, x []float32)
	// mul (v = v·o) and subRev (v = x−v) combine tanh's and sigmoid's
	// derivatives.
	mul    func(v, o []float32)
	subRev func(v []float32, x float32)
}

// unaryBlock is how many elements the vector-kernel paths evaluate f over
// at a time, in their scratch: a block that stays in L1.
const unaryBlock = 256

// NewUnaryGrad compiles the derivative of step s's function for set, from
// its operand x, or if output from its result y (relu, tanh and sigmoid
// only: ir.FromOutput).
func NewUnaryGrad(set cpu.Set, s eltwise.Step, output bool) *UnaryGrad {
	g := &UnaryGrad{s: s, output: output, run: (*UnaryGrad).generic,
		mul: eltwise.Binary(set, eltwise.Mul), subRev: eltwise.ScalarRev(set, eltwise.Sub)}
	if output {
		switch s.Kind {
		case eltwise.Relu:
			g.run, g.rg = reluGrad, eltwise.ReluGrad(set)
		case eltwise.Tanh:
			g.run = tanhOutputGrad
		case eltwise.Sigmoid:
			g.run = sigmoidOutputGrad
		}
		return g
	}
	switch s.Kind {
	case eltwise.Relu:
		g.run, g.rg = reluGrad, eltwise.ReluGrad(set)
	case eltwise.LeakyRelu:
		g.run = leakyReluGrad
	case eltwise.Clip:
		g.run = clipGrad
	case eltwise.Sigmoid:
		g.run, g.f = sigmoidGrad, eltwise.Unary(set, eltwise.Sigmoid)
	case eltwise.Softplus:
		g.run, g.f = productGrad, eltwise.Unary(set, eltwise.Sigmoid)
	case eltwise.Tanh:
		g.run, g.f = tanhGrad, eltwise.Unary(set, eltwise.Tanh)
	case eltwise.Silu:
		g.run, g.f = siluGrad, eltwise.Unary(set, eltwise.Sigmoid)
	case eltwise.Exp:
		g.run, g.f = productGrad, eltwise.Unary(set, eltwise.Exp)
	case eltwise.Gelu:
		g.run, g.f, g.f2 = geluGrad, eltwise.Unary(set, eltwise.Erf), eltwise.Unary(set, eltwise.Exp)
	case eltwise.GeluTanh:
		g.run, g.f = geluTanhGrad, eltwise.Unary(set, eltwise.Tanh)
	case eltwise.Elu, eltwise.Selu:
		g.run, g.f = eluGrad, eltwise.Unary(set, eltwise.Exp)
	case eltwise.Erf:
		g.run, g.f = erfGrad, eltwise.Unary(set, eltwise.Exp)
	case eltwise.Mish:
		g.run, g.f, g.f2, g.f3 = mishGrad, eltwise.Unary(set, eltwise.Softplus), eltwise.Unary(set, eltwise.Tanh), eltwise.Unary(set, eltwise.Sigmoid)
	}
	return g
}

// ScratchSize is the scratch Run takes: a block for each vector function
// evaluated at an argument of its own.
func (g *UnaryGrad) ScratchSize() int {
	switch {
	case g.f2 != nil:
		return 2 * unaryBlock
	case g.f != nil, g.output && (g.s.Kind == eltwise.Tanh || g.s.Kind == eltwise.Sigmoid):
		return unaryBlock
	}
	return 0
}

// Run writes out = dy·f'(x). out may be dy.
func (g *UnaryGrad) Run(x, dy, out, scratch []float32) { g.run(g, x, dy, out, scratch) }

// generic is the float64 formula per element: the reference the other
// paths are tested against.
func (g *UnaryGrad) generic(x, dy, out, _ []float32) {
	if g.output {
		for i, y := range x {
			out[i] = float32(float64(dy[i]) * derivativeOfOutput(g.s, float64(y)))
		}
		return
	}
	for i, v := range x {
		out[i] = float32(float64(dy[i]) * derivative(g.s, float64(v)))
	}
}

// The selections are written with masks rather than branches: on relu's
// own output about half of x is 0, and a branch on x > 0 mispredicted on
// about half the elements. BenchmarkUnaryGrad/relu/compiled (random signs,
// Zen 5 shared, one thread, same session): 1.7-2.4 ms with the branch,
// 1.0-2.1 ms (median 1.1) with masks; relu's now runs a vector kernel.

// reluGrad: dy where x > 0, else 0 (NaN too), with the set's
// eltwise.ReluGrad kernel, in place over out. BenchmarkUnaryGrad/relu
// (692 Ki elements into another buffer, so with the copy, 1 thread, same
// session): the Go loop with masks 597-603 µs, the AVX-512 kernel 150-153 µs.
func reluGrad(g *UnaryGrad, x, dy, out []float32, _ []float32) {
	if len(x) == 0 {
		return
	}
	if &out[0] != &dy[0] {
		copy(out[:len(x)], dy)
	}
	g.rg(out[:len(x)], x)
}

// leakyReluGrad: dy where x > 0, else alpha·dy.
func leakyReluGrad(g *UnaryGrad, x, dy, out []float32, _ []float32) {
	out, dy = out[:len(x)], dy[:len(x)]
	one, a := math.Float32bits(1), math.Float32bits(g.s.Alpha)
	for i, v := range x {
		m := mask(v > 0)
		out[i] = dy[i] * math.Float32frombits(one&m|a&^m)
	}
}

// clipGrad: dy where alpha <= x <= beta, else 0.
func clipGrad(g *UnaryGrad, x, dy, out []float32, _ []float32) {
	out, dy = out[:len(x)], dy[:len(x)]
	lo, hi := g.s.Alpha, g.s.Beta
	for i, v := range x {
		out[i] = math.Float32frombits(math.Float32bits(dy[i]) & mask(v >= lo) & mask(v <= hi))
	}
}

// blocks calls f over x in blocks of unaryBlock, with the block of dy and
// out and g.f evaluated into t, a part of scratch: g.f(x), or, with arg,
// g.f of what arg writes into t from the block of x.
func (g *UnaryGrad) blocks(x, dy, out, scratch []float32, f func(x, dy, out, t []float32), arg func(x, t []float32)) {
	for i := 0; i < len(x); i += unaryBlock {
		n := min(unaryBlock, len(x)-i)
		t := scratch[:n]
		if arg == nil {
			copy(t, x[i:])
		} else {
			arg(x[i:i+n], t)
		}
		g.f(t, g.s.Alpha)
		f(x[i:i+n], dy[i:i+n], out[i:i+n], t)
	}
}

func sigmoidGrad(g *UnaryGrad, x, dy, out, scratch []float32) {
	g.blocks(x, dy, out, scratch, func(_, dy, out, s []float32) {
		dy, out = dy[:len(s)], out[:len(s)]
		for i, v := range s {
			out[i] = dy[i] * (v * (1 - v))
		}
	}, nil)
}

func tanhGrad(g *UnaryGrad, x, dy, out, scratch []float32) {
	g.blocks(x, dy, out, scratch, func(_, dy, out, t []float32) { g.oneMinusSquare(dy, out, t) }, nil)
}

// tanhOutputGrad: dy·(1−y²) from y = tanh(x).
func tanhOutputGrad(g *UnaryGrad, y, dy, out, scratch []float32) {
	for i := 0; i < len(y); i += unaryBlock {
		n := min(unaryBlock, len(y)-i)
		t := scratch[:n]
		copy(t, y[i:])
		g.oneMinusSquare(dy[i:i+n], out[i:i+n], t)
	}
}

// oneMinusSquare writes out = dy·(1−t·t), t a block of scratch (which it
// overwrites): the float32 loop
//
//	for i, v := range t {
//		out[i] = dy[i] * (1 - float32(v*v))
//	}
//
// pass by pass with the set's vector kernels, the same bits.
func (g *UnaryGrad) oneMinusSquare(dy, out, t []float32) {
	g.mul(t, t)
	g.subRev(t, 1)
	g.times(dy, out, t)
}

// times writes out = dy·t; out may be dy.
func (g *UnaryGrad) times(dy, out, t []float32) {
	if &out[0] != &dy[0] {
		copy(out[:len(t)], dy)
	}
	g.mul(out[:len(t)], t)
}

// sigmoidOutputGrad: dy·y(1−y) from y = sigmoid(x), the float32 loop
//
//	for i, v := range y {
//		out[i] = dy[i] * float32(v*(1-v))
//	}
//
// pass by pass over blocks with the set's vector kernels, the same bits.
func sigmoidOutputGrad(g *UnaryGrad, y, dy, out, scratch []float32) {
	for i := 0; i < len(y); i += unaryBlock {
		n := min(unaryBlock, len(y)-i)
		t := scratch[:n]
		copy(t, y[i:])
		g.subRev(t, 1)
		g.mul(t, y[i:i+n])
		g.times(dy[i:i+n], out[i:i+n], t)
	}
}

func siluGrad(g *UnaryGrad, x, dy, out, scratch []float32) {
	g.blocks(x, dy, out, scratch, func(x, dy, out, s []float32) {
		x, dy, out = x[:len(s)], dy[:len(s)], out[:len(s)]
		for i, v := range s {
			out[i] = dy[i] * (v + x[i]*v*(1-v))
		}
	}, nil)
}

// productGrad is dy·f(x) for the functions whose derivative is another
// function: exp' = exp, softplus' = sigmoid.
func productGrad(g *UnaryGrad, x, dy, out, scratch []float32) {
	g.blocks(x, dy, out, scratch, func(_, dy, out, e []float32) {
		dy, out = dy[:len(e)], out[:len(e)]
		for i, v := range e {
			out[i] = dy[i] * v
		}
	}, nil)
}

// blocks2 calls f over x in blocks of unaryBlock, with two blocks of
// scratch, t and u, which f fills and evaluates its vector functions over.
func blocks2(x, dy, out, scratch []float32, f func(x, dy, out, t, u []float32)) {
	for i := 0; i < len(x); i += unaryBlock {
		n := min(unaryBlock, len(x)-i)
		f(x[i:i+n], dy[i:i+n], out[i:i+n], scratch[:n], scratch[unaryBlock:unaryBlock+n])
	}
}

const (
	invSqrt2   = 0.70710678118654752440 // 1/√2
	invSqrt2Pi = 0.39894228040143267794 // 1/√(2π)
	twoSqrtPi  = 1.12837916709551257390 // 2/√π
	sqrt2Pi    = 0.79788456080286535588 // √(2/π)
	geluCubic  = 0.044715               // the tanh form's cubic coefficient
)

// geluGrad: gelu(x) = x·Φ(x), Φ(x) = (1 + erf(x/√2))/2, so
// gelu' = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
func geluGrad(g *UnaryGrad, x, dy, out, scratch []float32) {
	blocks2(x, dy, out, scratch, func(x, dy, out, t, u []float32) {
		dy, out, t, u = dy[:len(x)], out[:len(x)], t[:len(x)], u[:len(x)]
		for i, v := range x {
			t[i], u[i] = v*invSqrt2, -0.5*v*v
		}
		g.f(t, 0)
		g.f2(u, 0)
		for i, v := range x {
			out[i] = dy[i] * (0.5 + 0.5*t[i] + invSqrt2Pi*v*u[i])
		}
	})
}

// geluTanhGrad: with t = tanh(c(x + k·x³)), c = √(2/π),
// gelu' = (1+t)/2 + x/2·(1−t²)·c(1 + 3k·x²).
func geluTanhGrad(g *UnaryGrad, x, dy, out, scratch []float32) {
	g.blocks(x, dy, out, scratch, func(x, dy, out, t []float32) {
		x, dy, out = x[:len(t)], dy[:len(t)], out[:len(t)]
		for i, v := range t {
			xi := x[i]
			out[i] = dy[i] * (0.5*(1+v) + 0.5*xi*(1-v*v)*sqrt2Pi*(1+3*geluCubic*xi*xi))
		}
	}, func(x, t []float32) {
		t = t[:len(x)]
		for i, v := range x {
			t[i] = sqrt2Pi * (v + geluCubic*v*v*v)
		}
	})
}

// eluGrad: 1 above zero, else alpha·eˣ; selu's is both times its scale,
// with its own alpha.
func eluGrad(g *UnaryGrad, x, dy, out, scratch []float32) {
	scale, alpha := float32(1), g.s.Alpha
	if g.s.Kind == eltwise.Selu {
		scale, alpha = seluScale, seluScale*seluAlpha
	}
	above := math.Float32bits(scale)
	g.blocks(x, dy, out, scratch, func(x, dy, out, e []float32) {
		x, dy, out = x[:len(e)], dy[:len(e)], out[:len(e)]
		for i, v := range e {
			m := mask(x[i] > 0)
			out[i] = dy[i] * math.Float32frombits(above&m|math.Float32bits(alpha*v)&^m)
		}
	}, func(x, t []float32) {
		t = t[:len(x)]
		for i, v := range x {
			t[i] = min(v, 0)
		}
	})
}

// erfGrad: erf' = 2/√π·e^(−x²).
func erfGrad(g *UnaryGrad, x, dy, out, scratch []float32) {
	g.blocks(x, dy, out, scratch, func(_, dy, out, e []float32) {
		dy, out = dy[:len(e)], out[:len(e)]
		for i, v := range e {
			out[i] = dy[i] * (twoSqrtPi * v)
		}
	}, func(x, t []float32) {
		t = t[:len(x)]
		for i, v := range x {
			t[i] = -v * v
		}
	})
}

// mishGrad: mish(x) = x·t, t = tanh(softplus(x)), and softplus' = σ, so
// mish' = t + x(1−t²)σ(x).
func mishGrad(g *UnaryGrad, x, dy, out, scratch []float32) {
	blocks2(x, dy, out, scratch, func(x, dy, out, t, u []float32) {
		dy, out, t, u = dy[:len(x)], out[:len(x)], t[:len(x)], u[:len(x)]
		copy(t, x)
		copy(u, x)
		g.f(t, 0)
		g.f2(t, 0)
		g.f3(u, 0)
		for i, v := range x {
			out[i] = dy[i] * (t[i] + v*(1-t[i]*t[i])*u[i])
		}
	})
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func step(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// mask is all ones if b, else 0 (a CMOV, not a branch).
func mask(b bool) uint32 {
	var m uint32
	if b {
		m = ^uint32(0)
	}
	return m
}
