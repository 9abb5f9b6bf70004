package f16

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHalf(t *testing.T) {
	for bits, want := range map[uint16]float32{
		0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: 1.0 / (1 << 24), 0x8000: float32(math.Copysign(0, -1)),
		0x7c00: float32(math.Inf(1)), 0x3555: 0.333251953125,
	} {
		assert.Equal(t, math.Float32bits(want), math.Float32bits(Half(bits)), "%#04x", bits)
	}
	assert.True(t, math.IsNaN(float64(Half(0x7e00))))
}

func TestBFloat(t *testing.T) {
	assert.Equal(t, float32(1), BFloat(0x3f80))
	assert.Equal(t, float32(-2.5), BFloat(0xc020))
}
