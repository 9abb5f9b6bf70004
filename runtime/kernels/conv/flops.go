package conv

// Flops counts the floating-point operations of the convolution proper, a
// multiply-add as two, without its epilogue and pool (which every algorithm
// computes alike): executed, what the conv's algorithm runs, and direct, the
// direct convolution's 2·N·OH·OW·CO·KH·KW·C/groups, which is what model FLOP
// counts use. The two differ only for Winograd, which runs fewer multiplies
// than direct counts once there are a few channels. Counts are float64 so
// that no shape overflows them; packing weights computed at run time is not
// counted (nor is the GEMM's packing).
//
// Winograd F(2×2, 3×3) runs, per 2×2 output tile (tiles round the output up
// to even sizes, or are the pool's windows when it pools; see winograd):
//   - the input transform Bᵀ d B, 32 additions per input channel (16 to
//     combine the rows of the 4×4 tile, 16 for the columns: inputGeneric);
//   - 16 GEMMs, one per position of the 4×4 transformed tile, of K = C:
//     2·16·C·CO;
//   - the output transform Aᵀ m A, 24 additions per output channel (16 for
//     the rows, 8 for the columns: outputTile).
//
// So 32·C·CO + 32·C + 24·CO per tile against direct's 72·C·CO per four
// outputs: 2.25× fewer operations when C and CO are large.
func (c *Conv) Flops() (executed, direct float64) {
	direct = 2 * float64(c.N) * float64(c.OH) * float64(c.OW) * float64(c.CO) * float64(c.KH*c.KW) * float64(c.cpg)
	if c.algo != Winograd {
		return direct, direct
	}
	tiles := float64(c.N) * float64(c.wino.th) * float64(c.wino.tw)
	ci, co := float64(c.C), float64(c.CO)
	return tiles * (32*ci*co + 32*ci + 24*co), direct
}
