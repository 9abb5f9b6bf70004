// Package numfmt writes numbers for people: the one place that groups
// digits, shared by diagnostics, summaries, plans and generated docs.
package numfmt

import "strconv"

// Commas writes n with commas between groups of three digits: 4,995.
func Commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	start := 0
	if n < 0 {
		start = 1
	}
	for i := len(s) - 3; i > start; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
