package softmax

import (
	"math"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// kernels is one kernel set's loops: over a row (the reduced axis
// contiguous), and over rows of Inner positions at once, each with its own
// max and sum.
type kernels struct {
	set      cpu.Set
	rowMax   func(x []float32) float32
	expSum   func(x, out []float32, m float32) float32
	sumExp   func(x []float32, m float32) float32
	logShift func(x, out []float32, m, ls float32)
	scale    func(v []float32, s float32)

	maxInto      func(m, x []float32)
	expSumInto   func(x, m, out, sum []float32)
	sumExpInto   func(x, m, sum []float32)
	logShiftInto func(x, m, ls, out []float32)
	mulInto      func(v, s []float32)
}

// sets are the kernel sets of this build (cpu.Family).
var sets = cpu.NewFamily("softmax", &generic)

// generic is the reference the others are tested against.
var generic = kernels{
	set: cpu.Generic, rowMax: rowMax, expSum: expSum, sumExp: sumExp, logShift: logShift, scale: scale,
	maxInto: maxInto, expSumInto: expSumInto, sumExpInto: sumExpInto, logShiftInto: logShiftInto, mulInto: mulInto,
}

func exp(x float32) float32 { return float32(math.Exp(float64(x))) }

func rowMax(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// expSum sets out[i] = e^(x[i]-m) and returns their sum.
func expSum(x, out []float32, m float32) float32 {
	var sum float32
	out = out[:len(x)]
	for i, v := range x {
		out[i] = exp(v - m)
		sum += out[i]
	}
	return sum
}

// sumExp is the sum of e^(x[i]-m).
func sumExp(x []float32, m float32) float32 {
	var sum float32
	for _, v := range x {
		sum += exp(v - m)
	}
	return sum
}

func logShift(x, out []float32, m, ls float32) {
	out = out[:len(x)]
	for i, v := range x {
		out[i] = (v - m) - ls
	}
}

func scale(v []float32, s float32) {
	for i := range v {
		v[i] *= s
	}
}

func maxInto(m, x []float32) {
	for i, v := range x[:len(m)] {
		m[i] = max(m[i], v)
	}
}

// expSumInto sets out[i] = e^(x[i]-m[i]) and adds it to sum[i].
func expSumInto(x, m, out, sum []float32) {
	m, out, sum = m[:len(x)], out[:len(x)], sum[:len(x)]
	for i, v := range x {
		out[i] = exp(v - m[i])
		sum[i] += out[i]
	}
}

func sumExpInto(x, m, sum []float32) {
	m, sum = m[:len(x)], sum[:len(x)]
	for i, v := range x {
		sum[i] += exp(v - m[i])
	}
}

func logShiftInto(x, m, ls, out []float32) {
	m, ls, out = m[:len(x)], ls[:len(x)], out[:len(x)]
	for i, v := range x {
		out[i] = (v - m[i]) - ls[i]
	}
}

func mulInto(v, s []float32) {
	for i := range v {
		v[i] *= s[i]
	}
}

// Row is set's kernels over one contiguous row, for kernels that stream a
// softmax of their own (attention): the max, e^(x-m) into out with its sum,
// and v·s in place.
type Row struct {
	Max    func(x []float32) float32
	ExpSum func(x, out []float32, m float32) float32
	Scale  func(v []float32, s float32)
}

// RowKernels returns set's row kernels (the generic ones for a set this build
// has none of).
func RowKernels(set cpu.Set) Row {
	k := sets.For(set)
	return Row{Max: k.rowMax, ExpSum: k.expSum, Scale: k.scale}
}
