// Package ids says which integers an integer model input may hold, for the
// reference runtime and the compiled one alike.
package ids

import "math"

// Range is the ids an input of id limit (ir.Graph.TokenLimit) may hold:
// 0..limit-1 where something looks them up (an embedding's vocabulary, a
// sparse cross-entropy's classes), and any int32 where nothing does (limit
// math.MaxInt32: integers only compared, or read as numbers by to_float,
// such as an ONNX model's class targets with an ignore_index of -1).
func Range(limit int) (lo, hi int64) {
	if limit >= math.MaxInt32 {
		return math.MinInt32, math.MaxInt32
	}
	return 0, int64(limit) - 1
}
