package serve

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// The `data` of a JSON tensor is scanned by hand rather than decoded by
// encoding/json: a 224×224×3 image is 150,528 numbers, which encoding/json
// took longer to get through than cnn224 takes to run (see jsonparse.go). The scanner walks the
// array once, at any nesting (the protocol allows flat or nested row-major
// data), and writes each leaf straight into a slice allocated beforehand
// from the tensor's checked shape, so a body can never make it allocate
// more than the shape it declared.

// leafFunc parses the n-th leaf value of an array, which starts at b[i],
// and returns the index just past it.
type leafFunc func(n int, b []byte, i int) (int, error)

// scanLeaves walks the JSON array raw and calls leaf for each scalar in
// row-major order. It fails when the array holds more than want leaves
// (before calling leaf past the end) or fewer.
func scanLeaves(raw []byte, want int, leaf leafFunc) error {
	i := skipSpace(raw, 0)
	if i == len(raw) || raw[i] != '[' {
		return errors.New("data must be a JSON array")
	}
	depth, n := 0, 0
	// expectValue is true after '[' or ',' (a value must follow) and
	// false after a value (',' or ']' must follow); afterOpen is true
	// after '[', where ']' may follow at once.
	expectValue, afterOpen := true, false
	for i < len(raw) {
		c := raw[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '[':
			if !expectValue {
				return fmt.Errorf("data: unexpected '[' at byte %d", i)
			}
			depth++
			afterOpen = true
			i++
			continue
		case c == ']':
			if expectValue && !afterOpen {
				return fmt.Errorf("data: trailing ',' before ']' at byte %d", i)
			}
			depth--
			expectValue = false
			i++
			if depth == 0 {
				if j := skipSpace(raw, i); j != len(raw) {
					return fmt.Errorf("data: unexpected text after the array at byte %d", j)
				}
				if n != want {
					return fmt.Errorf("data holds %d values, but its shape calls for %d", n, want)
				}
				return nil
			}
		case c == ',':
			if expectValue {
				return fmt.Errorf("data: unexpected ',' at byte %d", i)
			}
			expectValue = true
			i++
		default:
			if !expectValue {
				return fmt.Errorf("data: missing ',' at byte %d", i)
			}
			if n == want {
				return fmt.Errorf("data holds more values than its shape's %d", want)
			}
			j, err := leaf(n, raw, i)
			if err != nil {
				return fmt.Errorf("data[%d]: %w", n, err)
			}
			n++
			expectValue = false
			i = j
		}
		afterOpen = false
	}
	return errors.New("data: the array is not closed")
}

// tokenEnd is the index just past the scalar starting at b[i].
func tokenEnd(b []byte, i int) int {
	for i < len(b) && b[i] != ',' && b[i] != ']' && b[i] != '}' && b[i] != ':' && b[i] != ' ' && b[i] != '\n' && b[i] != '\t' && b[i] != '\r' {
		i++
	}
	return i
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// pow10 are the powers of ten that float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat32 parses a JSON number to the nearest float32, as
// strconv.ParseFloat(s, 32) does, without allocating on the common path.
//
// Fast path (Clinger): a mantissa m < 2^53 and a power of ten 10^e with
// |e| <= 22 are both exact in float64, so m*10^e or m/10^e is the correctly
// rounded float64 v of the decimal. Rounding v again to float32 is correct
// unless v is exactly halfway between two float32s: a float32 midpoint M
// strictly between the decimal and v would be a float64 nearer the decimal
// than v, which cannot be. So the fast path only refuses exact midpoints,
// and the float32 subnormal and overflow ranges, to strconv.
func parseFloat32(tok []byte) (float32, error) {
	f, end, err := parseFloat32At(tok, 0)
	if err == nil && end != len(tok) {
		err = fmt.Errorf("%q is not a JSON number", tok)
	}
	return f, err
}

// parseFloat32At parses the number that starts at b[i], returning the index
// just past it. Parsing and finding the number's end in one walk is what
// makes the JSON form's decoding cheap.
func parseFloat32At(b []byte, i int) (float32, int, error) {
	start0 := i
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	var m uint64
	digits, exp := 0, 0
	start := i
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if digits < 19 {
			m = m*10 + uint64(b[i]-'0')
			if m != 0 {
				digits++
			}
		} else {
			exp++
		}
	}
	intDigits := i - start
	if intDigits == 0 || (intDigits > 1 && b[start] == '0') {
		return 0, 0, fmt.Errorf("%q is not a JSON number", b[start0:tokenEnd(b, i)])
	}
	if i < len(b) && b[i] == '.' {
		i++
		fstart := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if digits < 19 {
				m = m*10 + uint64(b[i]-'0')
				if m != 0 {
					digits++
				}
				exp--
			}
		}
		if i == fstart {
			return 0, 0, fmt.Errorf("%q is not a JSON number", b[start0:tokenEnd(b, i)])
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		estart, e := i, 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if e < 10000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if i == estart {
			return 0, 0, fmt.Errorf("%q is not a JSON number", b[start0:tokenEnd(b, i)])
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if end := tokenEnd(b, i); end != i {
		return 0, 0, fmt.Errorf("%q is not a JSON number", b[start0:end])
	}
	if digits < 19 && m < 1<<53 && exp >= -22 && exp <= 22 {
		v := float64(m)
		if exp < 0 {
			v /= pow10[-exp]
		} else {
			v *= pow10[exp]
		}
		const minNormal32, max32 = 0x1p-126, math.MaxFloat32
		if v == 0 || (v >= minNormal32 && v <= max32 && !midpoint32(v)) {
			if neg {
				v = -v
			}
			return float32(v), i, nil
		}
	}
	f, err := strconv.ParseFloat(string(b[start0:i]), 32)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not a float32", b[start0:i])
	}
	return float32(f), i, nil
}

// midpoint32 reports whether the normal float64 v lies exactly halfway
// between two float32s: its 53-bit significand ends in a one followed by
// 28 zeros (float32 keeps 24 bits, so bit 28 of the stored 52 is the first
// one dropped).
func midpoint32(v float64) bool {
	return math.Float64bits(v)&(1<<29-1) == 1<<28
}

// parseInt parses a JSON integer within [lo, hi].
func parseInt(tok []byte, lo, hi int64) (int64, error) {
	v, err := strconv.ParseInt(string(tok), 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%q is not an integer from %d to %d", tok, lo, hi)
	}
	return v, nil
}

// parseBool parses a JSON boolean as the 0 or 1 of an f32 mask (the ONNX
// importer makes bool inputs such masks).
func parseBool(tok []byte) (float32, error) {
	switch string(tok) {
	case "true":
		return 1, nil
	case "false":
		return 0, nil
	}
	return 0, fmt.Errorf("%q is not true or false", tok)
}
