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
	r := NewReader(w.B)
	n, f64, f32 := r.U64(), r.F64s(2), r.F32s(3)
	if err := r.Done(); err != nil || n != 7 || !slices.Equal(f64, []float64{1.5, -2}) || !slices.Equal(f32, []float32{3, 4, 5}) {
		t.Errorf("read %d %v %v, %v", n, f64, f32, err)
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
	if r.U64() != 0 {
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
}

// FuzzReader reads arbitrary bytes as a count and that many values: an
// error or the values, never a panic or an allocation beyond the input.
func FuzzReader(f *testing.F) {
	var w Writer
	w.U64(2)
	w.F64s([]float64{1, 2})
	f.Add(w.B)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		n := r.U64()
		xs := r.F64s(int(min(n, 1<<40)))
		if r.Done() == nil && uint64(len(xs)) != n {
			t.Errorf("count %d, read %d values", n, len(xs))
		}
	})
}
