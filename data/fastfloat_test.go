package data

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestFastFloat32MatchesStrconv checks the CSV, JSON and number fast paths
// against strconv.ParseFloat(s, 32) on random decimals of up to 19
// digits, on float32 values printed shortest, with 9 digits and as float64
// reprs (16-17 digits), on midpoints cut to 16-19 digits, and
// on exact float32 midpoints (the double-rounding hazard). csvRow sees
// each one inside a line, at the start, middle or end, after fields of
// varying width (so at every offset of its 8-byte words), with a sign,
// spaces or a \r line ending around it.
func TestFastFloat32MatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	fillers := []string{"0", "1", "0.5", "0.32941177", "0.011764706", "12.25", "0,0,0"}
	var bl builder
	var b Batch
	var line []byte
	checkRow := func(s string, want float32) {
		t.Helper()
		line = line[:0]
		n := 0
		for range rng.IntN(4) {
			f := fillers[rng.IntN(len(fillers))]
			line = append(line, f...)
			line = append(line, ',')
			n += 1 + strings.Count(f, ",")
		}
		at := n
		switch rng.IntN(8) {
		case 0:
			s = " " + s
		case 1:
			s += " "
		case 2:
			if s[0] != '-' {
				s = "+" + s
			}
		}
		line = append(line, s...)
		n++
		for range rng.IntN(3) {
			f := fillers[rng.IntN(len(fillers))]
			line = append(line, ',')
			line = append(line, f...)
			n += 1 + strings.Count(f, ",")
		}
		if rng.IntN(4) == 0 {
			line = append(line, '\r')
		}
		bl.reset(&b, n)
		if err := csvRow(&bl, line, 1, 0); err != nil || math.Float32bits(bl.dense[at]) != math.Float32bits(want) {
			t.Fatalf("csvRow(%q) = %v (%v), field %d strconv %v", line, bl.dense, err, at, want)
		}
	}
	check := func(s string) {
		t.Helper()
		want, err := strconv.ParseFloat(s, 32)
		if err != nil || math.IsInf(want, 0) {
			return
		}
		got, msg := parseFloat32([]byte(s))
		if msg != "" || math.Float32bits(got) != math.Float32bits(float32(want)) {
			t.Fatalf("parseFloat32(%q) = %v (%s), strconv %v", s, got, msg, float32(want))
		}
		// JSON's fast path, where s is a whole JSON number.
		if v, end, ok := scanFloat32([]byte(s), 0); ok && end == len(s) && math.Float32bits(v) != math.Float32bits(float32(want)) {
			t.Fatalf("scanFloat32(%q) = %v, strconv %v", s, v, float32(want))
		}
		v, next, msg := csvField([]byte(s+",1"), 0)
		if msg != "" || next != len(s)+1 || math.Float32bits(v) != math.Float32bits(float32(want)) {
			t.Fatalf("csvField(%q) = %v, %d (%s), strconv %v", s, v, next, msg, float32(want))
		}
		checkRow(s, float32(want))
	}
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		return b.String()
	}
	for range 200000 {
		ip, fp := digits(rng.IntN(10)), digits(rng.IntN(23))
		s := ip
		if fp != "" {
			s += "." + fp
		}
		if s == "" || s[0] == '.' {
			s = "0" + s
		}
		if rng.IntN(2) == 0 {
			s = "-" + s
		}
		check(s)
		f := math.Float32frombits(rng.Uint32() & 0x7f7fffff) // finite
		check(strconv.FormatFloat(float64(f), 'f', -1, 32))
		check(strconv.FormatFloat(float64(f), 'g', 9, 32))
		// As Python's repr writes f widened to float64 (the SDK's JSON
		// and CSV serializers): 16 to 17 digits, a mantissa of 2^53 or
		// more for many.
		check(strconv.FormatFloat(float64(f), 'g', -1, 64))
		// The midpoint between f and the next float32 up, exactly, and
		// with its last digits nudged.
		if f > 1e-20 && f < 1e15 {
			next := math.Nextafter32(f, float32(math.Inf(1)))
			mid := (float64(f) + float64(next)) / 2
			ms := strconv.FormatFloat(mid, 'f', -1, 64)
			check(ms)
			check(ms + "1")
			if len(ms) > 2 {
				check(ms[:len(ms)-1])
			}
			// Cut to the 13 fraction digits csvRow's fast path takes:
			// within a few float64 ulps of the midpoint; and rounded to
			// 6 to 9 digits, where that path skips the midpoint check
			// (at most 8) or makes it.
			if i := strings.IndexByte(ms, '.'); i >= 0 && len(ms) > i+14 {
				check(ms[:i+14])
				check(ms[:i+13])
			}
			for k := 6; k <= 9; k++ {
				check(strconv.FormatFloat(mid, 'f', k, 64))
			}
			// 16 to 19 significant digits: mantissas in [2^53, 2^63),
			// within a few ulps of the midpoint once converted.
			for k := 16; k <= 19; k++ {
				check(strconv.FormatFloat(mid, 'e', k-1, 64))
				check(strconv.FormatFloat(mid, 'f', k-1-int(math.Floor(math.Log10(mid))), 64))
			}
		}
		check(strconv.FormatFloat(rng.Float64(), 'f', rng.IntN(22), 64))
	}
	for _, s := range []string{"0", "-0", "0.003921569", "0.56078434", "16777217", "9007199254740993", "1234567890123456789", "0.0000000000000000000001", "0.00000000000000000000001"} {
		check(s)
	}
}

// BenchmarkDecodeCSVPixels decodes 100 rows of 784 pixels scaled /255 and
// printed shortest, as the benchmark's serving bodies are.
func BenchmarkDecodeCSVPixels(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for range 100 {
		for j := range 784 {
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(strconv.FormatFloat(float64(float32(rng.IntN(256))/255), 'f', -1, 32))
		}
		sb.WriteByte('\n')
	}
	body := []byte(sb.String())
	ct := MediaType{Type: CSV}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := DecodeRequest(ct, body, 784); err != nil {
			b.Fatal(err)
		}
	}
}

// fashionBody returns rows of 784 pixels shaped like the k-means server's
// Fashion-MNIST requests: k/255 printed as float32 shortest (mostly 7 to
// 9 fraction digits), about half the fields "0", and the zeros in runs
// (the background around each garment) rather than scattered.
func fashionBody(rows int) []byte {
	rng := rand.New(rand.NewPCG(3, 5))
	var b []byte
	for range rows {
		// A garment is a blob a little narrower than the image with a
		// ragged outline; its pixels are mostly nonzero.
		top, bottom := 1+rng.IntN(3), 25+rng.IntN(3)
		for y := range 28 {
			lo, hi := 4+rng.IntN(3), 22+rng.IntN(3)
			for x := range 28 {
				if y > 0 || x > 0 {
					b = append(b, ',')
				}
				k := 0
				if y >= top && y < bottom && x >= lo && x < hi && rng.IntN(10) != 0 {
					k = 1 + rng.IntN(255)
				}
				b = strconv.AppendFloat(b, float64(float32(k)/255), 'f', -1, 32)
			}
		}
		b = append(b, '\n')
	}
	return b
}

// BenchmarkDecodeCSVFashion decodes a 100-row request like the k-means
// server's Fashion-MNIST bodies (about 490 KB).
func BenchmarkDecodeCSVFashion(b *testing.B) {
	body := fashionBody(100)
	ct := MediaType{Type: CSV}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := DecodeRequest(ct, body, 784); err != nil {
			b.Fatal(err)
		}
	}
}
