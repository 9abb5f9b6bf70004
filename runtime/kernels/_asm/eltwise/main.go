// Command eltwise generates the vector kernels of packages
// runtime/kernels/eltwise and runtime/kernels/softmax: the AVX2+FMA ones
// with avo (<pkg>_amd64.s and their Go declarations), and the NEON ones with
// the small emitter in arm64.go (<pkg>_arm64.s and its declarations), because
// avo writes only amd64; with -avx512, the AVX-512 ones, in files of their
// own (one x86 generator, x86.go, writes both x86 sets). The math (math.go)
// is written once, as a prog that each architecture lowers, so all run the
// same algorithm with the same constants.
//
// Run it from runtime/kernels/_asm, as the go:generate lines in those
// packages do; -pkg chooses the family:
//
//	go run ./eltwise -out ../eltwise/eltwise_amd64.s -stubs ../eltwise/eltwise_amd64.go -pkg eltwise -neon ../eltwise/eltwise_arm64
//	go run ./eltwise -out ../softmax/softmax_amd64.s -stubs ../softmax/softmax_amd64.go -pkg softmax -neon ../softmax/softmax_arm64
//	go run ./eltwise -avx512 -out ../eltwise/eltwise_avx512_amd64.s -stubs ../eltwise/eltwise_avx512_amd64.go -pkg eltwise
//	go run ./eltwise -avx512 -out ../softmax/softmax_avx512_amd64.s -stubs ../softmax/softmax_avx512_amd64.go -pkg softmax
//
// The output depends only on these arguments.
package main

import (
	"flag"
	"log"

	"github.com/mdlc/mdlc/runtime/kernels/_asm/avx2"
	"github.com/mdlc/mdlc/runtime/kernels/_asm/neon"
	. "github.com/mmcloughlin/avo/build"
)

// avx512 selects the AVX-512 kernels: the AVX2 files are checked for AVX2's
// 16 registers.
var avx512 = flag.Bool("avx512", false, "generate the AVX-512 kernels instead")

func main() {
	flag.Parse()
	pkg := flag.Lookup("pkg").Value.String()
	ks, ok := families[pkg]
	if !ok {
		log.Fatalf("-pkg %q: no such kernel family (eltwise, softmax)", pkg)
	}
	ConstraintExpr("amd64,!purego")
	if *avx512 {
		x86{avx512: true, withRows: pkg == "eltwise"}.generate(ks)
		Generate()
		return
	}
	x86{withRows: pkg == "eltwise"}.generate(ks)
	avx2.Generate()
	neon.Generate(pkg, func(f *neon.File) error {
		if err := writeNEON(f, ks); err != nil {
			return err
		}
		if pkg == "eltwise" {
			neonRows(f)
		}
		return nil
	})
}

// docLines is the doc comment of k's function name: what it computes, as the
// reference loop in Go.
func docLines(k *kernel, name string) []string {
	how := "exactly"
	if k.approx {
		how = "to within the error the package states for it"
	}
	lines := []string{name + " computes, " + how + ":", ""}
	for _, l := range k.loop {
		lines = append(lines, "\t"+l)
	}
	if len(k.note) > 0 {
		lines = append(lines, "")
		lines = append(lines, k.note...)
	}
	return lines
}
