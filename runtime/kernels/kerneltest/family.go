package kerneltest

import (
	"testing"

	"github.com/mdlc/mdlc/runtime/kernels/cpu"
)

// Family checks a kernel family's registry: every set this process can run
// has its own implementation (set says which set an implementation is) and
// no other is registered, and a run that asks for a set (MDLC_REQUIRE) gets
// that set's implementation for the one cpu.Select picks.
func Family[K any](t *testing.T, f *cpu.Family[K], set func(K) cpu.Set) {
	t.Helper()
	for _, s := range cpu.Available() {
		if got := set(f.For(s)); got != s {
			t.Errorf("no implementation for the %s set: For gives %s's", s, got)
		}
	}
	if n, want := len(f.All()), len(cpu.Available()); n != want {
		t.Errorf("%d implementations registered, %d sets available", n, want)
	}
	s, err := cpu.Select()
	if err != nil {
		t.Fatal(err)
	}
	if err := cpu.Require(set(f.For(s))); err != nil {
		t.Error(err)
	}
}
