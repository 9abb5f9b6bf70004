package ir

import "math"

// Sinusoid is the positional encoding OpPositional adds (Vaswani et al.,
// "Attention is all you need"): for position pos and feature i of d,
//
//	PE[pos][2k]   = sin(pos / 10000^(2k/d))
//	PE[pos][2k+1] = cos(pos / 10000^(2k/d))
//
// computed in float64.
func Sinusoid(pos, i, d int) float64 {
	angle := float64(pos) / math.Pow(10000, float64(i/2*2)/float64(d))
	if i%2 == 0 {
		return math.Sin(angle)
	}
	return math.Cos(angle)
}
