package sema_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/lang/syntax"
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
