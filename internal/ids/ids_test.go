package ids

import (
	"math"
	"testing"
)

func TestRange(t *testing.T) {
	for _, c := range []struct {
		limit  int
		lo, hi int64
	}{
		{50, 0, 49},
		{1, 0, 0},
		{math.MaxInt32, math.MinInt32, math.MaxInt32},
	} {
		if lo, hi := Range(c.limit); lo != c.lo || hi != c.hi {
			t.Errorf("Range(%d) = %d..%d, want %d..%d", c.limit, lo, hi, c.lo, c.hi)
		}
	}
}
