package data

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"unsafe"
)

// float64pow10 holds the powers of ten exact in float64.
var float64pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// float64pow10neg[k] is 10^-k rounded to float64.
var float64pow10neg = [...]float64{1e-0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10,
	1e-11, 1e-12, 1e-13, 1e-14, 1e-15, 1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22}

// maxFastDigits is the most digits the fast paths accumulate (10^19 < 2^64).
const maxFastDigits = 19

// fastFloat32 returns ±m/10^frac correctly rounded to float32 when it can
// do so cheaply, else ok false (the caller then parses the text with
// strconv). A mantissa below 2^53 is exact as a float64, and 10^-frac
// (frac <= 22) is within half an ulp of its float64, so their product is
// within 2 ulps of m/10^frac. Rounded to float32 that is m/10^frac
// correctly rounded unless a float32 midpoint (a float64 whose 29 low
// mantissa bits are 1 followed by zeros) lies within those 2 ulps. Near
// one, a correctly rounded float64 division decides: the double rounding
// through it equals the direct rounding unless the quotient is itself the
// midpoint (a midpoint strictly between the exact value and its float64
// rounding would be a closer float64), and those go to strconv. One path
// for every mantissa: a branch between float32 and float64 arithmetic on
// m < 2^24 was one the CPU mispredicted on pixel data. The quotient lies
// in [1e-22, 2^63), inside float32's normal range.
//
// A mantissa in [2^53, 2^63) (16 to 19 digits: what Python's repr writes
// for a float32 value widened to float64, as the SageMaker SDK's JSON and
// CSV serializers send them) loses up to half an ulp converting to
// float64, so the product is within 3 ulps (relative error 3·2^-53, at
// most 3 ulps of d's binade; float32 midpoints are never near a power of
// two, where the binades meet): with no midpoint within 4 ulps it rounds
// like the exact value, and otherwise strconv decides.
func fastFloat32(m uint64, frac int, neg bool) (float32, bool) {
	if m >= 1<<63 || uint(frac) > 22 {
		return 0, false
	}
	d := float64(int64(m)) * float64pow10neg[frac]
	if m >= 1<<53 {
		if nearFloat32MidpointWithin(d, 4) {
			return 0, false
		}
	} else if nearFloat32Midpoint(d) {
		d = float64(int64(m)) / float64pow10[frac]
		if math.Float64bits(d)&(1<<29-1) == 1<<28 {
			return 0, false
		}
	}
	f := float32(d)
	if neg {
		f = -f
	}
	return f, true
}

// nearFloat32Midpoint reports whether d, a float64 within 2 ulps of some
// exact value, may round to a different float32 than that value does: a
// float32 midpoint (a float64 whose 29 low mantissa bits are 1 followed by
// zeros) lies within 2 ulps of d.
func nearFloat32Midpoint(d float64) bool {
	return (math.Float64bits(d)-(1<<28-2))&(1<<29-1) <= 4
}

// nearFloat32MidpointWithin is nearFloat32Midpoint for a d within ulps
// ulps of the exact value.
func nearFloat32MidpointWithin(d float64, ulps uint64) bool {
	return (math.Float64bits(d)-(1<<28-ulps))&(1<<29-1) <= 2*ulps
}

// parseFloat32 parses a decimal number (surrounding spaces already removed)
// as strconv.ParseFloat(s, 32) does, rejecting NaN, Inf, hexadecimal and
// underscores. It allocates nothing. The message says what is wrong.
func parseFloat32(b []byte) (float32, string) {
	// Fast path: [+-]digits[.digits] (either side may be empty, not both)
	// of at most maxFastDigits digits, rounded by fastFloat32.
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i++
	}
	i, m, nd := decimalDigits(b, i, 0)
	frac := 0
	if i < len(b) && b[i] == '.' {
		i, m, frac = decimalDigits(b, i+1, m)
		nd += frac
	}
	if i == len(b) && nd > 0 && nd <= maxFastDigits {
		if f, ok := fastFloat32(m, frac, neg); ok {
			return f, ""
		}
	}
	return parseFloat32Slow(b)
}

// decimalDigits reads the digits at b[i:] into m (m·10 + digit each; it
// wraps past maxFastDigits, which callers reject) and returns the position
// after them and how many there were.
func decimalDigits(b []byte, i int, m uint64) (int, uint64, int) {
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		m = m*10 + uint64(b[i]-'0')
		i++
	}
	return i, m, i - start
}

// scanFloat32 parses the JSON number at b[i:] when it has the common
// shape -?(0|[1-9][0-9]*)(.[0-9]+)? with at most maxFastDigits digits and
// fastFloat32 can round it, in one pass over the bytes: the value and the
// position after it. ok false (an exponent, a long or malformed number, a
// rare rounding case, not a number at all) leaves it to the general path.
func scanFloat32(b []byte, i int) (v float32, end int, ok bool) {
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	if i >= len(b) || b[i] < '0' || b[i] > '9' {
		return 0, 0, false
	}
	var m uint64
	nd, frac := 1, 0
	if b[i] == '0' { // JSON: no digit may follow a leading zero
		i++
	} else {
		i, m, nd = decimalDigits(b, i, 0)
	}
	if i < len(b) && b[i] == '.' {
		if i, m, frac = decimalDigits(b, i+1, m); frac == 0 {
			return 0, 0, false
		}
		nd += frac
	}
	if nd > maxFastDigits || (i < len(b) && (b[i] == 'e' || b[i] == 'E')) {
		return 0, 0, false
	}
	f, ok := fastFloat32(m, frac, neg)
	return f, i, ok
}

func parseFloat32Slow(b []byte) (float32, string) {
	if len(b) == 0 {
		return 0, "empty field is not a number"
	}
	if bytes.ContainsAny(b, "xX_") {
		return 0, strconv.Quote(string(b)) + " is not a number"
	}
	f, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 32)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, strconv.Quote(string(b)) + " is out of range for float32"
		}
		return 0, strconv.Quote(string(b)) + " is not a number"
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, strconv.Quote(string(b)) + " is not a finite number"
	}
	return float32(f), ""
}

// isSpace reports the characters trimmed around CSV fields.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float32) bool { return v-v == 0 }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
