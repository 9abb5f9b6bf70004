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
		return nil, fmt.Errorf("%s: token sequences of length %d: the model's input must have a known length: give its length with --dim (e.g. --dim T=64)", path, seqLen)
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
	m := &Memory{shape: []int{seqLen}, per: seqLen, file: path, lines: true}
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
	m := &Memory{shape: []int{seqLen}, per: seqLen, ids: make([]int32, n*seqLen), labels: y.Ints, file: path}
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

// MaxID is the largest token id of a token data set, its inputs' and, for
// next-token data, its targets', or -1 for other data.
func (m *Memory) MaxID() int {
	if m.ids == nil {
		return -1
	}
	id := int(slices.Max(m.ids))
	if m.targets > 0 {
		id = max(id, int(slices.Max(m.labels)))
	}
	return id
}

// record names example i of token data in an error: its file and line, or
// its record in an .npz.
func (m *Memory) record(i int) string {
	if m.lines {
		return fmt.Sprintf("%s:%d", m.file, m.first+i+1)
	}
	return fmt.Sprintf("%s: record %d", m.file, m.first+i)
}

// CheckIDs refuses a token id (an input's, or a next-token target's) that a
// model with a vocabulary of vocab ids cannot read or predict, naming its
// file and record.
func (m *Memory) CheckIDs(vocab int) error {
	t := m.Targets()
	for i := range m.Len() {
		for k, id := range m.ids[i*m.per : (i+1)*m.per] {
			if int(id) >= vocab {
				return fmt.Errorf("%s: token %d, id %d, is beyond the model's vocabulary of %d ids (0..%d)", m.record(i), k+1, id, vocab, vocab-1)
			}
		}
		for k, id := range m.labels[i*t : (i+1)*t] {
			if t > 1 && id >= int64(vocab) {
				return fmt.Errorf("%s: the target of position %d, id %d, is beyond the model's vocabulary of %d ids (0..%d)", m.record(i), k+1, id, vocab, vocab-1)
			}
		}
	}
	return nil
}

// CheckLabels refuses a label outside 0..classes-1 (Ignore aside), naming
// its file and record when the data is tokens.
func (m *Memory) CheckLabels(classes int) error {
	t := m.Targets()
	for k, l := range m.labels {
		if l == Ignore && t > 1 || l >= 0 && l < int64(classes) {
			continue
		}
		if m.file == "" {
			return fmt.Errorf("example %d: label %d is beyond the model's %d classes (0..%d)", k/t, l, classes, classes-1)
		}
		if t > 1 {
			return fmt.Errorf("%s: the target of position %d, id %d, is beyond the model's %d classes (0..%d)", m.record(k/t), k%t+1, l, classes, classes-1)
		}
		return fmt.Errorf("%s: class id %d is beyond the model's %d classes (0..%d)", m.record(k), l, classes, classes-1)
	}
	return nil
}

// LoadNextToken reads token-id sequences for a causal language model, each
// example a sequence whose every position is trained to predict the next
// id: a sequence of L ids gives the input ids[0..L-2] and the targets
// ids[1..L-1], padded after its end to seqLen (inputs with id 0, targets
// with Ignore, which the loss and the metrics leave out). The file is
//   - an .npz archive with x ([n, L] integer ids), every row a whole
//     sequence of L ids;
//   - any other file is text, one sequence per line, its ids separated by
//     spaces ("12 7 431 9").
//
// seqLen 0 takes the longest sequence's length less one (the model's
// length is symbolic and bound from the data). A sequence of fewer than 2
// ids (nothing to predict) or more than seqLen+1 (ids the model cannot
// read, which a cut would drop unseen) is an error naming its file and
// line; so are blank lines and ids outside 0..MaxTokenID. The model's
// vocabulary is checked against the ids when training starts (CheckIDs).
func LoadNextToken(path string, seqLen int, budget size.Budget) (*Memory, error) {
	if seqLen < 0 {
		return nil, fmt.Errorf("%s: next-token sequences of length %d", path, seqLen)
	}
	var seqs [][]int32
	if filepath.Ext(path) == ".npz" {
		a, err := readNpz(path, budget, "x")
		if err != nil {
			return nil, err
		}
		x := a[0]
		if !x.IsInt() || len(x.Shape) != 2 || x.Shape[0] == 0 || x.Shape[1] < 2 {
			return nil, fmt.Errorf("%s: x is %s of shape %s: want [n, L] integer token ids, L at least 2", path, map[bool]string{true: "integers", false: "floats"}[x.IsInt()], tensor.ShapeString(x.Shape))
		}
		l := x.Shape[1]
		for i := range x.Shape[0] {
			row := make([]int32, l)
			for j, id := range x.Ints[i*l : (i+1)*l] {
				if id < 0 || id > MaxTokenID {
					return nil, fmt.Errorf("%s: x: record %d, position %d: token id %d is not in 0..%d", path, i, j, id, MaxTokenID)
				}
				row[j] = int32(id)
			}
			seqs = append(seqs, row)
		}
	} else {
		b, err := safeio.ReadFile(path, maxTokenFile)
		if err != nil {
			return nil, err
		}
		if seqs, err = parseSequences(path, b, budget); err != nil {
			return nil, err
		}
	}
	return nextToken(path, seqs, seqLen, filepath.Ext(path) != ".npz", budget)
}

// parseSequences reads the text form of LoadNextToken: one sequence of ids
// per line.
func parseSequences(path string, b []byte, budget size.Budget) ([][]int32, error) {
	text := bytes.TrimSuffix(b, []byte("\n"))
	// An id takes at least two bytes of the file, a digit and a space, and
	// four as an int32: the file's size bounds what the sequences take.
	if err := budget.Check("reading the token sequences of "+path, 2*int64(len(text))+64*int64(bytes.Count(text, []byte("\n"))+1)); err != nil {
		return nil, err
	}
	var seqs [][]int32
	for i := 0; len(text) > 0 || i == 0; i++ {
		var line []byte
		line, text, _ = bytes.Cut(text, []byte("\n"))
		fields := bytes.Fields(line)
		seq := make([]int32, len(fields))
		for k, f := range fields {
			id, err := strconv.ParseInt(string(f), 10, 32)
			if err != nil || id < 0 || id > MaxTokenID {
				return nil, fmt.Errorf("%s:%d: token %d, %q, is not an id in 0..%d", path, i+1, k+1, clip(f), MaxTokenID)
			}
			seq[k] = int32(id)
		}
		seqs = append(seqs, seq)
	}
	return seqs, nil
}

// nextToken shifts sequences into inputs and targets of seqLen positions
// (0: the longest sequence's length less one).
func nextToken(path string, seqs [][]int32, seqLen int, lines bool, budget size.Budget) (*Memory, error) {
	at := func(i int) string {
		if lines {
			return fmt.Sprintf("%s:%d", path, i+1)
		}
		return fmt.Sprintf("%s: record %d", path, i)
	}
	longest := 0
	for i, s := range seqs {
		if len(s) < 2 {
			return nil, fmt.Errorf("%s: a sequence of %d ids: next-token data needs at least 2 ids a line, one to read and the next to predict", at(i), len(s))
		}
		if seqLen > 0 && len(s) > seqLen+1 {
			return nil, fmt.Errorf("%s: a sequence of %d ids, more than the model's %d positions take (%d ids: %d inputs, and the last one's target): split the line, or give the model a longer length (--dim)", at(i), len(s), seqLen, seqLen+1, seqLen)
		}
		longest = max(longest, len(s))
	}
	if seqLen == 0 {
		seqLen = longest - 1
	}
	// Each position takes an int32 input and an int64 target.
	total, ok := size.Bytes([]int{len(seqs), seqLen}, 12)
	if !ok {
		return nil, size.Overflow("the next-token sequences of " + path)
	}
	if err := budget.Check("the next-token sequences of "+path, total); err != nil {
		return nil, err
	}
	n := len(seqs)
	m := &Memory{shape: []int{seqLen}, per: seqLen, targets: seqLen, ids: make([]int32, n*seqLen), labels: make([]int64, n*seqLen), file: path, lines: lines}
	for i, s := range seqs {
		in, tg := m.ids[i*seqLen:(i+1)*seqLen], m.labels[i*seqLen:(i+1)*seqLen]
		copy(in, s[:len(s)-1])
		for k := range tg {
			tg[k] = Ignore
			if k+1 < len(s) {
				tg[k] = int64(s[k+1])
			}
		}
	}
	m.classes = int(slices.Max(m.labels)) + 1
	return m, nil
}
