package data

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// encodePNG is a w×h gray PNG of value v.
func encodePNG(t *testing.T, w, h int, v uint8) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoadFolder(t *testing.T) {
	root := t.TempDir()
	png := func(w, h int, v uint8) []byte {
		return encodePNG(t, w, h, v)
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{"cat/a.png", png(4, 2, 10)}, {"cat/b.PNG", png(4, 2, 20)}, {"dog/c.png", png(4, 2, 30)}, {"dog/.DS_Store", nil}} {
		p := filepath.Join(root, f.path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		write(t, filepath.Dir(p), filepath.Base(p), f.data)
	}
	m, err := LoadFolder(root, FolderOptions{Channels: 1}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 3 || !equal(m.Shape(), []int{2, 4, 1}) || m.Classes() != 2 || strings.Join(m.ClassNames(), ",") != "cat,dog" {
		t.Fatalf("len %d shape %v classes %v", m.Len(), m.Shape(), m.ClassNames())
	}
	x, y := make([]float32, 8), make([]int64, 1)
	if err := m.Batch([]int{2}, x, y); err != nil || x[0] != 30./255 || x[7] != 30./255 || y[0] != 1 {
		t.Fatalf("served %v %v (%v)", x, y, err)
	}
	m, err = LoadFolder(root, FolderOptions{Height: 3, Width: 3}, 1<<30)
	if err != nil || !equal(m.Shape(), []int{3, 3, 3}) {
		t.Fatalf("resized: %v %v", m, err)
	}

	write(t, filepath.Join(root, "dog"), "d.png", png(5, 2, 1))
	if _, err := LoadFolder(root, FolderOptions{}, 1<<30); err == nil || !strings.Contains(err.Error(), "d.png is 5x2 (width x height) but") {
		t.Errorf("mixed sizes: %v", err)
	}
	write(t, filepath.Join(root, "dog"), "d.png", []byte("not a png"))
	if _, err := LoadFolder(root, FolderOptions{Height: 2, Width: 4}, 1<<30); err == nil || !strings.Contains(err.Error(), "decode "+filepath.Join(root, "dog", "d.png")) {
		t.Errorf("bad image: %v", err)
	}
	write(t, filepath.Join(root, "dog"), "d.png", png(4, 2, 1))
	write(t, filepath.Join(root, "dog"), "notes.txt", nil)
	if _, err := LoadFolder(root, FolderOptions{}, 1<<30); err == nil || !strings.Contains(err.Error(), "notes.txt is not an image") {
		t.Errorf("other file: %v", err)
	}
}
