package kerneltest

import (
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// Family checks a kernel family's registry: every set this process can run
// has its own implementation (set says which set an implementation is) or
// declares the set whose implementation it runs (Family.Uses), never the
// generic one by default; no other implementation is registered; and a run
// that asks for a set (MDLC_REQUIRE) gets the implementation of the set
// cpu.Select picks. It logs the sets that borrow another's code.
func Family[K any](t *testing.T, f *cpu.Family[K], set func(K) cpu.Set) {
	t.Helper()
	own := 0
	for _, s := range cpu.Available() {
		got, runs := set(f.For(s)), f.Runs(s)
		switch {
		case got != runs:
			t.Errorf("the %s set runs %s's implementation but For gives %s's", s, runs, got)
		case got == s:
			own++
		case s != cpu.Generic && got == cpu.Generic:
			t.Errorf("no implementation for the %s set: For gives generic's", s)
		default:
			t.Logf("the %s set runs %s's implementation (declared by Uses)", s, got)
		}
	}
	if n := len(f.All()); n != own {
		t.Errorf("%d implementations registered, %d available sets have their own", n, own)
	}
	s, err := cpu.Select()
	if err != nil {
		t.Fatal(err)
	}
	if err := cpu.Require(s); err != nil {
		t.Error(err)
	}
	if got, runs := set(f.For(s)), f.Runs(s); got != runs {
		t.Errorf("the selected %s set runs %s's implementation but For gives %s's", s, runs, got)
	}
}
