// Package data reads training data sets into memory and serves them in
// batches: MNIST-style IDX files (idx.go), CIFAR-10/100 binary batches
// (cifar.go), .npy/.npz arrays (npy.go) and folders of images, one subfolder
// per class (folder.go). Every reader checks what it reads — magic numbers,
// declared sizes against the file and the memory budget, counts of images
// against labels, every label against the number of classes — and refuses bad
// data with an error naming the file and the record: nothing is skipped.
//
// Examples are stored as they come (8-bit pixels stay uint8, a quarter of the
// memory of float32) and scaled when a batch is copied out: a uint8 value v
// becomes v/255, so pixels are in 0..1 as Keras's Rescaling(1/255) or
// image_dataset_from_directory followed by /255 give them. Float arrays
// (.npy f4/f8) are served unchanged. Examples are laid out NHWC, labels are
// class indices (int64, as tensor.Tensor's Ints): one per example, or, for a
// language model's next-token data (tokens.go), one per position, a padded
// position's Ignore.
//
// Shuffling (shuffle.go) and the double-buffered loader (loader.go) work on
// any Dataset.
package data

import (
	"fmt"
	"slices"

	"github.com/mdlc/mdlc/internal/size"
)

// Ignore is the label of a position without a target (a padded one of a
// next-token data set): the loss and the metrics leave it out, as PyTorch's
// cross-entropy leaves out its ignore_index.
const Ignore = -1

// Dataset is a labelled data set of Len examples of one Shape.
type Dataset interface {
	// Len is the number of examples.
	Len() int
	// Shape is one example's shape, NHWC without the N (e.g. [28 28 1]).
	Shape() []int
	// Classes is the number of classes: every label is in 0..Classes-1
	// (or Ignore, when Targets is above 1).
	Classes() int
	// Targets is the labels of one example: 1, a class per example, or
	// T, a target per position (next-token data).
	Targets() int
	// Batch copies the examples at indices into the caller's buffers, x
	// holding at least len(indices)·numel(Shape) floats and y at least
	// len(indices)·Targets labels. It allocates nothing.
	Batch(indices []int, x []float32, y []int64) error
}

// Memory is a Dataset held in memory: examples as uint8 (scaled by 1/255 when
// served) or float32 (served as they are), and labels.
type Memory struct {
	shape   []int
	per     int // elements per example
	classes int
	names   []string // class names, if known
	u8      []uint8
	f32     []float32
	ids     []int32 // token ids (tokens.go), served as floats
	// labels holds targets labels per example (1 when targets is 0).
	labels  []int64
	targets int
	// file and first name the records of token data in errors: example
	// i is line first+i+1 of file (text) or record first+i (lines false).
	file  string
	first int
	lines bool
}

// Len is the number of examples.
func (m *Memory) Len() int { return len(m.labels) / m.Targets() }

// Targets is the labels per example: 1, or T for next-token data.
func (m *Memory) Targets() int { return max(m.targets, 1) }

// Shape is one example's shape (HWC for images).
func (m *Memory) Shape() []int { return slices.Clone(m.shape) }

// Classes is the number of classes.
func (m *Memory) Classes() int { return m.classes }

// ClassNames are the classes' names in label order, if the data names them
// (an image folder's subfolders), or nil.
func (m *Memory) ClassNames() []string { return slices.Clone(m.names) }

// Label is the class index of example i (its first target, for next-token
// data).
func (m *Memory) Label(i int) int64 { return m.labels[i*m.Targets()] }

// Batch copies the examples at indices into x and y, scaling uint8 by 1/255.
func (m *Memory) Batch(indices []int, x []float32, y []int64) error {
	t := m.Targets()
	if len(x) < len(indices)*m.per || len(y) < len(indices)*t {
		return fmt.Errorf("data: a batch of %d examples of %d values needs %d floats and %d labels, got buffers of %d and %d",
			len(indices), m.per, len(indices)*m.per, len(indices)*t, len(x), len(y))
	}
	for i, idx := range indices {
		if idx < 0 || idx >= m.Len() {
			return fmt.Errorf("data: example %d out of range: the data set has %d", idx, m.Len())
		}
		dst := x[i*m.per : (i+1)*m.per]
		switch {
		case m.u8 != nil:
			for j, v := range m.u8[idx*m.per : (idx+1)*m.per] {
				dst[j] = float32(v) / 255
			}
		case m.ids != nil:
			for j, v := range m.ids[idx*m.per : (idx+1)*m.per] {
				dst[j] = float32(v)
			}
		default:
			copy(dst, m.f32[idx*m.per:(idx+1)*m.per])
		}
		copy(y[i*t:(i+1)*t], m.labels[idx*t:(idx+1)*t])
	}
	return nil
}

// Split returns the examples [0, n) and [n, Len) as two data sets sharing
// this one's memory, as Keras's validation_split takes the last fraction.
func (m *Memory) Split(n int) (*Memory, *Memory, error) {
	if n < 0 || n > m.Len() {
		return nil, nil, fmt.Errorf("data: cannot split %d examples at %d", m.Len(), n)
	}
	a, b := *m, *m
	a.labels, b.labels = m.labels[:n*m.Targets()], m.labels[n*m.Targets():]
	b.first = m.first + n
	switch {
	case m.u8 != nil:
		a.u8, b.u8 = m.u8[:n*m.per], m.u8[n*m.per:]
	case m.ids != nil:
		a.ids, b.ids = m.ids[:n*m.per], m.ids[n*m.per:]
	default:
		a.f32, b.f32 = m.f32[:n*m.per], m.f32[n*m.per:]
	}
	return &a, &b, nil
}

// checkLabels refuses a label outside 0..classes-1, naming file and record.
func checkLabels(file string, labels []int64, classes int) error {
	for i, l := range labels {
		if l < 0 || l >= int64(classes) {
			return fmt.Errorf("%s: record %d: label %d is out of range: want 0 to %d", file, i, l, classes-1)
		}
	}
	return nil
}

// alloc8 checks n bytes of what against the budget before they are allocated.
func alloc8(budget size.Budget, what string, n int64) ([]uint8, error) {
	if err := budget.Check(what, n); err != nil {
		return nil, err
	}
	return make([]uint8, n), nil
}
