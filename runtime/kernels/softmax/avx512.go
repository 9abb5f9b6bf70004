//go:build amd64 && !purego

package softmax

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

// The avx512 set runs these rather than AVX2's: measured faster on every
// shape (BenchmarkSoftmax, AMD EPYC Zen 5, family 26 model 2, one thread, 3
// runs each, Gelem/s AVX-512 against AVX2): softmax 8×1000 3.2-3.3 against
// 2.1, 256×64 1.9 against 1.6, 4×10×256 (axis not last) 2.5 against 1.7;
// log_softmax 3.0 against 2.0, 1.26 against 1.04, 0.84 against 0.72.
func init() {
	if cpu.HasAVX512 {
		sets.Add(cpu.AVX512, &avx512)
	}
}

var avx512 = kernels{
	set: cpu.AVX512, rowMax: rowMaxAVX512, expSum: expSumAVX512, sumExp: sumExpAVX512, logShift: logShiftAVX512, scale: scaleAVX512,
	maxInto: maxIntoAVX512, expSumInto: expSumIntoAVX512, sumExpInto: sumExpIntoAVX512, logShiftInto: logShiftIntoAVX512, mulInto: mulIntoAVX512,
}
