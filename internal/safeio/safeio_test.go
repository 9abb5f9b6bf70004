package safeio

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.mdl")
	require.NoError(t, os.WriteFile(p, []byte("hello"), 0o644))
	data, err := ReadFile(p, 5)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(data))
	_, err = ReadFile(p, 4)
	assert.ErrorContains(t, err, "is larger than 4 bytes")

	_, err = ReadFile(dir, 100)
	assert.ErrorContains(t, err, "is a directory")
	assert.ErrorIs(t, err, ErrNotRegular)
	_, err = ReadFile(filepath.Join(dir, "missing"), 100)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestRefusesDevicesAndPipes(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err == nil {
		_, err := ReadFile("/dev/zero", 1<<20)
		assert.ErrorContains(t, err, "is a device")
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadFile(fifo, 1<<20); done <- err }()
	select {
	case err := <-done:
		assert.ErrorContains(t, err, "is a named pipe")
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO hung")
	}
}

func TestOpenIn(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o600))
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "w.bin"), []byte("abc"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link")))
	root, err := os.OpenRoot(dir)
	require.NoError(t, err)
	defer root.Close()

	f, st, err := OpenIn(root, "w.bin")
	require.NoError(t, err)
	f.Close()
	assert.Equal(t, int64(3), st.Size())
	_, _, err = OpenIn(root, "sub")
	assert.ErrorIs(t, err, ErrNotRegular)
	_, _, err = OpenIn(root, "link")
	assert.Error(t, err, "a symbolic link out of the root")
	_, _, err = OpenIn(root, "../"+filepath.Base(outside)+"/secret")
	assert.Error(t, err)
}
