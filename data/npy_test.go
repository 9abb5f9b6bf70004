package data

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/tensor"
)

// npyU1 is an .npy file of unsigned bytes, as numpy.save writes MNIST's.
func npyU1(shape string, data []byte) []byte {
	h := fmt.Sprintf("{'descr': '|u1', 'fortran_order': False, 'shape': %s, }", shape)
	h += strings.Repeat(" ", 63-(10+len(h))%64) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(h)))
	return append(append(b, h...), data...)
}

func npyOf(t *testing.T, x *tensor.Tensor) []byte {
	var b bytes.Buffer
	if err := tensor.WriteNpy(&b, x); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoadNpy(t *testing.T) {
	dir := t.TempDir()
	y := &tensor.Tensor{Shape: []int{2}, Ints: []int64{1, 0}}
	xf := &tensor.Tensor{Shape: []int{2, 3}, Data: []float32{0.5, -1, 2, 3, 4, 5}}
	m, err := LoadNpy(write(t, dir, "x.npy", npyOf(t, xf)), write(t, dir, "y.npy", npyOf(t, y)), 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	x, l := make([]float32, 3), make([]int64, 1)
	if err := m.Batch([]int{0}, x, l); err != nil || x[0] != 0.5 || x[1] != -1 || l[0] != 1 || m.Classes() != 2 {
		t.Fatalf("floats served as %v %v (%v), classes %d", x, l, err, m.Classes())
	}

	// An .npz of uint8 images, compressed, as Keras's mnist.npz.
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for name, b := range map[string][]byte{"x_train.npy": npyU1("(2, 1, 2)", []byte{0, 255, 51, 102}), "y_train.npy": npyOf(t, y)} {
		w, _ := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		w.Write(b)
	}
	z.Close()
	npz := write(t, dir, "mnist.npz", buf.Bytes())
	m, err = LoadNpz(npz, "x_train", "y_train", 10, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	x = make([]float32, 2)
	if err := m.Batch([]int{1}, x, l); err != nil || x[0] != 0.2 || x[1] != 0.4 || l[0] != 0 || !equal(m.Shape(), []int{1, 2}) {
		t.Fatalf("bytes served as %v %v (%v), shape %v", x, l, err, m.Shape())
	}
	if _, err := LoadNpz(npz, "x_test", "y_test", 10, 1<<30); err == nil || !strings.Contains(err.Error(), `has no array "x_test"; it holds`) {
		t.Errorf("missing array: %v", err)
	}

	for _, c := range []struct {
		name   string
		x, y   []byte
		budget int64
		want   string
	}{
		{"count", npyOf(t, xf), npyOf(t, &tensor.Tensor{Shape: []int{3}, Ints: []int64{1, 0, 1}}), 1 << 30, "y.npy holds 3 labels but"},
		{"range", npyOf(t, xf), npyOf(t, &tensor.Tensor{Shape: []int{2}, Ints: []int64{1, 5}}), 1 << 30, "y.npy: record 1: label 5 is out of range: want 0 to 2"},
		{"float labels", npyOf(t, xf), npyOf(t, xf), 1 << 30, "labels are floats"},
		{"empty", nil, nil, 1 << 30, "x.npy: npy: not a .npy file"},
		{"huge", npyU1("(100000, 100000, 100000)", nil), npyOf(t, y), 1 << 30, "x.npy"},
		{"truncated", npyU1("(2, 3)", []byte{1, 2, 3}), npyOf(t, y), 1 << 30, "data truncated"},
	} {
		if c.y == nil {
			c.y = npyOf(t, y)
		}
		_, err := LoadNpy(write(t, dir, "x.npy", c.x), write(t, dir, "y.npy", c.y), 3, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	xi := npyOf(t, &tensor.Tensor{Shape: []int{2, 1}, Ints: []int64{3, 256}})
	if _, err := LoadNpy(write(t, dir, "x.npy", xi), write(t, dir, "y.npy", npyOf(t, y)), 3, 0); err == nil || !strings.Contains(err.Error(), "record 1: value 256 is not a byte") {
		t.Errorf("pixel range: %v", err)
	}
}
