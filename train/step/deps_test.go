package step

import (
	osexec "os/exec"
	"strings"
	"testing"
)

// TestNoHeavyDeps: what a generated trainer links (this package, optim and
// runtime/exec) imports neither the IR nor package tensor nor, through it,
// the image decoders.
func TestNoHeavyDeps(t *testing.T) {
	out, err := osexec.Command("go", "list", "-deps", "github.com/mdlc/mdlc/train/step").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "image" || strings.HasPrefix(pkg, "image/") || pkg == "github.com/mdlc/mdlc/tensor" || pkg == "github.com/mdlc/mdlc/ir" {
			t.Errorf("train/step depends on %s", pkg)
		}
	}
}
