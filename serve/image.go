package serve

import (
	"bytes"
	"fmt"
	"image"
	"net/http"

	// The formats an image body may be in, as mdlc run's --input reads.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	"github.com/mdlc/mdlc/ir"
	"github.com/mdlc/mdlc/tensor"
)

// An infer request may also be an image: a PNG, JPEG or GIF body (its
// Content-Type image/png, image/jpeg or image/gif) for a model whose one
// input is an image, f32[N, height, width, 1 or 3]. It is decoded as
// `mdlc run --input IMG` decodes one (resized to the input's height and
// width by nearest neighbour, scaled to 0..1), so the answer is run's, and
// is a batch of one, answered in JSON.
//
// A compressed image can decode to far more memory than its bytes (a PNG of
// one colour compresses a thousandfold), so its pixels, read from its
// header, are capped before decoding: 256 times the input's pixels, at
// least 1 megapixel and at most tensor.MaxImagePixels (a 224×224 input takes
// photos up to 12.8 megapixels, a 28×28 one up to 1), and the decoded bytes
// are reserved against the server's MaxBodyInflight like a body's.

func isImageType(mt string) bool {
	return mt == "image/png" || mt == "image/jpeg" || mt == "image/gif"
}

// imageInput is the model's image input, or an error saying why the model
// takes no image body.
func (m *Model) imageInput() (port, error) {
	if len(m.inputs) != 1 {
		return port{}, &protocolError{http.StatusUnsupportedMediaType, fmt.Sprintf("model %s takes %d inputs, so no image body: send them as JSON tensors", m.Name, len(m.inputs))}
	}
	p := m.inputs[0]
	d := p.dims
	if p.dtype != ir.F32 || len(d) != 4 || d[1] < 1 || d[2] < 1 || (d[3] != 1 && d[3] != 3) {
		return port{}, &protocolError{http.StatusUnsupportedMediaType, fmt.Sprintf("model %s's input %s is %s, not an image (N, height, width, 1 or 3): send it as a JSON tensor", m.Name, p.name, p.describe())}
	}
	return p, nil
}

// maxPixels is the most pixels an image body for a height×width input may
// have (see above).
func maxPixels(height, width int64) int64 {
	return min(max(256*height*width, 1<<20), tensor.MaxImagePixels)
}

// imageRequest checks an image body's header and returns the pixels it
// decodes to (for the caller to reserve) and a function that decodes it into
// an infer request for the model's image input.
func (m *Model) imageRequest(body []byte) (int64, func() (*inferRequest, error), error) {
	p, err := m.imageInput()
	if err != nil {
		return 0, nil, err
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		return 0, nil, badRequest("the body is not a PNG, JPEG or GIF image: %v", err)
	}
	h, w, c := p.dims[1], p.dims[2], p.dims[3]
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if cfg.Width < 1 || cfg.Height < 1 || pixels > maxPixels(h, w) {
		return 0, nil, &protocolError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the %s image is %dx%d, more than the %d pixels model %s's %dx%d input takes: resize it first", format, cfg.Width, cfg.Height, maxPixels(h, w), m.Name, w, h)}
	}
	decode := func() (*inferRequest, error) {
		t, err := tensor.DecodeImageWithin(body, int(h), int(w), int(c), m.opts.MemoryBudget())
		if err != nil {
			return nil, badRequest("decoding the %s image: %v", format, err)
		}
		return &inferRequest{Inputs: []requestInput{{Name: p.name, Datatype: dtFP32, Shape: []int64{1, h, w, c}, decoded: &tensorData{floats: t.Data}}}}, nil
	}
	// At most 8 bytes a pixel (16-bit RGBA), as tensor.DecodeImageWithin
	// counts them.
	return 8 * pixels, decode, nil
}
