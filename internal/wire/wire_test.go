package wire

import (
	"slices"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var w Writer
	w.U64(7)
	w.F64s([]float64{1.5, -2})
	w.F32s([]float32{3, 4, 5})
	w.I32s([]int32{-1, 1 << 30})
	r := NewReader(w.B)
	n, f64, f32, i32 := r.U64(), r.F64s(2), r.F32s(3), r.I32s(2)
	if err := r.Done(); err != nil || n != 7 || !slices.Equal(f64, []float64{1.5, -2}) || !slices.Equal(f32, []float32{3, 4, 5}) ||
		!slices.Equal(i32, []int32{-1, 1 << 30}) {
		t.Errorf("read %d %v %v %v, %v", n, f64, f32, i32, err)
	}
}

func TestShortAndLeftOver(t *testing.T) {
	var w Writer
	w.U64(1)
	w.F32s([]float32{1})
	r := NewReader(w.B)
	r.U64()
	if got := r.F64s(1); got != nil || r.Done() == nil {
		t.Errorf("a read past the end gave %v and no error", got)
	}
	if r.U64() != 0 || r.I32s(1) != nil || r.F32s(1) != nil {
		t.Errorf("a read after an error returned a value")
	}
	r = NewReader(w.B)
	r.U64()
	if r.Done() == nil {
		t.Errorf("4 bytes left over: no error")
	}
	r = NewReader(w.B)
	if got := r.F32s(1 << 60); got != nil || r.Err() == nil {
		t.Errorf("a huge count was not refused")
	}
	// A count read from a corrupt part can be negative once converted to
	// int: F32s made a slice of it and panicked (FuzzDecodeParts in pca).
	for _, n := range []int{-1, -1 << 62} {
		r = NewReader(w.B)
		if got := r.F32s(n); got != nil || r.Err() == nil {
			t.Errorf("F32s(%d) gave %v and no error", n, got)
		}
		r = NewReader(w.B)
		if got := r.F64s(n); got != nil || r.Err() == nil {
			t.Errorf("F64s(%d) gave %v and no error", n, got)
		}
		r = NewReader(w.B)
		if got := r.I32s(n); got != nil || r.Err() == nil {
			t.Errorf("I32s(%d) gave %v and no error", n, got)
		}
	}
}

// TestCount: a count beyond int64 is an error, not a negative number that
// a sum of hosts' counts would carry.
func TestCount(t *testing.T) {
	var w Writer
	w.U64(1 << 62)
	w.U64(1 << 63)
	r := NewReader(w.B)
	if n := r.Count(); n != 1<<62 || r.Err() != nil {
		t.Errorf("Count() = %d, %v; want 2^62", n, r.Err())
	}
	if n := r.Count(); n != 0 || r.Err() == nil {
		t.Errorf("a count of 2^63 gave %d and no error", n)
	}
}

// FuzzReader reads arbitrary bytes as a count and that many values, as
// F64s, F32s or I32s, the count converted to int as the decoders do (so it may be
// negative): an error or the values, never a panic or an allocation beyond
// the input.
func FuzzReader(f *testing.F) {
	var w Writer
	w.U64(2)
	w.F64s([]float64{1, 2})
	f.Add(w.B)
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		n := r.U64()
		xs := r.F64s(int(n))
		if r.Done() == nil && uint64(len(xs)) != n {
			t.Errorf("count %d, read %d float64s", n, len(xs))
		}
		r = NewReader(b)
		n = r.U64()
		ys := r.F32s(int(n))
		if r.Done() == nil && uint64(len(ys)) != n {
			t.Errorf("count %d, read %d float32s", n, len(ys))
		}
		r = NewReader(b)
		n = r.U64()
		zs := r.I32s(int(n))
		if r.Done() == nil && uint64(len(zs)) != n {
			t.Errorf("count %d, read %d int32s", n, len(zs))
		}
	})
}
