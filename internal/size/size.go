// Package size computes sizes that come from untrusted input (a program's
// shapes, a --batch flag, a weight file's header) with overflow-checked
// arithmetic, and checks them against a memory budget before anything is
// allocated. The rule: no make() of a size that did not pass through here
// first, so a hostile size is refused with what it was, the limit and how to
// raise it, never a Go runtime fatal error or a machine out of memory.
package size

import (
	"fmt"
	"math"
	"math/bits"
	"os"
	"strconv"
	"strings"

	"github.com/mdlc/mdlc/internal/numfmt"
)

// Mul is a*b, or false when either is negative or the product overflows int64.
func Mul(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

// Add is a+b, or false when either is negative or the sum overflows int64.
func Add(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// Numel is the number of elements of a tensor of the given shape, or false
// when a dimension is negative or the product overflows.
func Numel(shape []int) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		var ok bool
		if n, ok = Mul(n, int64(d)); !ok {
			return 0, false
		}
	}
	return n, true
}

// Bytes is Numel(shape) elements of elem bytes each.
func Bytes(shape []int, elem int) (int64, bool) {
	n, ok := Numel(shape)
	if !ok {
		return 0, false
	}
	return Mul(n, int64(elem))
}

// Budget is the most bytes one thing (a tensor, an arena, a set of weights)
// may take: what --max-memory sets. Zero or less means no limit.
type Budget int64

// EnvVar sets the default budget, in the same syntax as --max-memory.
const EnvVar = "MDLC_MAX_MEMORY"

// Default is the budget when none is given: MDLC_MAX_MEMORY if set and
// valid, else half of physical memory (a model that needs more would swap or
// be killed), else 4 GiB where physical memory cannot be read.
func Default() Budget {
	if s := os.Getenv(EnvVar); s != "" {
		if b, err := Parse(s); err == nil {
			return b
		}
	}
	if m := physicalMemory(); m > 0 {
		return Budget(m / 2)
	}
	return 4 << 30
}

// Check returns nil when bytes fit the budget, and otherwise an *Error
// naming what needed them.
func (b Budget) Check(what string, bytes int64) error {
	if b > 0 && bytes > int64(b) {
		return &Error{What: what, Bytes: bytes, Limit: int64(b)}
	}
	return nil
}

// CheckShape checks a tensor of shape and elem-byte elements against the
// budget, the product overflow-checked.
func (b Budget) CheckShape(what string, shape []int, elem int) error {
	n, ok := Bytes(shape, elem)
	if !ok {
		return &Error{What: what, Bytes: -1, Limit: int64(b)}
	}
	return b.Check(what, n)
}

// Error is a size over the budget, or one too large to compute (Bytes < 0).
type Error struct {
	What  string
	Bytes int64
	Limit int64
}

func (e *Error) Error() string {
	if e.Bytes < 0 {
		return fmt.Sprintf("%s: the size overflows 64-bit arithmetic; no machine can hold it", e.What)
	}
	return fmt.Sprintf("%s needs %s, more than the memory limit of %s; raise the limit with --max-memory SIZE (or %s=SIZE) if this machine has the memory",
		e.What, Format(e.Bytes), Format(e.Limit), EnvVar)
}

// Overflow is the *Error of a size that overflows.
func Overflow(what string) error { return &Error{What: what, Bytes: -1} }

var units = []struct {
	suffix string
	scale  int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}

// Parse reads a size: bytes, or a number with a unit (KiB, MiB, GiB, TiB, or
// KB, MB, GB, TB; K, M, G, T mean the binary units), e.g. 512MiB, 1.5GiB.
// 0 means no limit.
func Parse(s string) (Budget, error) {
	t := strings.TrimSpace(s)
	scale := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, scale = strings.TrimSpace(rest), u.scale
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f*float64(scale) >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size: want bytes or a number with a unit, e.g. 512MiB or 8GiB (0: no limit)", s)
	}
	return Budget(f * float64(scale)), nil
}

// Format writes n bytes for a person: 1.5 GiB, 300 MiB, 12,345 bytes.
func Format(n int64) string {
	for _, u := range []struct {
		name  string
		scale int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}} {
		if n >= u.scale {
			return strconv.FormatFloat(float64(n)/float64(u.scale), 'f', 1, 64) + " " + u.name
		}
	}
	return numfmt.Commas(n) + " bytes"
}
