// Package kerneltest helps test kernels and plans against the reference
// runtime: random operands, one-op graphs run by runtime/ref, and the
// comparison every kernel test uses.
package kerneltest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/runtime/ref"
	"github.com/mdlc/mdlc/tensor"
)

// Sizes are the awkward dimensions kernel tests sweep: around the micro-tile
// and vector widths, and odd.
var Sizes = []int{1, 3, 7, 8, 9, 15, 16, 17, 31, 33}

// Random is a tensor of standard normal values.
func Random(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

// Type is the f32 type of a concrete shape.
func Type(shape []int) ir.Type {
	s := make(ir.Shape, len(shape))
	for i, d := range shape {
		s[i] = ir.D(d)
	}
	return ir.Type{DType: ir.F32, Shape: s}
}

// Ref runs op(in...) through the reference runtime, every operand a graph
// input, and returns the result.
func Ref(t testing.TB, op ir.Op, attrs ir.Attrs, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	g := ir.NewGraph(op.String())
	vals := make([]*ir.Value, len(in))
	feed := map[string]*tensor.Tensor{}
	for i, x := range in {
		name := fmt.Sprintf("x%d", i)
		vals[i] = g.AddInput(name, Type(x.Shape))
		feed[name] = x
	}
	y, err := g.AddNode(op, attrs, vals, op.String(), ir.Pos{})
	if err != nil {
		t.Fatalf("%s%v: %v", op, shapes(in), err)
	}
	g.AddOutput("y", y)
	out, err := ref.Run(g, nil, feed)
	if err != nil {
		t.Fatalf("%s%v: %v", op, shapes(in), err)
	}
	return out["y"]
}

func shapes(in []*tensor.Tensor) []string {
	s := make([]string, len(in))
	for i, x := range in {
		s[i] = tensor.ShapeString(x.Shape)
	}
	return s
}

// Err is the error of got against the oracle want: the largest
// |got-want| / (|want| + rms(want)), so elements near zero are measured
// against the result's typical magnitude. NaN and ±Inf in want must appear
// in got at the same places (the error is +Inf otherwise).
func Err(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var ss float64
	n := 0
	for _, w := range want {
		if !isSpecial(w) {
			ss += float64(w) * float64(w)
			n++
		}
	}
	rms := math.Sqrt(ss / float64(max(n, 1)))
	worst := 0.0
	for i, w := range want {
		g := got[i]
		if isSpecial(w) || isSpecial(g) {
			if !(math.IsNaN(float64(w)) && math.IsNaN(float64(g))) && w != g {
				return math.Inf(1)
			}
			continue
		}
		d := math.Abs(float64(g) - float64(w))
		if d == 0 {
			continue
		}
		worst = max(worst, d/(math.Abs(float64(w))+rms))
	}
	return worst
}

func isSpecial(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) }

// Close fails t if Err(got, want) exceeds tol.
func Close(t testing.TB, got []float32, want *tensor.Tensor, tol float64, what string, args ...any) {
	t.Helper()
	if e := Err(got, want.Data); e > tol {
		t.Errorf("%s: error %.3g > %.3g", fmt.Sprintf(what, args...), e, tol)
	}
}
