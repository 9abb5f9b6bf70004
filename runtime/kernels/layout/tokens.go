package layout

import "math"

// Token ids live in the float32 operand table as the bits of an int32, so
// that every operand stays one slice type: PutIDs stores them (checked once,
// when a run starts), and the kernels below read them back exactly.

// PutIDs stores ids into dst as int32 bits and returns -1, or, without
// storing the rest, the index of the first id outside lo..hi (ids.Range).
func PutIDs[T int32 | int64](dst []float32, ids []T, lo, hi int64) int {
	for i, id := range ids {
		if int64(id) < lo || int64(id) > hi {
			return i
		}
		dst[i] = math.Float32frombits(uint32(int32(id)))
	}
	return -1
}

func id(v float32) int { return int(int32(math.Float32bits(v))) }

// Gather copies row id of table [V, d] into out for every id of ids, which
// PutIDs has checked against V.
func Gather(ids, table, out []float32, d int) {
	for i, v := range ids {
		r := id(v) * d
		copy(out[i*d:(i+1)*d], table[r:r+d])
	}
}

// ToFloat writes each id as the number it is: PutIDs stores ids as the
// bits of an int32, which arithmetic on floats cannot read.
func ToFloat(ids, out []float32) {
	for i, v := range ids {
		out[i] = float32(id(v))
	}
}

// PaddingMask writes -inf where the id is pad and 0 elsewhere: the additive
// attention mask that keeps queries from attending to padding.
func PaddingMask(ids, out []float32, pad int) {
	inf := float32(math.Inf(-1))
	for i, v := range ids {
		out[i] = 0
		if id(v) == pad {
			out[i] = inf
		}
	}
}
