// Package gemm multiplies float32 matrices, C = op(A)·B, the way BLIS and
// GotoBLAS do: B is packed once into column panels NR wide (a plan packs
// constant weights when it is built), a block of A, MC rows by KC columns, is
// copied per call into scratch memory the caller owns, and a register-blocked
// micro-kernel multiplies MR rows of it by one B panel at a time: an MR×NR
// tile of C, over the block of K. Rows of C are computed in bands of
// Blocking.MC rows, each finished over the whole of K before the next starts,
// so a caller can apply an epilogue to a band while it is still in cache.
//
// The micro-kernels come in sets (package cpu): generic, plain Go compiled on
// every platform and the oracle of the others; AVX2+FMA and AVX-512 on amd64
// (generated with avo by runtime/kernels/_asm/gemm); NEON on arm64 (generated
// by the same program's emitter). A Kernel is one set's micro-tile, micro-kernels and
// packing; a plan picks one with For when it is built and keeps it, so that
// nothing is decided per call. The AVX-512 set also has pair tiles, up to 4
// rows across two panels at once, for blocks of so few rows (a recurrent
// step's, a thread's group of sequences) that one panel's tile has too few
// chains of FMAs to keep the FMA units busy.
//
// The block of A is row-major (leading dimension KC), so each kernel reads
// element p of row i at a[i*kc+p] and the layout of A never depends on the
// kernel: the copy is a memmove per row for A as stored (none at all when one
// block spans A's rows), a transpose for op(A) = Aᵀ, and convolution gathers
// its im2col rows straight into it. The block is contiguous so that its rows
// do not collide in cache sets, as rows of a matrix whose stride is a
// multiple of 4 KiB would.
//
// A tile can finish its elements as it stores them (Epilogue): add a bias
// per column of C, then clamp at zero (relu) or to [0, 6] (relu6), on the
// last block of K, so that a dense or conv layer with a bias and a relu or
// relu6 needs no pass of its own over C. The result is the same bit for bit
// as the product followed by an eltwise add and relu (or clip).
//
// Numerics: every variant sums each element of C as one chain in k order
// over a block of at most KC terms, started from zero, then adds the chain to
// C (blocks after the first): the generic kernel rounds each product and each
// sum, the assembly ones use fused multiply-adds (one rounding per term). For
// K terms of magnitude ~1 either differs from the exact sum by about
// sqrt(K)·2⁻²⁴ relative to Σ|a·b|, and they differ from each other by as
// much. An element's chain does not depend on where its tile lies, so a
// result is the same bit for bit however the rows and panels are split among
// threads.
//
// Nothing here allocates.
package gemm

// The assembly and its declarations are generated; CI regenerates them and
// fails on a difference.
//go:generate go -C ../_asm run ./gemm -out ../gemm/gemm_amd64.s -stubs ../gemm/gemm_amd64.go -pkg gemm -neon ../gemm/gemm_arm64
//go:generate go -C ../_asm run ./gemm -avx512 -out ../gemm/gemm_avx512_amd64.s -stubs ../gemm/gemm_avx512_amd64.go -pkg gemm

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// Kernel is one set's implementation of the product: its micro-tile MR×NR,
// the packed layout of B that follows from NR, and its micro-kernels.
type Kernel struct {
	Set    cpu.Set
	MR, NR int
	// kc bounds the K blocks, minMC the rows of a band (see Block).
	kc, minMC int
	// tile computes a full MR×NR tile, finished as flags say (flagAcc,
	// flagBias, flagRelu, flagSix; bias holds the tile's NR biases):
	//
	//	C[i][j] = finish(Σ_{p<kc} a[i*kc+p] · b[p*NR+j])   for i < MR, j < NR
	tile tileFunc
	// panel computes tiles full tiles down a column of C, rows t*MR.. for
	// tile t, in one call: assembly where the set has it, else tile in a
	// loop. A short K makes a call per tile cost as much as its work.
	panel panelFunc
	// edge computes r < MR rows of C across n columns, all B panels:
	//
	//	C[i][j] = finish(Σ_{p<kc} a[i*kc+p] · pb[j/NR][p0+p][j%NR])   for i < r, j < n
	//
	// tmp holds MR·NR floats for a tile at the right edge. With split, r
	// may be up to 2·MR-1: see Multiply.
	edge  func(r, kc int, a, pb []float32, k, p0, n int, c []float32, ldc int, f finish, tmp []float32)
	split bool
	// masked, where the set has it, is tile storing only the columns of C
	// its mask selects (bit j for column j): a full-height tile at C's right
	// edge, computed in place rather than in tmp.
	masked maskTileFunc
	// pairs[r-1], where the set has them, computes r rows of C across two
	// B panels in one call, the same sums as two tiles of one panel (see
	// Multiply).
	pairs []pairTileFunc
	// silu is the set's eltwise silu; siluTiles whether its tiles apply it
	// (flagSilu), else Multiply runs silu over the block after.
	silu      func(v []float32, alpha float32)
	siluTiles bool
}

type tileFunc func(kc int, a, b, c []float32, ldc int, flags int, bias []float32)

type maskTileFunc func(kc int, a, b, c []float32, ldc int, flags int, bias []float32, mask uint64)

// columns is the mask of a tile's first w columns.
func columns(w int) uint64 { return 1<<w - 1 }

type panelFunc func(kc int, a, b, c []float32, ldc int, flags int, bias []float32, tiles int)

// pairTileFunc is a masked tile over two B panels, the second ldb floats
// after the first: mask bit j selects column j of the two panels' 2·NR.
type pairTileFunc func(kc int, a, b []float32, ldb int, c []float32, ldc int, flags int, bias []float32, mask uint64)

// loopTiles is a panel that calls tile for each tile.
func loopTiles(mr int, tile tileFunc) panelFunc {
	return func(kc int, a, b, c []float32, ldc int, flags int, bias []float32, tiles int) {
		for t := range tiles {
			tile(kc, a[t*mr*kc:], b, c[t*mr*ldc:], ldc, flags, bias)
		}
	}
}

// The flags of a tile's store, in the order it applies them.
const (
	flagAcc  = 1 // add C
	flagBias = 2 // add the column's bias
	flagRelu = 4 // clamp at zero (x < 0 ? 0 : x, keeping NaN and -0)
	flagSix  = 8 // then clamp at six (x > 6 ? 6 : x, keeping NaN): relu6
	// then silu, x·sigmoid(x), as the set's eltwise silu computes it:
	// EfficientNet's 1×1 expansions, whose silu would otherwise be a pass
	// over each band of C after the product.
	flagSilu = 16
)

// Epilogue is what the tiles of the last block of K apply to C as they store
// it: a bias per column (nil for none, else at least as long as the row of
// C), then relu or relu6 (clip to [0, 6]), then silu. The zero Epilogue does
// nothing.
type Epilogue struct {
	Bias  []float32
	Relu  bool
	Relu6 bool
	Silu  bool
}

// SiluInTiles reports whether kn's tiles apply an Epilogue's silu as they
// store C; without, Multiply runs silu over its block after.
func (kn *Kernel) SiluInTiles() bool { return kn.siluTiles }

// finish is how a block's sums go into C: its tile flags and the bias of
// the block's columns; silu, if not nil, is the silu the stores written in
// Go apply (flagSilu is the tiles').
type finish struct {
	flags int
	bias  []float32
	silu  func(v []float32, alpha float32)
}

// finishing is the finish of kn's tiles for epi, whose silu they apply
// only where the set's tiles have it (siluTiles).
func (kn *Kernel) finishing(acc bool, e Epilogue) finish {
	f := finish{bias: e.Bias}
	if e.Silu && kn.siluTiles {
		f.flags |= flagSilu
		f.silu = kn.silu
	}
	if acc {
		f.flags |= flagAcc
	}
	if e.Bias != nil {
		f.flags |= flagBias
	}
	if e.Relu {
		f.flags |= flagRelu
	}
	if e.Relu6 {
		f.flags |= flagRelu | flagSix
	}
	return f
}

// from is f for the columns from j on.
func (f finish) from(j int) finish {
	if f.bias != nil {
		f.bias = f.bias[j:]
	}
	return f
}

// cols is the bias of columns j..j+w-1, nil without one.
func (f finish) cols(j, w int) []float32 {
	if f.bias == nil {
		return nil
	}
	return f.bias[j : j+w]
}

// kernels are the kernels this process can run; the files of each assembly
// set add theirs when the CPU has it.
var kernels = cpu.NewFamily("gemm", genericKernel)

// Kernels lists every kernel this process can run, best first, generic last:
// tests compare each with the generic one.
func Kernels() []*Kernel { return kernels.All() }

// For returns the kernel of a set that cpu.Select returned. Every such set
// has one, its own or the one it declares it uses (a test checks it). A
// known set this process cannot run gets a kernel with that set's layout
// (micro-tile and blocking) whose products panic: enough to pack weights and
// plan memory for another machine, as mdlc gen does for another GOARCH. Any
// other set gets the generic kernel.
func For(s cpu.Set) *Kernel {
	if s == cpu.Generic || kernels.Runs(s) != cpu.Generic {
		return kernels.For(s)
	}
	if l, ok := layouts[s]; ok {
		return l.foreign(s)
	}
	return genericKernel
}

// ForWidth returns set s's kernel for products of n columns: For(s), except
// where s's panel is much wider than n and another set's kernel, which every
// CPU that runs s runs too, pads B less (narrowN).
func ForWidth(s cpu.Set, n int) *Kernel {
	if w, ok := narrowN[s]; ok && n <= w.cols {
		return For(w.uses)
	}
	return For(s)
}

// narrowN is ForWidth's rule: products of at most cols columns run set uses'
// kernel. Measured (AMD EPYC Zen 5, one thread, 5 runs of 20 products): the
// AVX-512 12×32 tile packs B 32 wide, so at n ≤ 16 it streams at least
// twice the floats AVX2's 6×16 does. Where B comes from memory that halves
// its speed: 2×10×186624 (a batch-2 classifier) in 577-697 µs against
// AVX2's 331-435, 4×16×186624 in 745-914 µs against 397-485; where the
// product is compute-bound the two tie (3136×16×576: 0.78-1.08 ms against
// 0.79-1.00; 3136×10×576: 0.81-0.94 against 0.92-1.12), and from 17 columns
// on AVX-512 wins (3136×24×576: 0.78-1.04 ms against 1.53-2.10).
var narrowN = map[cpu.Set]struct {
	cols int
	uses cpu.Set
}{cpu.AVX512: {cols: 16, uses: cpu.AVX2}}

// narrow lists the kernels for products of few rows (see Narrow) this
// process can run.
var narrow []*Kernel

// Narrow returns set s's kernel for products of at most a few rows, a
// tile of fewer rows and more columns than For's: with only 4 or 8 rows
// (a recurrent step's sequences), For's 6-row tile runs as tiles of 4,
// whose 8 chains of FMAs leave the FMA units idle part of the time. Sets
// without one get For's; a set that uses another's GEMM kernels (see For)
// uses its narrow kernel too.
func Narrow(s cpu.Set) *Kernel {
	if r := kernels.Runs(s); r != s && r != cpu.Generic {
		s = r
	}
	for _, k := range narrow {
		if k.Set == s {
			return k
		}
	}
	if l, ok := narrowLayouts[s]; ok {
		return l.foreign(s)
	}
	return For(s)
}

// narrowLayouts are the narrow kernels' layouts: AVX2's tile is 4×24. The
// avx512 set has none: its 12×32 tile computes 8 rows as one tile of 16
// chains, and up to 4 rows as pair tiles (4×64 over two panels, 16 chains
// too; see pairRows), and the stdlib LSTM's loop (BenchmarkLSTM in
// runtime/kernels/recurrent, batch 8, H 256, Zen 5) runs in 1.80-2.22 ms
// with it against 3.47-4.34 ms for the avx2 set.
var narrowLayouts = map[cpu.Set]layout{
	cpu.AVX2: {mr: 4, nr: 24, kc: 256, minMC: 24},
}

// layout is a set's micro-tile and blocking, known on every platform.
type layout struct{ mr, nr, kc, minMC int }

// layouts are the assembly sets' (see asmKernel); the AVX2, AVX-512 and NEON
// tiles are 6×16, 12×32 and 6×12, generated by runtime/kernels/_asm/gemm.
//
// The AVX-512 tile is measured (BenchmarkMatMul, AMD EPYC Zen 5, family 26
// model 2, one thread, best and median of 15 runs of 5 products on a machine
// shared by several jobs, load 3-9, so only the best is steady): at
// 1024×1024×1024, 12×32 (KC 256) reached 171-196 GFLOP/s best, 14×32 185-192,
// 8×48 (KC 192) 177-188 and 6×64 (KC 128) 193-194: all within the noise,
// about 90% of the 213 GFLOP/s AVX-512 FMA peak (package peak, best of 10),
// where AVX2's 6×16 reaches 100 GFLOP/s best (88 median) of its 107. Zen 5
// runs 512-bit FMAs at full width: AVX-512 doubles AVX2 here. 32 columns
// divide the usual channel counts (32, 64, 256) where 48 or 64 leave a
// masked panel, and 12 rows beat 14 on the short-K conv shapes (resnet3x3,
// 3136×64×576: 161 against 134 GFLOP/s best; AVX2 76), so 12×32: 24 ZMM
// accumulators, 2 B vectors and a broadcast, 27 of the 32 registers.
var layouts = map[cpu.Set]layout{
	cpu.AVX2:   {mr: 6, nr: 16, kc: 256, minMC: 24},
	cpu.AVX512: {mr: 12, nr: 32, kc: 256, minMC: 48},
	cpu.NEON:   {mr: 6, nr: 12, kc: 256, minMC: 24},
}

// foreign is a kernel of set s with layout l that this process cannot run.
func (l layout) foreign(s cpu.Set) *Kernel {
	fail := func() {
		panic("gemm: this process cannot run the " + string(s) + " kernels; this kernel only packs for them")
	}
	return &Kernel{Set: s, MR: l.mr, NR: l.nr, kc: l.kc, minMC: l.minMC,
		tile:  func(int, []float32, []float32, []float32, int, int, []float32) { fail() },
		panel: func(int, []float32, []float32, []float32, int, int, []float32, int) { fail() },
		edge:  func(int, int, []float32, []float32, int, int, int, []float32, int, finish, []float32) { fail() }}
}

// bandBytes and maxMC bound a band of C: MC×N should sit in L1/L2 for the
// epilogue, and its block of A, MC×KC, in L2.
//
// sliverBytes is the size of B from which Block avoids a last band of fewer
// than MR rows. Measured (AVX-512, Zen 5, one thread, CPU time of 3000
// products, medians of 5 alternating runs, µs a product): bands of 48 and 1
// against one band, 49×1280×320 257 → 231, 49×320×960 185 → 166,
// 49×960×160 (614 KB of B) 79.5 → 75; where B stays in L2 the sliver costs
// less than the partial tiles wider bands make: 196×576×96 (221 KB), bands
// of 48 and 4 against 60 and 16, 106 against 112.
const (
	maxMC       = 256
	bandBytes   = 32 << 10
	sliverBytes = 512 << 10
)

// PackedSize is the length of op(B), k×n, packed by PackB.
func (kn *Kernel) PackedSize(k, n int) int { return (n + kn.NR - 1) / kn.NR * kn.NR * k }

// PackB packs op(B), k×n, into dst (PackedSize(k, n) long): column panel j/NR
// holds rows 0..k-1 of columns j..j+NR-1 in turn, zero past column n-1:
//
//	dst[(j/NR)*k*NR + p*NR + j%NR] = op(B)[p][j]
//
// B is row-major with leading dimension ldb; op transposes it if trans.
func (kn *Kernel) PackB(dst, b []float32, k, n, ldb int, trans bool) {
	nr := kn.NR
	for j0 := 0; j0 < n; j0 += nr {
		panel := dst[j0*k : (j0+nr)*k]
		w := min(nr, n-j0)
		if w < nr {
			clear(panel)
		}
		if trans {
			for t := range w {
				for p, v := range b[(j0+t)*ldb : (j0+t)*ldb+k] {
					panel[p*nr+t] = v
				}
			}
			continue
		}
		if w >= 16 {
			for p := range k {
				copy(panel[p*nr:p*nr+w], b[p*ldb+j0:])
			}
			continue
		}
		// Narrow rows (a conv filter gradient's dy with LeNet's 6 output
		// channels) by a loop: a call to memmove per row cost more than
		// the copy.
		for p := range k {
			d, v := panel[p*nr:p*nr+w], b[p*ldb+j0:p*ldb+j0+w]
			for i, e := range v {
				d[i] = e
			}
		}
	}
}

// PackA copies rows i0..i0+rows-1 and columns p0..p0+kc-1 of op(A) into dst,
// row-major with leading dimension kc:
//
//	dst[i*kc + p] = op(A)[i0+i][p0+p]
//
// A is row-major with leading dimension lda; op transposes it if trans.
func PackA(dst, a []float32, lda int, trans bool, i0, rows, p0, kc int) {
	if !trans {
		for i := range rows {
			copy(dst[i*kc:(i+1)*kc], a[(i0+i)*lda+p0:])
		}
		return
	}
	// The transpose goes in strips of transStrip columns of dst: each row's
	// strip is one cache line written whole, from transStrip rows of a that
	// stay in L1 while every row of dst passes. Column by column, each
	// write touched another line of dst, whose 64 rows of 256 (a conv
	// filter gradient's block) are more than L1 holds: that block took
	// 73-79 µs, in strips 15-20 µs (Zen 5, one thread).
	for q0 := 0; q0 < kc; q0 += transStrip {
		n := min(transStrip, kc-q0)
		src := a[(p0+q0)*lda+i0:]
		for i := range rows {
			d := dst[i*kc+q0 : i*kc+q0+n]
			for q := range d {
				d[q] = src[q*lda+i]
			}
		}
	}
}

// transStrip is the width of PackA's transposed strips: 64 bytes.
const transStrip = 16

// Blocking is how a product is cut into blocks: K into blocks of at most KC
// terms (near-equal, so no block is a sliver), and M into bands of MC rows.
// Tile is the scratch of an edge tile, MR·NR.
type Blocking struct {
	KC, MC, Tile int
}

// Block chooses the blocking of an m×n×k product: K blocks of at most kc
// terms, so that an A micro-panel (MR×KC) and a B panel (KC×NR) share L1;
// bands of C that fit bandBytes, but of at least minMC rows, so that each B
// panel, fetched from L2 or L3, serves enough tiles.
func (kn *Kernel) Block(m, n, k int) Blocking {
	mr := kn.MR
	blocks := (k + kn.kc - 1) / kn.kc
	kc := (k + blocks - 1) / max(blocks, 1)
	mc := bandBytes / 4 / max(n, 1) / mr * mr
	mc = min(max(mc, kn.minMC), maxMC/mr*mr, (m+mr-1)/mr*mr)
	mc = max(mc, mr)
	if bands := (m + mc - 1) / mc; bands > 1 && m-(bands-1)*mc < mr && 4*k*n > sliverBytes {
		// No sliver band where B comes from memory: a last band of fewer
		// than MR rows streams all of B again for a few rows (a 7×7
		// layer's 49 rows were bands of 48 and 1, and its 1.6 MB of
		// weights came in twice), so the rows go in one band fewer.
		mc = min(((m+bands-2)/(bands-1)+mr-1)/mr*mr, maxMC/mr*mr)
	}
	return Blocking{KC: max(kc, 1), MC: mc, Tile: mr * kn.NR}
}

// ScratchSize is the scratch a band needs: its block of A and an edge tile.
func (b Blocking) ScratchSize() int { return b.MC*b.KC + b.Tile }

// Multiply computes a block of C from a block of A and packed B:
//
//	C[i][j] (+)= Σ_{p<kc} a[i*kc+p] · pb[j/NR][p0+p][j%NR]   for i < rows, j < n
//
// then applies epi to C[i][j] (the last block of K passes the product's
// epilogue, the others the zero Epilogue). a is a rows×kc block laid out by
// PackA; pb is a k×n matrix packed by PackB, of which rows p0..p0+kc-1 are
// used. With acc false C is overwritten, otherwise added to. C is row-major
// with leading dimension ldc. tmp holds MR·NR floats. A block of so few rows
// that the set has pair tiles for them runs those (pairRows), with the same
// sums.
func (kn *Kernel) Multiply(rows, n, kc int, a, pb []float32, k, p0 int, c []float32, ldc int, acc bool, epi Epilogue, tmp []float32) {
	mr, nr := kn.MR, kn.NR
	f := kn.finishing(acc, epi)
	if rows > 0 && rows <= len(kn.pairs) {
		kn.pairRows(rows, n, kc, a, pb, k, p0, c, ldc, f, tmp)
		return
	}
	full := rows / mr * mr
	if kn.split && full > 0 && full < rows {
		// The last full tile joins the rows past it, for edge to compute
		// as two tiles of about equal rows: a tile of few rows has too few
		// chains of multiply-adds to hide their latency (8 rows run as 4+4
		// in about 60% of the time of 6+2).
		full -= mr
	}
	// B panel outside, rows inside: the panel (KC×NR) stays in L1 while
	// every MR rows of the block pass over it, the rows past the last full
	// tile included, so that B streams in once however many rows there are
	// (a recurrent step's product has 8).
	for j := 0; j < n; j += nr {
		bp := pb[j*k+p0*nr : j*k+(p0+kc)*nr]
		w := min(nr, n-j)
		switch {
		case w == nr && full > 0:
			// The panel reads rows up to full-1 of A and C.
			_, _ = a[full*kc-1], c[(full-1)*ldc+j+nr-1]
			kn.panel(kc, a[:full*kc], bp, c[j:], ldc, f.flags, f.cols(j, nr), full/mr)
		case w < nr && kn.masked != nil:
			for i := 0; i < full; i += mr {
				kn.masked(kc, a[i*kc:(i+mr)*kc], bp, c[i*ldc+j:], ldc, f.flags, f.cols(j, w), columns(w))
			}
		case w < nr:
			for i := 0; i < full; i += mr {
				ap := a[i*kc : (i+mr)*kc]
				// An edge tile: compute it whole, keep what lies inside C.
				kn.tile(kc, ap, bp, tmp, nr, 0, nil)
				for r := range mr {
					f.store(c[(i+r)*ldc+j:(i+r)*ldc+j+w], tmp[r*nr:], j)
				}
			}
		}
		if full < rows {
			kn.edge(rows-full, kc, a[full*kc:rows*kc], pb[j*k:], k, p0, w, c[full*ldc+j:], ldc, f.from(j), tmp)
		}
	}
	if epi.Silu && !kn.siluTiles {
		for i := range rows {
			kn.silu(c[i*ldc:i*ldc+n], 0)
		}
	}
}

// pairRows is Multiply of a block of so few rows (at most len(kn.pairs))
// that one tile of one panel has too few chains of FMAs to cover their
// latency: 4 rows of AVX-512's 32 columns are 8 chains, as many as two FMA
// units with a latency of 4 cycles keep in flight, so that any other stall
// (a load from L2: a recurrent step's B) idles them. Two panels a tile
// double the chains and halve the calls. Measured (BenchmarkPairTiles: a
// recurrent step's product, 1024 columns, K 256, B in L2; Intel Xeon,
// family 6 model 207, one thread's CPU time, medians of 6 alternating runs,
// load 7 on 2 cores): 4 rows (a thread's group of a batch of 8 on two
// threads) 20.4 µs against 24.6, 1 row 14.2 against 20.4. 8 rows, whose
// one-panel tile has 16 chains already, as two 4-row pairs took 39.0-43.7
// µs against 41.4-44.9 in two such runs: within this shared machine's noise,
// for B read twice from L2, so they keep the one-panel tile.
func (kn *Kernel) pairRows(rows, n, kc int, a, pb []float32, k, p0 int, c []float32, ldc int, f finish, tmp []float32) {
	nr := kn.NR
	pair := kn.pairs[rows-1]
	for j := 0; j < n; j += 2 * nr {
		if n-j <= nr {
			// One panel left.
			kn.edge(rows, kc, a[:rows*kc], pb[j*k:], k, p0, n-j, c[j:], ldc, f.from(j), tmp)
			return
		}
		w := min(2*nr, n-j)
		// The tile reads rows up to rows-1 of A and C and both panels'
		// rows p0..p0+kc-1.
		_, _ = a[rows*kc-1], c[(rows-1)*ldc+j+w-1]
		pair(kc, a, pb[j*k+p0*nr:(j+nr)*k+(p0+kc)*nr], k*nr, c[j:], ldc, f.flags, f.cols(j, w), columns(w))
	}
}

// store finishes sums into c, columns j.. of C, as a tile's store does.
func (f finish) store(c, sums []float32, j int) {
	sums = sums[:len(c)]
	bias := f.cols(j, len(c))
	for t, s := range sums {
		if f.flags&flagAcc != 0 {
			s += c[t]
		}
		if f.flags&flagBias != 0 {
			s += bias[t]
		}
		if f.flags&flagRelu != 0 && s < 0 {
			s = 0
		}
		if f.flags&flagSix != 0 && s > 6 {
			s = 6
		}
		c[t] = s
	}
	if f.silu != nil {
		f.silu(c, 0)
	}
}

// MatMul computes C = op(A)·B for a fixed shape, with B packed by PackB.
type MatMul struct {
	M, N, K int
	Lda     int
	TransA  bool
	Kernel  *Kernel
	Blocking
}

// NewMatMul describes C[m×n] = op(A)[m×k]·B[k×n], A row-major with leading
// dimension lda (transposed if transA), computed by kn.
func NewMatMul(kn *Kernel, m, n, k, lda int, transA bool) *MatMul {
	return &MatMul{M: m, N: n, K: k, Lda: lda, TransA: transA, Kernel: kn, Blocking: kn.Block(m, n, k)}
}

// Bands is the number of bands of MC rows.
func (g *MatMul) Bands() int { return (g.M + g.MC - 1) / g.MC }

// Rows computes rows i0..i0+rows-1 of C, rows ≤ MC, over the whole of K:
//
//	C[i][j] = epi(Σ_p op(A)[i][p] · B[p][j])
//
// scratch holds ScratchSize floats; C has leading dimension ldc.
func (g *MatMul) Rows(a, pb, c []float32, ldc, i0, rows int, scratch []float32, epi Epilogue) {
	pa, tmp := scratch[:g.MC*g.KC], scratch[g.MC*g.KC:g.ScratchSize()]
	for p0 := 0; p0 < g.K; p0 += g.KC {
		kc := min(g.KC, g.K-p0)
		block := pa
		if !g.TransA && kc == g.Lda {
			// One block spans A's rows: it is laid out already.
			block = a[i0*g.Lda : (i0+rows)*g.Lda]
		} else {
			PackA(pa, a, g.Lda, g.TransA, i0, rows, p0, kc)
		}
		last := Epilogue{}
		if p0+kc == g.K {
			last = epi
		}
		g.Kernel.Multiply(rows, g.N, kc, block, pb, g.K, p0, c[i0*ldc:], ldc, p0 > 0, last, tmp)
	}
}

// Run computes all of C, band by band.
func (g *MatMul) Run(a, pb, c []float32, ldc int, scratch []float32, epi Epilogue) {
	for i0 := 0; i0 < g.M; i0 += g.MC {
		g.Rows(a, pb, c, ldc, i0, min(g.MC, g.M-i0), scratch, epi)
	}
}
