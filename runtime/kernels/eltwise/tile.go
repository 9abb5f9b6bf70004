package eltwise

// TileEpilogue is the head of an epilogue that a GEMM or convolution kernel
// applies itself, to each tile while it is still in registers: a bias with
// one value per output channel, then a relu or a relu6 (clip to [0, 6]); the
// common end of conv and dense layers. Rest is what is left of the chain, to
// run as a Chain after.
type TileEpilogue struct {
	Bias  int // operand index of the bias, -1 if none
	Relu  bool
	Relu6 bool
	Rest  []Step
}

// SplitTile takes the tile epilogue off the front of steps, for an output
// whose last axis has channels elements: an Add of an operand shaped
// [channels] (or [1, …, 1, channels]), then a Relu or a Clip to [0, 6],
// either or both.
func SplitTile(steps []Step, channels int) TileEpilogue {
	t := TileEpilogue{Bias: -1, Rest: steps}
	if len(t.Rest) > 0 && t.Rest[0].Kind == Add && perChannel(t.Rest[0].Shape, channels) {
		t.Bias, t.Rest = t.Rest[0].Operand, t.Rest[1:]
	}
	if len(t.Rest) > 0 && t.Rest[0].Kind == Relu {
		t.Relu, t.Rest = true, t.Rest[1:]
	} else if len(t.Rest) > 0 && t.Rest[0].Kind == Clip && t.Rest[0].Alpha == 0 && t.Rest[0].Beta == 6 {
		t.Relu6, t.Rest = true, t.Rest[1:]
	}
	return t
}

// perChannel reports whether an operand of shape s holds one value per
// channel of the last axis.
func perChannel(s []int, channels int) bool {
	if len(s) == 0 || s[len(s)-1] != channels {
		return false
	}
	for _, d := range s[:len(s)-1] {
		if d != 1 {
			return false
		}
	}
	return true
}
