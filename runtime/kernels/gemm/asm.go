//go:build (amd64 || arm64) && !purego

package gemm

import (
	"github.com/mdlc/mdlc/runtime/kernels/cpu"
	"github.com/mdlc/mdlc/runtime/kernels/eltwise"
)

// asmKernel is the Kernel of an assembly set whose tiles[r-1] computes an
// r×nr tile: the full tile is tiles[len(tiles)-1], and rows past the last
// full tile run as one shorter tile per panel, the same chains as a full
// tile's, not a padded tile; with the last full tile's rows (split), as two
// shorter tiles.
func asmKernel(set cpu.Set, tiles []tileFunc, panel panelFunc) *Kernel {
	return layoutKernel(set, layouts[set], tiles, panel)
}

// layoutKernel is asmKernel with layout l.
func layoutKernel(set cpu.Set, l layout, tiles []tileFunc, panel panelFunc) *Kernel {
	if len(tiles) != l.mr {
		panic("gemm: the " + string(set) + " layout's MR differs from its tiles")
	}
	t := asmTiles{nr: l.nr, tiles: tiles}
	full := tiles[len(tiles)-1]
	if panel == nil {
		panel = loopTiles(l.mr, full)
	}
	return &Kernel{Set: set, MR: l.mr, NR: l.nr, kc: l.kc, minMC: l.minMC, tile: full, panel: panel, edge: t.edge, split: true,
		// NEON's tiles have no silu: its generator writes none.
		silu: eltwise.Unary(set, eltwise.Silu), siluTiles: set != cpu.NEON}
}

// maskedKernel is the Kernel of a set whose masked[r-1] computes an r×nr
// tile and stores only the columns its mask selects: the tiles at C's right
// edge store straight into C, with no tile computed in tmp and copied. The
// set's pair tiles (Kernel.pairs; nil: none) compute products of few rows.
func maskedKernel(set cpu.Set, masked []maskTileFunc, panel panelFunc, pairs []pairTileFunc) *Kernel {
	l := layouts[set]
	if len(masked) != l.mr {
		panic("gemm: the " + string(set) + " layout's MR differs from its tiles")
	}
	all := columns(l.nr)
	full := masked[len(masked)-1]
	tile := func(kc int, a, b, c []float32, ldc int, flags int, bias []float32) {
		full(kc, a, b, c, ldc, flags, bias, all)
	}
	t := asmTiles{nr: l.nr, tiles: make([]tileFunc, l.mr), masked: masked}
	return &Kernel{Set: set, MR: l.mr, NR: l.nr, kc: l.kc, minMC: l.minMC, tile: tile, masked: full, panel: panel, edge: t.edge, split: true, pairs: pairs,
		silu: eltwise.Unary(set, eltwise.Silu), siluTiles: true}
}

type asmTiles struct {
	nr     int
	tiles  []tileFunc
	masked []maskTileFunc // in place of tiles, where the set has them
}

func (t asmTiles) edge(r, kc int, a, pb []float32, k, p0, n int, c []float32, ldc int, f finish, tmp []float32) {
	nr, top := t.nr, r
	if r > len(t.tiles) {
		top = (r + 1) / 2
	}
	for j := 0; j < n; j += nr {
		bp := pb[j*k+p0*nr : j*k+(p0+kc)*nr]
		// The second tile finds the panel in L1.
		for i0, rows := range [2]int{top, r - top} {
			if rows == 0 {
				break
			}
			t.tileRows(rows, kc, a[i0*top*kc:], bp, c[i0*top*ldc:], ldc, j, n, f, tmp)
		}
	}
}

// tileRows computes a tile of rows < MR rows of C at column j, of which the
// columns past n lie outside C.
func (t asmTiles) tileRows(rows, kc int, a, bp, c []float32, ldc, j, n int, f finish, tmp []float32) {
	nr := t.nr
	if t.masked != nil {
		w := min(nr, n-j)
		t.masked[rows-1](kc, a, bp, c[j:], ldc, f.flags, f.cols(j, w), columns(w))
		return
	}
	tile := t.tiles[rows-1]
	if w := n - j; w < nr {
		tile(kc, a, bp, tmp, nr, 0, nil)
		for i := range rows {
			f.store(c[i*ldc+j:i*ldc+n], tmp[i*nr:], j)
		}
		return
	}
	tile(kc, a, bp, c[j:], ldc, f.flags, f.cols(j, nr))
}
