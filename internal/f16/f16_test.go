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

// TestRound checks the rounding of every value between two neighbours of
// each format: the neighbours themselves stay, their midpoint goes to the
// one whose last bit is 0, and a float32 step either side of the midpoint
// goes to the nearer; past the largest finite value lies ∞.
func TestRound(t *testing.T) {
	for _, f := range []struct {
		name   string
		decode func(uint16) float32
		round  func(float32) float32
		inf    uint16
	}{{"half", Half, RoundHalf, 0x7c00}, {"bfloat16", BFloat, RoundBFloat, 0x7f80}} {
		for sign := range uint16(2) {
			for h := uint16(0); h < f.inf; h++ {
				a, b := f.decode(h|sign<<15), f.decode((h+1)|sign<<15)
				if got := f.round(a); math.Float32bits(got) != math.Float32bits(a) {
					t.Fatalf("%s %#04x: %g rounds to %g", f.name, h, a, got)
				}
				next := float64(b)
				if h+1 == f.inf {
					next = 2*float64(a) - float64(f.decode((h-1)|sign<<15)) // the next value, were the exponent wider
				}
				m := float32((float64(a) + next) / 2) // exact: the formats have fewer bits than float32
				even := a
				if h&1 == 1 || h+1 == f.inf {
					even = b // an odd a; or a the largest finite value, whose even neighbour lies beyond: ∞
				}
				below, above := math.Nextafter32(m, a), math.Nextafter32(m, b)
				for x, want := range map[float32]float32{m: even, below: a, above: b} {
					if got := f.round(x); math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("%s: %g rounds to %g, want %g", f.name, x, got, want)
					}
				}
			}
		}
		assert.True(t, math.IsNaN(float64(f.round(float32(math.NaN())))))
	}
}
