package eltwise

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/kerneltest"
)

// The benchmarks run each kernel of every set this machine runs over one
// chunk (the run a Chain passes to each step, resident in L1), reporting
// Gelem/s, and as MB/s the bytes read and written. The data is reset every
// reset runs, so that repeated application reaches no subnormals or
// infinities (slow paths); the copy costs an eighth of one 4 KB memmove per
// run. Compare the sets with, e.g.,
//
//	go test -run '^$' -bench . ./runtime/kernels/eltwise
const reset = 8

func BenchmarkUnary(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x := randomData(r, chunk)
	v := make([]float32, chunk)
	for kind := range kindCount {
		if kind.Binary() {
			continue
		}
		for _, k := range sets.All() {
			b.Run(kindNames[kind]+"/"+string(k.set), func(b *testing.B) {
				f := unaryFor(k, kind, 0.3)
				b.SetBytes(8 * chunk)
				stop := kerneltest.CPUTime(b)
				for i := 0; b.Loop(); i++ {
					if i%reset == 0 {
						copy(v, x)
					}
					f(v)
				}
				stop()
				report(b)
			})
		}
	}
}

func BenchmarkBinary(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	x, o := randomData(r, chunk), randomData(r, chunk)
	v := make([]float32, chunk)
	for i := range o {
		o[i] = 1 + o[i]*o[i] // no division by ~0
	}
	for kind := range kindCount {
		if !kind.Binary() || kind == Load {
			continue
		}
		for _, k := range sets.All() {
			b.Run(kindNames[kind]+"/"+string(k.set), func(b *testing.B) {
				f := k.vector[kind]
				b.SetBytes(12 * chunk)
				stop := kerneltest.CPUTime(b)
				for i := 0; b.Loop(); i++ {
					if i%reset == 0 {
						copy(v, x)
					}
					f(v, o)
				}
				stop()
				report(b)
			})
			b.Run(kindNames[kind]+"_scalar/"+string(k.set), func(b *testing.B) {
				f := k.scalar[kind]
				b.SetBytes(8 * chunk)
				stop := kerneltest.CPUTime(b)
				for i := 0; b.Loop(); i++ {
					if i%reset == 0 {
						copy(v, x)
					}
					f(v, 1.5)
				}
				stop()
				report(b)
			})
		}
	}
}

func report(b *testing.B) {
	b.ReportMetric(float64(b.N)*chunk/b.Elapsed().Seconds()/1e9, "Gelem/s")
}

// BenchmarkGate runs squeeze-excitation gates, x·g for g [1,1,1,C] over x
// [1,H,W,C] in place, as a plan's chain does, several rows a run (rowsBelow)
// and a row a run, in Gelem/s.
func BenchmarkGate(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range [][2]int{{56, 16}, {112, 32}, {28, 72}, {56, 144}} {
		shape := []int{1, s[0], s[0], s[1]}
		x, g := randomData(r, s[0]*s[0]*s[1]), randomData(r, s[1])
		for _, k := range sets.All() {
			for _, spans := range []bool{true, false} {
				name := fmt.Sprintf("%dx%dx%d/%s/rows=%v", s[0], s[0], s[1], k.set, spans)
				b.Run(name, func(b *testing.B) {
					c := NewChain(k.set, shape, []Step{{Kind: Load, Operand: 0, Shape: shape}, {Kind: Mul, Operand: 1, Shape: []int{1, 1, 1, s[1]}}})
					if !spans {
						c.rows = 0
					}
					v := slices.Clone(x)
					stop := kerneltest.CPUTime(b)
					for b.Loop() {
						c.Apply(v, 0, [][]float32{v, g})
					}
					stop()
					b.ReportMetric(float64(b.N)*float64(len(v))/b.Elapsed().Seconds()/1e9, "Gelem/s")
				})
			}
		}
	}
}
