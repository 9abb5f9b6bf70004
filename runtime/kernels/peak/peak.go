// Package peak measures a core's floating point peak: the rate at which it
// retires fused multiply-adds (FMA) when nothing else limits it. The kernel
// keeps its float32 accumulators in registers (Accs of them in 12 YMM
// registers with AVX2 or 24 Q registers with NEON, AccsAVX512 in 24 ZMM
// registers with AVX-512) and adds a·b to each of them, n times over. The
// chains are independent and more numerous than FMA units × FMA latency (Zen
// 3 and Zen 5: 2 units, latency 4; big ARM cores: 4 units, latency 4), so the units never
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
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// Accs is the number of float32 accumulators the AVX2, NEON and generic
// versions update per iteration; AccsAVX512 the AVX-512 version's, whose
// 16-wide registers need twice as many floats for the same number of chains.
const (
	Accs       = 96
	AccsAVX512 = 384
)

// kernelFunc runs n iterations of acc[i] = a·b + acc[i] over all of acc.
type kernelFunc func(acc []float32, a, b float32, n int)

// version is one implementation of the kernel, by the kernel set it is part
// of, and the number of accumulators it updates per iteration (2 flops each).
type version struct {
	set  cpu.Set
	accs int
	fn   kernelFunc
}

// versions lists those this build and CPU can run, the generic one last.
var versions = available(append(asm, version{cpu.Generic, Accs, fmaGeneric}))

// Sets lists the kernel sets this process can measure the peak of, best
// first: one version per set cpu.Available lists.
func Sets() []cpu.Set {
	s := make([]cpu.Set, len(versions))
	for i, v := range versions {
		s[i] = v.set
	}
	return s
}

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

// Kernel names the version Measure runs: "avx512", "avx2", "neon" or
// "generic".
func Kernel() string { return string(impl.set) }

// Asm reports whether an assembly version measures, so that the figure is
// the machine's vector FMA peak rather than scalar Go's.
func Asm() bool { return impl.set != cpu.Generic }

// fmaGeneric is the reference loop of the assembly versions. Its float64 FMA
// rounds twice (to float64, then to float32) where they round once; on the
// small integers and halves the tests use, every result is exact either way.
func fmaGeneric(acc []float32, a, b float32, n int) {
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
	return impl.measure(threads, trials, d)
}

// MeasureSet is Measure with set s's version, for `mdlc bench --peak` to
// compare the sets; s must be one of Sets.
func MeasureSet(s cpu.Set, threads, trials int, d time.Duration) (float64, error) {
	for _, v := range versions {
		if v.set == s {
			return v.measure(threads, trials, d), nil
		}
	}
	return 0, fmt.Errorf("no FMA peak kernel for the %s set in this process (available: %v)", s, Sets())
}

func (v version) measure(threads, trials int, d time.Duration) float64 {
	n := v.calibrate()
	calls := max(1, int(d/chunk))
	start := make([]chan struct{}, threads)
	var done sync.WaitGroup
	for t := range start {
		start[t] = make(chan struct{})
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			acc := make([]float32, v.accs)
			for range start[t] {
				for range calls {
					v.fn(acc, 1, 1e-6, n)
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
		flops := float64(threads) * float64(calls) * float64(n) * float64(2*v.accs)
		best = max(best, flops/time.Since(t0).Seconds()/1e9)
	}
	for _, c := range start {
		close(c)
	}
	return best
}

// calibrate finds the iteration count of one chunk-long kernel call.
func (v version) calibrate() int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	acc := make([]float32, v.accs)
	n := 1000
	for {
		t0 := time.Now()
		v.fn(acc, 1, 1e-6, n)
		if el := time.Since(t0); el >= chunk/4 {
			return max(1, int(float64(n)*float64(chunk)/float64(el)))
		}
		n *= 2
	}
}
