package exec

import (
	osexec "os/exec"
	"strings"
	"testing"
)

// TestNoHeavyDeps: what a generated package links (this package and the
// kernels) imports neither package tensor nor, through it, the image
// decoders, which a served model has no use for.
func TestNoHeavyDeps(t *testing.T) {
	out, err := osexec.Command("go", "list", "-deps", "github.com/mdlc/mdlc/runtime/exec").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "image" || strings.HasPrefix(pkg, "image/") || pkg == "github.com/mdlc/mdlc/tensor" {
			t.Errorf("runtime/exec depends on %s", pkg)
		}
	}
}
