package data

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestFastFloat32MatchesStrconv checks the CSV and number fast paths
// against strconv.ParseFloat(s, 32) on random decimals of up to 19
// digits, on float32 values printed shortest and with 9 or 17 digits, and
// on exact float32 midpoints (the double-rounding hazard).
func TestFastFloat32MatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
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
		v, next, msg := csvField([]byte(s+",1"), 0)
		if msg != "" || next != len(s)+1 || math.Float32bits(v) != math.Float32bits(float32(want)) {
			t.Fatalf("csvField(%q) = %v, %d (%s), strconv %v", s, v, next, msg, float32(want))
		}
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
