//go:build amd64 && !purego

package recurrent

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The avx512 set runs AVX2's kernels here until AVX-512 ones are measured
// faster on a CPU that has them.
func init() { prefetches.Uses(cpu.AVX512, cpu.AVX2) }
