// Package kernels is the home of the execution plans' kernels, one package
// per family, each with one concern:
//
//	gemm      packed, cache-blocked matrix products (and the packing: the
//	          "layout" step that rearranges constant weights once per plan)
//	conv      2D convolution: im2col gathered into GEMM panels, or a direct
//	          loop; fused epilogue and max pool, band by band
//	pool      max, average and global average pooling
//	eltwise   elementwise chains with broadcasting (unary and binary ops,
//	          fused epilogues), batchnorm
//	softmax   softmax and log_softmax over any axis
//	layout    transpose and concat
//
// Every kernel works on []float32 slices with shapes fixed when a plan is
// built, allocates nothing when called, and takes its scratch memory from the
// caller (the plan's arena). Each is plain Go here, compiled on every
// platform; each family's tests compare it with the reference runtime
// (runtime/ref) through kerneltest, on random data at awkward sizes.
//
// Assembly variants (AVX2, NEON) are to live beside the generic code of their
// family, chosen once when a plan is built, and tested against the generic
// version: the generic code is the oracle they must match, and the doc
// comment of each kernel is the reference loop it implements. The GEMM's
// packed layouts follow its micro-tile (MR×NR), so a variant with another
// tile brings its own packing.
package kernels
