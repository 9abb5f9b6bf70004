package data

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/tensor"
)

// MaxTokenID bounds a token id: ids are served as float32, which holds
// every integer up to 2^24 exactly.
const MaxTokenID = 1<<24 - 1

// maxTokenFile bounds a text file of token sequences read whole.
const maxTokenFile = 1 << 30

// LoadTokens reads token-id sequences with class labels, for text
// classification (IMDB-style), as examples of seqLen ids each, padded with
// id 0 after a shorter sequence and cut after seqLen ids, as Keras's
// pad_sequences(padding="post", truncating="post"):
//   - an .npz archive with x ([n, T] integers) and y ([n] class ids); x is
//     padded or cut from T to seqLen;
//   - any other file is text, one example per line: the class id, a tab,
//     then the token ids separated by spaces ("1\t12 7 431 9"). Blank lines
//     are an error, not skipped.
//
// Every id must be in 0..MaxTokenID and every label at least 0; the model's
// vocabulary and classes are checked against MaxID and Classes when training
// starts.
func LoadTokens(path string, seqLen int, budget size.Budget) (*Memory, error) {
	if seqLen < 1 {
		return nil, fmt.Errorf("%s: token sequences of length %d: the model's input must have a known length", path, seqLen)
	}
	if filepath.Ext(path) == ".npz" {
		a, err := readNpz(path, budget, "x", "y")
		if err != nil {
			return nil, err
		}
		return tokensFromArrays(path, a[0], a[1], seqLen, budget)
	}
	b, err := safeio.ReadFile(path, maxTokenFile)
	if err != nil {
		return nil, err
	}
	return parseTokens(path, b, seqLen, budget)
}

// parseTokens reads the text form of LoadTokens.
func parseTokens(path string, b []byte, seqLen int, budget size.Budget) (*Memory, error) {
	text := bytes.TrimSuffix(b, []byte("\n"))
	n := bytes.Count(text, []byte("\n")) + 1
	// Each example takes seqLen int32 ids and an int64 label: checked
	// before anything is allocated, lines included.
	perExample, ok := size.Mul(int64(seqLen), 4)
	total, ok2 := size.Mul(int64(n), perExample+8)
	if !ok || !ok2 {
		return nil, size.Overflow("reading the token sequences of " + path)
	}
	if err := budget.Check(fmt.Sprintf("reading the %d token sequences of %s", n, path), total); err != nil {
		return nil, err
	}
	// The examples grow line by line, so a file that goes wrong early
	// costs only what it got right.
	m := &Memory{shape: []int{seqLen}, per: seqLen}
	for i := range n {
		var line []byte
		line, text, _ = bytes.Cut(text, []byte("\n"))
		label, rest, ok := bytes.Cut(line, []byte("\t"))
		if !ok {
			return nil, fmt.Errorf("%s:%d: want a class id, a tab and the token ids, got %q", path, i+1, clip(line))
		}
		l, err := strconv.ParseInt(string(bytes.TrimSpace(label)), 10, 32)
		if err != nil || l < 0 {
			return nil, fmt.Errorf("%s:%d: the class id %q is not a whole number of at least 0", path, i+1, clip(label))
		}
		m.labels = append(m.labels, l)
		m.ids = append(m.ids, make([]int32, seqLen)...)
		row := m.ids[i*seqLen:]
		k := 0
		for _, f := range bytes.Fields(rest) {
			id, err := strconv.ParseInt(string(f), 10, 32)
			if err != nil || id < 0 || id > MaxTokenID {
				return nil, fmt.Errorf("%s:%d: token %d, %q, is not an id in 0..%d", path, i+1, k+1, clip(f), MaxTokenID)
			}
			if k < seqLen {
				row[k] = int32(id)
			}
			k++
		}
	}
	m.classes = int(slices.Max(m.labels)) + 1
	return m, nil
}

// tokensFromArrays makes a token data set of x ([n, T] integers) and y.
func tokensFromArrays(path string, x, y *tensor.Tensor, seqLen int, budget size.Budget) (*Memory, error) {
	if !x.IsInt() || len(x.Shape) != 2 || x.Shape[0] == 0 {
		return nil, fmt.Errorf("%s: x is %s of shape %s: want [n, T] integer token ids", path, map[bool]string{true: "integers", false: "floats"}[x.IsInt()], tensor.ShapeString(x.Shape))
	}
	if !y.IsInt() || len(y.Shape) != 1 || y.Shape[0] != x.Shape[0] {
		return nil, fmt.Errorf("%s: y of shape %s: want [%d] integer class ids", path, tensor.ShapeString(y.Shape), x.Shape[0])
	}
	n, t := x.Shape[0], x.Shape[1]
	total, ok := size.Bytes([]int{n, seqLen}, 4)
	if !ok {
		return nil, size.Overflow("the token sequences of " + path)
	}
	if err := budget.Check(fmt.Sprintf("the token sequences of %s", path), total); err != nil {
		return nil, err
	}
	m := &Memory{shape: []int{seqLen}, per: seqLen, ids: make([]int32, n*seqLen), labels: y.Ints}
	for i := range n {
		for j, id := range x.Ints[i*t : (i+1)*t] {
			if id < 0 || id > MaxTokenID {
				return nil, fmt.Errorf("%s: x: record %d, position %d: token id %d is not in 0..%d", path, i, j, id, MaxTokenID)
			}
			if j < seqLen {
				m.ids[i*seqLen+j] = int32(id)
			}
		}
	}
	for i, l := range y.Ints {
		if l < 0 || l > 1<<31-1 {
			return nil, fmt.Errorf("%s: y: record %d: class id %d is out of range", path, i, l)
		}
	}
	m.classes = int(slices.Max(y.Ints)) + 1
	return m, nil
}

// clip shortens what an error quotes from a file.
func clip(b []byte) []byte {
	if len(b) > 40 {
		return append(slices.Clip(b[:40]), "..."...)
	}
	return b
}

// MaxID is the largest token id of a token data set, or -1 for other data.
func (m *Memory) MaxID() int {
	if m.ids == nil {
		return -1
	}
	return int(slices.Max(m.ids))
}
