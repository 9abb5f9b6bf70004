package mask

import "math"

// Dropout's mask is a counter-based stream: element i of a tensor at step s
// is kept when Keep(seed, s, i), a hash of the three, so that any thread
// may compute any range of it and a new step is a new mask without state.
// The hash is SplitMix64 (Steele, Lea and Flood, "Fast splittable
// pseudorandom number generators", 2014; the finaliser from Vigna's
// splitmix64.c): the stream seeded with mix(seed ⊕ mix(s)), output i, which
// passes BigCrush as a stream and, as a finaliser, mixes every input bit
// into every output bit.

// gamma is SplitMix64's increment, the odd integer nearest 2⁶⁴/φ.
const gamma = 0x9e3779b97f4a7c15

// mix is SplitMix64's finaliser (Stafford's variant 13).
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// StreamKey is the SplitMix64 state of a dropout's stream at step.
func StreamKey(seed, step uint64) uint64 { return mix(seed ^ mix(step*gamma+gamma)) }

// Threshold is the least 32-bit draw that keeps an element: rate·2³²,
// rounded up, so that a fraction 1-rate of the draws (to 2⁻³²) keep.
func Threshold(rate float32) uint64 { return uint64(math.Ceil(float64(rate) * (1 << 32))) }

// Keep reports whether element i is kept by the stream with key at the
// threshold: the top 32 bits of SplitMix64's output i are at least it.
func Keep(key, threshold uint64, i int) bool {
	return mix(key+(uint64(i)+1)*gamma)>>32 >= threshold
}

// Dropout writes out[i] = x[i]·scale where element off+i of the tensor is
// kept, else 0: elements off..off+len(x)-1 of inverted dropout, so that
// ranges computed apart make the same tensor. scale is 1/(1-rate) rounded
// to float32, as Keras and PyTorch multiply by it. out may be x.
func Dropout(x, out []float32, key, threshold uint64, scale float32, off int) {
	out = out[:len(x)]
	for i, v := range x {
		if Keep(key, threshold, off+i) {
			out[i] = v * scale
		} else {
			out[i] = 0
		}
	}
}
