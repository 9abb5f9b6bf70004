package eltwise

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitTile(t *testing.T) {
	bias := Step{Kind: Add, Operand: 2, Shape: []int{8}}
	relu := Step{Kind: Relu}
	relu6 := Step{Kind: Clip, Alpha: 0, Beta: 6}
	clip := Step{Kind: Clip, Alpha: -1, Beta: 6}
	res := Step{Kind: Add, Operand: 3, Shape: []int{4, 5, 8}}
	for _, tc := range []struct {
		name  string
		steps []Step
		want  TileEpilogue
	}{
		{"empty", nil, TileEpilogue{Bias: -1}},
		{"bias", []Step{bias}, TileEpilogue{Bias: 2, Rest: []Step{}}},
		{"bias relu", []Step{bias, relu}, TileEpilogue{Bias: 2, Relu: true, Rest: []Step{}}},
		{"relu", []Step{relu}, TileEpilogue{Bias: -1, Relu: true, Rest: []Step{}}},
		{"bias with unit axes", []Step{{Kind: Add, Operand: 1, Shape: []int{1, 1, 8}}, relu, res},
			TileEpilogue{Bias: 1, Relu: true, Rest: []Step{res}}},
		{"residual first", []Step{res, relu}, TileEpilogue{Bias: -1, Rest: []Step{res, relu}}},
		{"wrong channels", []Step{{Kind: Add, Operand: 1, Shape: []int{4}}}, TileEpilogue{Bias: -1, Rest: []Step{{Kind: Add, Operand: 1, Shape: []int{4}}}}},
		{"sub is not a bias", []Step{{Kind: Sub, Operand: 1, Shape: []int{8}}}, TileEpilogue{Bias: -1, Rest: []Step{{Kind: Sub, Operand: 1, Shape: []int{8}}}}},
		{"relu then bias", []Step{relu, bias}, TileEpilogue{Bias: -1, Relu: true, Rest: []Step{bias}}},
		{"bias relu6", []Step{bias, relu6, res}, TileEpilogue{Bias: 2, Relu6: true, Rest: []Step{res}}},
		{"relu6", []Step{relu6}, TileEpilogue{Bias: -1, Relu6: true, Rest: []Step{}}},
		{"other clip", []Step{bias, clip}, TileEpilogue{Bias: 2, Rest: []Step{clip}}},
		{"relu then relu6", []Step{relu, relu6}, TileEpilogue{Bias: -1, Relu: true, Rest: []Step{relu6}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, SplitTile(tc.steps, 8))
		})
	}
}
