package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"image"
	"net/http"
	"slices"

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
	if !p.isImage() {
		return port{}, &protocolError{http.StatusUnsupportedMediaType, fmt.Sprintf("model %s's input %s is %s, not an image (N, height, width, 1 or 3): send it as a JSON tensor", m.Name, p.name, p.describe())}
	}
	return p, nil
}

// isImage reports whether p takes images: f32[N, height, width, 1 or 3]
// with height and width fixed.
func (p port) isImage() bool {
	d := p.dims
	return p.dtype == ir.F32 && len(d) == 4 && d[1] >= 1 && d[2] >= 1 && (d[3] == 1 || d[3] == 3)
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
	n, decode, err := m.imageDecoder(p, "the body", body)
	if err != nil {
		return 0, nil, err
	}
	h, w, c := p.dims[1], p.dims[2], p.dims[3]
	return n, func() (*inferRequest, error) {
		data, err := decode()
		if err != nil {
			return nil, err
		}
		return &inferRequest{Inputs: []requestInput{{Name: p.name, Datatype: dtFP32, Shape: []int64{1, h, w, c}, decoded: &tensorData{floats: data}}}}, nil
	}, nil
}

// imageDecoder checks the header of the image data (what names it in
// errors) against p's pixel cap and returns the bytes its decoding takes
// (for the caller to reserve) and a function that decodes it into p's
// height × width × channels floats.
func (m *Model) imageDecoder(p port, what string, data []byte) (int64, func() ([]float32, error), error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 0, nil, badRequest("%s is not a PNG, JPEG or GIF image: %v", what, err)
	}
	h, w, c := p.dims[1], p.dims[2], p.dims[3]
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if cfg.Width < 1 || cfg.Height < 1 || pixels > maxPixels(h, w) {
		return 0, nil, &protocolError{http.StatusRequestEntityTooLarge, fmt.Sprintf("%s: the %s image is %dx%d, more than the %d pixels model %s's %dx%d input takes: resize it first", what, format, cfg.Width, cfg.Height, maxPixels(h, w), m.Name, w, h)}
	}
	decode := func() ([]float32, error) {
		t, err := tensor.DecodeImageWithin(data, int(h), int(w), int(c), m.opts.MemoryBudget())
		if err != nil {
			return nil, badRequest("%s: decoding the %s image: %v", what, format, err)
		}
		return t.Data, nil
	}
	// At most 8 bytes a pixel (16-bit RGBA), as tensor.DecodeImageWithin
	// counts them.
	return 8 * pixels, decode, nil
}

// Images in a tensor request, as KServe's and Triton's clients send them:
// an input of datatype BYTES whose elements are each one encoded image
// (PNG, JPEG or GIF), base64 strings in the JSON form, in the binary form
// (and gRPC's raw_input_contents) the extension's BYTES layout (each element
// a 4-byte little-endian length, then its bytes), and in gRPC's typed
// contents the elements of bytes_contents. The input must be an image input of the model
// (isImage), the BYTES shape [n] for n images; each is decoded as an image
// body is, under the same pixel cap and reservations, into the rows of an
// FP32 [n, height, width, channels] tensor, which is then checked against
// the model like any other. The elements are decoded one at a time, so what
// a request holds beyond its body is one element's bytes and one image.

const dtBYTES = "BYTES"

// decodeImageInputs replaces each BYTES input of req that names an input
// of m with the FP32 tensor of the images it holds.
func (s *Server) decodeImageInputs(w http.ResponseWriter, m *Model, req *inferRequest) error {
	for i := range req.Inputs {
		in := &req.Inputs[i]
		if in.Datatype != dtBYTES {
			continue
		}
		k := slices.IndexFunc(m.inputs, func(p port) bool { return p.name == in.Name })
		if k < 0 {
			continue // prepare names the model's inputs
		}
		p := m.inputs[k]
		if !p.isImage() {
			return badRequest("input %q is %s, not an image (N, height, width, 1 or 3), so it takes no BYTES: send it as %s", p.name, p.describe(), p.datatype())
		}
		if len(in.Shape) != 1 || in.Shape[0] < 1 {
			return badRequest("input %q: a BYTES input holds images, one an element, so its shape is [n] for n images, not %v", p.name, in.Shape)
		}
		n := in.Shape[0]
		switch {
		case p.dims[0] >= 0 && n != p.dims[0]:
			return badRequest("input %q is %s: the request holds %d images, want %d", p.name, p.describe(), n, p.dims[0])
		case p.dims[0] < 0 && n > int64(m.cfg.MaxBatch):
			return badRequest("the request's batch of %d is more than model %s takes at once (%d)", n, m.Name, m.cfg.MaxBatch)
		}
		elems, err := newBytesReader(in)
		if err != nil {
			return err
		}
		h, wd, c := p.dims[1], p.dims[2], p.dims[3]
		row := int(h * wd * c)
		floats := make([]float32, int(n)*row)
		for e := range int(n) {
			what := fmt.Sprintf("input %q element %d", p.name, e)
			data, held, err := elems.next(what, func(b int64) error { return s.take(w, b) })
			if err != nil {
				return err
			}
			err = s.decodeImageInto(w, m, p, what, data, floats[e*row:(e+1)*row])
			s.bodyBytes.Add(-held)
			if err != nil {
				return err
			}
		}
		if err := elems.end(); err != nil {
			return badRequest("input %q: %v, but its shape %v calls for %d", p.name, err, in.Shape, n)
		}
		*in = requestInput{Name: in.Name, Datatype: dtFP32, Shape: []int64{n, h, wd, c}, Parameters: in.Parameters, decoded: &tensorData{floats: floats}}
	}
	return nil
}

// decodeImageInto decodes one image for p into dst, its bytes reserved
// while it decodes.
func (s *Server) decodeImageInto(w http.ResponseWriter, m *Model, p port, what string, data []byte, dst []float32) error {
	n, decode, err := m.imageDecoder(p, what, data)
	if err != nil {
		return err
	}
	if err := s.take(w, n); err != nil {
		return err
	}
	defer s.bodyBytes.Add(-n)
	floats, err := decode()
	if err != nil {
		return err
	}
	copy(dst, floats)
	return nil
}

// bytesReader yields the elements of a BYTES input one at a time: from its
// JSON data, base64 strings, from its binary bytes, or from gRPC's list.
type bytesReader struct {
	json   *jsonParser // nil in the binary form and for a list
	binary []byte
	list   [][]byte
	isList bool
	count  int
}

func newBytesReader(in *requestInput) (*bytesReader, error) {
	switch {
	case in.elements != nil:
		return &bytesReader{list: in.elements, isList: true}, nil
	case in.binary != nil:
		return &bytesReader{binary: in.binary}, nil
	}
	p := &jsonParser{b: in.Data}
	if err := p.eat('['); err != nil {
		return nil, badRequest("input %q: BYTES data is a list of base64 strings, one image each: %v", in.Name, err)
	}
	return &bytesReader{json: p}, nil
}

// next returns the next element's bytes, reserving through take (and
// returning as held, for the caller to give back) the bytes it allocates.
func (r *bytesReader) next(what string, take func(int64) error) (data []byte, held int64, err error) {
	defer func() { r.count++ }()
	if r.isList {
		if len(r.list) == 0 {
			return nil, 0, badRequest("%s: bytes_contents ends before it", what)
		}
		data, r.list = r.list[0], r.list[1:]
		return data, 0, nil
	}
	if r.json == nil {
		if len(r.binary) < 4 {
			return nil, 0, badRequest("%s: the binary data ends before it (each element is a 4-byte little-endian length, then its bytes)", what)
		}
		n := binary.LittleEndian.Uint32(r.binary)
		if uint64(n) > uint64(len(r.binary)-4) {
			return nil, 0, badRequest("%s: its length is %d bytes, more than the %d left in the binary data", what, n, len(r.binary)-4)
		}
		data, r.binary = r.binary[4:4+n], r.binary[4+n:]
		return data, 0, nil
	}
	p := r.json
	if r.count > 0 {
		if err := p.eat(','); err != nil {
			return nil, 0, badRequest("%s: the data has fewer elements (%v)", what, err)
		}
	}
	src, copied, err := p.strBytes()
	if err != nil {
		return nil, 0, badRequest("%s: BYTES data is a list of base64 strings, one image each: %v", what, err)
	}
	if copied {
		held = int64(len(src))
	}
	dec := int64(base64.StdEncoding.DecodedLen(len(src)))
	if err := take(held + dec); err != nil {
		return nil, 0, err
	}
	held += dec
	data = make([]byte, dec)
	k, err := base64.StdEncoding.Decode(data, src)
	if err != nil {
		return nil, held, badRequest("%s is not base64 (the standard alphabet, padded): %v", what, err)
	}
	return data[:k], held, nil
}

// end checks that no element is left.
func (r *bytesReader) end() error {
	if r.isList {
		if len(r.list) != 0 {
			return fmt.Errorf("bytes_contents holds %d elements", r.count+len(r.list))
		}
		return nil
	}
	if r.json == nil {
		if len(r.binary) != 0 {
			return fmt.Errorf("%d bytes of binary data follow its %d elements", len(r.binary), r.count)
		}
		return nil
	}
	p := r.json
	if p.peek() != ']' {
		return fmt.Errorf("the data holds more than %d elements", r.count)
	}
	p.i++
	if p.peek() != 0 {
		return fmt.Errorf("unexpected text after the data")
	}
	return nil
}
