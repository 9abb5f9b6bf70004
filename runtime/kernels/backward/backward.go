// Package backward holds the kernels of the gradient ops that package
// autodiff emits: the sum of a broadcast tensor back to its operand's shape,
// the derivative of the unary elementwise functions, and the gradients of
// convolution, pooling, embedding and the recurrent loop. Each is tested
// against a simpler version of itself here and against runtime/ref's in
// runtime/plan; those that split over threads (the convolutions, pools,
// unary gradients, and the recurrent loop by sequence) do so in units whose
// results do not depend on the thread count.
package backward

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
	"github.com/mdlc/mdlc/runtime/kernels/pool"
)

// SumTo adds each element of x, of shape xShape, into out at the position
// it broadcasts from; st are out's strides broadcast to xShape (0 on summed
// axes). Compiled for a kernel set: with the axes merged where x and out
// walk them as one, a sum over leading axes ([R, C] → [C], a bias's
// gradient) adds x's rows into out with the set's pool.AddRows kernel
// (which keeps each vector of out in a register over all the rows), and
// one over trailing axes ([R, C] → [R]) sums each row in a tight loop; both
// add in the order the generic walk does, so the bits are the same. In
// fashion_cnn's training step (batch 32, one thread, Zen 5 shared, 200
// steps) SumTo's CPU time went from 0.08-0.17 s to 0.01 s with a vector
// add per row; BenchmarkSumTo (LeNet's first bias, 50 Ki rows of 6):
// 300-306 µs with the add per row, 29-32 µs with AddRows.
type SumTo struct {
	shape, st  []int
	rows, cols int
	kind       sumKind
	addRows    func(acc, x []float32, rows, c int)
}

type sumKind uint8

const (
	sumGeneric  sumKind = iota
	sumLeading          // [rows, cols] → [cols]
	sumTrailing         // [rows, cols] → [rows]
)

// NewSumTo compiles the sum of x, of shape xShape, into out, whose strides
// broadcast to xShape are st.
func NewSumTo(set cpu.Set, xShape, st []int) *SumTo {
	s := &SumTo{shape: xShape, st: st, addRows: pool.AddRows(set)}
	// Merge: drop axes of size 1; join an axis to the one before it when
	// out's strides walk both as one (both 0, or contiguous).
	var dims, strides []int
	for i, n := range xShape {
		switch {
		case n == 1:
		case len(dims) > 0 && strides[len(strides)-1] == st[i]*n:
			dims[len(dims)-1] *= n
			strides[len(strides)-1] = st[i]
		default:
			dims, strides = append(dims, n), append(strides, st[i])
		}
	}
	switch {
	case len(dims) == 1:
		s.kind, s.rows, s.cols = sumLeading, 1, dims[0]
		if strides[0] == 0 {
			s.kind, s.rows, s.cols = sumTrailing, 1, dims[0]
		}
	case len(dims) == 2 && strides[0] == 0 && strides[1] == 1:
		s.kind, s.rows, s.cols = sumLeading, dims[0], dims[1]
	case len(dims) == 2 && strides[0] == 1 && strides[1] == 0:
		s.kind, s.rows, s.cols = sumTrailing, dims[0], dims[1]
	}
	return s
}

// Run writes out, the sum of x.
func (s *SumTo) Run(x, out []float32) {
	clear(out)
	switch {
	case len(s.shape) == 0:
		out[0] = x[0]
	case s.kind == sumLeading:
		s.addRows(out[:s.cols], x, s.rows, s.cols)
	case s.kind == sumTrailing:
		for r := range s.rows {
			var t float32
			for _, v := range x[r*s.cols : (r+1)*s.cols] {
				t += v
			}
			out[r] += t
		}
	default:
		sumTo(x, out, s.shape, s.st, 0, 0)
	}
}

// sumTo adds the block of x from element i, of shape, into out from off,
// and returns the index after the block: the generic walk.
func sumTo(x, out []float32, shape, st []int, off, i int) int {
	if len(shape) == 1 {
		for j := range shape[0] {
			out[off+j*st[0]] += x[i+j]
		}
		return i + shape[0]
	}
	for j := range shape[0] {
		i = sumTo(x, out, shape[1:], st[1:], off+j*st[0], i)
	}
	return i
}

// SELU's constants.
const (
	seluAlpha = 1.6732632423543772848170429916717
	seluScale = 1.0507009873554804934193349852946
)

// derivative is f'(x); at a kink, the one-sided value PyTorch takes.
func derivative(s eltwise.Step, x float64) float64 {
	switch s.Kind {
	case eltwise.Relu:
		return step(x > 0)
	case eltwise.LeakyRelu:
		if x > 0 {
			return 1
		}
		return float64(s.Alpha)
	case eltwise.Sigmoid:
		y := sigmoid(x)
		return y * (1 - y)
	case eltwise.Tanh:
		t := math.Tanh(x)
		return 1 - t*t
	case eltwise.Gelu:
		return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
	case eltwise.GeluTanh:
		c := math.Sqrt(2 / math.Pi)
		t := math.Tanh(c * (x + 0.044715*x*x*x))
		return 0.5*(1+t) + 0.5*x*(1-t*t)*c*(1+3*0.044715*x*x)
	case eltwise.Clip:
		return step(x >= float64(s.Alpha) && x <= float64(s.Beta))
	case eltwise.Elu:
		if x > 0 {
			return 1
		}
		return float64(s.Alpha) * math.Exp(x)
	case eltwise.Selu:
		if x > 0 {
			return seluScale
		}
		return seluScale * seluAlpha * math.Exp(x)
	case eltwise.Silu:
		y := sigmoid(x)
		return y + x*y*(1-y)
	case eltwise.HardSigmoid:
		y := float64(s.Alpha)*x + 0.5
		return float64(s.Alpha) * step(y > 0 && y < 1)
	case eltwise.HardSwish:
		switch {
		case x < -3:
			return 0
		case x > 3:
			return 1
		}
		return (2*x + 3) / 6
	case eltwise.Mish:
		t := math.Tanh(max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))))
		return t + x*(1-t*t)*sigmoid(x)
	case eltwise.Softplus:
		return sigmoid(x)
	case eltwise.Softsign:
		d := 1 + math.Abs(x)
		return 1 / (d * d)
	case eltwise.Exp:
		return math.Exp(x)
	case eltwise.Log:
		return 1 / x
	case eltwise.Sqrt:
		return 0.5 / math.Sqrt(x)
	case eltwise.Rsqrt:
		return -0.5 / (x * math.Sqrt(x))
	case eltwise.Abs:
		return step(x > 0) - step(x < 0)
	case eltwise.Neg:
		return -1
	case eltwise.Pow:
		e := float64(s.Alpha)
		switch {
		case e == 0:
			return 0
		case x < 0 && e != math.Trunc(e):
			return math.NaN()
		}
		return e * math.Pow(x, e-1)
	case eltwise.Erf:
		return 2 / math.Sqrt(math.Pi) * math.Exp(-x*x)
	}
	return math.NaN()
}

// derivativeOfOutput is f'(x) from y = f(x), for relu, tanh and sigmoid
// (ir.FromOutput).
func derivativeOfOutput(s eltwise.Step, y float64) float64 {
	switch s.Kind {
	case eltwise.Relu:
		return step(y > 0)
	case eltwise.Tanh:
		return 1 - y*y
	case eltwise.Sigmoid:
		return y * (1 - y)
	}
	return math.NaN()
}

// Pool is a pooling window's geometry over N×H×W×C images, output N×OH×OW×C.
type Pool struct {
	N, H, W, C, KH, KW, OH, OW int
	Stride, Dilation           [2]int
	Pads                       [4]int
	// CountPad divides averages by the whole window, padding included.
	CountPad bool
}

// taps is the range [lo, hi) of window taps along one axis that land inside
// the image of size n, for a window starting at start.
func taps(start, k, dil, n int) (lo, hi int) {
	lo, hi = 0, k
	for lo < k && start+lo*dil < 0 {
		lo++
	}
	for hi > lo && start+(hi-1)*dil >= n {
		hi--
	}
	return lo, hi
}

// window is output pixel (b, oy, ox)'s: the offset of its output, the
// offset of its window's first tap (which may lie outside the image), the
// ranges of taps inside the image and the count it averages by.
func (p *Pool) window(b, oy, ox int) (yo, base, y0, y1, x0, x1, n int) {
	sy, sx := oy*p.Stride[0]-p.Pads[0], ox*p.Stride[1]-p.Pads[2]
	y0, y1 = taps(sy, p.KH, p.Dilation[0], p.H)
	x0, x1 = taps(sx, p.KW, p.Dilation[1], p.W)
	n = (y1 - y0) * (x1 - x0)
	if p.CountPad {
		n = p.KH * p.KW
	}
	return ((b*p.OH+oy)*p.OW + ox) * p.C, ((b*p.H+sy)*p.W + sx) * p.C, y0, y1, x0, x1, n
}

// MaxGrad adds each dy of image b (a unit: units write disjoint parts of
// dx) into dx at its window's first maximal cell of x (a NaN counting as
// the maximum). The argmax is found again from x rather than saved by the
// forward pool: x is kept for the backward pass anyway, while saved indices
// would cost the forward pass a second output and an integer tensor as
// large as its result.
//
// 2×2 windows with stride 2 take maxGrad2x2, on the set's kernel; the
// others compare and update per tap (maxGradGeneral).
func (p *PoolGrad) MaxGrad(x, dy, dx []float32, b int) {
	if p.max2x2 != nil {
		p.maxGrad2x2(p.max2x2, x, dy, dx, b)
		return
	}
	p.maxGradGeneral(x, dy, dx, b)
}

// maxGradGeneral is MaxGrad for any windows: a compare and update per tap.
func (p *Pool) maxGradGeneral(x, dy, dx []float32, b int) {
	img := p.H * p.W * p.C
	clear(dx[b*img : (b+1)*img])
	for oy := range p.OH {
		for ox := range p.OW {
			yo, base, y0, y1, x0, x1, _ := p.window(b, oy, ox)
			for ch := range p.C {
				arg := base + (y0*p.Dilation[0]*p.W+x0*p.Dilation[1])*p.C + ch
				for ky := y0; ky < y1; ky++ {
					for kx := x0; kx < x1; kx++ {
						c := base + (ky*p.Dilation[0]*p.W+kx*p.Dilation[1])*p.C + ch
						if v, m := x[c], x[arg]; v > m || v != v && m == m {
							arg = c
						}
					}
				}
				dx[arg] += dy[yo+ch]
			}
		}
	}
}

// tiles2x2 reports whether the windows are 2×2 with stride 2, undilated and
// unpadded: each cell of x lies in at most one window.
func (p *Pool) tiles2x2() bool {
	return p.KH == 2 && p.KW == 2 && p.Stride == [2]int{2, 2} && p.Dilation == [2]int{1, 1} && p.Pads == [4]int{}
}

// maxGrad2x2 is MaxGrad for 2×2 tiles with the set's pool.MaxGrad2x2
// kernel, a row of windows a call: every cell of a window is written once
// (dy at the argmax, 0 elsewhere), so dx is cleared only where no window
// reaches (an odd last row or column). BenchmarkMaxGrad (fashion_cnn's
// first pool, batch 32, relu-like data, Zen 5 shared, one thread, same
// session): the general compare-and-update 1.44-1.49 ms, the AVX-512
// kernel 78-79 µs, AVX2's 95-98 µs (a branch-free Go loop took 1.1-1.9 ms
// in an earlier, busier session, where the general path took 2.1-3.2).
func (p *Pool) maxGrad2x2(k func(x, dy, dx []float32, windows, c, row int), x, dy, dx []float32, b int) {
	if 2*p.OH < p.H || 2*p.OW < p.W {
		img := p.H * p.W * p.C
		clear(dx[b*img : (b+1)*img])
	}
	row := p.W * p.C
	for oy := range p.OH {
		t := (b*p.H + 2*oy) * row
		yo := (b*p.OH + oy) * p.OW * p.C
		k(x[t:t+2*row], dy[yo:yo+p.OW*p.C], dx[t:t+2*row], p.OW, p.C, row)
	}
}

// PoolGrad is a pool's gradient compiled for a kernel set: 2×2 max pools
// with stride 2 take the set's pool.MaxGrad2x2 kernel.
type PoolGrad struct {
	Pool
	max2x2 func(x, dy, dx []float32, windows, c, row int)
}

// NewPoolGrad compiles p's gradient for set.
func NewPoolGrad(set cpu.Set, p Pool) *PoolGrad {
	g := &PoolGrad{Pool: p}
	if p.tiles2x2() {
		g.max2x2 = pool.MaxGrad2x2(set)
	}
	return g
}

// PoolUnits is the units of MaxGrad and AvgGrad: one per image.
func (p *Pool) PoolUnits() int { return p.N }

// AvgGrad spreads each dy evenly over the cells its window averaged, for
// image b (a unit, as MaxGrad's). 2×2 tiles with stride 2 take
// avgGrad2x2.
func (p *Pool) AvgGrad(dy, dx []float32, b int) {
	if p.tiles2x2() {
		p.avgGrad2x2(dy, dx, b)
		return
	}
	p.avgGradGeneral(dy, dx, b)
}

// avgGradGeneral is AvgGrad for any windows.
func (p *Pool) avgGradGeneral(dy, dx []float32, b int) {
	img := p.H * p.W * p.C
	clear(dx[b*img : (b+1)*img])
	for oy := range p.OH {
		for ox := range p.OW {
			yo, base, y0, y1, x0, x1, n := p.window(b, oy, ox)
			inv := 1 / float32(n)
			g := dy[yo : yo+p.C]
			for ky := y0; ky < y1; ky++ {
				for kx := x0; kx < x1; kx++ {
					c := base + (ky*p.Dilation[0]*p.W+kx*p.Dilation[1])*p.C
					d := dx[c : c+p.C]
					for ch, v := range g {
						d[ch] += v * inv
					}
				}
			}
		}
	}
}

// avgGrad2x2 is AvgGrad for 2×2 tiles: each cell lies in one window, so
// a window's quarter of dy is written (not added) to the first of its rows
// twice over, and the row copied to the second; only the cells no window
// reaches (an odd last row or column) are cleared. LeNet's first pool's
// gradient (batch 64, 28×28×6; Xeon, Emerald Rapids, the thread's CPU time
// on a loaded machine, 3 runs): 890-896 µs by the general walk, 229-234
// by this.
func (p *Pool) avgGrad2x2(dy, dx []float32, b int) {
	c, row := p.C, p.W*p.C
	if 2*p.OH < p.H || 2*p.OW < p.W {
		img := p.H * p.W * p.C
		clear(dx[b*img : (b+1)*img])
	}
	for oy := range p.OH {
		t := (b*p.H + 2*oy) * row
		top := dx[t : t+2*p.OW*c]
		g := dy[(b*p.OH+oy)*p.OW*c : (b*p.OH+oy+1)*p.OW*c]
		for ox := range p.OW {
			w, d := g[ox*c:ox*c+c], top[2*ox*c:2*ox*c+2*c]
			for ch, v := range w {
				v *= 0.25
				d[ch], d[c+ch] = v, v
			}
		}
		copy(dx[t+row:t+row+2*p.OW*c], top)
	}
}

// EmbeddingGrad adds each row of dy (Dim wide) into the row of table its id
// (stored as a float32's bits, as the operand table holds integer inputs)
// selected.
func EmbeddingGrad(ids, dy, table []float32, dim int) {
	clear(table)
	for i, f := range ids {
		id := int(int32(math.Float32bits(f)))
		row := table[id*dim : (id+1)*dim]
		for j, v := range dy[i*dim : (i+1)*dim] {
			row[j] += v
		}
	}
}
