package sema_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLoadRefusesSpecialFiles: programs and imports are read only from
// regular .mdl files of bounded size, and quickly refused otherwise.
func TestLoadRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.mdl")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	main := filepath.Join(dir, "main.mdl")
	require.NoError(t, os.WriteFile(main, []byte("import \"./link.mdl\" as l\nimport \"./fifo.mdl\" as f\nimport \"/etc/passwd.mdl\" as p\nimport \"./notes.txt\" as n\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("model secret(x: f32[N]) -> (y) {\n"), 0o644))

	for _, c := range []struct{ path, want string }{
		{"/dev/zero", `"/dev/zero" is not a .mdl file`},
		{fifo, "not a regular file"},
		{dir + "/missing.mdl", "no such file"},
		{"nosuch", `"nosuch" is not a .mdl file`},
	} {
		done := make(chan string)
		go func() { done <- check(t, c.path) }()
		select {
		case out := <-done:
			require.Contains(t, out, c.want)
		case <-time.After(5 * time.Second):
			t.Fatalf("checking %s hangs", c.path)
		}
	}
	link := filepath.Join(dir, "link.mdl")
	require.NoError(t, os.Symlink(filepath.Join(dir, "notes.txt"), link))
	out := check(t, main)
	require.Contains(t, out, "error: cannot read "+link+": it links to "+filepath.Join(dir, "notes.txt")+", which is not a .mdl file")
	require.Contains(t, out, "main.mdl:2:1: error: cannot read "+fifo+": not a regular file")
	require.Contains(t, out, `main.mdl:3:1: error: import "/etc/passwd.mdl" is an absolute path`)
	require.Contains(t, out, `main.mdl:4:1: error: "./notes.txt" is not a .mdl file`)
	require.NotContains(t, out, "secret")

	// A bare stdlib name is the embedded file.
	require.Empty(t, check(t, "cnn"))
}
