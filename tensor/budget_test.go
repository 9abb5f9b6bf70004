package tensor

import (
	"bytes"
	"image"
	"image/color"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/size"
)

// TestNpyBudget: an array is checked against the budget as it is held in
// memory (int64s for integers) before it is allocated.
func TestNpyBudget(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.npy")
	require.NoError(t, WriteNpyFile(path, &Tensor{Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}))
	_, err := ReadNpyFileWithin(path, 8)
	var over *size.Error
	require.ErrorAs(t, err, &over)
	assert.EqualError(t, err, path+": npy: array [2,2] of <f4 needs 16 bytes, more than the memory limit of 8 bytes; raise the limit with --max-memory SIZE (or MDLC_MAX_MEMORY=SIZE) if this machine has the memory")
	got, err := ReadNpyFileWithin(path, 16)
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 2, 3, 4}, got.Data)

	_, err = readNpy(bytes.NewReader(npyFile(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", []byte{1, 2, 3, 4})), -1, 31)
	assert.ErrorContains(t, err, "npy: array [4] of |u1 needs 32 bytes", "four bytes are held as four int64s")
}

// TestNpyStreamClaims: a stream that claims a large array but holds little
// data is refused after allocating about what it holds, not what it claims.
func TestNpyStreamClaims(t *testing.T) {
	claim := npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (268435456,), }", f32le(1, 2, 3))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readNpy(bytes.NewReader(claim), -1, 0)
	runtime.ReadMemStats(&after)
	assert.ErrorContains(t, err, "npy: data truncated: shape [268435456] of <f4 needs 1073741824 bytes from byte 128, got 12")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "allocated for a 1 GiB claim")
}

// TestNpyChunks: arrays longer than one chunk read back the same from a file
// and from a stream.
func TestNpyChunks(t *testing.T) {
	n := 3*npyChunk/4 + 5
	floats := &Tensor{Shape: []int{n}, Data: make([]float32, n)}
	ints := &Tensor{Shape: []int{n}, Ints: make([]int64, n)}
	for i := range n {
		floats.Data[i] = float32(i) / 7
		ints.Ints[i] = int64(i) * -3
	}
	for _, want := range []*Tensor{floats, ints} {
		path := filepath.Join(t.TempDir(), "x.npy")
		require.NoError(t, WriteNpyFile(path, want))
		got, err := ReadNpyFile(path)
		require.NoError(t, err)
		assert.True(t, equalBits(want, got))

		var buf bytes.Buffer
		require.NoError(t, WriteNpy(&buf, want))
		got, err = ReadNpy(&buf)
		require.NoError(t, err)
		assert.True(t, equalBits(want, got))
	}
}

// Special files given as --input are refused, not read: /dev/zero never
// ends, and opening a FIFO blocks until a writer comes.
func TestInputSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	for _, path := range []string{"/dev/zero", fifo, t.TempDir()} {
		done := make(chan [2]error, 1)
		go func() {
			_, npyErr := ReadNpyFile(path)
			_, imgErr := LoadImage(path, 2, 2, 3)
			done <- [2]error{npyErr, imgErr}
		}()
		select {
		case errs := <-done:
			for _, err := range errs {
				assert.ErrorIs(t, err, safeio.ErrNotRegular, path)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("reading %s hung", path)
		}
	}
}

// TestImageBudget: the decoded image and the resized tensor are checked
// against the budget from the header, before decoding.
func TestImageBudget(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	path := writePNG(t, img)
	_, err := LoadImageWithin(path, 2, 2, 3, 100)
	var over *size.Error
	require.ErrorAs(t, err, &over)
	assert.EqualError(t, err, "decode "+path+": a 4x4 image decoded (64 bytes) and resized to 2x2x3 needs 112 bytes, more than the memory limit of 100 bytes; raise the limit with --max-memory SIZE (or MDLC_MAX_MEMORY=SIZE) if this machine has the memory")
	_, err = LoadImageWithin(path, 2, 2, 3, 112)
	require.NoError(t, err)

	gray16 := image.NewGray16(image.Rect(0, 0, 4, 4))
	gray16.Set(0, 0, color.Gray16{Y: 0xffff})
	_, err = LoadImageWithin(writePNG(t, gray16), 1, 1, 1, 100)
	assert.ErrorContains(t, err, "a 4x4 image decoded (128 bytes)", "16-bit samples take 8 bytes a pixel")

	_, err = DecodeImageWithin(nil, 10000, 10000, 3, 0)
	assert.ErrorContains(t, err, "invalid target size 10000x10000: want 1 to 50000000 pixels")
}
