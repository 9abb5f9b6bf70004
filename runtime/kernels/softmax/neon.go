//go:build arm64 && !purego

package softmax

import "github.com/mdlc/mdlc/runtime/kernels/cpu"

func init() {
	if cpu.HasNEON {
		sets.Add(cpu.NEON, &neon)
	}
}

var neon = kernels{
	set: cpu.NEON, rowMax: rowMaxNEON, expSum: expSumNEON, sumExp: sumExpNEON, logShift: logShiftNEON, scale: scaleNEON,
	maxInto: maxIntoNEON, expSumInto: expSumIntoNEON, sumExpInto: sumExpIntoNEON, logShiftInto: logShiftIntoNEON, mulInto: mulIntoNEON,
}
