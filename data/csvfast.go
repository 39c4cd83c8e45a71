package data

import (
	"encoding/binary"
	"math/bits"
)

// The CSV fast path reads a field eight bytes at a time (SWAR: SIMD within
// a register) instead of a byte at a time: the byte loop's exit, after a
// varying number of digits, is a branch the CPU mispredicts on most
// fields, and a request body is mostly such fields.

const (
	swarZeros = 0x3030303030303030 // '0' in every byte
	swarHigh  = 0x8080808080808080
	swarTen   = 0x7676767676767676 // 0x80-10: sets the high bit of bytes >= 10
	zeroPairs = 0x2c302c302c302c30 // "0,0,0,0,"
)

// uint64pow10[k] is 10^k for k < 16.
var uint64pow10 = [16]uint64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15}

// swarNonDigits returns the high bit of each byte of a (a text word XORed
// with swarZeros, so digits are 0..9) that is not a digit. Only the lowest
// set bit is exact: an add carries out of a byte >= 0x8a into the next,
// but never out of a digit, so the bytes up to the first non-digit are
// right.
func swarNonDigits(a uint64) uint64 { return ((a + swarTen) | a) & swarHigh }

// swarValue returns the number written by the digits (0..9 per byte, the
// first digit in the lowest byte) of a; zero low bytes read as leading
// zeros, so n digits belong in the top n bytes.
func swarValue(a uint64) uint64 { return swarValueMul(a, 10<<8+1) }

// swarPrefix returns the number written by the first n (1..8) digits of
// a: swarValue(a << (64-8n)), in one step fewer. Multiplication mod 2^64
// turns the shift into a shifted multiplier, under which the bytes past
// the nth carry out of the word whatever they hold.
func swarPrefix(a uint64, n uint) uint64 { return swarValueMul(a, swarFirst[n&15]) }

// swarFirst[n] is swarValue's first multiplier shifted by 64-8n bits.
var swarFirst = func() (t [16]uint64) {
	for n := 1; n <= 8; n++ {
		t[n] = (10<<8 + 1) << (64 - 8*n)
	}
	return t
}()

// swarValueMul is swarValue with its first multiplier m: pairs of digits,
// then fours, then the eight, each by a multiply that adds each lane,
// scaled, to the next.
func swarValueMul(a, m uint64) uint64 {
	a = (a * m) >> 8 & 0x00ff00ff00ff00ff
	a = (a * (100<<16 + 1)) >> 16 & 0x0000ffff0000ffff
	return (a * (10000<<32 + 1)) >> 32
}

// csvFill parses len(dst) comma-terminated fields from line[p:] into dst
// and returns the position after the last one's comma (len(line)+1 when
// it ended the line). ok false means a field, or the column count, is
// wrong, or may be: the caller then redoes the row the slow way, which
// finds the error.
func csvFill(dst []float32, line []byte, p int) (int, bool) {
	i := 0
	for i < len(dst) {
		if p > len(line) {
			return p, false // the line ended early
		}
		n, left := csvFillFast(dst[i:], line[p:])
		i += n
		p = len(line) - left
		if i == len(dst) {
			break
		}
		v, next, msg := csvField(line, p)
		if msg != "" {
			return p, false
		}
		dst[i] = v
		i++
		p = next
	}
	return p, true
}

// csvFillFast parses the fields of shapes d, and d.ddd, (one integer digit:
// pixels /255 and most model inputs) from w into out, and returns how many
// it parsed and how many bytes of w are left, at the first other field or
// near the end of w (it loads 18 bytes at a time). It calls nothing, so
// that its loop state stays in registers.
func csvFillFast(out []float32, w []byte) (int, int) {
	// len(w) >= 18 in the loop, so loads at constant offsets need no
	// bounds checks.
	j := uint(0)
	for j < uint(len(out)) && len(w) >= 18 {
		w0 := binary.LittleEndian.Uint64(w)
		a0 := w0 ^ swarZeros
		// d.ddd, first: most iterations are these (a run of zeros takes
		// one iteration per four). x is d when w starts with "d.".
		if x := a0&0xffff ^ ('.'^'0')<<8; x <= 9 {
			// The fraction: k digits from w[2], then the comma. Most
			// have 6 to 13 digits, with the comma in c; a shorter one
			// has a non-digit among a's first six bytes.
			a := binary.LittleEndian.Uint64(w[2:]) ^ swarZeros
			c := binary.LittleEndian.Uint64(w[8:]) ^ swarZeros
			k := 6 + uint(bits.TrailingZeros64(swarNonDigits(c)))>>3
			if f := swarNonDigits(a) & 0x808080808080; f != 0 {
				k = uint(bits.TrailingZeros64(f)) >> 3
			}
			if k == 0 || k > 13 || w[2+k] != ',' {
				break
			}
			// m = x*10^k + fraction < 10^14 < 2^53 is exact as a
			// float64, and 10^-k is within half an ulp, so the product
			// is within 2 ulps of m/10^k: rounded to float32, it is
			// m/10^k correctly rounded unless a float32 midpoint lies
			// within those 2 ulps. (A multiply, not a divide: the
			// divide was a fifth of the time here.)
			if k <= 8 {
				// None does: m/10^k < 10 lies in some [2^e, 2^(e+1)),
				// e <= 3, where the midpoints are odd multiples of
				// 2^(e-24); m/10^k is none of them (that takes 21 or
				// more fraction digits), so it differs from each by at
				// least 2^(e-24)/10^k > 2^(e-51), 2 ulps, as 10^8 < 2^27.
				m := x*uint64pow10[k] + swarPrefix(a, k)
				out[j] = float32(float64(int64(m)) * float64pow10neg[k])
				j++
				w = w[3+k:]
				continue
			}
			b := binary.LittleEndian.Uint64(w[10:]) ^ swarZeros
			m := x*uint64pow10[k] + swarValue(a)*uint64pow10[k-8] + swarPrefix(b, k-8)
			d := float64(int64(m)) * float64pow10neg[k]
			// A float32 midpoint within 2 ulps: csvField decides.
			if nearFloat32Midpoint(d) {
				break
			}
			out[j] = float32(d)
			j++
			w = w[3+k:]
			continue
		}
		// Runs of "0," (half of a pixel body), four at a time, then the
		// one to three left at the end of a run. Branches for the fours,
		// not a count of the zeros: a predicted branch leaves w a constant
		// step from its last value, where a count makes the step wait for
		// the load and the count; but one count per run beats a branch
		// per leftover zero, whose number the CPU cannot predict.
		if j+4 <= uint(len(out)) {
			if w0 == zeroPairs {
				*(*[4]float32)(out[j : j+4]) = [4]float32{}
				j += 4
				w = w[8:]
				continue
			}
			if n := uint(bits.TrailingZeros64(w0^zeroPairs)) >> 4; n > 0 {
				*(*[4]float32)(out[j : j+4]) = [4]float32{}
				j += n
				w = w[2*n:]
				continue
			}
		}
		// d, (zeros and ones, mostly).
		if x := a0&0xffff ^ (','^'0')<<8; x <= 9 {
			out[j] = float32(x)
			j++
			w = w[2:]
			continue
		}
		break
	}
	return int(j), len(w)
}
