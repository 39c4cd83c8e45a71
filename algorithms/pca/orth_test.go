package pca

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestOrthonormalize checks both ways orthonormalize can go: Cholesky QR
// for well-conditioned y, the SVD for rank-deficient y. Either way the
// result has orthonormal columns that span y's columns.
func TestOrthonormalize(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name   string
		d, l   int
		scales []float64 // column j scaled by scales[j % len]; 0 makes y rank-deficient
		chol   bool      // cholQR2 takes it
	}{
		{"gaussian", 2000, 20, []float64{1}, true},
		{"graded 1 to 1e-4", 500, 8, []float64{1, 1e-1, 1e-2, 1e-3, 1e-4}, true},
		{"graded 1 to 1e-7", 500, 8, []float64{1, 1e-7}, false},
		{"zero column", 300, 6, []float64{1, 1, 0}, false},
		{"square", 12, 12, []float64{1}, false},
		{"four times as tall as wide", 48, 12, []float64{1}, true},
	} {
		y := mat.NewDense(tc.d, tc.l, nil)
		for i := range tc.d {
			for j := range tc.l {
				y.Set(i, j, rng.NormFloat64()*tc.scales[j%len(tc.scales)])
			}
		}
		if _, ok := cholQR2(y); ok != tc.chol {
			t.Errorf("%s: cholQR2 ok = %v, want %v", tc.name, ok, tc.chol)
		}
		q := orthonormalize(y)
		var g mat.Dense
		g.Mul(q.T(), q)
		for i := range tc.l {
			for j := range tc.l {
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(g.At(i, j)-want) > 1e-9 {
					t.Fatalf("%s: (QᵀQ)[%d,%d] = %v, want %v", tc.name, i, j, g.At(i, j), want)
				}
			}
		}
		// Y = Q Qᵀ Y: every column of y lies in the span.
		var p, qqy mat.Dense
		p.Mul(q.T(), y)
		qqy.Mul(q, &p)
		for i := range tc.d {
			for j := range tc.l {
				if e := math.Abs(qqy.At(i, j) - y.At(i, j)); e > 1e-9*(1+math.Abs(y.At(i, j))) {
					t.Fatalf("%s: y[%d,%d] = %v, its projection on Q %v", tc.name, i, j, y.At(i, j), qqy.At(i, j))
				}
			}
		}
	}
}

// TestThinSVD compares thinSVD with gonum's SVD of the same tall matrix,
// well conditioned (through Cholesky QR) and rank-deficient (gonum's own):
// the same singular values, and the same left singular vectors up to sign.
func TestThinSVD(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, scales := range [][]float64{{5, 3, 2, 1, 0.5, 0.25}, {4, 2, 1, 0}} {
		const d = 400
		l := len(scales)
		// Distinct singular values: y = G·diag(scales), G Gaussian.
		y := mat.NewDense(d, l, nil)
		for i := range d {
			for j := range l {
				y.Set(i, j, rng.NormFloat64()*scales[j])
			}
		}
		u, vals, ok := thinSVD(y)
		if !ok {
			t.Fatalf("scales %v: thinSVD did not converge", scales)
		}
		var ref mat.SVD
		if !ref.Factorize(y, mat.SVDThin) {
			t.Fatal("gonum's SVD did not converge")
		}
		want := ref.Values(nil)
		var uref mat.Dense
		ref.UTo(&uref)
		for j, w := range want {
			if math.Abs(vals[j]-w) > 1e-10*want[0] {
				t.Errorf("scales %v: σ%d = %v, gonum %v", scales, j, vals[j], w)
			}
			if w < 1e-8*want[0] {
				continue // a null direction: any unit vector orthogonal to the rest
			}
			var dot float64
			for i := range d {
				dot += u.At(i, j) * uref.At(i, j)
			}
			if math.Abs(math.Abs(dot)-1) > 1e-9 {
				t.Errorf("scales %v: u%d·gonum's = %v, want ±1", scales, j, dot)
			}
		}
	}
}
