//go:build !linux

package kerneltest

// threadCPU: no per-thread CPU clock is read here.
func threadCPU() (int64, bool) { return 0, false }
