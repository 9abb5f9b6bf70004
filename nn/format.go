package nn

import (
	"fmt"
	"strconv"

	"github.com/mdlc/mdlc/ir"
)

func itoa(i int) string { return strconv.Itoa(i) }

// positive checks one of a layer's sizes (both numbers of a pair), which a
// frontend may pass on unchecked from a file.
func positive(layer, name string, size ...int) error {
	for _, n := range size {
		if n < 1 {
			var got any = size
			if len(size) == 1 {
				got = n
			}
			return &ir.TypeError{Msg: fmt.Sprintf("%s: %s must be positive, got %v", layer, name, got),
				Help: "sizes, strides and counts start at 1"}
		}
	}
	return nil
}
