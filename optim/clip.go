package optim

import "math"

// ClipGlobalNorm scales grads, all of a model's gradients in one slice, so
// that their L2 norm is at most maxNorm, as PyTorch's clip_grad_norm_ does:
// with n = ‖g‖₂, each gradient is multiplied by min(1, maxNorm/(n + 1e-6)).
// (Keras's global_clipnorm scales by maxNorm/n when n > maxNorm: the same
// up to the 1e-6.) It returns n, accumulated in float64 in order, so the
// result does not depend on how the caller splits work.
func ClipGlobalNorm(grads []float32, maxNorm float64) float64 {
	var sum float64
	for _, g := range grads {
		sum += float64(g) * float64(g)
	}
	n := math.Sqrt(sum)
	if coef := maxNorm / (n + 1e-6); coef < 1 {
		c := float32(coef)
		for i := range grads {
			grads[i] *= c
		}
	}
	return n
}
