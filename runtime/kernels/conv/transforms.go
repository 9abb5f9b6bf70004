package conv

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The transforms of Winograd's F(2×2, 3×3), each vectorised across channels:
// the generic loops below, and AVX2 (8 channels a vector) and NEON (4) ones
// generated from runtime/kernels/_asm/winograd. Every variant computes the
// same float32 additions in the same order, so all give the same bits; the
// tests hold them to that.
//
//go:generate go -C ../_asm run ./winograd -out ../conv/winograd_amd64.s -stubs ../conv/winograd_amd64.go -pkg conv -neon ../conv/winograd_arm64
//go:generate go -C ../_asm run ./winograd -avx512 -out ../conv/winograd_avx512_amd64.s -stubs ../conv/winograd_avx512_amd64.go -pkg conv

// transforms is one set's input, output and pooled-output transforms.
type transforms struct {
	set cpu.Set
	// in computes V = Bᵀ d B for tiles 4×4 input tiles along a row, n
	// channels each:
	//
	//	tile t's d[i][j][ch] = d[2t*sx + i*sy + j*sx + ch]
	//	v[t*vt + (4i+j)*vs + ch] = (Bᵀ d B)[i][j][ch]
	in func(tiles, n int, d []float32, sx, sy int, v []float32, vt, vs int)
	// out computes Y = Aᵀ m A for tiles 2×2 output tiles along a row, n
	// channels each, adds the bias, applies relu if asked, and stores Y:
	//
	//	tile t's m[4i+j][ch] = m[t*n + (4i+j)*ms + ch]
	//	y[2t*sx + i*sy + j*sx + ch] = relu?((Aᵀ m A)[i][j][ch] + bias[ch])
	out func(tiles, n int, m []float32, ms int, y []float32, sx, sy int, bias []float32, relu bool)
	// pool is out followed by a 2×2 max pool of each tile, which is a pool
	// window: y[t*n + ch] = relu?(max of tile t's Y + bias[ch]), the same
	// bits as pooling out's results since adding a constant and relu are
	// monotone in float32. The max is taken in the order Y[0][0], Y[0][1],
	// Y[1][0], Y[1][1], each replacing the running max only if greater.
	pool func(tiles, n int, m []float32, ms int, y []float32, bias []float32, relu bool)
}

// transformSets are the transforms of this build's kernel sets (cpu.Family).
var transformSets = cpu.NewFamily("winograd", &genericTransforms)

var genericTransforms = transforms{set: cpu.Generic, in: inputGeneric, out: outputGeneric, pool: poolGeneric}

// inputGeneric is transforms.in. Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]:
// first the rows of d are combined (r = Bᵀ d), then each row of r.
func inputGeneric(tiles, n int, d []float32, sx, sy int, v []float32, vt, vs int) {
	for t := range tiles {
		src, dst := d[2*t*sx:], v[t*vt:]
		for ch := range n {
			var x [4][4]float32
			for i := range 4 {
				for j := range 4 {
					x[i][j] = src[i*sy+j*sx+ch]
				}
			}
			for i := range 4 {
				var r [4]float32
				for j := range 4 {
					switch i {
					case 0:
						r[j] = x[0][j] - x[2][j]
					case 1:
						r[j] = x[1][j] + x[2][j]
					case 2:
						r[j] = x[2][j] - x[1][j]
					default:
						r[j] = x[1][j] - x[3][j]
					}
				}
				dst[(4*i+0)*vs+ch] = r[0] - r[2]
				dst[(4*i+1)*vs+ch] = r[1] + r[2]
				dst[(4*i+2)*vs+ch] = r[2] - r[1]
				dst[(4*i+3)*vs+ch] = r[1] - r[3]
			}
		}
	}
}

// outputTile is Aᵀ m A for one channel, Aᵀ = [1 1 1 0; 0 1 -1 -1]: first the
// rows of m are combined (r = Aᵀ m), then each row of r.
func outputTile(m []float32, ms, ch int) (y [2][2]float32) {
	for i := range 2 {
		var r [4]float32
		for j := range 4 {
			if i == 0 {
				r[j] = m[j*ms+ch] + m[(4+j)*ms+ch] + m[(8+j)*ms+ch]
			} else {
				r[j] = m[(4+j)*ms+ch] - m[(8+j)*ms+ch] - m[(12+j)*ms+ch]
			}
		}
		y[i][0] = r[0] + r[1] + r[2]
		y[i][1] = r[1] - r[2] - r[3]
	}
	return y
}

// finish adds the bias and applies relu as eltwise's Add and Relu do:
// x < 0 becomes 0, and -0 and NaN stay.
func finish(v, b float32, relu bool) float32 {
	v += b
	if relu && v < 0 {
		v = 0
	}
	return v
}

func outputGeneric(tiles, n int, m []float32, ms int, y []float32, sx, sy int, bias []float32, relu bool) {
	for t := range tiles {
		src, dst := m[t*n:], y[2*t*sx:]
		for ch, b := range bias[:n] {
			r := outputTile(src, ms, ch)
			for i := range 2 {
				for j := range 2 {
					dst[i*sy+j*sx+ch] = finish(r[i][j], b, relu)
				}
			}
		}
	}
}

// poolGeneric is transforms.pool.
func poolGeneric(tiles, n int, m []float32, ms int, y []float32, bias []float32, relu bool) {
	for t := range tiles {
		src, dst := m[t*n:], y[t*n:]
		for ch, b := range bias[:n] {
			r := outputTile(src, ms, ch)
			v := r[0][0]
			for _, u := range [3]float32{r[0][1], r[1][0], r[1][1]} {
				if u > v {
					v = u
				}
			}
			dst[ch] = finish(v, b, relu)
		}
	}
}
