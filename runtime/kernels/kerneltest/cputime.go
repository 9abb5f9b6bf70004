package kerneltest

import (
	"runtime"
	"testing"
)

// CPUTime reports a benchmark's CPU time per operation, as "cpu-ns/op",
// beside the wall time: on a machine shared with other jobs the wall time
// also counts the time they hold the CPU, the thread's CPU time does not.
// Call it just before the timed loop and the function it returns just after
// (the goroutine stays on its thread in between):
//
//	stop := kerneltest.CPUTime(b)
//	for b.Loop() { ... }
//	stop()
//
// Where the platform has no per-thread CPU clock it reports nothing.
func CPUTime(b *testing.B) (stop func()) {
	runtime.LockOSThread()
	start, ok := threadCPU()
	return func() {
		end, ok2 := threadCPU()
		runtime.UnlockOSThread()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
