package layout

import "math"

// Token ids live in the float32 operand table as the bits of an int32, so
// that every operand stays one slice type: PutIDs stores them (checked once,
// when a run starts), and the kernels below read them back exactly.

// PutIDs stores ids into dst as int32 bits and returns -1, or, without
// storing the rest, the index of the first id outside 0..limit-1.
func PutIDs[T int32 | int64](dst []float32, ids []T, limit int) int {
	for i, id := range ids {
		if id < 0 || int64(id) >= int64(limit) {
			return i
		}
		dst[i] = math.Float32frombits(uint32(id))
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
