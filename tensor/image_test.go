package tensor

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writePNG(t *testing.T, img image.Image) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "img.png")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, img))
	require.NoError(t, f.Close())
	return path
}

// scaled turns 8-bit levels into the tensor values LoadImage returns.
func scaled(levels ...int) []float32 {
	out := make([]float32, len(levels))
	for i, v := range levels {
		out[i] = float32(v) / 255
	}
	return out
}

func TestLoadImageRGB(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	img.Set(0, 0, color.NRGBA{1, 2, 3, 255})
	img.Set(1, 0, color.NRGBA{4, 5, 6, 0}) // transparent: colour kept, as convert("RGB") does
	img.Set(2, 0, color.NRGBA{7, 8, 9, 128})
	img.Set(0, 1, color.NRGBA{255, 0, 10, 255})
	img.Set(1, 1, color.NRGBA{11, 12, 13, 255})
	img.Set(2, 1, color.NRGBA{0, 0, 0, 255})
	got, err := LoadImage(writePNG(t, img), 2, 3, 3)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3, 3}, got.Shape)
	assert.Equal(t, scaled(1, 2, 3, 4, 5, 6, 7, 8, 9, 255, 0, 10, 11, 12, 13, 0, 0, 0), got.Data)
}

// grayRamp is a w×h gray image whose pixel (x, y) has level 10*y + x.
func grayRamp(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{uint8(10*y + x)})
		}
	}
	return img
}

func TestLoadImageResize(t *testing.T) {
	path := writePNG(t, grayRamp(4, 4))
	got, err := LoadImage(path, 2, 2, 1)
	require.NoError(t, err)
	// Centres 1 and 3 of 0..3.
	assert.Equal(t, scaled(11, 13, 31, 33), got.Data)

	got, err = LoadImage(path, 3, 2, 3)
	require.NoError(t, err)
	// Rows: centres (i+0.5)*4/3 = 0.67, 2, 3.33; columns 1, 3.
	assert.Equal(t, scaled(1, 1, 1, 3, 3, 3, 21, 21, 21, 23, 23, 23, 31, 31, 31, 33, 33, 33), got.Data)

	got, err = LoadImage(writePNG(t, grayRamp(2, 2)), 5, 3, 1)
	require.NoError(t, err)
	// Rows 0.2, 0.6, 1.0, 1.4, 1.8 → 0 0 1 1 1; columns 0.33, 1, 1.67 → 0 1 1.
	assert.Equal(t, scaled(0, 1, 1, 0, 1, 1, 10, 11, 11, 10, 11, 11, 10, 11, 11), got.Data)
}

// Pillow steps through source positions by adding src/dst in float64, so an
// exact tie like (3+0.5)*2/7 = 1 lands just below and truncates to 0.
func TestNearestFollowsPillow(t *testing.T) {
	assert.Equal(t, []int{0, 0, 0, 0, 1, 1, 1}, nearest(2, 7))
	assert.Equal(t, []int{0, 1, 2, 3}, nearest(4, 4))
	assert.Equal(t, []int{2, 7}, nearest(10, 2))
	for src := 1; src <= 50; src++ {
		for dst := 1; dst <= 50; dst++ {
			for i, s := range nearest(src, dst) {
				exact := (2*i + 1) * src / (2 * dst)
				require.True(t, s == exact || s == exact-1, "nearest(%d, %d)[%d] = %d, exact %d", src, dst, i, s, exact)
				require.True(t, 0 <= s && s < src)
			}
		}
	}
}

func TestLoadImageGray(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 1))
	img.Set(0, 0, color.RGBA{2, 0, 0, 255})       // (2*19595 + 32768) >> 16 = 1; a truncating 299/1000 would give 0
	img.Set(1, 0, color.RGBA{10, 200, 30, 255})   // (195950 + 7694000 + 224130 + 32768) >> 16 = 124
	img.Set(2, 0, color.RGBA{255, 255, 255, 255}) // 255
	img.Set(3, 0, color.RGBA{0, 0, 255, 255})     // (1905105 + 32768) >> 16 = 29
	got, err := LoadImage(writePNG(t, img), 1, 4, 1)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 1, 4, 1}, got.Shape)
	assert.Equal(t, scaled(1, 124, 255, 29), got.Data)

	// Gray images keep their levels and replicate them to RGB.
	got, err = LoadImage(writePNG(t, grayRamp(2, 1)), 1, 2, 3)
	require.NoError(t, err)
	assert.Equal(t, scaled(0, 0, 0, 1, 1, 1), got.Data)
}

func TestLoadImage16Bit(t *testing.T) {
	g := image.NewGray16(image.Rect(0, 0, 2, 1))
	g.SetGray16(0, 0, color.Gray16{0x12ff})
	g.SetGray16(1, 0, color.Gray16{0xff00})
	got, err := LoadImage(writePNG(t, g), 1, 2, 1)
	require.NoError(t, err)
	assert.Equal(t, scaled(0x12, 0xff), got.Data)

	c := image.NewNRGBA64(image.Rect(0, 0, 1, 1))
	c.SetNRGBA64(0, 0, color.NRGBA64{0x0102, 0x0304, 0xfffe, 0x0001})
	got, err = LoadImage(writePNG(t, c), 1, 1, 3)
	require.NoError(t, err)
	assert.Equal(t, scaled(1, 3, 255), got.Data)
}

func TestLoadImageGIF(t *testing.T) {
	pal := color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{200, 100, 50, 255}}
	img := image.NewPaletted(image.Rect(0, 0, 2, 1), pal)
	img.SetColorIndex(1, 0, 1)
	path := filepath.Join(t.TempDir(), "img.gif")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, gif.Encode(f, img, nil))
	require.NoError(t, f.Close())
	got, err := LoadImage(path, 1, 2, 3)
	require.NoError(t, err)
	assert.Equal(t, scaled(0, 0, 0, 200, 100, 50), got.Data)
}

// pngHeader is a PNG signature and IHDR chunk declaring a w×h RGB image,
// enough for image.DecodeConfig.
func pngHeader(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	b = binary.BigEndian.AppendUint32(b, w)
	b = binary.BigEndian.AppendUint32(b, h)
	b = append(b, 8, 2, 0, 0, 0)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[12:]))
}

func TestLoadImageErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadImage(filepath.Join(dir, "missing.png"), 2, 2, 3)
	assert.True(t, errors.Is(err, fs.ErrNotExist), "%v", err)

	text := filepath.Join(dir, "x.png")
	require.NoError(t, os.WriteFile(text, []byte("not an image"), 0o644))
	_, err = LoadImage(text, 2, 2, 3)
	assert.EqualError(t, err, "decode "+text+": image: unknown format")

	_, err = LoadImage(text, 2, 2, 4)
	assert.EqualError(t, err, "decode "+text+": 4 channels are not supported (want 1 for grayscale or 3 for RGB)")
	_, err = LoadImage(text, 0, 2, 3)
	assert.EqualError(t, err, "decode "+text+": invalid target size 0x2: want 1 to 50000000 pixels")

	bomb := filepath.Join(dir, "bomb.png")
	require.NoError(t, os.WriteFile(bomb, pngHeader(100000, 100000), 0o644))
	_, err = LoadImage(bomb, 2, 2, 3)
	assert.EqualError(t, err, "decode "+bomb+": image size 100000x100000 is empty or larger than 50000000 pixels")

	truncated := filepath.Join(dir, "truncated.png")
	require.NoError(t, os.WriteFile(truncated, pngHeader(4, 4), 0o644))
	_, err = LoadImage(truncated, 2, 2, 3)
	assert.EqualError(t, err, "decode "+truncated+": unexpected EOF")
}
