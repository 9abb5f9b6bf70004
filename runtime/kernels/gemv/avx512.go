//go:build amd64 && !purego

package gemv

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The avx512 set runs AVX2's kernels. Their chains are the numerics the
// package doc fixes (16 per column, by chunk parity): a ZMM register holds a
// column's two chains, so an AVX-512 kernel would run 4 chains of FMAs per
// group where AVX2 runs 8 — the same 16 lanes per FMA latency — and would
// load each chunk pair of W in two halves (VINSERTF32X8), as AVX2 does. And
// the products it serves stream W from memory: with AVX2's kernels the avx512
// set runs BenchmarkCrossover (AMD EPYC Zen 5, family 26 model 2, one thread,
// 3 runs) at k = 186624, n = 10 in 126-165 µs (45-59 GB/s of W), as the avx2
// set does (123-160 µs), and k = 1024, n = 1000 in 56-80 µs against 55-57.
func init() { sets.Uses(cpu.AVX512, cpu.AVX2) }
