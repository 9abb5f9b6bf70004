// Package safeio reads files named by untrusted input (a source, an import, a
// weight file, an image, an .npy array) without letting them exhaust memory
// or hang the process: only regular files are read (not /dev/zero, a FIFO, a
// terminal or a directory), and never more than a stated limit.
package safeio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/mdlc/mdlc/internal/size"
)

// Limits for the kinds of file mdlc reads whole. Weight files are not read
// whole: their readers check each tensor against the memory budget.
const (
	MaxSource  = 16 << 20 // a .mdl program or import
	MaxImage   = 64 << 20 // an encoded PNG or JPEG
	MaxLabels  = 16 << 20 // a --labels file
	MaxRenames = 1 << 20  // a --weights-map file
)

// Open opens path for reading if it is a regular file. The file is stat'ed
// before it is opened, since opening a FIFO blocks until a writer comes, and
// again after, in case it was swapped in between.
func Open(path string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if err := regular(path, st); err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if st, err = f.Stat(); err != nil || regular(path, st) != nil {
		f.Close()
		if err == nil {
			err = regular(path, st)
		}
		return nil, nil, err
	}
	return f, st, nil
}

// OpenIn is Open for a name that must stay inside root: a name with ".." or
// a symbolic link leading out of root fails, so a file that names another
// (ONNX external data) cannot make mdlc read what lies outside its folder.
func OpenIn(root *os.Root, name string) (*os.File, fs.FileInfo, error) {
	st, err := root.Stat(name)
	if err != nil {
		return nil, nil, err
	}
	if err := regular(name, st); err != nil {
		return nil, nil, err
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, nil, err
	}
	if st, err = f.Stat(); err != nil || regular(name, st) != nil {
		f.Close()
		if err == nil {
			err = regular(name, st)
		}
		return nil, nil, err
	}
	return f, st, nil
}

// ErrNotRegular is wrapped by the error for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

func regular(path string, st fs.FileInfo) error {
	if st.Mode().IsRegular() {
		return nil
	}
	kind := "a special file"
	switch {
	case st.IsDir():
		kind = "a directory"
	case st.Mode()&fs.ModeNamedPipe != 0:
		kind = "a named pipe"
	case st.Mode()&fs.ModeDevice != 0:
		kind = "a device"
	case st.Mode()&fs.ModeSocket != 0:
		kind = "a socket"
	}
	return fmt.Errorf("%s is %s, %w: give the path of a file", path, kind, ErrNotRegular)
}

// ReadFile reads a regular file of at most limit bytes whole.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, st, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > limit {
		return nil, tooLarge(path, st.Size(), limit)
	}
	// The file may grow after the stat: read one byte past the limit to see.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(path, int64(len(data)), limit)
	}
	return data, nil
}

func tooLarge(path string, n, limit int64) error {
	return fmt.Errorf("%s is larger than %s (%s): that is not a file mdlc reads", path, size.Format(limit), size.Format(n))
}
