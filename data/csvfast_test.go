package data

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// csvRowPair parses line with csvRow and with csvRowSlow (the column count
// first, then csvField per field: the reference) into builders holding one
// earlier row, and fails unless both give the same error, or the same
// labels and features bit for bit, and both undo a failed row.
func csvRowPair(t testing.TB, line []byte, cols, labelSize int) ([]float32, error) {
	t.Helper()
	var bf, bs builder
	var fb, sb Batch
	bf.reset(&fb, cols)
	bs.reset(&sb, cols)
	for _, bl := range []*builder{&bf, &bs} {
		bl.denseRow()
		bl.labels = append(bl.labels, make([]float32, labelSize)...)
	}
	errF := csvRow(&bf, line, 7, labelSize)
	ref := line
	if len(ref) > 0 && ref[len(ref)-1] == '\r' {
		ref = ref[:len(ref)-1]
	}
	errS := csvRowSlow(&bs, ref, 7, labelSize)
	if !reflect.DeepEqual(errF, errS) {
		t.Fatalf("csvRow(%q, %d+%d) = %v, reference %v", line, labelSize, cols, errF, errS)
	}
	if fb.Rows != sb.Rows || !sameBits(bf.dense, bs.dense) || !sameBits(bf.labels, bs.labels) {
		t.Fatalf("csvRow(%q, %d+%d): %d rows %v labels %v, reference %d rows %v labels %v",
			line, labelSize, cols, fb.Rows, bf.dense, bf.labels, sb.Rows, bs.dense, bs.labels)
	}
	if errF != nil {
		if fb.Rows != 1 || len(bf.dense) != cols || len(bf.labels) != labelSize {
			t.Fatalf("csvRow(%q) failed (%v) but left %d rows", line, errF, fb.Rows)
		}
		return nil, errF
	}
	return append(bf.labels[labelSize:], bf.dense[cols:]...), nil
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// csvTestField returns a random field, mostly of the shapes the fast path
// takes (d, and d.ddd, with fractions around its 8-byte words), else
// anything csvField sees: signs, spaces, exponents, several integer
// digits, empty fields, junk.
func csvTestField(rng *rand.Rand) string {
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		return b.String()
	}
	switch rng.IntN(12) {
	case 0, 1, 2:
		return digits(1)
	case 3, 4, 5, 6:
		return digits(1) + "." + digits(rng.IntN(18))
	case 7:
		return digits(rng.IntN(4)) + "." + digits(rng.IntN(18))
	case 8:
		return []string{"-", "+", " ", "  "}[rng.IntN(4)] + csvTestField(rng)
	case 9:
		return csvTestField(rng) + []string{" ", "\r", "\t", "e3", "e-40", "."}[rng.IntN(6)]
	case 10:
		return digits(rng.IntN(25))
	}
	return []string{"", "0x1p3", "nan", "1_0", "-inf", "abc", "0.5.5", "\xff", "1e39", ",", "0.,"}[rng.IntN(11)]
}

// TestCSVRowMatchesSlow checks csvRow against the reference on random
// rows: values, errors (a wrong column count takes precedence over a bad
// field, as before), and undoing failed rows.
func TestCSVRowMatchesSlow(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	for range 100000 {
		n := 1 + rng.IntN(12)
		fields := make([]string, n)
		for i := range fields {
			fields[i] = csvTestField(rng)
		}
		line := strings.Join(fields, ",")
		if rng.IntN(4) == 0 {
			line += "\r"
		}
		ls := rng.IntN(3)
		cols := max(n-ls, 1)
		if rng.IntN(8) == 0 {
			cols += rng.IntN(3) - 1
		}
		csvRowPair(t, []byte(line), max(cols, 1), ls)
	}
}

// TestCSVRowLongLines covers rows of many fields in zero runs of every
// length and phase, pixel values, and a few fields the fast path leaves to
// csvField, against the reference.
func TestCSVRowLongLines(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 1))
	pixel := func() string {
		if rng.IntN(2) == 0 {
			return "0"
		}
		return string(bytes.TrimRight([]byte(csvTestField(rng)), "\r"))
	}
	for range 3000 {
		n := 1 + rng.IntN(100)
		fields := make([]string, n)
		run := 0
		for i := range fields {
			if run == 0 && rng.IntN(3) == 0 {
				run = rng.IntN(12)
			}
			if run > 0 {
				fields[i], run = "0", run-1
			} else {
				fields[i] = pixel()
			}
		}
		ls := rng.IntN(3)
		csvRowPair(t, []byte(strings.Join(fields, ",")), max(n-ls, 1), ls)
	}
}

// FuzzFastCSVRow checks csvRow against the reference on any line.
func FuzzFastCSVRow(f *testing.F) {
	f.Add([]byte("0,0,0,0,0,0,0,0,0.011764706,0.003921569,0,0.105882354,0.32941177,0,1"), uint8(15), uint8(0))
	f.Add([]byte("7,0.5,0,0,0,0,0,0,0.99999994,0.1,0,0.0000000001,0.12345678901234,0,0,1\r"), uint8(15), uint8(1))
	f.Add([]byte("0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 ,0.5e1,-0.25,+1,16.0"), uint8(26), uint8(2))
	f.Fuzz(func(t *testing.T, line []byte, cols, labelSize uint8) {
		if bytes.IndexByte(line, '\n') >= 0 || len(line) > 1<<12 {
			return
		}
		ls := int(labelSize % 3)
		c := int(cols%64) + 1
		if cols >= 128 {
			c = max(bytes.Count(line, comma)+1-ls, 1) // mostly the right count
		}
		csvRowPair(t, line, c, ls)
	})
}

// TestCSVFillFastTakesPixelRows checks that the fast path, not csvField,
// parses the rows the benchmarks time, up to the last 18 bytes of a line:
// a fallback is correct, so no other test would notice it slowing down.
func TestCSVFillFastTakesPixelRows(t *testing.T) {
	rows, _ := fashionLike(3)
	bodies := [][]byte{fashionBody(3), fashionCSV(rows, nil)}
	var pixels []byte
	for k := range 256 {
		pixels = strconv.AppendFloat(pixels, float64(float32(k)/255), 'f', -1, 32)
		pixels = append(pixels, ',')
	}
	bodies = append(bodies, append(pixels, "0\n"...))
	for _, body := range bodies {
		for _, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			dst := make([]float32, bytes.Count(line, comma)+1)
			n, left := csvFillFast(dst, line)
			if left >= 18 || n != bytes.Count(line[:len(line)-left], comma) {
				t.Errorf("csvFillFast(%.40q...) stopped at field %d, %d bytes from the end", line, n, left)
			}
			if p, ok := csvFill(dst, line, 0); !ok || p != len(line)+1 {
				t.Errorf("csvFill(%.40q...) = %d, %v", line, p, ok)
			}
		}
	}
}
