package main

import (
	"fmt"
	"strings"
)

// kernel is one generated function: a loop over the elements of its slice
// parameters, as many as the shortest has (callers pass equal lengths; the
// minimum only keeps a mistake from reading or writing past a slice), whose
// body processes one vector of each at a time.
type kernel struct {
	name   string  // the Go name is name + "AVX2" or name + "NEON"
	params []param // in Go order: slices, then float32 scalars
	reduce reduction
	// body is one vector's work: loads and stores of vector vec of the
	// slices, the scalars, and, if the kernel reduces, accum(vec, ...).
	body func(p *prog, vec int)
	// heavy kernels are unrolled less: their bodies are long enough to keep
	// the FMA units busy, and need the registers.
	heavy bool
	// single kernels hold so many values live that they run one vector
	// per iteration.
	single bool
	// approx kernels compute the reference loop to within the error their
	// package documents; the others exactly.
	approx bool
	loop   []string // the reference loop in Go
	note   []string // anything the loop does not say
}

type param struct {
	name  string
	slice bool
}

type reduction uint8

const (
	noReduce reduction = iota
	sumReduce
	maxReduce
)

func sliceParams(names ...string) []param {
	ps := make([]param, len(names))
	for i, n := range names {
		ps[i] = param{name: n, slice: true}
	}
	return ps
}

func scalars(names ...string) []param {
	ps := make([]param, len(names))
	for i, n := range names {
		ps[i] = param{name: n}
	}
	return ps
}

// signature is the Go signature, for avo and the stubs.
func (k *kernel) signature() string {
	var s []string
	for _, p := range k.params {
		if p.slice {
			s = append(s, p.name+" []float32")
		} else {
			s = append(s, p.name+" float32")
		}
	}
	sig := "func(" + strings.Join(s, ", ") + ")"
	if k.reduce != noReduce {
		sig += " float32"
	}
	return sig
}

// families lists the kernels of each package the generator writes.
var families = map[string][]*kernel{
	"eltwise": eltwiseKernels(),
	"softmax": softmaxKernels(),
}

// unaryKernel maps v[i] = f(v[i]) in place; alpha is a parameter of f or
// unused, so that every unary kernel has one signature.
func unaryKernel(name string, f func(p *prog, x, alpha *val) *val, approx bool, ref ...string) *kernel {
	return &kernel{
		name:   name,
		params: append(sliceParams("v"), scalars("alpha")...),
		body: func(p *prog, vec int) {
			p.store("v", vec, f(p, p.load("v", vec), p.scalar("alpha")))
		},
		heavy:  approx,
		approx: approx,
		loop:   append([]string{"for i, x := range v {"}, append(ref, "}")...),
	}
}

func eltwiseKernels() []*kernel {
	unary := func(f func(*prog, *val) *val) func(p *prog, x, _ *val) *val {
		return func(p *prog, x, _ *val) *val { return f(p, x) }
	}
	ks := []*kernel{
		unaryKernel("relu", unary((*prog).relu), false,
			"\tif x < 0 {",
			"\t\tv[i] = 0",
			"\t}"),
		unaryKernel("leakyRelu", func(p *prog, x, alpha *val) *val {
			return p.selSign(p.ge0(x), x, p.mul(x, alpha))
		}, false,
			"\tif !(x >= 0) {",
			"\t\tv[i] = alpha * x",
			"\t}"),
		unaryKernel("sigmoid", unary(sigmoid), true,
			"\tv[i] = float32(1 / (1 + math.Exp(-float64(x))))"),
		unaryKernel("tanh", unary(tanh), true,
			"\tv[i] = float32(math.Tanh(float64(x)))"),
		unaryKernel("gelu", unary(gelu), true,
			"\ty := float64(x)",
			"\tv[i] = float32(0.5 * y * (1 + math.Erf(y/math.Sqrt2)))"),
		unaryKernel("geluTanh", unary(geluTanh), true,
			"\ty := float64(x)",
			"\tv[i] = float32(0.5 * y * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(y+0.044715*y*y*y))))"),
	}
	ks = append(ks, functionKernels()...)
	// The binary operators, v = v op o and o op v, over a slice o or a scalar x.
	ops := []struct {
		name, sym string
		f         func(p *prog, a, b *val) *val
		commutes  bool
	}{
		{"add", "+", (*prog).addf, true},
		{"sub", "-", (*prog).sub, false},
		{"mul", "*", (*prog).mul, true},
		{"div", "/", (*prog).div, false},
	}
	for _, o := range ops {
		for _, rev := range []bool{false, true} {
			if rev && o.commutes {
				continue
			}
			name, expr := o.name, "v[i] "+o.sym+" %s"
			if rev {
				name, expr = o.name+"Rev", "%s "+o.sym+" v[i]"
			}
			f := o.f
			apply := func(p *prog, v, w *val) *val {
				if rev {
					return f(p, w, v)
				}
				return f(p, v, w)
			}
			ks = append(ks, &kernel{
				name:   name,
				params: sliceParams("v", "o"),
				body: func(p *prog, vec int) {
					p.store("v", vec, apply(p, p.load("v", vec), p.load("o", vec)))
				},
				loop: []string{"for i := range v {", "\tv[i] = " + fmt.Sprintf(expr, "o[i]"), "}"},
			}, &kernel{
				name:   name + "Scalar",
				params: append(sliceParams("v"), scalars("x")...),
				body: func(p *prog, vec int) {
					p.store("v", vec, apply(p, p.load("v", vec), p.scalar("x")))
				},
				loop: []string{"for i := range v {", "\tv[i] = " + fmt.Sprintf(expr, "x"), "}"},
			})
		}
	}
	return ks
}

func singleVector(k *kernel) *kernel {
	k.single = true
	return k
}

// functionKernels are the elementwise functions added with issue 12; their
// reference loops are the generic kernels' (runtime/kernels/eltwise).
func functionKernels() []*kernel {
	unary := func(f func(*prog, *val) *val) func(p *prog, x, _ *val) *val {
		return func(p *prog, x, _ *val) *val { return f(p, x) }
	}
	each := func(expr string) []string { return []string{"\tv[i] = float32(" + expr + ")"} }
	ks := []*kernel{
		unaryKernel("elu", elu, true, "\ty := float64(x)", "\tif y <= 0 {", "\t\tv[i] = float32(float64(alpha) * math.Expm1(y))", "\t}"),
		unaryKernel("selu", unary(selu), true, "\ty := float64(x)", "\tif y > 0 {", "\t\tv[i] = float32(seluScale * y)",
			"\t} else {", "\t\tv[i] = float32(seluScale * seluAlpha * math.Expm1(y))", "\t}"),
		unaryKernel("silu", unary(silu), true, each("float64(x) / (1 + math.Exp(-float64(x)))")...),
		unaryKernel("hardSigmoid", hardSigmoid, true, each("min(max(float64(alpha)*float64(x)+0.5, 0), 1)")...),
		unaryKernel("hardSwish", unary(hardSwish), true, "\ty := float64(x)", "\tv[i] = float32(y * min(max(y+3, 0), 6) / 6)"),
		unaryKernel("mish", unary(mish), true, "\ty := float64(x)", "\tv[i] = float32(y * math.Tanh(max(y, 0)+math.Log1p(math.Exp(-math.Abs(y)))))"),
		unaryKernel("softplus", unary(softplus), true, "\ty := float64(x)", "\tv[i] = float32(max(y, 0) + math.Log1p(math.Exp(-math.Abs(y))))"),
		unaryKernel("softsign", unary(softsign), true, each("float64(x) / (1 + math.Abs(float64(x)))")...),
		unaryKernel("exp", unary(exp), true, each("math.Exp(float64(x))")...),
		unaryKernel("log", unary(logf), true, each("math.Log(float64(x))")...),
		unaryKernel("sqrt", unary((*prog).sqrt), false, each("math.Sqrt(float64(x))")...),
		unaryKernel("rsqrt", unary(func(p *prog, x *val) *val { return p.div(p.konst("one", 1), p.sqrt(x)) }), true,
			each("1 / math.Sqrt(float64(x))")...),
		unaryKernel("abs", unary((*prog).abs), false, "\tv[i] = float32(math.Abs(float64(x)))"),
		unaryKernel("neg", unary(neg), false, "\tv[i] = -x"),
		singleVector(unaryKernel("erf", unary(erf), true, each("math.Erf(float64(x))")...)),
		{
			name:   "clip",
			params: append(sliceParams("v"), scalars("lo", "hi")...),
			body: func(p *prog, vec int) {
				p.store("v", vec, clamp(p, p.load("v", vec), p.scalar("lo"), p.scalar("hi")))
			},
			loop: []string{"for i, x := range v {", "\tv[i] = min(max(x, lo), hi)", "}"},
		},
		{
			// relu's gradient, for package backward: dy (v) where x (o) > 0.
			name:   "reluGrad",
			params: sliceParams("v", "o"),
			body: func(p *prog, vec int) {
				p.store("v", vec, p.and(p.load("v", vec), p.lt(p.konst("zero", 0), p.load("o", vec))))
			},
			loop: []string{"for i := range v {", "\tif !(o[i] > 0) {", "\t\tv[i] = 0", "\t}", "}"},
		},
		{
			name:   "orSign",
			params: sliceParams("v", "o"),
			body: func(p *prog, vec int) {
				p.store("v", vec, p.or(p.load("v", vec), p.and(p.load("o", vec), p.bitsConst("sign", 0x80000000))))
			},
			loop: []string{"for i := range v {",
				"\tv[i] = math.Float32frombits(math.Float32bits(v[i]) | math.Float32bits(o[i])&(1<<31))", "}"},
		},
	}
	// minimum and maximum commute: one kernel serves both orders.
	for _, m := range []struct {
		name, fn string
		f        func(p *prog, a, b *val) *val
	}{{"minimum", "min", goMin}, {"maximum", "max", goMax}} {
		ks = append(ks, &kernel{
			name:   m.name,
			params: sliceParams("v", "o"),
			body: func(p *prog, vec int) {
				p.store("v", vec, m.f(p, p.load("v", vec), p.load("o", vec)))
			},
			loop: []string{"for i := range v {", "\tv[i] = " + m.fn + "(v[i], o[i])", "}"},
		}, &kernel{
			name:   m.name + "Scalar",
			params: append(sliceParams("v"), scalars("x")...),
			body: func(p *prog, vec int) {
				p.store("v", vec, m.f(p, p.load("v", vec), p.scalar("x")))
			},
			loop: []string{"for i := range v {", "\tv[i] = " + m.fn + "(v[i], x)", "}"},
		})
	}
	return ks
}

// expShift is e^(x-m), with e^x as above.
func expShift(p *prog, x, m *val) *val { return exp(p, p.sub(x, m)) }

func softmaxKernels() []*kernel {
	return []*kernel{{
		name:   "rowMax",
		params: sliceParams("x"),
		reduce: maxReduce,
		body:   func(p *prog, vec int) { p.accum(vec, p.load("x", vec)) },
		loop: []string{
			"m := float32(math.Inf(-1))",
			"for _, v := range x {",
			"\tm = max(m, v)",
			"}",
			"return m",
		},
		note: []string{
			"except that a NaN in x need not make the result NaN (softmax's",
			"outputs are NaN either way).",
		},
	}, {
		name:   "expSum",
		params: append(sliceParams("x", "out"), scalars("m")...),
		reduce: sumReduce,
		heavy:  true,
		approx: true,
		body: func(p *prog, vec int) {
			e := expShift(p, p.load("x", vec), p.scalar("m"))
			p.store("out", vec, e)
			p.accum(vec, e)
		},
		loop: []string{
			"var sum float32",
			"for i, v := range x {",
			"\tout[i] = float32(math.Exp(float64(v - m)))",
			"\tsum += out[i]",
			"}",
			"return sum",
		},
		note: []string{
			"summing in another order.",
		},
	}, {
		name:   "sumExp",
		params: append(sliceParams("x"), scalars("m")...),
		reduce: sumReduce,
		heavy:  true,
		approx: true,
		body: func(p *prog, vec int) {
			p.accum(vec, expShift(p, p.load("x", vec), p.scalar("m")))
		},
		loop: []string{
			"var sum float32",
			"for _, v := range x {",
			"\tsum += float32(math.Exp(float64(v - m)))",
			"}",
			"return sum",
		},
		note: []string{
			"summing in another order.",
		},
	}, {
		name:   "logShift",
		params: append(sliceParams("x", "out"), scalars("m", "ls")...),
		body: func(p *prog, vec int) {
			p.store("out", vec, p.sub(p.sub(p.load("x", vec), p.scalar("m")), p.scalar("ls")))
		},
		loop: []string{
			"for i, v := range x {",
			"\tout[i] = (v - m) - ls",
			"}",
		},
	}, {
		name:   "scale",
		params: append(sliceParams("v"), scalars("s")...),
		body: func(p *prog, vec int) {
			p.store("v", vec, p.mul(p.load("v", vec), p.scalar("s")))
		},
		loop: []string{
			"for i := range v {",
			"\tv[i] *= s",
			"}",
		},
	}, {
		name:   "maxInto",
		params: sliceParams("m", "x"),
		body: func(p *prog, vec int) {
			p.store("m", vec, p.max(p.load("x", vec), p.load("m", vec)))
		},
		loop: []string{
			"for i, v := range x[:len(m)] {",
			"\tm[i] = max(m[i], v)",
			"}",
		},
		note: []string{
			"except that a NaN in m need not stay (softmax's outputs are NaN",
			"either way).",
		},
	}, {
		name:   "expSumInto",
		params: sliceParams("x", "m", "out", "sum"),
		heavy:  true,
		approx: true,
		body: func(p *prog, vec int) {
			e := expShift(p, p.load("x", vec), p.load("m", vec))
			p.store("out", vec, e)
			p.store("sum", vec, p.addf(p.load("sum", vec), e))
		},
		loop: []string{
			"for i, v := range x {",
			"\tout[i] = float32(math.Exp(float64(v - m[i])))",
			"\tsum[i] += out[i]",
			"}",
		},
	}, {
		name:   "sumExpInto",
		params: sliceParams("x", "m", "sum"),
		heavy:  true,
		approx: true,
		body: func(p *prog, vec int) {
			e := expShift(p, p.load("x", vec), p.load("m", vec))
			p.store("sum", vec, p.addf(p.load("sum", vec), e))
		},
		loop: []string{
			"for i, v := range x {",
			"\tsum[i] += float32(math.Exp(float64(v - m[i])))",
			"}",
		},
	}, {
		name:   "mulInto",
		params: sliceParams("v", "s"),
		body: func(p *prog, vec int) {
			p.store("v", vec, p.mul(p.load("v", vec), p.load("s", vec)))
		},
		loop: []string{
			"for i := range v {",
			"\tv[i] *= s[i]",
			"}",
		},
	}, {
		name:   "logShiftInto",
		params: sliceParams("x", "m", "ls", "out"),
		body: func(p *prog, vec int) {
			p.store("out", vec, p.sub(p.sub(p.load("x", vec), p.load("m", vec)), p.load("ls", vec)))
		},
		loop: []string{
			"for i, v := range x {",
			"\tout[i] = (v - m[i]) - ls[i]",
			"}",
		},
	}}
}
