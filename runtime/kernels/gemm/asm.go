//go:build (amd64 || arm64) && !purego

package gemm

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// asmKernel is the Kernel of an assembly set whose tiles[r-1] computes an
// r×nr tile: the full tile is tiles[len(tiles)-1], and rows past the last
// full tile run as one shorter tile per panel, the same chains as a full
// tile's, not a padded tile.
func asmKernel(set cpu.Set, tiles []tileFunc, panel panelFunc) *Kernel {
	l := layouts[set]
	if len(tiles) != l.mr {
		panic("gemm: the " + string(set) + " layout's MR differs from its tiles")
	}
	t := asmTiles{nr: l.nr, tiles: tiles}
	full := tiles[len(tiles)-1]
	if panel == nil {
		panel = loopTiles(l.mr, full)
	}
	return &Kernel{Set: set, MR: l.mr, NR: l.nr, kc: l.kc, minMC: l.minMC, tile: full, panel: panel, edge: t.edge}
}

type asmTiles struct {
	nr    int
	tiles []tileFunc
}

func (t asmTiles) edge(r, kc int, a, pb []float32, k, p0, n int, c []float32, ldc int, f finish, tmp []float32) {
	nr, tile := t.nr, t.tiles[r-1]
	for j := 0; j < n; j += nr {
		bp := pb[j*k+p0*nr : j*k+(p0+kc)*nr]
		if w := n - j; w < nr {
			tile(kc, a, bp, tmp, nr, 0, nil)
			for i := range r {
				f.store(c[i*ldc+j:i*ldc+n], tmp[i*nr:], j)
			}
			continue
		}
		tile(kc, a, bp, c[j:], ldc, f.flags, f.cols(j, nr))
	}
}
