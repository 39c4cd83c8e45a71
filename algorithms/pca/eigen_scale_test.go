package pca

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTopEigenTinyAndHuge: a covariance scaled far from 1 (1e-130 made
// gonum's Dsterf panic on a block it rescales) gives the same vectors and
// the values scaled by the same factor, both ways topEigen goes.
func TestTopEigenTinyAndHuge(t *testing.T) {
	for _, d := range []int{40, fullEigenBelow + 44} {
		c := gaussianGram(rand.New(rand.NewPCG(1, 2)), 40, d, func(i, j int) float64 { return 1 })
		want, wantV := topEigen(c, d, 3, rand.New(rand.NewPCG(3, 3)))
		for _, s := range []float64{0x1p-430, 0x1p-200, 0x1p-70, 0x1p70, 0x1p200, 0x1p430} { // ~1e-130 … 1e130, exact
			cs := make([]float64, len(c))
			for i, v := range c {
				cs[i] = v * s
			}
			vals, vecs := topEigen(cs, d, 3, rand.New(rand.NewPCG(3, 3)))
			for j := range vals {
				if math.Abs(vals[j]/s-want[j]) > 1e-12*want[0] {
					t.Errorf("d=%d scale %g: λ%d = %g, want %g", d, s, j, vals[j]/s, want[j])
				}
				var dot float64
				for i := range d {
					dot += vecs.At(i, j) * wantV.At(i, j)
				}
				if math.Abs(math.Abs(dot)-1) > 1e-9 {
					t.Errorf("d=%d scale %g: v%d·unscaled = %v", d, s, j, dot)
				}
			}
		}
	}
}

// TestTopEigenWideRange: a covariance with a block of normal size beside
// one of about 1e-130 (features that vary that little): the tridiagonal
// blocks Dsterf would have rescaled, and panicked on, are dropped, and the
// top eigenpairs are the normal block's.
func TestTopEigenWideRange(t *testing.T) {
	const d, half = fullEigenBelow + 40, (fullEigenBelow + 40) / 2
	rng := rand.New(rand.NewPCG(5, 5))
	c := gaussianGram(rng, 30, d, func(i, j int) float64 {
		switch {
		case (i < half) != (j < half):
			return 0 // two uncoupled blocks
		case i >= half:
			return 1e-130
		}
		return 1
	})
	vals, vecs := topEigen(c, d, 3, rng)
	for j, v := range vals {
		if v < 1 {
			t.Errorf("λ%d = %g: the normal block's eigenvalues are of order 30", j, v)
		}
		for i := half; i < d; i++ {
			if math.Abs(vecs.At(i, j)) > 1e-12 {
				t.Fatalf("v%d has weight %g on the tiny block's feature %d", j, vecs.At(i, j), i)
			}
		}
	}
}

// gaussianGram returns XᵀX (d×d, row-major) for n Gaussian rows X, entry
// (i, j) multiplied by scale(i, j).
func gaussianGram(rng *rand.Rand, n, d int, scale func(i, j int) float64) []float64 {
	x := make([]float64, n*d)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	c := make([]float64, d*d)
	for r := range n {
		for i := range d {
			for j := range d {
				c[i*d+j] += x[r*d+i] * x[r*d+j] * scale(i, j)
			}
		}
	}
	return c
}
