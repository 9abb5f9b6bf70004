// Package cpu decides, once, which kernel set runs: the plain Go kernels
// (generic, compiled everywhere, the fallback and the reference for the fast
// ones), AVX2+FMA assembly on amd64, AVX-512 assembly on amd64 CPUs that
// have it, or NEON assembly on arm64.
//
// MDLC_KERNELS=generic|avx2|avx512|neon forces a set; asking for one this CPU or
// build lacks is an error, never a silent fallback. The purego build tag
// removes all assembly, leaving only generic. Tests honour MDLC_REQUIRE=avx2,
// avx512 or neon: they fail unless that set is the one selected, so CI proves which
// code ran.
package cpu

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/cpu"
)

// Set names a kernel implementation set.
type Set string

const (
	Generic Set = "generic"
	AVX2    Set = "avx2"
	AVX512  Set = "avx512"
	NEON    Set = "neon"
)

// Feature flags, fixed at start-up. Assembly exists only where the build
// includes it (not purego) and the CPU has the instructions.
var (
	HasAVX2 = hasAsm && runtime.GOARCH == "amd64" && cpu.X86.HasAVX2 && cpu.X86.HasFMA
	// AVX-512 F, BW, DQ and VL, with AVX2 (the avx512 set runs AVX2's
	// kernels in the families that have no AVX-512 ones, see Family.Uses).
	// x/sys/cpu reports AVX-512 only when the OS saves the opmask and ZMM
	// registers (XCR0 bits 5-7).
	HasAVX512 = HasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL
	// NEON (Advanced SIMD) is mandatory on arm64.
	HasNEON = hasAsm && runtime.GOARCH == "arm64"
)

// Available lists the sets this process can run, best first.
func Available() []Set {
	var s []Set
	if HasAVX512 {
		s = append(s, AVX512)
	}
	if HasAVX2 {
		s = append(s, AVX2)
	}
	if HasNEON {
		s = append(s, NEON)
	}
	return append(s, Generic)
}

// Select returns the set named by MDLC_KERNELS, or the best available.
func Select() (Set, error) { return selectSet(os.Getenv("MDLC_KERNELS")) }

func selectSet(want string) (Set, error) {
	avail := Available()
	if want == "" {
		return avail[0], nil
	}
	for _, s := range avail {
		if string(s) == want {
			return s, nil
		}
	}
	switch Set(want) {
	case Generic, AVX2, AVX512, NEON:
		return "", fmt.Errorf("MDLC_KERNELS=%s: this CPU or build cannot run %s kernels (%s/%s%s); available: %s",
			want, want, runtime.GOOS, runtime.GOARCH, buildNote(), names(avail))
	}
	return "", fmt.Errorf("MDLC_KERNELS=%s: unknown kernel set; choose one of %s", want, names(avail))
}

func buildNote() string {
	if !hasAsm {
		return ", built with -tags purego"
	}
	return ""
}

func names(s []Set) string {
	n := make([]string, len(s))
	for i, x := range s {
		n[i] = string(x)
	}
	return strings.Join(n, ", ")
}

// Features describes what was detected, for `mdlc env`.
func Features() string {
	var f []string
	switch runtime.GOARCH {
	case "amd64":
		for _, x := range []struct {
			name string
			has  bool
		}{{"sse4.2", cpu.X86.HasSSE42}, {"avx", cpu.X86.HasAVX}, {"avx2", cpu.X86.HasAVX2}, {"fma", cpu.X86.HasFMA}, {"avx512f", cpu.X86.HasAVX512F},
			{"avx512bw", cpu.X86.HasAVX512BW}, {"avx512dq", cpu.X86.HasAVX512DQ}, {"avx512vl", cpu.X86.HasAVX512VL}} {
			if x.has {
				f = append(f, x.name)
			}
		}
	case "arm64":
		f = append(f, "asimd")
		if cpu.ARM64.HasFPHP {
			f = append(f, "fphp")
		}
		if cpu.ARM64.HasASIMDHP {
			f = append(f, "asimdhp")
		}
	}
	return strings.Join(f, " ")
}

// Require checks MDLC_REQUIRE against the selected set; tests call it so that
// a CI run asking for avx2, avx512 or neon fails if that code did not run.
func Require(selected Set) error {
	want := os.Getenv("MDLC_REQUIRE")
	if want != "" && Set(want) != selected {
		return fmt.Errorf("MDLC_REQUIRE=%s but the %s kernels were selected (available: %s)", want, selected, names(Available()))
	}
	return nil
}
