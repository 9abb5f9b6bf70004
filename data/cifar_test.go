package data

import (
	"strings"
	"testing"
)

// cifarRecord is one record: the label bytes, then the image as planes whose
// pixel p of channel c is byte(c*64 + p).
func cifarRecord(labels ...byte) []byte {
	r := append([]byte(nil), labels...)
	for c := range 3 {
		for p := range cifarSide * cifarSide {
			r = append(r, byte(c*64+p))
		}
	}
	return r
}

func TestLoadCIFAR(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "data_batch_1.bin", append(cifarRecord(3), cifarRecord(9)...))
	b := write(t, dir, "data_batch_2.bin", cifarRecord(0))
	m, err := LoadCIFAR(CIFAR10, 1<<30, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 3 || !equal(m.Shape(), []int{32, 32, 3}) || m.Classes() != 10 {
		t.Fatalf("len %d shape %v classes %d", m.Len(), m.Shape(), m.Classes())
	}
	x, y := make([]float32, 2*cifarPixels), make([]int64, 2)
	if err := m.Batch([]int{2, 1}, x, y); err != nil {
		t.Fatal(err)
	}
	if y[0] != 0 || y[1] != 9 {
		t.Fatalf("labels %v", y)
	}
	// NHWC: pixel (h, w) channel c is plane c's byte at h*32+w.
	for _, p := range []int{0, 1, 33, 1023} {
		for c := range 3 {
			if want := float32(byte(c*64+p)) / 255; x[cifarPixels+3*p+c] != want {
				t.Fatalf("pixel %d channel %d = %v, want %v", p, c, x[cifarPixels+3*p+c], want)
			}
		}
	}

	c := write(t, dir, "train.bin", append(cifarRecord(7, 42), cifarRecord(19, 99)...))
	for variant, want := range map[CIFAR][]int64{CIFAR100Fine: {42, 99}, CIFAR100Coarse: {7, 19}} {
		m, err := LoadCIFAR(variant, 1<<30, c)
		if err != nil {
			t.Fatal(err)
		}
		if m.Label(0) != want[0] || m.Label(1) != want[1] || m.Classes() != variant.classes() {
			t.Errorf("%v: labels %d %d", variant, m.Label(0), m.Label(1))
		}
	}
}

func TestCIFARErrors(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "good.bin", cifarRecord(1))
	for _, c := range []struct {
		name    string
		variant CIFAR
		data    []byte
		want    string
	}{
		{"truncated", CIFAR10, append(cifarRecord(1), cifarRecord(2)[:100]...), "bad.bin: 3173 bytes is not a whole number of 3073-byte records: the file is truncated (record 1 is incomplete)"},
		{"empty", CIFAR10, nil, "bad.bin: 0 bytes"},
		{"label", CIFAR10, append(cifarRecord(1), cifarRecord(10)...), "bad.bin: record 1: label 10 is out of range: want 0 to 9"},
		{"fine", CIFAR100Fine, cifarRecord(1, 100), "record 0: label 100 is out of range: want 0 to 99"},
		{"coarse", CIFAR100Coarse, cifarRecord(20, 1), "record 0: label 20 is out of range: want 0 to 19"},
		{"cifar-100 read as 10", CIFAR10, cifarRecord(1, 2), "not a CIFAR-10 batch"},
	} {
		files := []string{write(t, dir, "bad.bin", c.data)}
		if c.variant == CIFAR10 {
			files = append([]string{good}, files...)
		}
		_, err := LoadCIFAR(c.variant, 1<<30, files...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := LoadCIFAR(CIFAR10, 1000, good); err == nil || !strings.Contains(err.Error(), "memory limit") {
		t.Errorf("budget: got %v", err)
	}
}

// FuzzCIFAR: decoding never panics, and a record it accepts has a label in
// range.
func FuzzCIFAR(f *testing.F) {
	f.Add(byte(0), cifarRecord(3))
	f.Add(byte(1), cifarRecord(3, 99))
	f.Add(byte(2), cifarRecord(30, 1))
	f.Fuzz(func(t *testing.T, v byte, b []byte) {
		variant := CIFAR(v % 3)
		pix := make([]uint8, len(b)/(variant.labelBytes()+cifarPixels)*cifarPixels)
		labels, err := decodeCIFAR(b, variant, pix, nil)
		if err != nil {
			return
		}
		if err := checkLabels("fuzz", labels, variant.classes()); err != nil {
			t.Fatal(err)
		}
	})
}
