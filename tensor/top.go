package tensor

import (
	"fmt"
	"io"
	"math"
	"sort"
)

// IsDistribution reports whether t looks like rows of class probabilities:
// [rows, classes] with at least two classes, no negative value and each row
// summing to 1 within 1e-3.
func (t *Tensor) IsDistribution() bool {
	if len(t.Shape) != 2 || t.Shape[1] < 2 {
		return false
	}
	n := t.Shape[1]
	for r := 0; r < t.Shape[0]; r++ {
		sum := 0.0
		for _, v := range t.Data[r*n : (r+1)*n] {
			if v < 0 {
				return false
			}
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-3 {
			return false
		}
	}
	return true
}

// maxRowsShown bounds the per-example listing of top classes.
const maxRowsShown = 4

// WriteTop lists the k most probable classes of the first rows of a
// distribution (IsDistribution), as mdlc run and the binaries of mdlc build
// print them, each with its name from labels where there is one.
func (t *Tensor) WriteTop(w io.Writer, k int, labels []string) {
	n := t.Shape[1]
	k = min(k, n)
	if k <= 0 {
		return
	}
	for r := 0; r < min(t.Shape[0], maxRowsShown); r++ {
		row := t.Data[r*n : (r+1)*n]
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
		fmt.Fprintf(w, "  example %d, top %d:\n", r, k)
		for _, i := range idx[:k] {
			if i < len(labels) {
				fmt.Fprintf(w, "    class %-4d %.4f  %s\n", i, row[i], labels[i])
			} else {
				fmt.Fprintf(w, "    class %-4d %.4f\n", i, row[i])
			}
		}
	}
	if t.Shape[0] > maxRowsShown {
		fmt.Fprintf(w, "  (%d more examples; use --output to see them all)\n", t.Shape[0]-maxRowsShown)
	}
}
