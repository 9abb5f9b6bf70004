package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/size"
)

// The IDX format (LeCun's MNIST page, also Fashion-MNIST's): two zero bytes,
// a type byte (0x08: unsigned byte, the only type image and label files use),
// the number of dimensions, each dimension as a big-endian uint32, then the
// elements in row-major order. Files are often gzipped; both forms are read.

const (
	idxUbyte = 0x08
	// maxIDXRank bounds the header a file can make us read; image files
	// have 3 or 4 dimensions.
	maxIDXRank = 8
)

// LoadIDX reads an image file ([n, h, w] or [n, h, w, c] unsigned bytes) and
// its label file ([n] unsigned bytes, each below classes), gzipped or not:
// MNIST and Fashion-MNIST have classes 10. The images are served as
// [h, w, c] (c is 1 for a 3-dimensional file) scaled by 1/255. The image
// count must equal the label count; both files must hold exactly what their
// headers declare, which must fit budget.
func LoadIDX(images, labels string, classes int, budget size.Budget) (*Memory, error) {
	if classes < 1 {
		return nil, fmt.Errorf("data: %d classes: want at least 1", classes)
	}
	dims, pix, err := readIDXFile(images, budget)
	if err != nil {
		return nil, err
	}
	if len(dims) != 3 && len(dims) != 4 {
		return nil, fmt.Errorf("%s: an IDX image file has 3 or 4 dimensions ([n, h, w] or [n, h, w, c]), this one %d", images, len(dims))
	}
	ldims, lab, err := readIDXFile(labels, budget)
	if err != nil {
		return nil, err
	}
	if len(ldims) != 1 {
		return nil, fmt.Errorf("%s: an IDX label file has 1 dimension, this one %d: is it an image file?", labels, len(ldims))
	}
	if ldims[0] != dims[0] {
		return nil, fmt.Errorf("%s holds %d labels but %s holds %d images: give the label file that goes with the images", labels, ldims[0], images, dims[0])
	}
	if dims[0] == 0 {
		return nil, fmt.Errorf("%s holds no images", images)
	}
	m := &Memory{shape: append([]int(nil), dims[1:]...), classes: classes, u8: pix, labels: make([]int64, len(lab))}
	if len(dims) == 3 {
		m.shape = append(m.shape, 1)
	}
	m.per = len(pix) / dims[0]
	for i, l := range lab {
		m.labels[i] = int64(l)
	}
	if err := checkLabels(labels, m.labels, classes); err != nil {
		return nil, err
	}
	return m, nil
}

// readIDXFile reads an IDX file of unsigned bytes whole, gunzipping it if it
// starts with gzip's magic.
func readIDXFile(path string, budget size.Budget) ([]int, []uint8, error) {
	f, st, err := safeio.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	dims, data, err := readIDX(bufio.NewReader(f), st.Size(), budget)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return dims, data, nil
}

// readIDX reads an IDX stream of fileSize bytes (gzipped: the size is then
// that of the compressed stream and says nothing of the data's).
func readIDX(r *bufio.Reader, fileSize int64, budget size.Budget) ([]int, []uint8, error) {
	if magic, err := r.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		z.Multistream(false)
		dims, data, err := readIDXBody(z, -1, budget)
		if err != nil {
			return nil, nil, err
		}
		// Reading to the end makes gzip check its CRC and length.
		if n, err := io.Copy(io.Discard, io.LimitReader(z, 1)); err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		} else if n != 0 {
			return nil, nil, errors.New("bytes follow the data the header declares: the header's dimensions are wrong")
		}
		return dims, data, nil
	}
	return readIDXBody(r, fileSize, budget)
}

func readIDXBody(r io.Reader, fileSize int64, budget size.Budget) ([]int, []uint8, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, nil, fmt.Errorf("not an IDX file: shorter than its 4-byte magic")
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, nil, fmt.Errorf("not an IDX file: bad magic % x (want 00 00 08 followed by the number of dimensions)", head)
	}
	if head[2] != idxUbyte {
		return nil, nil, fmt.Errorf("IDX element type 0x%02x is not supported: want 0x08 (unsigned byte), the type of image and label files", head[2])
	}
	rank := int(head[3])
	if rank < 1 || rank > maxIDXRank {
		return nil, nil, fmt.Errorf("IDX file with %d dimensions: want 1 to %d", rank, maxIDXRank)
	}
	raw := make([]byte, 4*rank)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, nil, fmt.Errorf("truncated in its header of %d dimensions", rank)
	}
	dims := make([]int, rank)
	for i := range dims {
		d := binary.BigEndian.Uint32(raw[4*i:])
		if d > 1<<31-1 {
			return nil, nil, fmt.Errorf("dimension %d is %d, too large", i, d)
		}
		dims[i] = int(d)
	}
	n, ok := size.Numel(dims)
	if !ok {
		return nil, nil, size.Overflow(fmt.Sprintf("an IDX array of shape %v", dims))
	}
	header := int64(4 + 4*rank)
	if fileSize >= 0 && fileSize-header != n {
		if fileSize-header < n {
			return nil, nil, truncated(dims, fileSize-header)
		}
		return nil, nil, fmt.Errorf("%d bytes follow the %d the header declares (shape %v): the header's dimensions are wrong", fileSize-header-n, n, dims)
	}
	if err := budget.Check(fmt.Sprintf("an IDX array of shape %v", dims), n); err != nil {
		return nil, nil, err
	}
	var data []byte
	if fileSize >= 0 {
		// The size was checked against the file's: allocate it once.
		data = make([]byte, n)
		if got, err := io.ReadFull(r, data); err != nil {
			return nil, nil, truncated(dims, int64(got))
		}
		return dims, data, nil
	}
	// A compressed stream may declare more than it holds: let the buffer
	// grow with what arrives instead of trusting the header.
	var buf bytes.Buffer
	got, err := buf.ReadFrom(io.LimitReader(r, n))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, nil, fmt.Errorf("gzip: %w", err)
	}
	if got < n {
		return nil, nil, truncated(dims, got)
	}
	return dims, buf.Bytes(), nil
}

// truncated names the record (the index along the first dimension) where the
// data stops.
func truncated(dims []int, got int64) error {
	per := int64(1)
	for _, d := range dims[1:] {
		per *= int64(d) // a factor of a product that did not overflow
	}
	if per == 0 {
		per = 1
	}
	return fmt.Errorf("truncated: the data stops in record %d of %d (shape %v)", got/per, dims[0], dims)
}
