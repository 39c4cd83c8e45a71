package recordio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/iotest"
)

// encode writes payloads with Writer, which splits them at aligned magics.
func encode(t testing.TB, payloads ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, p := range payloads {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// joined is what Payloads should yield for payloads.
func joined(payloads [][]byte, endLine bool) []byte {
	var out []byte
	for _, p := range payloads {
		out = append(out, p...)
		if endLine && len(p) > 0 && p[len(p)-1] != '\n' {
			out = append(out, '\n')
		}
	}
	return out
}

// reassemble reads in with Reader, without its size limit, and joins the
// records as Payloads does; err is Reader's, nil at a clean end.
func reassemble(in []byte, endLine bool) ([]byte, error) {
	r := NewReader(bytes.NewReader(in))
	r.MaxRecordSize = math.MaxInt
	recs, err := r.ReadAll()
	return joined(recs, endLine), err
}

// readWith reads r to the end with a buffer of size bytes; err is nil at
// io.EOF.
func readWith(r io.Reader, size int) ([]byte, error) {
	var out []byte
	buf := make([]byte, size)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// testPayloads are records of many shapes: empty, short, unaligned, with
// and without a final newline, and split at aligned magics, at the start,
// the end, twice in a row.
func testPayloads() [][]byte {
	m := magicBytes()
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 200_003)
	for i := range big {
		big[i] = byte(rng.IntN(256))
	}
	for _, at := range []int{0, 4096, 65536, 100_000, 199_996} {
		copy(big[at:], m)
	}
	return [][]byte{
		nil,
		[]byte("a"),
		[]byte("1,2,3\n4,5,6\n"),
		[]byte("1,2,3\n4,5,6"),
		nil,
		m,
		cat(m, m),
		cat(m, []byte("x,y\n")),
		cat([]byte("abcd"), m),
		cat([]byte("abcd"), m, m, []byte("ef")),
		cat([]byte("ab"), m, []byte("cd")), // unaligned: not split
		cat([]byte("line\n"), []byte{0, 0, 0}, m, []byte("\n")),
		[]byte("\n"),
		big,
		bytes.Repeat([]byte("0.5,1.25,3\n"), 10_000),
	}
}

func TestPayloads(t *testing.T) {
	payloads := testPayloads()
	in := encode(t, payloads...)
	for _, endLine := range []bool{false, true} {
		want := joined(payloads, endLine)
		if got, err := reassemble(in, endLine); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Reader: %d bytes, %v; want %d bytes", len(got), err, len(want))
		}
		readers := []struct {
			name string
			read func() ([]byte, error)
		}{
			{"ReadAll", func() ([]byte, error) { return io.ReadAll(NewPayloads(bytes.NewReader(in), endLine)) }},
			{"1-byte reads", func() ([]byte, error) { return readWith(NewPayloads(bytes.NewReader(in), endLine), 1) }},
			{"3-byte reads", func() ([]byte, error) { return readWith(NewPayloads(bytes.NewReader(in), endLine), 3) }},
			{"5-byte reads", func() ([]byte, error) { return readWith(NewPayloads(bytes.NewReader(in), endLine), 5) }},
			{"1 MiB reads", func() ([]byte, error) { return readWith(NewPayloads(bytes.NewReader(in), endLine), 1<<20) }},
			{"OneByteReader out", func() ([]byte, error) {
				return io.ReadAll(iotest.OneByteReader(NewPayloads(bytes.NewReader(in), endLine)))
			}},
			{"OneByteReader in", func() ([]byte, error) {
				return readWith(NewPayloads(iotest.OneByteReader(bytes.NewReader(in)), endLine), 1<<20)
			}},
			{"DataErrReader in", func() ([]byte, error) {
				return readWith(NewPayloads(iotest.DataErrReader(iotest.HalfReader(bytes.NewReader(in))), endLine), 1<<17)
			}},
		}
		for _, rd := range readers {
			t.Run(fmt.Sprintf("%s endLine=%v", rd.name, endLine), func(t *testing.T) {
				got, err := rd.read()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("got %d bytes, want %d (first difference at %d)", len(got), len(want), firstDiff(got, want))
				}
			})
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestPayloadsEmpty(t *testing.T) {
	for _, in := range [][]byte{nil, encode(t, nil, nil, nil)} {
		p := NewPayloads(bytes.NewReader(in), true)
		for range 2 {
			if n, err := p.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				t.Errorf("%d bytes of input: Read = %d, %v; want 0, EOF", len(in), n, err)
			}
		}
	}
}

// TestPayloadsErrorsAsReader checks that malformed input fails as Reader
// fails: the same *ParseError, wherever the input is cut and however it
// fails, and that the error sticks.
func TestPayloadsErrorsAsReader(t *testing.T) {
	m := magicBytes()
	hdr := func(flag, n uint32) []byte {
		return binary.LittleEndian.AppendUint32(append([]byte{}, m...), flag<<29|n)
	}
	good := append(hdr(0, 4), 1, 2, 3, 4)
	malformed := map[string][]byte{
		"bad magic first":    {1, 2, 3, 4, 0, 0, 0, 0},
		"bad magic second":   append(append([]byte{}, good...), 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0),
		"bad magic in split": append(append(hdr(1, 4), 1, 2, 3, 4), 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0),
		"middle first":       hdr(2, 0),
		"whole after first":  append(hdr(1, 0), hdr(0, 0)...),
		"first after first":  append(append(append([]byte{}, good...), hdr(1, 0)...), hdr(1, 0)...),
		"flag 5":             hdr(5, 0),
		"unterminated split": append(hdr(1, 4), 1, 2, 3, 4),
		"huge length":        append(hdr(0, 1<<29-1), 1, 2, 3),
	}
	// Every cut of valid input, inside a split record too.
	valid := encode(t, []byte("abc"), append([]byte("wxyz"), append(m, "12345"...)...), nil, []byte("q\n"))
	for cut := range len(valid) {
		malformed[fmt.Sprintf("cut at %d", cut)] = valid[:cut]
	}
	ioErr := errors.New("disk on fire")
	for name, in := range malformed {
		for _, endLine := range []bool{false, true} {
			want, wantErr := reassemble(in, endLine)
			got, err := readWith(NewPayloads(iotest.OneByteReader(bytes.NewReader(in)), endLine), 2)
			var pe *ParseError
			switch {
			case wantErr == nil: // a cut at a record boundary
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: got %q, %v; want %q", name, got, err, want)
				}
			case !errors.As(err, &pe) || err.Error() != wantErr.Error() || !sameSentinel(err, wantErr):
				t.Errorf("%s: got %v, want %v", name, err, wantErr)
			case !bytes.HasPrefix(got, want):
				t.Errorf("%s: yielded %q, want a prefix %q", name, got, want)
			}
			// An I/O error where the input ends is Reader's too.
			r := NewReader(io.MultiReader(bytes.NewReader(in), iotest.ErrReader(ioErr)))
			r.MaxRecordSize = math.MaxInt
			_, wantErr = r.ReadAll()
			p := NewPayloads(io.MultiReader(bytes.NewReader(in), iotest.ErrReader(ioErr)), endLine)
			_, err = io.ReadAll(p)
			if !errors.As(err, &pe) || err.Error() != wantErr.Error() || !sameSentinel(err, wantErr) {
				t.Errorf("%s then an I/O error: got %v, want %v", name, err, wantErr)
			}
			if n, err2 := p.Read(make([]byte, 8)); n != 0 || err2 != err {
				t.Errorf("%s: error not sticky: %v then %d, %v", name, err, n, err2)
			}
		}
	}
}

// sameSentinel reports whether a and b wrap the same of the package's
// errors, or neither does.
func sameSentinel(a, b error) bool {
	for _, e := range []error{ErrBadMagic, ErrTruncated, ErrTooLarge, ErrContinuation} {
		if errors.Is(a, e) != errors.Is(b, e) {
			return false
		}
	}
	return true
}

// csvBytes returns n bytes of CSV rows of 3 columns.
func csvBytes(n int) []byte {
	var rows []byte
	for i := range 1000 {
		rows = fmt.Appendf(rows, "%d,%d.5,%d\n", i%2, i, i*i)
	}
	return bytes.Repeat(rows, n/len(rows)+1)[:n]
}

// TestPayloadsLargerThanReaderLimit streams a record Reader refuses, in
// little memory.
func TestPayloadsLargerThanReaderLimit(t *testing.T) {
	obj := csvBytes(DefaultMaxRecordSize + 1<<20 + 3)
	in := encode(t, obj, []byte("1,2,3"))
	if _, err := NewReader(bytes.NewReader(in)).Read(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Reader: %v, want ErrTooLarge", err)
	}
	want := joined([][]byte{obj, []byte("1,2,3")}, true)
	cmp := &compareWriter{want: want}
	buf := make([]byte, 1<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := io.CopyBuffer(cmp, NewPayloads(bytes.NewReader(in), true), buf)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(want)) || cmp.err != nil {
		t.Fatalf("copied %d bytes, want %d; %v", n, len(want), cmp.err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 4<<20 {
		t.Errorf("allocated %d bytes to stream a %d-byte record", alloc, len(obj))
	}
	t.Logf("allocated %d bytes to stream a %d-byte record", alloc, len(obj))
}

// compareWriter checks what is written against want.
type compareWriter struct {
	want []byte
	off  int
	err  error
}

func (c *compareWriter) Write(p []byte) (int, error) {
	if c.err == nil && !bytes.HasPrefix(c.want[c.off:], p) {
		c.err = fmt.Errorf("differs within bytes %d to %d", c.off, c.off+len(p))
	}
	c.off += len(p)
	return len(p), nil
}

func FuzzPayloads(f *testing.F) {
	for _, name := range []string{"dense_f32_labeled.rec", "sparse_f32_labeled.rec"} {
		b, err := os.ReadFile(filepath.Join(sdkDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false, uint16(100))
	}
	f.Add(encode(f, testPayloads()[:13]...), true, uint16(0))
	f.Add(encode(f, []byte("a,b"), nil, []byte("c\n")), true, uint16(2))
	f.Add(append(magicBytes(), 0, 0, 0, 0x20), false, uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, endLine bool, size uint16) {
		want, wantErr := reassemble(in, endLine)
		got, err := readWith(NewPayloads(bytes.NewReader(in), endLine), int(size)%4096+1)
		if wantErr == nil {
			if err != nil {
				t.Fatalf("Reader accepts the input, Payloads fails: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			return
		}
		if err == nil {
			t.Fatalf("Reader fails (%v), Payloads does not", wantErr)
		}
		if err.Error() != wantErr.Error() {
			t.Fatalf("got %v, want %v", err, wantErr)
		}
		if !bytes.HasPrefix(got, want) {
			t.Fatalf("yielded %q before failing, want a prefix %q", got, want)
		}
	})
}
