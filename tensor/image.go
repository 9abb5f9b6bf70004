package tensor

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // register decoders for image.Decode
	_ "image/jpeg"
	_ "image/png"
	"os"
)

// maxImagePixels is Pillow's decompression-bomb limit (twice
// Image.MAX_IMAGE_PIXELS), checked from the header before decoding.
const maxImagePixels = 2 * 89478485

// LoadImage reads a PNG, JPEG or GIF file as a [1, height, width, channels]
// model input with values in 0..1, as Keras's
// load_img(path, color_mode, target_size=(height, width)) followed by
// img_to_array(img) / 255 computes it with Pillow:
//   - channels 3 is RGB, channels 1 grayscale with Pillow's luma
//     (ITU-R 601-2, (19595 R + 38470 G + 7471 B + 2^15) >> 16, the rounded
//     16.16 fixed-point form of 0.299, 0.587, 0.114);
//   - alpha is dropped without compositing, as convert("RGB") does;
//   - 16-bit samples are reduced to their high byte;
//   - resizing is nearest-neighbour exactly as Pillow's NEAREST.
//
// JPEG files decode with Go's IDCT and chroma upsampling, which differ from
// libjpeg's in rounding, so their values may be off by one level from Keras's.
func LoadImage(path string, height, width, channels int) (*Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := DecodeImage(data, height, width, channels)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return t, nil
}

// DecodeImage is LoadImage on the bytes of an image file.
func DecodeImage(data []byte, height, width, channels int) (*Tensor, error) {
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("%d channels are not supported (want 1 for grayscale or 3 for RGB)", channels)
	}
	if height < 1 || width < 1 || height > maxImagePixels/width {
		return nil, fmt.Errorf("invalid target size %dx%d", height, width)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImagePixels/cfg.Height {
		return nil, fmt.Errorf("image size %dx%d is empty or larger than %d pixels", cfg.Width, cfg.Height, maxImagePixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}

	bounds := img.Bounds()
	xs, ys := nearest(bounds.Dx(), width), nearest(bounds.Dy(), height)
	t := New(1, height, width, channels)
	out := t.Data
	for _, sy := range ys {
		for _, sx := range xs {
			c := img.At(bounds.Min.X+sx, bounds.Min.Y+sy)
			if channels == 1 {
				out[0] = float32(gray8(c)) / 255
			} else {
				r, g, b := rgb8(c)
				out[0], out[1], out[2] = float32(r)/255, float32(g)/255, float32(b)/255
			}
			out = out[channels:]
		}
	}
	return t, nil
}

// nearest lists the source index of each of dst output positions as Pillow's
// NEAREST resize computes it (ImagingScaleAffine): the pixel centre
// (i+0.5)*src/dst, accumulated step by step in float64 as Pillow does, so that
// exact ties fall the same way, then truncated.
func nearest(src, dst int) []int {
	idx := make([]int, dst)
	scale := float64(src) / float64(dst)
	pos := scale * 0.5
	for i := range idx {
		idx[i] = min(int(pos), src-1)
		pos += scale
	}
	return idx
}

// rgb8 returns a pixel's 8-bit colour without premultiplying by alpha.
func rgb8(c color.Color) (r, g, b uint8) {
	switch c := c.(type) {
	case color.NRGBA:
		return c.R, c.G, c.B
	case color.NRGBA64:
		return uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8)
	case color.Gray:
		return c.Y, c.Y, c.Y
	case color.Gray16:
		y := uint8(c.Y >> 8)
		return y, y, y
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)
}

// gray8 is Pillow's convert("L"); gray images keep their own values.
func gray8(c color.Color) uint8 {
	switch c := c.(type) {
	case color.Gray:
		return c.Y
	case color.Gray16:
		return uint8(c.Y >> 8)
	}
	r, g, b := rgb8(c)
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}
