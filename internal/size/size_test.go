package size

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckedArithmetic(t *testing.T) {
	_, ok := Mul(math.MaxInt64/2+1, 2)
	assert.False(t, ok)
	_, ok = Mul(-1, 2)
	assert.False(t, ok)
	n, ok := Mul(3037000499, 3037000499)
	assert.True(t, ok)
	assert.Equal(t, int64(9223372030926249001), n)
	_, ok = Add(math.MaxInt64, 1)
	assert.False(t, ok)
	// 2^32 cubed wraps to 0 in int64 arithmetic: the case that made the
	// checker report 0 bytes for f32[N, 4294967296, 4294967296, 4294967296].
	_, ok = Numel([]int{1, 1 << 32, 1 << 32, 1 << 32})
	assert.False(t, ok)
	_, ok = Bytes([]int{3037000500, 3037000500}, 4)
	assert.False(t, ok)
	n, ok = Bytes([]int{2, 3, 4}, 4)
	assert.True(t, ok)
	assert.Equal(t, int64(96), n)
}

func TestBudget(t *testing.T) {
	b := Budget(1 << 20)
	assert.NoError(t, b.Check("x", 1<<20))
	err := b.Check("the arena", 3<<20)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the arena needs 3.0 MiB, more than the memory limit of 1.0 MiB")
	assert.Contains(t, err.Error(), "--max-memory")
	assert.Error(t, b.CheckShape("input x", []int{1 << 32, 1 << 32, 1 << 32}, 4))
	assert.NoError(t, Budget(0).Check("x", math.MaxInt64))
	assert.Positive(t, int64(Default()))
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Budget{"0": 0, "512MiB": 512 << 20, "1.5GiB": 3 << 29, "2G": 2 << 30, "100MB": 100e6, "4096": 4096, " 8 GiB ": 8 << 30} {
		got, err := Parse(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-1", "lots", "1e30GiB", "NaN"} {
		_, err := Parse(in)
		assert.Error(t, err, in)
	}
	t.Setenv(EnvVar, "64MiB")
	assert.Equal(t, Budget(64<<20), Default())
}
