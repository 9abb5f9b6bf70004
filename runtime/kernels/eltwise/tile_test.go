package eltwise

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitTile(t *testing.T) {
	bias := Step{Kind: Add, Operand: 2, Shape: []int{8}}
	relu := Step{Kind: Relu}
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, SplitTile(tc.steps, 8))
		})
	}
}
