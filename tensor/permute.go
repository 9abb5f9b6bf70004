package tensor

// Permute reorders a row-major array of shape dims so that axis i of the
// result is axis perm[i] of data: the layout change of a weight saved by a
// framework whose axes are ordered otherwise (PyTorch's OIHW kernel to
// mdlc's HWIO is perm (2, 3, 1, 0)). perm must be a permutation of dims'
// axes and len(data) their product.
func Permute[T any](data []T, dims []int, perm []int) []T {
	rank := len(dims)
	out := make([]T, len(data))
	strides := make([]int, rank)
	s := 1
	for a := rank - 1; a >= 0; a-- {
		strides[a] = s
		s *= dims[a]
	}
	outDims := make([]int, rank)
	for i, p := range perm {
		outDims[i] = dims[p]
	}
	idx := make([]int, rank)
	for o := range out {
		in := 0
		for i := range rank {
			in += idx[i] * strides[perm[i]]
		}
		out[o] = data[in]
		for a := rank - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < outDims[a] {
				break
			}
			idx[a] = 0
		}
	}
	return out
}
