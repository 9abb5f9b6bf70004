package backward

import "math"

// CrossEntropy writes, for each of the rows of c logits in x, the
// cross-entropy -Σ y·log_softmax(x) = lse(x)·Σy - Σ y·x against the row of
// labels y, lse(x) = m + log Σ exp(x-m) with m the row's max so that exp
// cannot overflow; in float64, rounded once, as a loss is a long sum.
func CrossEntropy(x, y, out []float32, c int) {
	for r := range out {
		row, labels := x[r*c:(r+1)*c], y[r*c:(r+1)*c]
		lse := logSumExp(row)
		var mass, dot float64
		for j, v := range row {
			mass += float64(labels[j])
			dot += float64(labels[j]) * float64(v)
		}
		out[r] = float32(lse*mass - dot)
	}
}

// SparseCrossEntropy is CrossEntropy against one class id per row (a
// float32's bits holding an int32, as the operand table holds ids):
// lse(x) - x[id].
func SparseCrossEntropy(x, ids, out []float32, c int) {
	for r := range out {
		row := x[r*c : (r+1)*c]
		out[r] = float32(logSumExp(row) - float64(row[int32(math.Float32bits(ids[r]))]))
	}
}

func logSumExp(row []float32) float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = max(m, float64(v))
	}
	var sum float64
	for _, v := range row {
		sum += math.Exp(float64(v) - m)
	}
	return m + math.Log(sum)
}
