// Package suggest finds the name a user probably meant, for "did you mean"
// hints in diagnostics and error messages.
package suggest

import "slices"

// Closest returns the candidate nearest to name by edit distance if it is a
// plausible typo: fewer edits away than a third of name's length, plus one
// (so names shorter than three letters get no guess).
// Ties go to the alphabetically first candidate, so hints are deterministic.
func Closest(name string, candidates []string) string {
	best, bestDist := "", len(name)/3+1
	for _, c := range slices.Sorted(slices.Values(candidates)) {
		if c == name || abs(len(c)-len(name)) >= bestDist {
			continue
		}
		if d := Distance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func abs(x int) int { return max(x, -x) }

// Distance is the Levenshtein distance between a and b in bytes, with the
// swap of two adjacent bytes counting as one edit (the commonest typo).
func Distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
