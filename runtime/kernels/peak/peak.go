// Package peak measures a core's floating point peak: the rate at which it
// retires fused multiply-adds (FMA) when nothing else limits it. The kernel
// keeps Accs float32 accumulators in registers (12 YMM registers with AVX2,
// 24 Q registers with NEON) and adds a·b to each of them, n times over. The
// chains are independent and more numerous than FMA units × FMA latency (Zen 3:
// 2 units, latency 4; big ARM cores: 4 units, latency 4), so the units never
// wait on a result: the rate is the issue rate of FMAs, which is what a dense
// kernel (GEMM, convolution) can hope to approach, and the denominator of its
// "% of peak".
//
// The generic version (math.FMA on scalars) runs where there is no assembly
// (other architectures, the purego build tag) or MDLC_KERNELS=generic asks
// for none. It is no machine's peak, only what scalar Go reaches; Kernel says
// which version measured.
package peak

import (
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// Accs is the number of float32 accumulators every version updates per
// iteration, so that all versions compute the same thing.
const Accs = 96

// FlopsPerIter counts an FMA as two floating point operations.
const FlopsPerIter = 2 * Accs

// kernelFunc runs n iterations of acc[i] = a·b + acc[i] over all of acc.
type kernelFunc func(acc *[Accs]float32, a, b float32, n int)

// version is one implementation of the kernel, by the kernel set it is part
// of.
type version struct {
	set cpu.Set
	fn  kernelFunc
}

// versions lists those this build and CPU can run, the generic one last.
var versions = available(append(asm, version{cpu.Generic, fmaGeneric}))

func available(vs []version) []version {
	return slices.DeleteFunc(vs, func(v version) bool { return !slices.Contains(cpu.Available(), v.set) })
}

// impl is the version Measure runs, chosen once as the plans' kernels are:
// the set cpu.Select picks (the best, or MDLC_KERNELS), else generic.
var impl = choose()

func choose() version {
	set, err := cpu.Select()
	for _, v := range versions {
		if err == nil && v.set == set {
			return v
		}
	}
	return versions[len(versions)-1]
}

// Kernel names the version Measure runs: "avx2", "neon" or "generic".
func Kernel() string { return string(impl.set) }

// Asm reports whether an assembly version measures, so that the figure is
// the machine's vector FMA peak rather than scalar Go's.
func Asm() bool { return impl.set != cpu.Generic }

// fmaGeneric is the reference loop of the assembly versions. Its float64 FMA
// rounds twice (to float64, then to float32) where they round once; on the
// small integers and halves the tests use, every result is exact either way.
func fmaGeneric(acc *[Accs]float32, a, b float32, n int) {
	x, y := float64(a), float64(b)
	for range n {
		for i := range acc {
			acc[i] = float32(math.FMA(x, y, float64(acc[i])))
		}
	}
}

// chunk is how long one kernel call should last: assembly cannot be
// preempted, so calls are kept short enough not to stall the garbage
// collector, and long enough that the call overhead does not count.
const chunk = time.Millisecond

// Measure returns the combined GFLOP/s of threads goroutines, each locked to
// an OS thread, running the kernel at the same time: the best of trials
// trials of about d each. The best, because a shared machine's noise (other
// processes, frequency dips) only ever slows a trial down. Reaching the
// machine's peak needs GOMAXPROCS >= threads.
func Measure(threads, trials int, d time.Duration) float64 {
	n := calibrate()
	calls := max(1, int(d/chunk))
	start := make([]chan struct{}, threads)
	var done sync.WaitGroup
	for t := range start {
		start[t] = make(chan struct{})
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			acc := new([Accs]float32)
			for range start[t] {
				for range calls {
					impl.fn(acc, 1, 1e-6, n)
				}
				done.Done()
			}
		}()
	}
	best := 0.0
	for range trials {
		done.Add(threads)
		t0 := time.Now()
		for _, c := range start {
			c <- struct{}{}
		}
		done.Wait()
		flops := float64(threads) * float64(calls) * float64(n) * FlopsPerIter
		best = max(best, flops/time.Since(t0).Seconds()/1e9)
	}
	for _, c := range start {
		close(c)
	}
	return best
}

// calibrate finds the iteration count of one chunk-long kernel call.
func calibrate() int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	acc := new([Accs]float32)
	n := 1000
	for {
		t0 := time.Now()
		impl.fn(acc, 1, 1e-6, n)
		if el := time.Since(t0); el >= chunk/4 {
			return max(1, int(float64(n)*float64(chunk)/float64(el)))
		}
		n *= 2
	}
}
