package main

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

func TestEnv(t *testing.T) {
	code, out, errs := mdlc(t, "env")
	require.Equal(t, 0, code, errs)
	selected, err := cpu.Select()
	require.NoError(t, err)
	require.Contains(t, out, "platform:   "+runtime.GOOS+"/"+runtime.GOARCH+"\n")
	require.Contains(t, out, "go:         "+runtime.Version()+"\n")
	require.Contains(t, out, "cpu:        ")
	require.Contains(t, out, " "+string(selected)+" selected (")
	require.Contains(t, out, "gomaxprocs: ")

	code, _, errs = mdlc(t, "env", "extra")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "usage: mdlc env")
}

// TestEnvKernels: MDLC_KERNELS picks the set env reports; a set that does not
// exist is an error, exit status 1.
func TestEnvKernels(t *testing.T) {
	t.Setenv("MDLC_KERNELS", "generic")
	code, out, errs := mdlc(t, "env")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "generic selected (MDLC_KERNELS=generic)")

	t.Setenv("MDLC_KERNELS", "sse9")
	code, out, errs = mdlc(t, "env")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Contains(t, errs, "mdlc env: MDLC_KERNELS=sse9: unknown kernel set")
}
