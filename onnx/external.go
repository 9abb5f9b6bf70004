package onnx

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/size"
)

// loadExternal reads the values of the tensors kept in external files, in
// two passes: the first checks every location, offset and length against
// the files' sizes and the sum against the budget, so nothing is read from a
// model that cannot be loaded whole; the second reads. Files stay open
// between the passes, so what was checked is what is read.
func (d *decoder) loadExternal(dir string) error {
	if len(d.external) == 0 {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	files := map[string]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()

	total := int64(0)
	for _, t := range d.external {
		if err := d.checkExternal(t, root, files); err != nil {
			return fmt.Errorf("tensor %q: external data: %w", t.Name, err)
		}
		var ok bool
		if total, ok = size.Add(total, t.External.Length); !ok {
			return size.Overflow("the external data")
		}
	}
	if err := d.charge(total); err != nil {
		return err
	}
	for _, t := range d.external {
		e := t.External
		buf := make([]byte, e.Length)
		// A short read is an error; a full one may come with io.EOF.
		if n, err := files[e.Location].ReadAt(buf, e.Offset); n < len(buf) {
			return fmt.Errorf("tensor %q: external data: reading %d bytes at offset %d of %s: %w", t.Name, e.Length, e.Offset, e.Location, err)
		}
		t.raw = buf
	}
	return nil
}

// checkExternal opens t's external file (once per location) and checks
// that its values lie inside it, setting Length when the model left it out.
func (d *decoder) checkExternal(t *Tensor, root *os.Root, files map[string]*os.File) error {
	e := t.External
	if err := checkLocation(e.Location); err != nil {
		return err
	}
	f := files[e.Location]
	if f == nil {
		var err error
		if f, _, err = safeio.OpenIn(root, e.Location); err != nil {
			return err
		}
		files[e.Location] = f
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if e.Offset > st.Size() {
		return fmt.Errorf("offset %d is past the end of %s (%s)", e.Offset, e.Location, size.Format(st.Size()))
	}
	if !e.HasLength {
		e.Length, e.HasLength = st.Size()-e.Offset, true
	}
	if e.Length > st.Size()-e.Offset {
		return fmt.Errorf("%d bytes at offset %d run past the end of %s (%s)", e.Length, e.Offset, e.Location, size.Format(st.Size()))
	}
	want, _ := rawSize(t.DataType, t.numel) // checked when decoded
	if e.Length != want {
		return fmt.Errorf("%d bytes in %s for a %s tensor of dims %v, which needs %d", e.Length, e.Location, t.DataType, t.Dims, want)
	}
	return nil
}

// checkLocation refuses an external data location that could name a file
// outside the model's folder: absolute paths and any ".." component, as
// ONNX's own checker does. (os.Root also stops symbolic links leading out.)
func checkLocation(loc string) error {
	parts := strings.FieldsFunc(loc, func(r rune) bool { return r == '/' || r == '\\' })
	if !filepath.IsLocal(loc) || strings.HasPrefix(loc, "\\") || slices.Contains(parts, "..") {
		return fmt.Errorf("location %q is not a path inside the model's folder", loc)
	}
	return nil
}
