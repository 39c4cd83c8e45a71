package algorithms

import (
	"math"
	"testing"
)

func TestFinite(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, tc := range []struct {
		xs   [][]float32
		want bool
	}{
		{nil, true},
		{[][]float32{{0, -1, 3e38}, {}}, true},
		{[][]float32{{0, 1}, {2, inf}}, false},
		{[][]float32{{-inf}}, false},
		{[][]float32{{1, nan}}, false},
	} {
		if got := Finite(tc.xs...); got != tc.want {
			t.Errorf("Finite(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}

// TestFiniteFloat64: the same for float64, as PCA's decompositions use it.
func TestFiniteFloat64(t *testing.T) {
	if !Finite([]float64{1e300, -1}, nil) || Finite([]float64{1}, []float64{math.Inf(-1)}) || Finite([]float64{math.NaN()}) {
		t.Error("Finite on float64 slices")
	}
}
