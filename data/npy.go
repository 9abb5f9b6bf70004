package data

import (
	"archive/zip"
	"bufio"
	"fmt"
	"slices"
	"strings"

	"github.com/mdlc/mdlc/internal/safeio"
	"github.com/mdlc/mdlc/internal/size"
	"github.com/mdlc/mdlc/tensor"
)

// LoadNpy reads examples from one .npy file and their labels from another.
// See fromArrays for what the arrays may hold.
func LoadNpy(xPath, yPath string, classes int, budget size.Budget) (*Memory, error) {
	x, err := tensor.ReadNpyFileWithin(xPath, budget)
	if err != nil {
		return nil, err
	}
	y, err := tensor.ReadNpyFileWithin(yPath, budget)
	if err != nil {
		return nil, err
	}
	return fromArrays(xPath, x, yPath, y, classes, budget)
}

// LoadNpz reads the arrays xName and yName of an .npz archive (numpy.savez,
// compressed or not), as Keras's mnist.npz holds x_train and y_train.
func LoadNpz(path, xName, yName string, classes int, budget size.Budget) (*Memory, error) {
	a, err := readNpz(path, budget, xName, yName)
	if err != nil {
		return nil, err
	}
	return fromArrays(path+":"+xName, a[0], path+":"+yName, a[1], classes, budget)
}

// readNpz reads the named arrays of an .npz archive, each within budget.
func readNpz(path string, budget size.Budget, names ...string) ([]*tensor.Tensor, error) {
	f, st, err := safeio.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := zip.NewReader(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: not an .npz archive: %w", path, err)
	}
	read := func(name string) (*tensor.Tensor, error) {
		var names []string
		for _, m := range z.File {
			n := strings.TrimSuffix(m.Name, ".npy")
			names = append(names, n)
			if n != name {
				continue
			}
			r, err := m.Open()
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, m.Name, err)
			}
			defer r.Close()
			usize := int64(m.UncompressedSize64)
			if m.UncompressedSize64 > 1<<62 {
				usize = -1
			}
			t, err := tensor.ReadNpyWithin(bufio.NewReader(r), usize, budget)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, m.Name, err)
			}
			return t, nil
		}
		return nil, fmt.Errorf("%s has no array %q; it holds %s", path, name, strings.Join(names, ", "))
	}
	out := make([]*tensor.Tensor, len(names))
	for i, name := range names {
		if out[i], err = read(name); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fromArrays makes a data set of examples x ([n, ...]) and labels y ([n] or
// [n, 1] integers). Float examples are served as they are; integer ones are
// taken as 8-bit pixels, must be 0..255, and are scaled by 1/255. The
// example shape is x's without n ([28, 28] and [28, 28, 1] serve the same
// values). classes 0 means the largest label plus one.
func fromArrays(xName string, x *tensor.Tensor, yName string, y *tensor.Tensor, classes int, budget size.Budget) (*Memory, error) {
	if len(x.Shape) < 2 || x.Shape[0] == 0 {
		return nil, fmt.Errorf("%s: examples of shape %s: want [n, ...] with n > 0", xName, tensor.ShapeString(x.Shape))
	}
	n := x.Shape[0]
	if !y.IsInt() {
		return nil, fmt.Errorf("%s: labels are floats: want integer class indices (of one-hot labels, take the argmax)", yName)
	}
	if !(len(y.Shape) == 1 || len(y.Shape) == 2 && y.Shape[1] == 1) {
		return nil, fmt.Errorf("%s: labels of shape %s: want [n] or [n, 1] class indices", yName, tensor.ShapeString(y.Shape))
	}
	if y.Shape[0] != n {
		return nil, fmt.Errorf("%s holds %d labels but %s holds %d examples", yName, y.Shape[0], xName, n)
	}
	switch {
	case classes < 0:
		return nil, fmt.Errorf("data: %d classes: want at least 1 (0: the largest label plus one)", classes)
	case classes == 0 && slices.Max(y.Ints) >= 1<<31-1:
		return nil, fmt.Errorf("%s: label %d is too large for a class index", yName, slices.Max(y.Ints))
	case classes == 0:
		classes = int(max(slices.Max(y.Ints), 0)) + 1
	}
	if err := checkLabels(yName, y.Ints, classes); err != nil {
		return nil, err
	}
	m := &Memory{shape: slices.Clone(x.Shape[1:]), per: x.Len() / n, classes: classes, labels: y.Ints}
	if !x.IsInt() {
		m.f32 = x.Data
		return m, nil
	}
	var err error
	if m.u8, err = alloc8(budget, xName, int64(len(x.Ints))); err != nil {
		return nil, err
	}
	for i, v := range x.Ints {
		if v < 0 || v > 255 {
			return nil, fmt.Errorf("%s: record %d: value %d is not a byte: integer examples are taken as 8-bit pixels (0..255); give floats for other values", xName, i/m.per, v)
		}
		m.u8[i] = uint8(v)
	}
	return m, nil
}

// FromTensors is a data set of examples x ([n, ...], floats served as they
// are, integers as 8-bit pixels scaled by 1/255) and class ids y ([n] or
// [n, 1] integers), held in memory, checked as the .npy reader checks them.
// classes 0 means the largest label plus one.
func FromTensors(x, y *tensor.Tensor, classes int, budget size.Budget) (*Memory, error) {
	return fromArrays("the examples", x, "the labels", y, classes, budget)
}
