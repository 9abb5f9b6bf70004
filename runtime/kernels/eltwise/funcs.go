package eltwise

import "math"

// binary sets v[i] = v[i] op o[i], or o[i] op v[i] if swapped; Load sets
// v[i] = o[i].
func binary(k Kind, swapped bool, v, o []float32) {
	o = o[:len(v)]
	switch {
	case k == Load:
		if len(v) > 0 && &v[0] != &o[0] {
			copy(v, o)
		}
	case k == Add:
		for i, x := range o {
			v[i] += x
		}
	case k == Mul:
		for i, x := range o {
			v[i] *= x
		}
	case k == Sub && !swapped:
		for i, x := range o {
			v[i] -= x
		}
	case k == Sub:
		for i, x := range o {
			v[i] = x - v[i]
		}
	case k == Div && !swapped:
		for i, x := range o {
			v[i] /= x
		}
	case k == Div:
		for i, x := range o {
			v[i] = x / v[i]
		}
	}
}

// binaryScalar is binary with every o[i] equal to x.
func binaryScalar(k Kind, swapped bool, v []float32, x float32) {
	switch {
	case k == Load:
		for i := range v {
			v[i] = x
		}
	case k == Add:
		for i := range v {
			v[i] += x
		}
	case k == Mul:
		for i := range v {
			v[i] *= x
		}
	case k == Sub && !swapped:
		for i := range v {
			v[i] -= x
		}
	case k == Sub:
		for i := range v {
			v[i] = x - v[i]
		}
	case k == Div && !swapped:
		for i := range v {
			v[i] /= x
		}
	case k == Div:
		for i := range v {
			v[i] = x / v[i]
		}
	}
}

// unary sets v[i] = f(v[i]) for the unary kinds:
//
//	relu: x < 0 ? 0 : x (NaN stays NaN)     leaky_relu: x >= 0 ? x : alpha·x
//	sigmoid: 1/(1+e^-x)   tanh   gelu: 0.5x(1+erf(x/√2))
//	gelu_tanh: 0.5x(1+tanh(√(2/π)(x+0.044715x³)))
//
// the last four evaluated in float64.
func unary(k Kind, alpha float32, v []float32) {
	switch k {
	case Relu:
		for i, x := range v {
			if x < 0 {
				v[i] = 0
			}
		}
	case LeakyRelu:
		for i, x := range v {
			if !(x >= 0) {
				v[i] = alpha * x
			}
		}
	case Sigmoid:
		for i, x := range v {
			v[i] = float32(1 / (1 + math.Exp(-float64(x))))
		}
	case Tanh:
		for i, x := range v {
			v[i] = float32(math.Tanh(float64(x)))
		}
	case Gelu:
		for i, x := range v {
			y := float64(x)
			v[i] = float32(0.5 * y * (1 + math.Erf(y/math.Sqrt2)))
		}
	case GeluTanh:
		c := math.Sqrt(2 / math.Pi)
		for i, x := range v {
			y := float64(x)
			v[i] = float32(0.5 * y * (1 + math.Tanh(c*(y+0.044715*y*y*y))))
		}
	}
}
