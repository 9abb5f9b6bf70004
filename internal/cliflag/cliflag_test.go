package cliflag

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/compile"
)

func TestFlags(t *testing.T) {
	var b Budget
	require.NoError(t, b.Set("512MiB"))
	require.Equal(t, Budget(512<<20), b)
	require.Equal(t, "512.0 MiB", b.String())
	require.NoError(t, b.Set("0"))
	require.Equal(t, Budget(-1), b, "0 is no limit, not the default")
	require.Error(t, b.Set("lots"))

	var p Positive
	require.Equal(t, "", p.String(), "not given")
	require.NoError(t, p.Set("3"))
	require.Equal(t, "3", p.String())
	require.EqualError(t, p.Set("0"), "must be a whole number of at least 1")
	require.Error(t, p.Set("x"))

	var n Threads
	require.NoError(t, n.Set("1"))
	require.ErrorContains(t, n.Set("100000"), "the most that can help")
	require.NoError(t, n.Set(strconv.Itoa(compile.MaxThreads())))
	require.Error(t, n.Set(strconv.Itoa(compile.MaxThreads()+1)))
}
