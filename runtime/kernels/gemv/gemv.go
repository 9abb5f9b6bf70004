// Package gemv multiplies a row vector by a constant matrix, y[1×n] =
// x[1×k]·W[k×n], for the batch-1 dense layers whose n is too small for the
// GEMM's panels (the seed CNN's last layer: k = 186624, n = 10, 7.4 MB of
// weights read once per run). Such a product is bound by the bandwidth that
// streams W, so the layout serves the stream: W is packed once, when a plan
// is built, in blocks of Block rows of K; within a block, in groups of 4
// columns; within a group, in chunks of 8 rows, each column's 8 weights in
// turn. A kernel call runs over one group of one block: each chunk of x,
// loaded once, multiplies the group's 4 columns, and the weights are read in
// the order they lie, one contiguous stream per block.
//
// The AVX-512 kernels hold a column's two chunks of a pair in one ZMM
// register, so their groups are 8 columns (8 chains of FMAs, as AVX2's 4
// columns in two YMM registers each), each column's pair of chunks side by
// side, and they read a block's last rows under a mask rather than from a
// zero-padded copy.
//
// The kernels come in sets (package cpu): generic, plain Go compiled on every
// platform and the oracle; AVX2+FMA and AVX-512 on amd64 (generated with avo
// by runtime/kernels/_asm/gemv); NEON on arm64 (the same program's emitter).
//
// Numerics: within a block, each column is summed as 16 chains, chain (c, l)
// taking element 8q+l of the chunks q with q%2 = c, in order; the chains are
// added in a fixed tree (the kernels' doc comments give it) and the block's
// last k%8 elements, if any, as one more zero-padded chunk summed the same
// way. The blocks' sums are then added in block order. Each chain has at most
// Block/16 terms, so a result is within about (Block/16 + 4 + K/Block)·2⁻²⁴ of
// the exact Σ|x·w| (relative), and in practice (random signs) within the
// square root of that. The assembly sets fuse each multiply-add (one
// rounding), the generic one rounds the product and the sum; they differ by
// about as much, and the AVX2, AVX-512 and NEON sets agree bit for bit. The blocks are
// the units a plan spreads over threads: their bounds do not depend on the
// number of threads, and neither does the result.
//
// Nothing here allocates except New.
package gemv

// The assembly and its declarations are generated; CI regenerates them and
// fails on a difference.
//go:generate go -C ../_asm run ./gemv -out ../gemv/gemv_amd64.s -stubs ../gemv/gemv_amd64.go -pkg gemv -neon ../gemv/gemv_arm64
//go:generate go -C ../_asm run ./gemv -avx512 -out ../gemv/gemv_avx512_amd64.s -stubs ../gemv/gemv_avx512_amd64.go -pkg gemv

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

const (
	// Block is the rows of K a unit covers: 16 KiB of x, which the groups of
	// the block read in turn from L1. A multiple of 16 (two chunks).
	Block = 4096
	cols  = 4 // columns per group
	chunk = 8 // rows per chunk
)

// dotFunc is a kernel for one group of r columns (dots[r-1]): see dot4AVX2.
type dotFunc func(chunks int, x, w, out []float32)

// pairFunc is a kernel for one group of r columns of a block of rows, its
// chunks packed in pairs (pairs[r-1]): see dot8AVX512.
type pairFunc func(rows int, x, w, out []float32)

// kernels are one set's: dots over groups of cols columns, or pairs over
// groups of pairCols (AVX-512, whose ZMM registers hold a column's two chunk
// parities: Pack lays each column's pair of chunks side by side for them).
type kernels struct {
	set   cpu.Set
	dots  [cols]dotFunc
	pairs []pairFunc
}

// group is the columns of a group in k's packing.
func (k *kernels) group() int {
	if k.pairs != nil {
		return len(k.pairs)
	}
	return cols
}

var generic = kernels{set: cpu.Generic, dots: [cols]dotFunc{dot1Generic, dot2Generic, dot3Generic, dot4Generic}}

// sets lists the sets this process can run, best first, generic last; the
// files of each assembly set add theirs when the CPU has it.
var sets = cpu.NewFamily("gemv", &generic)

// GEMV is y = x·W for a fixed k×n, with W packed by Pack.
type GEMV struct {
	K, N int
	k    *kernels
}

// pairCols is the group width of the sets whose kernels take chunks in
// pairs (see Pack), known on every platform: a plan built for another
// machine packs W as that machine's kernels read it.
var pairCols = map[cpu.Set]int{cpu.AVX512: 8}

// New describes y[1×n] = x[1×k]·W[k×n], run by the kernels of set. A set
// this process cannot run whose packing differs from generic's gets
// kernels that pack for it and panic if run.
func New(set cpu.Set, k, n int) *GEMV {
	if c, ok := pairCols[set]; ok && sets.Runs(set) == cpu.Generic {
		return &GEMV{K: k, N: n, k: foreign(set, c)}
	}
	return &GEMV{K: k, N: n, k: sets.For(set)}
}

// foreign is set's packing for a process that cannot run its kernels.
func foreign(set cpu.Set, cols int) *kernels {
	pairs := make([]pairFunc, cols)
	for i := range pairs {
		pairs[i] = func(int, []float32, []float32, []float32) {
			panic("gemv: this process cannot run the " + string(set) + " kernels; these only pack for them")
		}
	}
	return &kernels{set: set, pairs: pairs}
}

// Set is the kernel set g runs.
func (g *GEMV) Set() cpu.Set { return g.k.set }

// Blocks is the number of blocks of K: the units of Partial.
func (g *GEMV) Blocks() int { return (g.K + Block - 1) / Block }

// block is the first row of block u, its rows and its padded rows.
func (g *GEMV) block(u int) (p0, rows, padded int) {
	p0 = u * Block
	rows = min(Block, g.K-p0)
	return p0, rows, (rows + chunk - 1) / chunk * chunk
}

// PackedSize is the length of W packed by Pack.
func (g *GEMV) PackedSize() int {
	_, _, last := g.block(g.Blocks() - 1)
	return ((g.Blocks()-1)*Block + last) * g.N
}

// Pack lays out op(W), k×n, for Partial: block u, from u·Block·n, holds its
// groups of 4 columns (the last group narrower), each group its chunks, each
// chunk its columns' 8 weights, zero past row k-1:
//
//	dst[u*Block*n + j0*padded + (q*r+j)*8 + l] = op(W)[u*Block+8q+l][j0+j]
//
// for the group of r columns from j0 and the block's padded rows. W is
// row-major with leading dimension ldw; op transposes it if trans. The
// AVX-512 kernels' groups are 8 columns, and each column's chunks 2p and
// 2p+1 lie side by side (a last chunk of even index alone):
//
//	dst[u*Block*n + j0*padded + 16*p*r + 16*j + 8*(q%2) + l]  for q = 2p or 2p+1 < padded/8 - q%2
func (g *GEMV) Pack(dst, w []float32, ldw int, trans bool) {
	at := func(p, j int) float32 {
		if trans {
			return w[j*ldw+p]
		}
		return w[p*ldw+j]
	}
	for u := range g.Blocks() {
		p0, rows, padded := g.block(u)
		blk := dst[p0*g.N : (p0+padded)*g.N]
		for j0 := 0; j0 < g.N; j0 += g.k.group() {
			r := min(g.k.group(), g.N-j0)
			grp := blk[j0*padded : (j0+r)*padded]
			chunks := padded / chunk
			for q := range chunks {
				for j := range r {
					// AVX-512's chunk q of a pair is chunk q%2 of a
					// column's two, those of the r columns in turn.
					off := (q*r + j) * chunk
					if g.k.pairs != nil && (q%2 == 1 || q+1 < chunks) {
						off = ((q/2*r+j)*2 + q%2) * chunk
					}
					for l := range chunk {
						v := float32(0)
						if p := 8*q + l; p < rows {
							v = at(p0+p, j0+j)
						}
						grp[off+l] = v
					}
				}
			}
		}
	}
}

// ScratchSize is the scratch Partial needs: x's last partial chunk, padded.
func (g *GEMV) ScratchSize() int { return chunk }

// Partial computes block u's share of every column:
//
//	partial[j] = Σ_{p in block u} x[p] · W[p][j]   for j < n
//
// in the order the package doc gives. pw is W packed by Pack; scratch holds
// ScratchSize floats.
func (g *GEMV) Partial(x, pw, partial []float32, u int, scratch []float32) {
	n := g.N
	p0, rows, padded := g.block(u)
	blk := pw[p0*n : (p0+padded)*n]
	out := partial[:n]
	clear(out)
	if g.k.pairs != nil {
		// The AVX-512 kernels read the last rows under a mask.
		xb := x[p0 : p0+rows]
		for j0 := 0; j0 < n; j0 += len(g.k.pairs) {
			r := min(len(g.k.pairs), n-j0)
			g.k.pairs[r-1](rows, xb, blk[j0*padded:(j0+r)*padded], out[j0:j0+r])
		}
		return
	}
	full := rows / chunk
	xb := x[p0 : p0+full*chunk]
	var tail []float32
	if rows > full*chunk {
		tail = scratch[:chunk]
		clear(tail)
		copy(tail, x[p0+full*chunk:p0+rows])
	}
	for j0 := 0; j0 < n; j0 += cols {
		r := min(cols, n-j0)
		grp := blk[j0*padded : (j0+r)*padded]
		dot := g.k.dots[r-1]
		if full > 0 {
			dot(full, xb, grp[:full*chunk*r], out[j0:j0+r])
		}
		if tail != nil {
			dot(1, tail, grp[full*chunk*r:], out[j0:j0+r])
		}
	}
}

// PartialRows computes block u's partial sums for rows rows of x, row r
// starting at x[r*ldx] and its sums at partial[r*PartialSize()+u*n]: each
// row as Partial computes it alone, so a row's result does not depend on
// the rows beside it, while the block's weights, read for the first row,
// come from the cache for the others.
func (g *GEMV) PartialRows(x []float32, ldx, rows int, pw, partial []float32, u int, scratch []float32) {
	for r := range rows {
		g.Partial(x[r*ldx:], pw, partial[r*g.PartialSize()+u*g.N:], u, scratch)
	}
}

// Sum adds the blocks' partial sums, in block order: y[j] = Σ_u
// partial[u*n+j].
func (g *GEMV) Sum(partial, y []float32) {
	n := g.N
	copy(y[:n], partial[:n])
	for u := 1; u < g.Blocks(); u++ {
		for j, v := range partial[u*n : (u+1)*n] {
			y[j] += v
		}
	}
}

// PartialSize is the length of the partial sums Run needs: n per block.
func (g *GEMV) PartialSize() int { return g.Blocks() * g.N }

// Run computes y = x·W: Partial over every block, then Sum.
func (g *GEMV) Run(x, pw, y, partial, scratch []float32) {
	for u := range g.Blocks() {
		g.Partial(x, pw, partial[u*g.N:], u, scratch)
	}
	g.Sum(partial, y)
}

// dotGeneric is the kernels' loop (see dot4AVX2) for r columns, rounding each
// product and each sum.
func dotGeneric(r, chunks int, x, w, out []float32) {
	x, w, out = x[:chunks*chunk], w[:chunks*chunk*r], out[:r]
	for j := range r {
		var a [2][chunk]float32
		for q := range chunks {
			xs, ws := x[q*chunk:(q+1)*chunk], w[(q*r+j)*chunk:(q*r+j+1)*chunk]
			c := &a[q%2]
			for l := range chunk {
				c[l] += float32(xs[l] * ws[l])
			}
		}
		out[j] += reduce(&a)
	}
}

// reduce sums the two accumulator vectors of a column as the kernels do: the
// two vectors lane by lane, then halves, then pairs.
func reduce(a *[2][chunk]float32) float32 {
	var s [chunk]float32
	for l := range chunk {
		s[l] = a[0][l] + a[1][l]
	}
	for l := range 4 {
		s[l] += s[l+4]
	}
	return (s[0] + s[2]) + (s[1] + s[3])
}

func dot1Generic(chunks int, x, w, out []float32) { dotGeneric(1, chunks, x, w, out) }
func dot2Generic(chunks int, x, w, out []float32) { dotGeneric(2, chunks, x, w, out) }
func dot3Generic(chunks int, x, w, out []float32) { dotGeneric(3, chunks, x, w, out) }
func dot4Generic(chunks int, x, w, out []float32) { dotGeneric(4, chunks, x, w, out) }
