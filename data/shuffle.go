package data

import "math/bits"

// Permutation fills perm with a permutation of 0..len(perm)-1 that depends
// only on seed and epoch (never on threads, timing or Go's version), so a
// run is reproduced from its seed:
//
//   - the generator is SplitMix64 (Steele, Lea and Flood, "Fast splittable
//     pseudorandom number generators", 2014): state += 0x9E3779B97F4A7C15,
//     then z = state, z = (z ^ z>>30)·0xBF58476D1CE4E5B9,
//     z = (z ^ z>>27)·0x94D049BB133111EB, output z ^ z>>31;
//     its state starts at seed ^ epoch·0xD1B54A32D192ED03;
//   - a draw in 0..n-1 is Lemire's multiply-shift with rejection
//     ("Fast random integer generation in an interval", 2019): unbiased;
//   - the shuffle is Fisher–Yates as Durstenfeld wrote it: for i from
//     len-1 down to 1, swap perm[i] with perm[draw in 0..i].
func Permutation(perm []int, seed, epoch uint64) {
	for i := range perm {
		perm[i] = i
	}
	g := splitMix{seed ^ epoch*0xD1B54A32D192ED03}
	for i := len(perm) - 1; i > 0; i-- {
		j := g.below(uint64(i) + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
}

type splitMix struct{ state uint64 }

func (g *splitMix) next() uint64 {
	g.state += 0x9E3779B97F4A7C15
	z := g.state
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// below is uniform in 0..n-1, n > 0.
func (g *splitMix) below(n uint64) uint64 {
	hi, lo := bits.Mul64(g.next(), n)
	if lo < n {
		for t := -n % n; lo < t; {
			hi, lo = bits.Mul64(g.next(), n)
		}
	}
	return hi
}
