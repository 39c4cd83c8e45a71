package compute_test

import (
	"slices"
	"testing"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// TestRowRange: a view of rows lo..hi-1 of a strided matrix sees exactly
// those rows, shares their storage and holds nothing past the last.
func TestRowRange(t *testing.T) {
	m := compute.Matrix{Rows: 4, Cols: 2, Stride: 3, Data: []float32{0, 1, -1, 2, 3, -1, 4, 5, -1, 6, 7}}
	v := m.RowRange(1, 3)
	if v.Rows != 2 || v.Cols != 2 || v.Stride != 3 || !slices.Equal(v.Data, []float32{2, 3, -1, 4, 5}) {
		t.Fatalf("RowRange(1, 3) = %+v", v)
	}
	v.Row(1)[0] = 40
	if m.Row(2)[0] != 40 {
		t.Error("the view does not share the matrix's storage")
	}
	if e := m.RowRange(2, 2); e.Rows != 0 || e.Cols != 2 || len(e.Data) != 0 {
		t.Errorf("RowRange(2, 2) = %+v, want an empty 0×2 view", e)
	}
	if last := m.RowRange(3, 4); !slices.Equal(last.Data, []float32{6, 7}) {
		t.Errorf("RowRange(3, 4).Data = %v", last.Data)
	}
}
