//go:build amd64 && !purego

package softmax

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasAVX2 {
		sets.Add(cpu.AVX2, &avx2)
	}
}

var avx2 = kernels{
	set: cpu.AVX2, rowMax: rowMaxAVX2, expSum: expSumAVX2, sumExp: sumExpAVX2, logShift: logShiftAVX2, scale: scaleAVX2,
	maxInto: maxIntoAVX2, expSumInto: expSumIntoAVX2, sumExpInto: sumExpIntoAVX2, logShiftInto: logShiftIntoAVX2, mulInto: mulIntoAVX2,
}
