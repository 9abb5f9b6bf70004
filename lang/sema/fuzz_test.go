package sema_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/sema"
	"github.com/mdlc/mdlc/lang/syntax"
	"github.com/mdlc/mdlc/stdlib"
)

// FuzzCheck runs the parser, the printer and the checker on arbitrary text.
// None may panic; a program that checks must give a graph the verifier
// accepts, and formatting must be idempotent.
func FuzzCheck(f *testing.F) {
	for _, pattern := range []string{"../../stdlib/*.mdl", "../../testdata/*/*.mdl"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			if src, err := os.ReadFile(file); err == nil {
				f.Add(src)
			}
		}
	}
	// Past both limits: nesting the parser must refuse before recursing, and
	// blocks that expand exponentially.
	deep := func(n int) []byte {
		return []byte("model m(x: f32[N, 4]) -> (y) {\n  y = " + strings.Repeat("relu(", n) + "x" + strings.Repeat(")", n) + "\n}\n")
	}
	f.Add(deep(syntax.MaxNesting - 1))
	f.Add(deep(10 * syntax.MaxNesting))
	f.Add([]byte(strings.Repeat("[", 1000)))
	f.Add([]byte(exponential(30)))
	// A small budget keeps each run fast while the fuzzer explores it.
	loader := &sema.Loader{Std: stdlib.FS, MaxNodes: 10_000}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, ds := syntax.Parse("fuzz.mdl", src)
		if ds == nil {
			once := syntax.Format(file)
			again, ds2 := syntax.Parse("fuzz.mdl", []byte(once))
			if ds2 != nil {
				t.Fatalf("formatted program does not parse: %v\n%s", ds2, once)
			}
			if twice := syntax.Format(again); twice != once {
				t.Fatalf("formatting is not idempotent:\n%s\n---\n%s", once, twice)
			}
		}
		p, ds := loader.LoadSource("fuzz.mdl", src)
		if len(ds) > 0 {
			_ = ds.Render(p.Source)
			return
		}
		_ = p.Check().Render(p.Source)
		for _, name := range p.Models() {
			m, ds := p.Build(name)
			if len(ds) == 0 {
				if err := ir.Verify(m.Graph); err != nil {
					t.Fatalf("checked model %s has invalid IR: %v", name, err)
				}
				_ = ir.Print(m.Graph)
			}
		}
	})
}
