package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
	"github.com/stretchr/testify/require"
)

func TestEveryOpHasAKernel(t *testing.T) {
	for op := ir.OpInvalid + 1; op < ir.OpLast; op++ {
		require.NotNil(t, kernels[op], "op %s has no reference kernel", op)
	}
}

func typeOf(shape []int) ir.Type {
	s := make(ir.Shape, len(shape))
	for i, d := range shape {
		s[i] = ir.D(d)
	}
	return ir.Type{DType: ir.F32, Shape: s}
}

func tens(shape []int, data ...float32) *tensor.Tensor {
	return &tensor.Tensor{Shape: shape, Data: data}
}

// seq is a tensor holding 1, 2, 3, ... in row-major order.
func seq(shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(i + 1)
	}
	return t
}

func random(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

// apply runs the one-node graph y = op(x, p0, p1, ...), x an input and the
// rest params, and returns y.
func apply(t *testing.T, op ir.Op, attrs ir.Attrs, x *tensor.Tensor, params ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	g := ir.NewGraph(op.String())
	operands := []*ir.Value{g.AddInput("x", typeOf(x.Shape))}
	byName := map[string]*tensor.Tensor{}
	for i, p := range params {
		name := fmt.Sprintf("p%d", i)
		operands = append(operands, g.AddParam(name, typeOf(p.Shape), ir.Init{Kind: ir.InitZeros}, true))
		byName[name] = p
	}
	y, err := g.AddNode(op, attrs, operands, op.String(), ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("y", y)
	out, err := Run(g, byName, map[string]*tensor.Tensor{"x": x})
	require.NoError(t, err)
	return out["y"]
}

func requireClose(t *testing.T, want []float64, got *tensor.Tensor) {
	t.Helper()
	require.Len(t, got.Data, len(want))
	for i := range want {
		require.InDelta(t, want[i], float64(got.Data[i]), 1e-6*max(1, math.Abs(want[i])), "element %d: want %v, got %v", i, want, got.Data)
	}
}

func convAttrs(stride, dilation [2]int, pad ir.Padding, groups int) *ir.ConvAttrs {
	return &ir.ConvAttrs{Window2D: ir.Window2D{Stride: stride, Dilation: dilation, Padding: pad}, Groups: groups}
}

var one = [2]int{1, 1}

// The expectations below were worked by hand and checked with a separate
// implementation that materialises the padding.
func TestConv2D(t *testing.T) {
	x := seq(1, 4, 4, 1) // x[i][j] = 4i+j+1
	k := tens([]int{3, 3, 1, 1},
		1, 2, 0,
		0, 1, 0,
		0, 0, -1)
	for _, tc := range []struct {
		name  string
		attrs *ir.ConvAttrs
		shape []int
		want  []float32
	}{
		// out[i][j] = x[i][j] + 2x[i][j+1] + x[i+1][j+1] - x[i+2][j+2] = 12i+3j
		{"valid", convAttrs(one, one, ir.Valid, 1), []int{1, 2, 2, 1}, []float32{0, 3, 12, 15}},
		{"valid stride 2", convAttrs([2]int{2, 2}, one, ir.Valid, 1), []int{1, 1, 1, 1}, []float32{0}},
		// Padding 0 top/left, 1 bottom/right.
		{"same stride 2", convAttrs([2]int{2, 2}, one, ir.Same, 1), []int{1, 2, 2, 1}, []float32{0, 19, 43, 51}},
		{"same", convAttrs(one, one, ir.Same, 1), []int{1, 4, 4, 1}, []float32{
			-5, -5, -5, 4,
			-3, 0, 3, 19,
			5, 12, 15, 35,
			31, 43, 47, 51}},
		{"explicit", &ir.ConvAttrs{Window2D: ir.Window2D{Stride: [2]int{1, 2}, Dilation: one, Padding: ir.Explicit, Pads: [4]int{2, 0, 1, 0}}, Groups: 1},
			[]int{1, 4, 2, 1}, []float32{-2, -4, -5, -5, -3, 3, 5, 15}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := apply(t, ir.OpConv2D, tc.attrs, x, k)
			require.Equal(t, tc.shape, y.Shape)
			require.Equal(t, tc.want, y.Data)
		})
	}
}

func TestConv2DDilated(t *testing.T) {
	x := seq(1, 5, 5, 1) // x[i][j] = 5i+j+1
	k := tens([]int{2, 2, 1, 1}, 1, 2, 3, 4)
	// out[i][j] = x[i][j] + 2x[i][j+2] + 3x[i+2][j] + 4x[i+2][j+2] = 50i+10j+92
	y := apply(t, ir.OpConv2D, convAttrs(one, [2]int{2, 2}, ir.Valid, 1), x, k)
	require.Equal(t, []int{1, 3, 3, 1}, y.Shape)
	require.Equal(t, []float32{92, 102, 112, 142, 152, 162, 192, 202, 212}, y.Data)
}

func TestConv2DBias(t *testing.T) {
	x := tens([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	k := tens([]int{1, 1, 2, 3}, 1, 0, 1, 0, 1, 1) // outputs c0, c1, c0+c1
	b := tens([]int{3}, 10, 20, 30)
	y := apply(t, ir.OpConv2D, convAttrs(one, one, ir.Valid, 1), x, k, b)
	require.Equal(t, []float32{11, 22, 33, 13, 24, 37}, y.Data)
}

// Depthwise with multiplier 2: outputs 0,1 read channel 0, outputs 2,3 channel 1.
func TestConv2DDepthwise(t *testing.T) {
	x := tensor.New(1, 3, 3, 2)
	for p := range 9 {
		x.Data[2*p], x.Data[2*p+1] = float32(p+1), -10*float32(p+1)
	}
	// Output 0 picks the window's top-left, 1 its bottom-right, 2 sums it, 3
	// picks its top-right; listed per window cell (ky,kx) then output.
	k := tens([]int{2, 2, 1, 4},
		1, 0, 1, 0,
		0, 0, 1, 1,
		0, 0, 1, 0,
		0, 1, 1, 0)
	y := apply(t, ir.OpConv2D, convAttrs(one, one, ir.Valid, 2), x, k)
	require.Equal(t, []int{1, 2, 2, 4}, y.Shape)
	require.Equal(t, []float32{
		1, 5, -120, -20,
		2, 6, -160, -30,
		4, 8, -240, -50,
		5, 9, -280, -60}, y.Data)
}

// A grouped conv equals one conv per group on that group's input channels,
// with that group's filters, concatenated along the channels.
func TestConv2DGroupsAreSeparateConvs(t *testing.T) {
	const groups, cin, cout = 3, 6, 9
	r := rand.New(rand.NewPCG(1, 2))
	x, k, b := random(r, 2, 6, 7, cin), random(r, 3, 2, cin/groups, cout), random(r, cout)
	attrs := func(groups int) *ir.ConvAttrs { return convAttrs([2]int{2, 1}, [2]int{1, 2}, ir.Same, groups) }
	y := apply(t, ir.OpConv2D, attrs(groups), x, k, b)

	cpg, opg := cin/groups, cout/groups
	want := make([]float32, len(y.Data))
	for g := range groups {
		xg := tensor.New(2, 6, 7, cpg)
		for p := range xg.Data {
			xg.Data[p] = x.Data[p/cpg*cin+g*cpg+p%cpg]
		}
		kg := tensor.New(3, 2, cpg, opg)
		for p := range kg.Data {
			kg.Data[p] = k.Data[p/opg*cout+g*opg+p%opg]
		}
		bg := tens([]int{opg}, b.Data[g*opg:(g+1)*opg]...)
		yg := apply(t, ir.OpConv2D, attrs(1), xg, kg, bg)
		for p, v := range yg.Data {
			want[p/opg*cout+g*opg+p%opg] = v
		}
	}
	require.Equal(t, want, y.Data)
}

// A 1×1 conv is dense over the channel axis.
func TestConv2D1x1IsDense(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x, k, b := random(r, 2, 3, 3, 4), random(r, 1, 1, 4, 5), random(r, 5)
	conv := apply(t, ir.OpConv2D, convAttrs(one, one, ir.Valid, 1), x, k, b)
	dense := apply(t, ir.OpDense, nil, tens([]int{2, 9, 4}, x.Data...), tens([]int{4, 5}, k.Data...), b)
	require.Equal(t, []int{2, 3, 3, 5}, conv.Shape)
	require.Equal(t, dense.Data, conv.Data)
}

func TestDense(t *testing.T) {
	k := tens([]int{3, 2}, 1, 0, 0, 1, 1, 1)
	b := tens([]int{2}, 10, 20)
	y := apply(t, ir.OpDense, nil, tens([]int{2, 3}, 1, 2, 3, 4, 5, 6), k, b)
	require.Equal(t, []float32{14, 25, 20, 31}, y.Data)

	y = apply(t, ir.OpDense, nil, tens([]int{2, 2, 3}, 1, 2, 3, 4, 5, 6, 0, 0, 1, 1, 0, 0), k)
	require.Equal(t, []int{2, 2, 2}, y.Shape)
	require.Equal(t, []float32{4, 5, 10, 11, 1, 1, 1, 0}, y.Data)
}

func TestBatchNorm(t *testing.T) {
	x := tens([]int{2, 2}, 1, 2, 3, 4)
	gamma, beta := tens([]int{2}, 2, 3), tens([]int{2}, 0.5, -1)
	mean, variance := tens([]int{2}, 1, 2), tens([]int{2}, 3, 0)
	// Channel 0: (x-1)/2*2+0.5; channel 1: (x-2)/1*3-1.
	y := apply(t, ir.OpBatchNorm, &ir.BatchNormAttrs{Epsilon: 1}, x, gamma, beta, mean, variance)
	require.Equal(t, []float32{0.5, -1, 2.5, 5}, y.Data)
}

// applyInputs runs the one-node graph y = op(in0, in1, ...), every operand
// an input.
func applyInputs(t *testing.T, op ir.Op, attrs ir.Attrs, ins ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	g := ir.NewGraph(op.String())
	var vals []*ir.Value
	feed := map[string]*tensor.Tensor{}
	for i, x := range ins {
		name := fmt.Sprintf("in%d", i)
		vals = append(vals, g.AddInput(name, typeOf(x.Shape)))
		feed[name] = x
	}
	y, err := g.AddNode(op, attrs, vals, op.String(), ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("y", y)
	out, err := Run(g, nil, feed)
	require.NoError(t, err)
	return out["y"]
}

func attend(t *testing.T, a *ir.AttentionAttrs, ins ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	return applyInputs(t, ir.OpAttention, a, ins...)
}

func TestAttention(t *testing.T) {
	q, k, v := tens([]int{1, 2, 1}, 1, 0), tens([]int{1, 2, 1}, 1, 2), tens([]int{1, 2, 1}, 10, 20)
	// Row 0 scores [1, 2]: weights 1/(1+e) and e/(1+e); row 1 scores [0, 0].
	e := math.E
	requireClose(t, []float64{(10 + 20*e) / (1 + e), 15}, attend(t, &ir.AttentionAttrs{Scale: 1}, q, k, v))
	requireClose(t, []float64{10, 15}, attend(t, &ir.AttentionAttrs{Scale: 1, Causal: true}, q, k, v))
	mask := tens([]int{2, 2}, 0, float32(math.Inf(-1)), 0, 0)
	requireClose(t, []float64{10, 15}, attend(t, &ir.AttentionAttrs{Scale: 1}, q, k, v, mask))
	// The default scale is 1/sqrt(d_k): d_k = 4 halves the scores.
	q4, k4 := tens([]int{1, 1, 4}, 1, 1, 1, 1), tens([]int{1, 2, 4}, 1, 0, 0, 0, 0, 0, 0, 0)
	requireClose(t, []float64{(10*math.Exp(0.5) + 20) / (math.Exp(0.5) + 1)}, attend(t, &ir.AttentionAttrs{}, q4, k4, v))
}

func TestSlice(t *testing.T) {
	x := seq(2, 3, 4)
	y := apply(t, ir.OpSlice, &ir.SliceAttrs{Axis: 1, Start: 1, End: 3}, x)
	require.Equal(t, []int{2, 2, 4}, y.Shape)
	require.Equal(t, []float32{5, 6, 7, 8, 9, 10, 11, 12, 17, 18, 19, 20, 21, 22, 23, 24}, y.Data)
	y = apply(t, ir.OpSlice, &ir.SliceAttrs{Axis: 2, Start: 3, End: 4}, x)
	require.Equal(t, []float32{4, 8, 12, 16, 20, 24}, y.Data)
}

func TestPositional(t *testing.T) {
	// d = 4: features sin(p), cos(p), sin(p/100), cos(p/100) at position p.
	x := tens([]int{1, 3, 4}, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0)
	y := apply(t, ir.OpPositional, nil, x)
	var want []float64
	for p := range 3 {
		f := float64(p)
		row := []float64{math.Sin(f), math.Cos(f), math.Sin(f / 100), math.Cos(f / 100)}
		if p == 0 {
			for i := range row {
				row[i]++
			}
		}
		want = append(want, row...)
	}
	requireClose(t, want, y)
}

func TestLayerNorm(t *testing.T) {
	// Row 0: mean 2.5, variance 1.25; row 1: mean 0, variance 1.
	x := tens([]int{2, 4}, 1, 2, 3, 4, -1, 1, -1, 1)
	gamma, beta := tens([]int{4}, 1, 2, 1, 1), tens([]int{4}, 0, 0, 0, 10)
	y := apply(t, ir.OpLayerNorm, &ir.NormAttrs{Epsilon: 0}, x, gamma, beta)
	s := 1 / math.Sqrt(1.25)
	requireClose(t, []float64{-1.5 * s, -1 * s, 0.5 * s, 1.5*s + 10, -1, 2, -1, 11}, y)
	y = apply(t, ir.OpLayerNorm, &ir.NormAttrs{Epsilon: 1}, tens([]int{1, 2}, -1, 1), tens([]int{2}, 1, 1), tens([]int{2}, 0, 0))
	requireClose(t, []float64{-1 / math.Sqrt2, 1 / math.Sqrt2}, y)
}

func TestRMSNorm(t *testing.T) {
	// Rows [3, 4] and [1, -1]: mean squares 12.5 and 1 (+eps 1 = 2).
	y := apply(t, ir.OpRMSNorm, &ir.NormAttrs{Epsilon: 1}, tens([]int{2, 2}, 3, 4, 1, -1), tens([]int{2}, 2, 1))
	requireClose(t, []float64{6 / math.Sqrt(13.5), 4 / math.Sqrt(13.5), 2 / math.Sqrt2, -1 / math.Sqrt2}, y)
}

// matmul2D is the textbook product of row-major matrices.
func matmul2D(a, b [][]float32) [][]float32 {
	c := make([][]float32, len(a))
	for i := range a {
		c[i] = make([]float32, len(b[0]))
		for j := range b[0] {
			for p := range b {
				c[i][j] += a[i][p] * b[p][j]
			}
		}
	}
	return c
}

// matrix reads the [rows, cols] matrix at element offset off of t, transposed
// if trans.
func matrix(t *tensor.Tensor, off, rows, cols int, trans bool) [][]float32 {
	m := make([][]float32, rows)
	for i := range m {
		m[i] = t.Data[off+i*cols : off+(i+1)*cols]
	}
	if !trans {
		return m
	}
	tr := make([][]float32, cols)
	for j := range tr {
		tr[j] = make([]float32, rows)
		for i := range rows {
			tr[j][i] = m[i][j]
		}
	}
	return tr
}

func TestMatMul(t *testing.T) {
	// [[1,2,3],[4,5,6]] @ [[7,8],[9,10],[11,12]], each operand also stored transposed.
	a, at := tens([]int{2, 3}, 1, 2, 3, 4, 5, 6), tens([]int{3, 2}, 1, 4, 2, 5, 3, 6)
	b, bt := tens([]int{3, 2}, 7, 8, 9, 10, 11, 12), tens([]int{2, 3}, 7, 9, 11, 8, 10, 12)
	for _, tc := range []struct {
		transA, transB bool
		a, b           *tensor.Tensor
	}{{false, false, a, b}, {true, false, at, b}, {false, true, a, bt}, {true, true, at, bt}} {
		y := apply(t, ir.OpMatMul, &ir.MatMulAttrs{TransA: tc.transA, TransB: tc.transB}, tc.a, tc.b)
		require.Equal(t, []int{2, 2}, y.Shape)
		require.Equal(t, []float32{58, 64, 139, 154}, y.Data, "trans_a=%t trans_b=%t", tc.transA, tc.transB)
	}
}

// a [2,1,·,·] and b [3,·,·] broadcast to batch [2,3]; each result matrix is the
// product of a[i,0] and b[j], transposed as asked.
func TestMatMulBatchedBroadcast(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const m, k, n = 2, 4, 3
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		ashape, bshape := []int{2, 1, m, k}, []int{3, k, n}
		if tr[0] {
			ashape[2], ashape[3] = k, m
		}
		if tr[1] {
			bshape[1], bshape[2] = n, k
		}
		a, b := random(r, ashape...), random(r, bshape...)
		y := apply(t, ir.OpMatMul, &ir.MatMulAttrs{TransA: tr[0], TransB: tr[1]}, a, b)
		require.Equal(t, []int{2, 3, m, n}, y.Shape)
		for i := range 2 {
			for j := range 3 {
				want := matmul2D(
					matrix(a, i*m*k, ashape[2], ashape[3], tr[0]),
					matrix(b, j*k*n, bshape[1], bshape[2], tr[1]))
				got := matrix(y, (i*3+j)*m*n, m, n, false)
				for row := range want {
					require.InDeltaSlice(t, want[row], got[row], 1e-5, "trans=%v batch (%d,%d)", tr, i, j)
				}
			}
		}
	}
}

func poolAttrs(size, stride int, pad ir.Padding) *ir.PoolAttrs {
	return &ir.PoolAttrs{Window2D: ir.Window2D{Size: [2]int{size, size}, Stride: [2]int{stride, stride}, Dilation: one, Padding: pad}}
}

// A 3×3 image, channel 0 holding -1..-9 and channel 1 holding 1..9, pooled 2×2
// with stride 2 and same padding (one row and column at the bottom/right).
// Zero padding would win the max of the negative channel and dilute the means.
func TestPoolSamePadding(t *testing.T) {
	x := tensor.New(1, 3, 3, 2)
	for p := range 9 {
		x.Data[2*p], x.Data[2*p+1] = -float32(p+1), float32(p+1)
	}
	y := apply(t, ir.OpMaxPool2D, poolAttrs(2, 2, ir.Same), x)
	require.Equal(t, []int{1, 2, 2, 2}, y.Shape)
	require.Equal(t, []float32{-1, 5, -3, 6, -7, 8, -9, 9}, y.Data)

	y = apply(t, ir.OpAvgPool2D, poolAttrs(2, 2, ir.Same), x)
	require.Equal(t, []float32{-3, 3, -4.5, 4.5, -7.5, 7.5, -9, 9}, y.Data)
}

func TestPoolValid(t *testing.T) {
	x := seq(1, 3, 3, 1)
	y := apply(t, ir.OpMaxPool2D, poolAttrs(2, 1, ir.Valid), x)
	require.Equal(t, []float32{5, 6, 8, 9}, y.Data)
	y = apply(t, ir.OpAvgPool2D, poolAttrs(2, 1, ir.Valid), x)
	require.Equal(t, []float32{3, 4, 6, 7}, y.Data)
}

// A 2×2 image 1 2 / 3 4, averaged over 2×2 windows with stride 2 and a pad
// of 1 on every side: each window holds one cell and three padded ones,
// which PyTorch's count_include_pad counts and Keras's rule does not.
func TestAvgPoolCountPad(t *testing.T) {
	x := seq(1, 2, 2, 1)
	a := &ir.PoolAttrs{Window2D: ir.Window2D{Size: [2]int{2, 2}, Stride: [2]int{2, 2}, Dilation: one, Padding: ir.Explicit, Pads: [4]int{1, 1, 1, 1}}}
	require.Equal(t, []float32{1, 2, 3, 4}, apply(t, ir.OpAvgPool2D, a, x).Data)
	a.CountPad = true
	require.Equal(t, []float32{0.25, 0.5, 0.75, 1}, apply(t, ir.OpAvgPool2D, a, x).Data)
}

// One row 1 2 3 padded by 2 before and 1 after in each mode.
func TestPad(t *testing.T) {
	x := seq(1, 3)
	for _, tc := range []struct {
		mode ir.PadMode
		want []float32
	}{
		{ir.PadConstant, []float32{-1, -1, 1, 2, 3, -1}},
		{ir.PadReflect, []float32{3, 2, 1, 2, 3, 2}},
		{ir.PadEdge, []float32{1, 1, 1, 2, 3, 3}},
	} {
		y := apply(t, ir.OpPad, &ir.PadAttrs{Mode: tc.mode, Pads: [][2]int{{0, 0}, {2, 1}}, Value: -1}, x)
		require.Equal(t, []int{1, 6}, y.Shape, "%s", tc.mode)
		require.Equal(t, tc.want, y.Data, "%s", tc.mode)
	}
	// Two axes at once: the corners read the corner of the input.
	y := apply(t, ir.OpPad, &ir.PadAttrs{Mode: ir.PadEdge, Pads: [][2]int{{1, 0}, {0, 1}}}, seq(2, 2))
	require.Equal(t, []float32{1, 2, 2, 1, 2, 2, 3, 4, 4}, y.Data)
}

func TestGlobalAvgPool(t *testing.T) {
	x := tens([]int{2, 1, 3, 2},
		1, 10, 2, 20, 3, 30,
		101, 110, 102, 120, 106, 160)
	y := apply(t, ir.OpGlobalAvgPool2D, nil, x)
	require.Equal(t, []int{2, 2}, y.Shape)
	require.Equal(t, []float32{2, 20, 103, 130}, y.Data)
}

func TestBinaryBroadcast(t *testing.T) {
	a := tens([]int{2, 1, 3}, 0, 1, 2, 10, 11, 12) // a[i][0][k] = 10i+k
	b := tens([]int{4, 1}, 100, 200, 300, 400)     // b[j][0] = 100(j+1)
	sum := apply(t, ir.OpAdd, nil, a, b)
	diff := apply(t, ir.OpSub, nil, b, a)
	require.Equal(t, []int{2, 4, 3}, sum.Shape)
	require.Equal(t, []int{2, 4, 3}, diff.Shape)
	for i := range 2 {
		for j := range 4 {
			for k := range 3 {
				at := (i*4+j)*3 + k
				require.Equal(t, float32(10*i+k+100*(j+1)), sum.Data[at], "add at %d,%d,%d", i, j, k)
				require.Equal(t, float32(100*(j+1)-10*i-k), diff.Data[at], "sub at %d,%d,%d", i, j, k)
			}
		}
	}

	x := tens([]int{2, 3}, 2, 4, 6, 8, 10, 12)
	require.Equal(t, []float32{1, 1, 1, 4, 2.5, 2}, apply(t, ir.OpDiv, nil, x, tens([]int{3}, 2, 4, 6)).Data)
	require.Equal(t, []float32{6, 12, 18, 24, 30, 36}, apply(t, ir.OpMul, nil, x, tens([]int{1}, 3)).Data)
}

func TestUnary(t *testing.T) {
	x := tens([]int{6}, -2, -1, 0, 0.5, 1, 2)
	for _, tc := range []struct {
		op    ir.Op
		attrs ir.Attrs
		want  []float64
	}{
		{ir.OpRelu, nil, []float64{0, 0, 0, 0.5, 1, 2}},
		{ir.OpLeakyRelu, &ir.LeakyReluAttrs{Alpha: 0.25}, []float64{-0.5, -0.25, 0, 0.5, 1, 2}},
		{ir.OpSigmoid, nil, []float64{0.11920292202211755, 0.2689414213699951, 0.5, 0.6224593312018546, 0.7310585786300049, 0.8807970779778823}},
		{ir.OpTanh, nil, []float64{-0.9640275800758169, -0.7615941559557649, 0, 0.46211715726000974, 0.7615941559557649, 0.9640275800758169}},
		// x·Φ(x), Φ the standard normal CDF.
		{ir.OpGelu, &ir.GeluAttrs{}, []float64{-0.04550026389635842, -0.15865525393145707, 0, 0.34573123063700656, 0.8413447460685429, 1.9544997361036416}},
		{ir.OpGelu, &ir.GeluAttrs{Approximate: true}, []float64{-0.04540230591222494, -0.15880800939172324, 0, 0.34571400982514394, 0.8411919906082768, 1.954597694087775}},
		{ir.OpDropout, &ir.DropoutAttrs{Rate: 0.5}, []float64{-2, -1, 0, 0.5, 1, 2}},
	} {
		t.Run(fmt.Sprint(tc.op, " ", tc.attrs), func(t *testing.T) {
			requireClose(t, tc.want, apply(t, tc.op, tc.attrs, x))
		})
	}
}

// TestFunctions checks the elementwise functions against PyTorch's values
// in float64 (torch.nn.functional on the same inputs), NaN-free inputs for
// those defined only above zero.
func TestFunctions(t *testing.T) {
	x := tens([]int{6}, -2, -1, 0, 0.5, 1, 2)
	pos := tens([]int{6}, 0.25, 0.5, 1, 2, 4, 9)
	for _, tc := range []struct {
		op    ir.Op
		attrs ir.Attrs
		in    *tensor.Tensor
		want  []float64
	}{
		{ir.OpClip, &ir.ClipAttrs{Min: -1, Max: 0.75}, x, []float64{-1.0, -1.0, 0.0, 0.5, 0.75, 0.75}},
		{ir.OpElu, &ir.EluAttrs{Alpha: 0.5}, x, []float64{-0.43233235838169365, -0.31606027941427883, 0.0, 0.5, 1.0, 2.0}},
		{ir.OpSelu, nil, x, []float64{-1.5201664685956948, -1.1113307378125625, 0.0, 0.5253504936777402, 1.0507009873554805, 2.101401974710961}},
		{ir.OpSilu, nil, x, []float64{-0.2384058440442351, -0.2689414213699951, 0.0, 0.3112296656009273, 0.7310585786300049, 1.7615941559557646}},
		{ir.OpHardSigmoid, &ir.HardSigmoidAttrs{Alpha: 1.0 / 6}, x, []float64{0.16666666666666666, 0.3333333333333333, 0.5, 0.5833333333333334, 0.6666666666666666, 0.8333333333333334}},
		{ir.OpHardSigmoid, &ir.HardSigmoidAttrs{Alpha: 0.2}, x, []float64{0.09999999999999998, 0.3, 0.5, 0.6, 0.7, 0.9}},
		{ir.OpHardSwish, nil, x, []float64{-0.3333333333333333, -0.3333333333333333, 0.0, 0.2916666666666667, 0.6666666666666666, 1.6666666666666667}},
		{ir.OpMish, nil, x, []float64{-0.2525014826957089, -0.30340146137410895, 0.0, 0.3752452113048951, 0.8650983882673103, 1.9439589595339946}},
		{ir.OpSoftplus, nil, x, []float64{0.1269280110429725, 0.31326168751822286, 0.6931471805599453, 0.9740769841801067, 1.3132616875182228, 2.1269280110429727}},
		{ir.OpSoftsign, nil, x, []float64{-0.6666666666666666, -0.5, 0.0, 0.3333333333333333, 0.5, 0.6666666666666666}},
		{ir.OpExp, nil, x, []float64{0.1353352832366127, 0.36787944117144233, 1.0, 1.6487212707001282, 2.718281828459045, 7.38905609893065}},
		{ir.OpAbs, nil, x, []float64{2.0, 1.0, 0.0, 0.5, 1.0, 2.0}},
		{ir.OpFloor, nil, x, []float64{-2.0, -1.0, 0.0, 0.0, 1.0, 2.0}},
		{ir.OpNeg, nil, x, []float64{2.0, 1.0, -0.0, -0.5, -1.0, -2.0}},
		{ir.OpErf, nil, x, []float64{-0.9953222650189527, -0.8427007929497149, 0.0, 0.5204998778130465, 0.8427007929497149, 0.9953222650189527}},
		{ir.OpPow, &ir.PowAttrs{Exponent: 3}, x, []float64{-8.0, -1.0, 0.0, 0.125, 1.0, 8.0}},
		{ir.OpLog, nil, pos, []float64{-1.3862943611198906, -0.6931471805599453, 0.0, 0.6931471805599453, 1.3862943611198906, 2.1972245773362196}},
		{ir.OpSqrt, nil, pos, []float64{0.5, 0.7071067811865476, 1.0, 1.4142135623730951, 2.0, 3.0}},
		{ir.OpRsqrt, nil, pos, []float64{2.0, 1.414213562373095, 1.0, 0.7071067811865475, 0.5, 0.3333333333333333}},
		{ir.OpPow, &ir.PowAttrs{Exponent: -1.5}, pos, []float64{8.0, 2.8284271247461903, 1.0, 0.3535533905932738, 0.125, 0.037037037037037035}},
	} {
		t.Run(fmt.Sprint(tc.op, " ", tc.attrs), func(t *testing.T) {
			requireClose(t, tc.want, apply(t, tc.op, tc.attrs, tc.in))
		})
	}
	// NaN stays NaN; a negative number to a fractional power is NaN.
	y := apply(t, ir.OpPow, &ir.PowAttrs{Exponent: 0.5}, tens([]int{2}, -4, 4))
	require.True(t, math.IsNaN(float64(y.Data[0])))
	require.Equal(t, float32(2), y.Data[1])
	require.Equal(t, []float32{-1, 1}, apply(t, ir.OpMinimum, nil, tens([]int{2}, -1, 3), tens([]int{1}, 1)).Data)
	require.Equal(t, []float32{1, 3}, apply(t, ir.OpMaximum, nil, tens([]int{2}, -1, 3), tens([]int{1}, 1)).Data)
}

func TestSoftmax(t *testing.T) {
	// Softmax over the middle axis of [2,3,2]; the last row would overflow exp
	// without subtracting the max.
	rows := [2][2][3]float64{{{1, 2, 3}, {-1, 0, 4}}, {{0, 0, 0}, {1000, 1001, 1002}}}
	x := tensor.New(2, 3, 2)
	for i := range 2 {
		for k := range 2 {
			for j := range 3 {
				x.Data[(i*3+j)*2+k] = float32(rows[i][k][j])
			}
		}
	}
	sm := apply(t, ir.OpSoftmax, &ir.AxisAttrs{Axis: 1}, x)
	lsm := apply(t, ir.OpLogSoftmax, &ir.AxisAttrs{Axis: 1}, x)
	for i := range 2 {
		for k := range 2 {
			row := rows[i][k]
			shift := row[0] // softmax is shift-invariant; keeps exp finite
			var sum, got float64
			for _, v := range row {
				sum += math.Exp(v - shift)
			}
			for j, v := range row {
				at := (i*3+j)*2 + k
				want := math.Exp(v-shift) / sum
				require.InDelta(t, want, sm.Data[at], 1e-7, "softmax at %d,%d,%d", i, j, k)
				require.InDelta(t, math.Log(want), lsm.Data[at], 1e-6, "log_softmax at %d,%d,%d", i, j, k)
				got += float64(sm.Data[at])
			}
			require.InDelta(t, 1, got, 1e-6)
		}
	}
}

func TestTranspose(t *testing.T) {
	x := tensor.New(2, 3, 4)
	for i := range x.Data {
		x.Data[i] = float32(i) // x[a][b][c] = 12a+4b+c
	}
	y := apply(t, ir.OpTranspose, &ir.TransposeAttrs{Perm: []int{2, 0, 1}}, x)
	require.Equal(t, []int{4, 2, 3}, y.Shape)
	for i := range 4 {
		for j := range 2 {
			for k := range 3 {
				require.Equal(t, float32(12*j+4*k+i), y.Data[(i*2+j)*3+k], "y[%d][%d][%d] = x[%d][%d][%d]", i, j, k, j, k, i)
			}
		}
	}
	y = apply(t, ir.OpTranspose, &ir.TransposeAttrs{Perm: []int{1, 0}}, tens([]int{2, 3}, 1, 2, 3, 4, 5, 6))
	require.Equal(t, []float32{1, 4, 2, 5, 3, 6}, y.Data)
}

func TestConcat(t *testing.T) {
	a := tens([]int{2, 1, 2}, 1, 2, 3, 4)
	b := tens([]int{2, 2, 2}, 5, 6, 7, 8, 9, 10, 11, 12)
	y := apply(t, ir.OpConcat, &ir.AxisAttrs{Axis: 1}, a, b)
	require.Equal(t, []int{2, 3, 2}, y.Shape)
	require.Equal(t, []float32{1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12}, y.Data)

	y = apply(t, ir.OpConcat, &ir.AxisAttrs{Axis: 2}, a, tens([]int{2, 1, 1}, 0, 9), a)
	require.Equal(t, []int{2, 1, 5}, y.Shape)
	require.Equal(t, []float32{1, 2, 0, 1, 2, 3, 4, 9, 3, 4}, y.Data)

	y = apply(t, ir.OpConcat, &ir.AxisAttrs{Axis: 0}, a, a)
	require.Equal(t, []float32{1, 2, 3, 4, 1, 2, 3, 4}, y.Data)
}

func TestFlattenReshape(t *testing.T) {
	x := seq(2, 2, 3)
	y := apply(t, ir.OpFlatten, nil, x)
	require.Equal(t, []int{2, 6}, y.Shape)
	require.Equal(t, x.Data, y.Data)
	y = apply(t, ir.OpReshape, &ir.ReshapeAttrs{Shape: ir.Shape{ir.D(3), ir.D(4)}}, x)
	require.Equal(t, []int{3, 4}, y.Shape)
	require.Equal(t, x.Data, y.Data)
}

func recur(t *testing.T, a *ir.RecurrentAttrs, ins ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	return applyInputs(t, ir.OpRecurrent, a, ins...)
}

func TestRecurrent(t *testing.T) {
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	// SimpleRNN, H = 1: h1 = tanh(1 + 0.5·h0), h2 = tanh(2 + 0.5·h1 + 0.1).
	xw, u, bu := tens([]int{1, 2, 1}, 1, 2), tens([]int{1, 1}, 0.5), tens([]int{1}, 0.1)
	h1 := math.Tanh(1.1)
	requireClose(t, []float64{h1, math.Tanh(2.1 + 0.5*h1)}, recur(t, &ir.RecurrentAttrs{Cell: ir.CellRNN, Sequences: true}, xw, u, bu))
	// Reversed: t = 1 first; with h0 = 2 and relu.
	r1 := max(2.1+0.5*2, 0)
	requireClose(t, []float64{max(1.1+0.5*r1, 0), r1}, recur(t, &ir.RecurrentAttrs{Cell: ir.CellRNN, Relu: true, Reverse: true, Sequences: true}, xw, u, bu, tens([]int{1, 1}, 2)))

	// LSTM, H = 1, one step from h0 = 1, c0 = 2: gates i f g o.
	lx, lu, lb := tens([]int{1, 1, 4}, 0.1, 0.2, 0.3, 0.4), tens([]int{1, 4}, 1, -1, 0.5, 2), tens([]int{4}, 0, 0, 0, 0.5)
	i, f, gv, o := sig(0.1+1), sig(0.2-1), math.Tanh(0.3+0.5), sig(0.4+2+0.5)
	c := f*2 + i*gv
	requireClose(t, []float64{o * math.Tanh(c)}, recur(t, &ir.RecurrentAttrs{Cell: ir.CellLSTM}, lx, lu, lb, tens([]int{1, 1}, 1), tens([]int{1, 1}, 2)))

	// GRU, H = 1, one step from h0 = 1: r z n, the reset applied to h·U_n + bu_n.
	gx, gu, gb := tens([]int{1, 1, 3}, 0.1, 0.2, 0.3), tens([]int{1, 3}, 1, -1, 2), tens([]int{3}, 0, 0, 0.5)
	r, z := sig(0.1+1), sig(0.2-1)
	n := math.Tanh(0.3 + r*(2+0.5))
	requireClose(t, []float64{(1-z)*n + z*1}, recur(t, &ir.RecurrentAttrs{Cell: ir.CellGRU}, gx, gu, gb, tens([]int{1, 1}, 1)))
}

// TestConvTransposeSpreads: a stride-2 2x2 kernel of ones copies each input
// cell into its own 2x2 block; the bias adds everywhere.
func TestConvTransposeSpreads(t *testing.T) {
	x := seq(1, 2, 2, 1)
	k := tens([]int{2, 2, 1, 1}, 1, 1, 1, 1)
	a := &ir.ConvTransposeAttrs{Window2D: ir.Window2D{Stride: [2]int{2, 2}, Dilation: one, Padding: ir.Valid}}
	y := apply(t, ir.OpConv2DTranspose, a, x, k, tens([]int{1}, 0.5))
	require.Equal(t, []int{1, 4, 4, 1}, y.Shape)
	requireClose(t, []float64{
		1.5, 1.5, 2.5, 2.5,
		1.5, 1.5, 2.5, 2.5,
		3.5, 3.5, 4.5, 4.5,
		3.5, 3.5, 4.5, 4.5}, y)
}

// TestConvTransposeIsConvAdjoint: <convT(x), y> = <x, conv(y)> for the
// same window and kernel bytes (the transpose's (kh, kw, out, in) is the
// convolution's HWIO from out channels to in channels), which is what makes
// it the convolution's gradient; the pads are a conv's and a crop alike.
func TestConvTransposeIsConvAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, w := range []ir.Window2D{
		{Stride: [2]int{2, 3}, Dilation: one, Padding: ir.Valid},
		{Stride: [2]int{2, 1}, Dilation: [2]int{2, 1}, Padding: ir.Explicit, Pads: [4]int{1, 2, 0, 1}},
		{Stride: [2]int{1, 2}, Dilation: [2]int{1, 2}, Padding: ir.Explicit, Pads: [4]int{2, 2, 1, 1}},
	} {
		x := random(r, 2, 4, 3, 3)
		k := random(r, 3, 2, 5, 3)
		yt := apply(t, ir.OpConv2DTranspose, &ir.ConvTransposeAttrs{Window2D: w}, x, k)
		y := random(r, yt.Shape...)
		cy := apply(t, ir.OpConv2D, &ir.ConvAttrs{Window2D: w, Groups: 1}, y, k)
		require.Equal(t, x.Shape, cy.Shape, "%+v", w)
		var lhs, rhs float64
		for i := range yt.Data {
			lhs += float64(yt.Data[i]) * float64(y.Data[i])
		}
		for i := range x.Data {
			rhs += float64(x.Data[i]) * float64(cy.Data[i])
		}
		require.InDelta(t, lhs, rhs, 1e-4*max(1, math.Abs(lhs)), "%+v", w)
	}
}

// TestResize: PyTorch's F.interpolate of [[1, 2], [3, 4]] to 4x4 in each
// convention (values from PyTorch 1.13).
func TestResize(t *testing.T) {
	x := seq(1, 2, 2, 1)
	for _, tc := range []struct {
		mode   ir.ResizeMode
		coords ir.Coordinates
		want   []float64
	}{
		// mode="nearest" (floor of o·in/out)
		{ir.Nearest, ir.Asymmetric, []float64{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}},
		// mode="bilinear", align_corners=False
		{ir.Bilinear, ir.HalfPixel, []float64{1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}},
		// mode="bilinear", align_corners=True
		{ir.Bilinear, ir.AlignCorners, []float64{1, 4.0 / 3, 5.0 / 3, 2, 5.0 / 3, 2, 7.0 / 3, 8.0 / 3, 7.0 / 3, 8.0 / 3, 3, 10.0 / 3, 3, 10.0 / 3, 11.0 / 3, 4}},
	} {
		y := apply(t, ir.OpResize, &ir.ResizeAttrs{Mode: tc.mode, Coordinates: tc.coords, Size: [2]int{4, 4}}, x)
		requireClose(t, tc.want, y)
	}
}

// TestEveryUnaryHasADerivative: unary_grad accepts every unary elementwise
// function, so each needs its derivative.
func TestEveryUnaryHasADerivative(t *testing.T) {
	for op := ir.OpInvalid + 1; op < ir.OpLast; op++ {
		if ir.Fusable(op) && op.Info().MaxInputs == 1 {
			require.NotNil(t, derivatives[op], "unary %s has no derivative", op)
		}
	}
}

// seq(2, 3, 2) holds 1..12: [[[1 2] [3 4] [5 6]] [[7 8] [9 10] [11 12]]].
func TestReduce(t *testing.T) {
	for _, tc := range []struct {
		op    ir.Op
		axes  []int
		keep  bool
		shape []int
		want  []float32
	}{
		{ir.OpReduceSum, []int{1}, false, []int{2, 2}, []float32{9, 12, 27, 30}},
		{ir.OpReduceSum, []int{0, 2}, true, []int{1, 3, 1}, []float32{18, 26, 34}},
		{ir.OpReduceMean, []int{0, 1, 2}, false, nil, []float32{6.5}},
		{ir.OpReduceMax, []int{2}, false, []int{2, 3}, []float32{2, 4, 6, 8, 10, 12}},
		{ir.OpReduceMin, []int{0, 1}, true, []int{1, 1, 2}, []float32{1, 2}},
	} {
		y := apply(t, tc.op, &ir.ReduceAttrs{Axes: tc.axes, KeepDims: tc.keep}, seq(2, 3, 2))
		require.Equal(t, tc.shape, y.Shape, "%s %v", tc.op, tc.axes)
		require.Equal(t, tc.want, y.Data, "%s %v", tc.op, tc.axes)
	}
	// NaN wins a max, as in NumPy.
	y := apply(t, ir.OpReduceMax, &ir.ReduceAttrs{Axes: []int{1}}, tens([]int{1, 2}, float32(math.NaN()), 1))
	require.True(t, math.IsNaN(float64(y.Data[0])))
}

func TestArgMax(t *testing.T) {
	x := tens([]int{2, 3}, 1, 5, 5, float32(math.NaN()), 2, float32(math.NaN()))
	y := apply(t, ir.OpArgMax, &ir.ArgAttrs{Axis: 1}, x)
	require.Equal(t, []float32{1, 0}, y.Data) // the first of equal maxima; the first NaN
	y = apply(t, ir.OpArgMax, &ir.ArgAttrs{Axis: 0, KeepDims: true}, x)
	require.Equal(t, []int{1, 3}, y.Shape)
	require.Equal(t, []float32{1, 0, 1}, y.Data)
}

func TestCompareWhere(t *testing.T) {
	x := tens([]int{1, 4}, 1, 2, 3, float32(math.NaN()))
	for op, want := range map[ir.Op][]float32{
		ir.OpGreater: {0, 0, 1, 0}, ir.OpGreaterEqual: {0, 1, 1, 0}, ir.OpLess: {1, 0, 0, 0},
		ir.OpLessEqual: {1, 1, 0, 0}, ir.OpEqual: {0, 1, 0, 0}, ir.OpNotEqual: {1, 0, 1, 1},
	} {
		require.Equal(t, want, apply(t, op, nil, x, tens([]int{1}, 2)).Data, "%s", op)
	}
	// cond [2,1] against a [1,4] and b [1]: rows of a, or b.
	y := apply(t, ir.OpWhere, nil, tens([]int{2, 1}, 1, 0), tens([]int{1, 4}, 1, 2, 3, 4), tens([]int{1}, -1))
	require.Equal(t, []float32{1, 2, 3, 4, -1, -1, -1, -1}, y.Data)
}

func TestGather(t *testing.T) {
	// x [2, 3] rows (1 2 3) (4 5 6).
	y := apply(t, ir.OpGather, &ir.GatherAttrs{Axis: 1}, seq(2, 3), tens([]int{2, 2}, 2, 0, -1, 1))
	require.Equal(t, []int{2, 2, 2}, y.Shape)
	require.Equal(t, []float32{3, 1, 3, 2, 6, 4, 6, 5}, y.Data)
	// batch_dims=1: row b takes its own indices.
	y = apply(t, ir.OpGather, &ir.GatherAttrs{Axis: 1, BatchDims: 1}, seq(2, 3), tens([]int{2, 1}, 2, 0))
	require.Equal(t, []float32{3, 4}, y.Data)
	g := ir.NewGraph("g")
	x := g.AddInput("x", typeOf([]int{2, 3}))
	i := g.AddConst("i", typeOf([]int{1}), []float32{3})
	v, err := g.AddNode(ir.OpGather, &ir.GatherAttrs{Axis: 1}, []*ir.Value{x, i}, "pick", ir.Pos{})
	require.NoError(t, err)
	g.AddOutput("y", v)
	_, err = Run(g, nil, map[string]*tensor.Tensor{"x": seq(2, 3)})
	require.EqualError(t, err, `gather (layer "pick"): index 3 at position 0 of the indices [1] is not an integer in -3..2`)
}
