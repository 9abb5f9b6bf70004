package data

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/tensor"
)

// TestLoadTokens: text and .npz token sequences are padded with 0 and cut
// to the length asked for, and served as float ids.
func TestLoadTokens(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "reviews.txt")
	require.NoError(t, os.WriteFile(text, []byte("1\t5 6 7\n0\t9 8 7 6 5 4\n2\t\n"), 0o644))
	m, err := LoadTokens(text, 4, size.Default())
	require.NoError(t, err)
	require.Equal(t, 3, m.Len())
	require.Equal(t, 3, m.Classes())
	require.Equal(t, []int{4}, m.Shape())
	require.Equal(t, 9, m.MaxID())
	x, y := make([]float32, 12), make([]int64, 3)
	require.NoError(t, m.Batch([]int{0, 1, 2}, x, y))
	require.Equal(t, []float32{5, 6, 7, 0, 9, 8, 7, 6, 0, 0, 0, 0}, x)
	require.Equal(t, []int64{1, 0, 2}, y)

	npz := filepath.Join(dir, "t.npz")
	writeNpz(t, npz, map[string]*tensor.Tensor{
		"x": {Shape: []int{2, 3}, Ints: []int64{1, 2, 3, 4, 5, 6}},
		"y": {Shape: []int{2}, Ints: []int64{0, 1}},
	})
	m, err = LoadTokens(npz, 5, size.Default())
	require.NoError(t, err)
	x = make([]float32, 10)
	require.NoError(t, m.Batch([]int{1, 0}, x, y))
	require.Equal(t, []float32{4, 5, 6, 0, 0, 1, 2, 3, 0, 0}, x)
	a, b, err := m.Split(1)
	require.NoError(t, err)
	require.Equal(t, 6, b.MaxID())
	require.Equal(t, 3, a.MaxID())
}

// TestLoadTokensRefuses: each malformed record is named by file and line.
func TestLoadTokensRefuses(t *testing.T) {
	dir := t.TempDir()
	for body, want := range map[string]string{
		"1\t5 6\n\n0\t1": "bad.txt:2: want a class id, a tab and the token ids",
		"x\t5 6":         `bad.txt:1: the class id "x" is not a whole number`,
		"-1\t5":          `bad.txt:1: the class id "-1"`,
		"1\t5 six":       `bad.txt:1: token 2, "six", is not an id in 0..16777215`,
		"1\t5 16777216":  `token 2, "16777216"`,
		"1 5 6":          "bad.txt:1: want a class id, a tab",
	} {
		path := filepath.Join(dir, "bad.txt")
		require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
		_, err := LoadTokens(path, 4, size.Default())
		require.ErrorContains(t, err, want, body)
	}
	_, err := LoadTokens(filepath.Join(dir, "bad.txt"), 0, size.Default())
	require.ErrorContains(t, err, "must have a known length")
	npz := filepath.Join(dir, "f.npz")
	writeNpz(t, npz, map[string]*tensor.Tensor{"x": tensor.New(2, 3), "y": {Shape: []int{2}, Ints: []int64{0, 1}}})
	_, err = LoadTokens(npz, 3, size.Default())
	require.ErrorContains(t, err, "x is floats of shape [2,3]: want [n, T] integer token ids")
	_, err = LoadTokens(filepath.Join(dir, "bad.txt"), 1<<40, 1<<20)
	require.ErrorContains(t, err, "memory limit")
	// Ten million empty lines: refused by the budget before any line is
	// split out or any example allocated.
	flood := filepath.Join(dir, "flood.txt")
	require.NoError(t, os.WriteFile(flood, bytes.Repeat([]byte("\n"), 10_000_000), 0o644))
	_, err = LoadTokens(flood, 64, 16<<20)
	require.ErrorContains(t, err, "reading the 10000000 token sequences of")
	require.ErrorContains(t, err, "memory limit")
}

// writeNpz writes arrays into an .npz archive, as numpy.savez.
func writeNpz(t *testing.T, path string, arrays map[string]*tensor.Tensor) {
	f, err := os.Create(path)
	require.NoError(t, err)
	z := zip.NewWriter(f)
	for name, a := range arrays {
		w, err := z.Create(name + ".npy")
		require.NoError(t, err)
		require.NoError(t, tensor.WriteNpy(w, a))
	}
	require.NoError(t, z.Close())
	require.NoError(t, f.Close())
}

// FuzzTokens: any text either loads into a data set whose every id and
// label is in range, or is refused; nothing panics.
func FuzzTokens(f *testing.F) {
	f.Add([]byte("1\t5 6 7\n0\t9 8\n"), 4)
	f.Add([]byte("3\t\n"), 1)
	f.Add([]byte("1\t99999999999 2"), 2)
	f.Fuzz(func(t *testing.T, b []byte, seqLen int) {
		if seqLen < 1 || seqLen > 64 {
			return
		}
		m, err := parseTokens("fuzz.txt", b, seqLen, 1<<20)
		if err != nil {
			return
		}
		if m.MaxID() > MaxTokenID || len(m.ids) != m.Len()*seqLen {
			t.Fatalf("%d ids for %d examples of %d; max id %d", len(m.ids), m.Len(), seqLen, m.MaxID())
		}
		for i := range m.Len() {
			if l := m.Label(i); l < 0 || l >= int64(m.Classes()) {
				t.Fatalf("label %d of %d classes", l, m.Classes())
			}
		}
	})
}

// TestLoadNextToken: each sequence is its inputs and, shifted by one, their
// targets, padded to the longest (or the length asked for) with id 0 and
// Ignore; records keep their lines across a split.
func TestLoadNextToken(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "corpus.txt")
	require.NoError(t, os.WriteFile(text, []byte("5 6 7 8\n9 3\n1 2 3\n"), 0o644))
	m, err := LoadNextToken(text, 0, size.Default())
	require.NoError(t, err)
	require.Equal(t, 3, m.Len())
	require.Equal(t, 3, m.Targets())
	require.Equal(t, []int{3}, m.Shape())
	require.Equal(t, 9, m.MaxID())
	require.Equal(t, 9, m.Classes())
	x, y := make([]float32, 9), make([]int64, 9)
	require.NoError(t, m.Batch([]int{1, 0, 2}, x, y))
	require.Equal(t, []float32{9, 0, 0, 5, 6, 7, 1, 2, 0}, x)
	require.Equal(t, []int64{3, Ignore, Ignore, 6, 7, 8, 2, 3, Ignore}, y)

	m, err = LoadNextToken(text, 5, size.Default())
	require.NoError(t, err)
	require.Equal(t, []int{5}, m.Shape())
	require.NoError(t, m.CheckIDs(10))
	require.NoError(t, m.CheckLabels(10))
	_, b, err := m.Split(1)
	require.NoError(t, err)
	require.EqualError(t, b.CheckIDs(3), text+":2: token 1, id 9, is beyond the model's vocabulary of 3 ids (0..2)")
	require.EqualError(t, b.CheckLabels(3), text+":2: the target of position 1, id 3, is beyond the model's 3 classes (0..2)")
	require.EqualError(t, m.CheckIDs(9), text+":2: token 1, id 9, is beyond the model's vocabulary of 9 ids (0..8)")
	require.EqualError(t, m.CheckIDs(8), text+":1: the target of position 3, id 8, is beyond the model's vocabulary of 8 ids (0..7)")

	npz := filepath.Join(dir, "blocks.npz")
	writeNpz(t, npz, map[string]*tensor.Tensor{"x": {Shape: []int{2, 3}, Ints: []int64{1, 2, 3, 4, 5, 6}}})
	m, err = LoadNextToken(npz, 0, size.Default())
	require.NoError(t, err)
	x, y = make([]float32, 4), make([]int64, 4)
	require.NoError(t, m.Batch([]int{1, 0}, x, y))
	require.Equal(t, []float32{4, 5, 1, 2}, x)
	require.Equal(t, []int64{5, 6, 2, 3}, y)
	require.EqualError(t, m.CheckIDs(6), npz+": record 1: the target of position 2, id 6, is beyond the model's vocabulary of 6 ids (0..5)")
}

// TestLoadNextTokenRefuses: each malformed sequence is named by file and
// line: blank, a single id, longer than the model reads, not an id.
func TestLoadNextTokenRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.txt")
	for body, want := range map[string]string{
		"1 2 3\n\n4 5":   "bad.txt:2: a sequence of 0 ids: next-token data needs at least 2 ids a line",
		"1 2\n7":         "bad.txt:2: a sequence of 1 ids",
		"1 2 3 4 5 6\n1": "bad.txt:1: a sequence of 6 ids, more than the model's 4 positions take (5 ids: 4 inputs, and the last one's target)",
		"1 2\n3 x":       `bad.txt:2: token 2, "x", is not an id in 0..16777215`,
		"1 -2":           `bad.txt:1: token 2, "-2", is not an id`,
		"":               "bad.txt:1: a sequence of 0 ids",
	} {
		require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
		_, err := LoadNextToken(path, 4, size.Default())
		require.ErrorContains(t, err, want, body)
	}
	npz := filepath.Join(dir, "short.npz")
	writeNpz(t, npz, map[string]*tensor.Tensor{"x": {Shape: []int{2, 1}, Ints: []int64{1, 2}}})
	_, err := LoadNextToken(npz, 0, size.Default())
	require.ErrorContains(t, err, "want [n, L] integer token ids, L at least 2")
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("1 2 3\n"), 1000), 0o644))
	_, err = LoadNextToken(path, 0, 1<<10)
	require.ErrorContains(t, err, "memory limit")
	_, err = Open("next-token:", OpenOptions{})
	require.ErrorContains(t, err, "give the file: next-token:FILE")
}

// FuzzNextToken: any text either loads into inputs and targets that are the
// same sequences shifted by one, or is refused; nothing panics.
func FuzzNextToken(f *testing.F) {
	f.Add([]byte("1 2 3\n4 5\n"), 0)
	f.Add([]byte("3\n"), 2)
	f.Add([]byte("1 99999999999 2"), 2)
	f.Fuzz(func(t *testing.T, b []byte, seqLen int) {
		if seqLen < 0 || seqLen > 64 {
			return
		}
		seqs, err := parseSequences("fuzz.txt", b, 1<<20)
		if err != nil {
			return
		}
		m, err := nextToken("fuzz.txt", seqs, seqLen, true, 1<<20)
		if err != nil {
			return
		}
		// Each sequence is its inputs up to its last target, then that.
		per := m.Shape()[0]
		for i, s := range seqs {
			n := slices.Index(append(m.labels[i*per:(i+1)*per:(i+1)*per], Ignore), Ignore)
			got := append(slices.Clone(m.ids[i*per:i*per+n]), int32(m.labels[i*per+n-1]))
			if !slices.Equal(got, s) || slices.ContainsFunc(m.labels[i*per+n:(i+1)*per], func(y int64) bool { return y != Ignore }) {
				t.Fatalf("sequence %d, %v, became inputs %v and targets %v", i, s, m.ids[i*per:(i+1)*per], m.labels[i*per:(i+1)*per])
			}
		}
	})
}
