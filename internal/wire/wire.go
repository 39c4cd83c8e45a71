// Package wire lays out the numbers the hosts of a multi-host job send each
// other (cluster.Exchange parts): little-endian fixed-width values appended
// to a byte slice, and a reader that checks every length, so that a short
// or corrupt part is an error and never a panic or a huge allocation.
package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Writer appends values to B.
type Writer struct{ B []byte }

// U64 appends v.
func (w *Writer) U64(v uint64) { w.B = binary.LittleEndian.AppendUint64(w.B, v) }

// F64s appends xs.
func (w *Writer) F64s(xs []float64) {
	for _, v := range xs {
		w.B = binary.LittleEndian.AppendUint64(w.B, math.Float64bits(v))
	}
}

// F32s appends xs.
func (w *Writer) F32s(xs []float32) {
	for _, v := range xs {
		w.B = binary.LittleEndian.AppendUint32(w.B, math.Float32bits(v))
	}
}

// I32s appends xs.
func (w *Writer) I32s(xs []int32) {
	for _, v := range xs {
		w.B = binary.LittleEndian.AppendUint32(w.B, uint32(v))
	}
}

// Reader reads what Writer wrote. The first read past the end records an
// error and every later read returns zero values, so a caller reads a whole
// layout and checks once (Done).
type Reader struct {
	b   []byte
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first error, if any.
func (r *Reader) Err() error { return r.err }

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%d bytes left where %d were expected", len(r.b), n)
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

// Len is the number of bytes not read yet.
func (r *Reader) Len() int { return len(r.b) }

// U64 reads one value (0 after an error).
func (r *Reader) U64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// Count reads one value as a count of rows or records: beyond int64 (only a
// corrupt part holds one) it is the error, so a sum of counts cannot turn
// negative. 0 after an error.
func (r *Reader) Count() int64 {
	v := r.U64()
	if v > math.MaxInt64 && r.err == nil {
		r.err = fmt.Errorf("a count of %d is beyond int64", v)
		return 0
	}
	return int64(v)
}

// F64s reads n values; nil after an error (or when n is negative or too
// large for what is left, which is the error).
func (r *Reader) F64s(n int) []float64 {
	if n < 0 || n > len(r.b)/8 {
		r.take(-1)
		return nil
	}
	b := r.take(8 * n)
	if b == nil {
		return nil
	}
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return xs
}

// F32s reads n values, as F64s.
func (r *Reader) F32s(n int) []float32 {
	if n < 0 || n > len(r.b)/4 {
		r.take(-1)
		return nil
	}
	xs := make([]float32, n)
	r.F32sTo(xs)
	if r.err != nil {
		return nil
	}
	return xs
}

// I32s reads n values, as F64s.
func (r *Reader) I32s(n int) []int32 {
	if n < 0 || n > len(r.b)/4 {
		r.take(-1)
		return nil
	}
	b := r.take(4 * n)
	if b == nil {
		return nil
	}
	xs := make([]int32, n)
	for i := range xs {
		xs[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return xs
}

// F32sTo reads len(dst) values into dst (left as it was after an error):
// for a caller that reuses its buffer round after round.
func (r *Reader) F32sTo(dst []float32) {
	if len(dst) > len(r.b)/4 {
		r.take(-1)
		return
	}
	b := r.take(4 * len(dst))
	if b == nil {
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

// Done reports the first error, or bytes left over after the layout.
func (r *Reader) Done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes left over", len(r.b))
	}
	return r.err
}
