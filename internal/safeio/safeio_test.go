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
