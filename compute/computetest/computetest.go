// Package computetest is a conformance suite for compute.Backend
// implementations, in the manner of gonum's blas/testblas: each backend's
// own tests call TestBackend (and its benchmarks BenchmarkBackend) in one
// line, so the CPU and GPU backends are held to the same numbers.
//
// Expected values come from naive float64 references computed here. Since
// backends work in float32, comparisons use a tolerance relative to the
// magnitude of what was summed, stated at each check: 1e-4 times the sum of
// the absolute values of the terms. Inputs whose every intermediate is a
// small integer are exact in float32, and there results must match exactly,
// ties included.
//
// Inputs are random from math/rand/v2 with rand.NewPCG(1, 1), in shapes that
// include 1×1, sizes that are not multiples of any plausible block size, and
// d=784 (MNIST). Matrices are also given strides wider than their columns,
// with the padding filled with NaN so that a kernel which reads it fails.
package computetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// tol is the relative tolerance of float32 kernels against the float64
// references: |got - want| <= tol * (sum of |terms|).
const tol = 1e-4

// TestBackend runs every conformance test against b.
func TestBackend(t *testing.T, b compute.Backend) {
	t.Run("Gemm", func(t *testing.T) { TestGemm(t, b) })
	t.Run("RowSquaredNorms", func(t *testing.T) { TestRowSquaredNorms(t, b) })
	t.Run("PairwiseL2", func(t *testing.T) { TestPairwiseL2(t, b) })
	t.Run("ArgminRows", func(t *testing.T) { TestArgminRows(t, b) })
	t.Run("NearestL2", func(t *testing.T) { TestNearestL2(t, b) })
	t.Run("ShapePanics", func(t *testing.T) { TestShapePanics(t, b) })
}

// newRand returns the suite's fixed random source.
func newRand() *rand.Rand { return rand.New(rand.NewPCG(1, 1)) }

// randMatrix returns a rows×cols matrix with stride cols+pad, filled by gen;
// the padding holds NaN.
func randMatrix(rows, cols, pad int, gen func() float32) compute.Matrix {
	stride := cols + pad
	m := compute.Matrix{Rows: rows, Cols: cols, Stride: stride, Data: make([]float32, max(0, rows*stride))}
	for i := range rows {
		for j := range stride {
			if j < cols {
				m.Data[i*stride+j] = gen()
			} else {
				m.Data[i*stride+j] = float32(math.NaN())
			}
		}
	}
	return m
}

func uniform(rng *rand.Rand) func() float32 { return func() float32 { return rng.Float32() } }

func signed(rng *rand.Rand) func() float32 { return func() float32 { return 2*rng.Float32() - 1 } }

// smallInts gives values in {0, 1, 2}: products and sums of these stay
// exact in float32 for the sizes used here.
func smallInts(rng *rand.Rand) func() float32 { return func() float32 { return float32(rng.IntN(3)) } }

func at(m compute.Matrix, i, j int) float64 { return float64(m.Data[i*m.Stride+j]) }

// checkPadding fails if the NaN padding of m was overwritten.
func checkPadding(t *testing.T, name string, m compute.Matrix) {
	t.Helper()
	for i := range m.Rows {
		for j := m.Cols; j < m.Stride; j++ {
			if v := m.Data[i*m.Stride+j]; !math.IsNaN(float64(v)) {
				t.Fatalf("%s padding (%d, %d) was overwritten with %v", name, i, j, v)
			}
		}
	}
}

// TestGemm checks C = alpha*op(A)*op(B) + beta*C for all four transpose
// combinations, compact and padded strides, and several alpha/beta pairs
// against a float64 reference, within tol of
// |alpha|*sum_l |op(A)_il||op(B)_lj| + |beta||C_ij|.
func TestGemm(t *testing.T, b compute.Backend) {
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {1, 1, 784}, {3, 5, 7}, {1, 100, 784}, {70, 1, 33},
		{65, 130, 200}, {300, 70, 101}, {257, 100, 784},
	}
	scalars := []struct{ alpha, beta float32 }{{1, 0}, {-2, 0.5}, {0.5, 1}, {0, 2}}
	rng := newRand()
	for _, sh := range shapes {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, pad := range []int{0, 3} {
					for si, s := range scalars {
						if si > 1 && sh.m*sh.n*sh.k > 1<<20 {
							continue // every alpha/beta pair on the smaller shapes only
						}
						name := fmt.Sprintf("m=%d,n=%d,k=%d,tA=%t,tB=%t,pad=%d,alpha=%g,beta=%g", sh.m, sh.n, sh.k, tA, tB, pad, s.alpha, s.beta)
						ar, ac := sh.m, sh.k
						if tA {
							ar, ac = ac, ar
						}
						br, bc := sh.k, sh.n
						if tB {
							br, bc = bc, br
						}
						a := randMatrix(ar, ac, pad, signed(rng))
						bm := randMatrix(br, bc, pad+1, signed(rng))
						c := randMatrix(sh.m, sh.n, pad+2, signed(rng))
						c0 := append([]float32(nil), c.Data...)
						b.Gemm(tA, tB, s.alpha, a, bm, s.beta, c)
						checkPadding(t, name+": c", c)
						opA := func(i, l int) float64 {
							if tA {
								return at(a, l, i)
							}
							return at(a, i, l)
						}
						opB := func(l, j int) float64 {
							if tB {
								return at(bm, j, l)
							}
							return at(bm, l, j)
						}
						for i := range sh.m {
							for j := range sh.n {
								var sum, abs float64
								for l := range sh.k {
									p := opA(i, l) * opB(l, j)
									sum += p
									abs += math.Abs(p)
								}
								cij := float64(c0[i*c.Stride+j])
								want := float64(s.alpha)*sum + float64(s.beta)*cij
								bound := tol * (math.Abs(float64(s.alpha))*abs + math.Abs(float64(s.beta)*cij))
								if got := at(c, i, j); !(math.Abs(got-want) <= bound) {
									t.Fatalf("%s: C[%d,%d] = %v, want %v (tolerance %.3g)", name, i, j, got, want, bound)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestRowSquaredNorms checks ‖x_i‖² against a float64 sum, within tol
// relative (all terms are non-negative).
func TestRowSquaredNorms(t *testing.T, b compute.Backend) {
	shapes := []struct{ n, d, pad int }{{1, 1, 0}, {0, 5, 0}, {5, 784, 0}, {300, 3, 2}, {1000, 33, 1}, {5000, 784, 0}}
	rng := newRand()
	for _, sh := range shapes {
		name := fmt.Sprintf("n=%d,d=%d,pad=%d", sh.n, sh.d, sh.pad)
		x := randMatrix(sh.n, sh.d, sh.pad, signed(rng))
		dst := make([]float32, sh.n)
		b.RowSquaredNorms(dst, x)
		for i := range sh.n {
			var want float64
			for j := range sh.d {
				want += at(x, i, j) * at(x, i, j)
			}
			if got := float64(dst[i]); !(math.Abs(got-want) <= tol*want) {
				t.Fatalf("%s: norm of row %d = %v, want %v (tolerance %.3g)", name, i, got, want, tol*want)
			}
		}
	}
}

// refDist returns the float64 squared distance between row i of x and row
// j of y, and the scale its float32 computation error is relative to,
// ‖x_i‖² + ‖y_j‖².
func refDist(x, y compute.Matrix, i, j int) (d, scale float64) {
	for l := range x.Cols {
		xv, yv := at(x, i, l), at(y, j, l)
		d += (xv - yv) * (xv - yv)
		scale += xv*xv + yv*yv
	}
	return d, scale
}

// distCase is an input for the distance kernels. exact cases hold small
// integers, where float32 arithmetic is exact and so are the results.
type distCase struct {
	n, k, d, pad int
	exact        bool
}

var distCases = []distCase{
	{1, 1, 1, 0, false},
	{0, 5, 3, 0, false},
	{3, 4, 5, 1, false},
	{1, 1000, 784, 0, false},
	{193, 65, 784, 3, false},
	{500, 300, 784, 0, false},
	{1000, 10, 20, 2, false},
	{257, 129, 50, 0, true},
	{3, 2000, 16, 1, true},
}

func (c distCase) String() string {
	return fmt.Sprintf("n=%d,k=%d,d=%d,pad=%d,exact=%t", c.n, c.k, c.d, c.pad, c.exact)
}

// inputs returns x (n×d) and y (k×d). Some rows of y are copies of rows
// of x (distance zero, where clamping matters) and some rows of y repeat
// earlier rows of y (ties).
func (c distCase) inputs(rng *rand.Rand) (x, y compute.Matrix) {
	gen := uniform(rng)
	if c.exact {
		gen = smallInts(rng)
	}
	x = randMatrix(c.n, c.d, c.pad, gen)
	y = randMatrix(c.k, c.d, c.pad+1, gen)
	for j := 1; j < c.k; j += 3 {
		if c.n == 0 || j%2 == 0 {
			copy(y.Row(j), y.Row(j/2))
		} else {
			copy(y.Row(j), x.Row(j%c.n))
		}
	}
	return x, y
}

func refNorms(m compute.Matrix) []float32 {
	ns := make([]float32, m.Rows)
	for i := range m.Rows {
		var s float64
		for j := range m.Cols {
			s += at(m, i, j) * at(m, i, j)
		}
		ns[i] = float32(s)
	}
	return ns
}

// TestPairwiseL2 checks squared distances with and without precomputed
// yNorms: every result is >= 0 and within tol*(‖x_i‖²+‖y_j‖²) of the
// float64 distance (exactly equal for small-integer inputs).
func TestPairwiseL2(t *testing.T, b compute.Backend) {
	rng := newRand()
	for _, c := range distCases {
		x, y := c.inputs(rng)
		for _, withNorms := range []bool{false, true} {
			name := fmt.Sprintf("%v,yNorms=%t", c, withNorms)
			var yn []float32
			if withNorms {
				yn = refNorms(y)
			}
			dst := randMatrix(c.n, c.k, c.pad+2, uniform(rng))
			b.PairwiseL2(dst, x, y, yn)
			checkPadding(t, name+": dst", dst)
			for i := range c.n {
				for j := range c.k {
					want, scale := refDist(x, y, i, j)
					got := at(dst, i, j)
					if !(got >= 0) {
						t.Fatalf("%s: dst[%d,%d] = %v, want >= 0", name, i, j, got)
					}
					bound := tol * scale
					if c.exact {
						bound = 0
					}
					if !(math.Abs(got-want) <= bound) {
						t.Fatalf("%s: dst[%d,%d] = %v, want %v (tolerance %.3g)", name, i, j, got, want, bound)
					}
				}
			}
		}
	}
}

// TestArgminRows checks the per-row minimum and its column, on values with
// many ties (the lowest column must win) and on continuous values.
func TestArgminRows(t *testing.T, b compute.Backend) {
	shapes := []struct{ rows, cols, pad int }{{1, 1, 0}, {0, 3, 0}, {3, 7, 1}, {300, 1, 0}, {1000, 100, 2}, {600, 7000, 0}}
	rng := newRand()
	for _, sh := range shapes {
		for _, ties := range []bool{true, false} {
			name := fmt.Sprintf("rows=%d,cols=%d,pad=%d,ties=%t", sh.rows, sh.cols, sh.pad, ties)
			gen := signed(rng)
			if ties {
				gen = func() float32 { return float32(rng.IntN(5)) }
			}
			m := randMatrix(sh.rows, sh.cols, sh.pad, gen)
			idx := make([]int32, sh.rows)
			val := make([]float32, sh.rows)
			b.ArgminRows(idx, val, m)
			for i := range sh.rows {
				r := m.Row(i)
				wi := 0
				for j, v := range r {
					if v < r[wi] {
						wi = j
					}
				}
				if int(idx[i]) != wi || val[i] != r[wi] {
					t.Fatalf("%s: row %d: got column %d value %v, want column %d value %v", name, i, idx[i], val[i], wi, r[wi])
				}
			}
		}
	}
}

// unfused hides a backend's Nearest kernel, so that compute.NearestL2
// takes its PairwiseL2 + ArgminRows path.
type unfused struct{ compute.Backend }

// TestNearestL2 checks the nearest row of y for each row of x through
// compute.NearestL2, both with the backend's fused kernel (when it has
// one) and through the unfused fallback, with and without yNorms and
// scratch. The distance returned must be within tol*(‖x_i‖²+‖y_j‖²) of the
// true minimum, and so must the true distance to the index returned; on
// small-integer inputs both must be exact and ties go to the lowest index.
func TestNearestL2(t *testing.T, b compute.Backend) {
	type path struct {
		name    string
		b       compute.Backend
		scratch bool
	}
	paths := []path{{"unfused", unfused{b}, false}, {"unfused+scratch", unfused{b}, true}}
	if _, ok := b.(compute.Nearest); ok {
		paths = append(paths, path{"fused", b, false})
	}
	rng := newRand()
	for _, c := range distCases {
		if c.k == 0 {
			continue
		}
		x, y := c.inputs(rng)
		// The true nearest row of y for each row of x: index, distance
		// and the scale of its float32 error.
		wantI, wantD, wantS := make([]int, c.n), make([]float64, c.n), make([]float64, c.n)
		for i := range c.n {
			wantI[i], wantD[i] = -1, math.Inf(1)
			for j := range c.k {
				if d, s := refDist(x, y, i, j); d < wantD[i] {
					wantI[i], wantD[i], wantS[i] = j, d, s
				}
			}
		}
		for _, p := range paths {
			for _, withNorms := range []bool{false, true} {
				name := fmt.Sprintf("%s,%v,yNorms=%t", p.name, c, withNorms)
				var yn, scratch []float32
				if withNorms {
					yn = refNorms(y)
				}
				if p.scratch {
					scratch = make([]float32, c.n*c.k+7)
				}
				idx := make([]int32, c.n)
				dist := make([]float32, c.n)
				compute.NearestL2(p.b, idx, dist, x, y, yn, scratch)
				for i := range c.n {
					wi, wd, ws := wantI[i], wantD[i], wantS[i]
					if c.exact {
						if int(idx[i]) != wi || float64(dist[i]) != wd {
							t.Fatalf("%s: row %d: got %d at %v, want %d at %v", name, i, idx[i], dist[i], wi, wd)
						}
						continue
					}
					if idx[i] < 0 || int(idx[i]) >= c.k {
						t.Fatalf("%s: row %d: index %d out of range [0, %d)", name, i, idx[i], c.k)
					}
					gd, gs := refDist(x, y, i, int(idx[i]))
					if bound := tol * max(ws, gs); !(dist[i] >= 0) || !(math.Abs(float64(dist[i])-wd) <= bound) || !(gd-wd <= bound) {
						t.Fatalf("%s: row %d: got %d at %v (true distance %v), want %d at %v (tolerance %.3g)", name, i, idx[i], dist[i], gd, wi, wd, bound)
					}
				}
			}
		}
	}
}

// TestShapePanics checks that each kernel panics when an operand or a
// destination has the wrong shape.
func TestShapePanics(t *testing.T, b compute.Backend) {
	m := func(r, c int) compute.Matrix { return compute.NewMatrix(r, c) }
	cases := []struct {
		name string
		f    func()
	}{
		{"Gemm inner", func() { b.Gemm(false, false, 1, m(3, 4), m(5, 6), 0, m(3, 6)) }},
		{"Gemm c", func() { b.Gemm(false, true, 1, m(3, 4), m(6, 4), 0, m(3, 5)) }},
		{"Gemm short data", func() {
			b.Gemm(false, false, 1, compute.Matrix{Rows: 3, Cols: 4, Stride: 4, Data: make([]float32, 11)}, m(4, 2), 0, m(3, 2))
		}},
		{"RowSquaredNorms dst", func() { b.RowSquaredNorms(make([]float32, 2), m(3, 4)) }},
		{"PairwiseL2 dst", func() { b.PairwiseL2(m(3, 4), m(3, 2), m(5, 2), nil) }},
		{"PairwiseL2 cols", func() { b.PairwiseL2(m(3, 5), m(3, 2), m(5, 3), nil) }},
		{"PairwiseL2 yNorms", func() { b.PairwiseL2(m(3, 5), m(3, 2), m(5, 2), make([]float32, 4)) }},
		{"ArgminRows idx", func() { b.ArgminRows(make([]int32, 2), make([]float32, 3), m(3, 4)) }},
		{"NearestL2 idx", func() { compute.NearestL2(b, make([]int32, 2), make([]float32, 3), m(3, 2), m(5, 2), nil, nil) }},
		{"NearestL2 cols", func() { compute.NearestL2(b, make([]int32, 3), make([]float32, 3), m(3, 2), m(5, 3), nil, nil) }},
	}
	for _, c := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", c.name)
				}
			}()
			c.f()
		}()
	}
}
