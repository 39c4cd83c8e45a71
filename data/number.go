package data

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"unsafe"
)

// float32pow10 holds the powers of ten exact in float32.
var float32pow10 = [...]float32{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// parseFloat32 parses a decimal number (surrounding spaces already removed)
// as strconv.ParseFloat(s, 32) does, rejecting NaN, Inf, hexadecimal and
// underscores. It allocates nothing. The message says what is wrong.
func parseFloat32(b []byte) (float32, string) {
	// Fast path: [+-]digits[.digits] with a mantissa below 2^24 and at most
	// 10 fraction digits is exact as float32(m)/10^k, one correctly rounded
	// division (strconv's atof32exact).
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i++
	}
	var m uint32
	nd, frac, dot := 0, 0, false
	for ; i < len(b); i++ {
		c := b[i]
		if c >= '0' && c <= '9' {
			m = m*10 + uint32(c-'0')
			nd++
			if dot {
				frac++
			}
			if m >= 1<<24 || frac > 10 {
				break
			}
			continue
		}
		if c == '.' && !dot {
			dot = true
			continue
		}
		break
	}
	if i == len(b) && nd > 0 {
		f := float32(m) / float32pow10[frac]
		if neg {
			f = -f
		}
		return f, ""
	}
	return parseFloat32Slow(b)
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
