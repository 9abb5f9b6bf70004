package tensor

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // register decoders for image.Decode
	_ "image/jpeg"
	_ "image/png"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/size"
)

// MaxImagePixels bounds the pixels of an image read, checked from the header
// before decoding: 50 megapixels, more than a camera's photo and far less
// than Pillow's decompression-bomb limit (178,956,970), whose decoded form
// (up to 8 bytes a pixel) would take more memory than many machines have.
const MaxImagePixels = 50_000_000

// LoadImage is LoadImageWithin the default memory budget (size.Default).
func LoadImage(path string, height, width, channels int) (*Tensor, error) {
	return LoadImageWithin(path, height, width, channels, size.Default())
}

// LoadImageWithin reads a PNG, JPEG or GIF file as a [1, height, width, channels]
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
//
// Only a regular file of at most safeio.MaxImage bytes is read; the decoded
// image and the tensor must fit budget (see DecodeImageWithin).
func LoadImageWithin(path string, height, width, channels int, budget size.Budget) (*Tensor, error) {
	data, err := safeio.ReadFile(path, safeio.MaxImage)
	if err != nil {
		return nil, err
	}
	t, err := DecodeImageWithin(data, height, width, channels, budget)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return t, nil
}

// DecodeImage is DecodeImageWithin the default memory budget (size.Default).
func DecodeImage(data []byte, height, width, channels int) (*Tensor, error) {
	return DecodeImageWithin(data, height, width, channels, size.Default())
}

// DecodeImageWithin is LoadImageWithin on the bytes of an image file. The
// image's size is read from its header first: more than MaxImagePixels, or a
// decoded image and tensor together over budget, is refused before decoding.
func DecodeImageWithin(data []byte, height, width, channels int, budget size.Budget) (*Tensor, error) {
	if channels != 1 && channels != 3 {
		return nil, fmt.Errorf("%d channels are not supported (want 1 for grayscale or 3 for RGB)", channels)
	}
	if height < 1 || width < 1 || height > MaxImagePixels/width {
		return nil, fmt.Errorf("invalid target size %dx%d: want 1 to %d pixels", height, width, MaxImagePixels)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxImagePixels/cfg.Height {
		return nil, fmt.Errorf("image size %dx%d is empty or larger than %d pixels", cfg.Width, cfg.Height, MaxImagePixels)
	}
	// Both products are below MaxImagePixels·8: no overflow.
	decoded := int64(cfg.Width) * int64(cfg.Height) * bytesPerPixel(cfg.ColorModel)
	resized := int64(height) * int64(width) * int64(channels) * 4
	what := fmt.Sprintf("a %dx%d image decoded (%s) and resized to %dx%dx%d", cfg.Width, cfg.Height, size.Format(decoded), height, width, channels)
	if err := budget.Check(what, decoded+resized); err != nil {
		return nil, err
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

// bytesPerPixel is at most what the decoder allocates a pixel for an image
// of the color model: 8 for 16-bit samples, 4 for the rest (RGBA; YCbCr, gray
// and paletted images take less).
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.RGBA64Model, color.NRGBA64Model, color.Gray16Model:
		return 8
	}
	return 4
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
