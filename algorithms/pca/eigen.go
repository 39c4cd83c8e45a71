package pca

import (
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/lapack/gonum"
	"gonum.org/v1/gonum/mat"
)

var lapackImpl gonum.Implementation

// fullEigenBelow is the dimension under which topEigen always takes the
// full EigenSym: for small d it costs milliseconds.
const fullEigenBelow = 256

// topEigen returns the k largest eigenvalues of the symmetric d×d matrix c
// (row-major, both triangles set; it is not modified), in descending order,
// and their unit eigenvectors as the columns of a d×k matrix.
//
// For d >= fullEigenBelow it reduces c to tridiagonal form (Dsytrd, Dorgtr),
// computes all eigenvalues of the tridiagonal matrix (Dsterf), and only the
// k eigenvectors it needs by inverse iteration with reorthogonalisation (as
// LAPACK's Dstein does), then maps them back: at d=784 that is about a
// quarter of the time of the full EigenSym, whose Givens accumulation over
// all d vectors dominates, and at k = d = 2,000 a quarter or less
// (BenchmarkTrainManyComponents, whole trainings: 57 s → 17 s pure Go,
// 45 → 6.7 s OpenBLAS). The vectors are checked orthonormal and every
// pair ‖c·v − λv‖ ≤ 1e-9·‖c‖; should one fail, the full EigenSym is used
// instead.
func topEigen(c []float64, d, k int, rng *rand.Rand) ([]float64, *mat.Dense) {
	mustBeFinite(c)
	// gonum's Dsterf rescales a block of the tridiagonal matrix whose norm
	// is below about 1e-122 (or above 1e122) with a Dlascl call that
	// panics ("insufficient length of a"). A matrix far from 1 is brought
	// near it first, by a power of two (exact: the vectors are those of c
	// and the values scale back exactly); topEigenTridiagonal then drops
	// what is too small to matter.
	var big float64
	for _, v := range c {
		big = max(big, math.Abs(v))
	}
	if big != 0 && (big < 1e-20 || big > 1e20) {
		_, e := math.Frexp(big)
		scaled := make([]float64, len(c))
		for i, v := range c {
			scaled[i] = math.Ldexp(v, -e)
		}
		vals, vecs := topEigen(scaled, d, k, rng)
		for i := range vals {
			vals[i] = math.Ldexp(vals[i], e)
		}
		return vals, vecs
	}
	if d >= fullEigenBelow {
		if vals, vecs, ok := topEigenTridiagonal(c, d, k, rng); ok {
			return vals, vecs
		}
	}
	return topEigenFull(c, d, k)
}

func topEigenFull(c []float64, d, k int) ([]float64, *mat.Dense) {
	var e mat.EigenSym
	if !e.Factorize(mat.NewSymDense(d, slices.Clone(c)), true) {
		// EigenSym fails only on NaN or Inf input, which topEigen rejects.
		panic("pca: symmetric eigendecomposition did not converge")
	}
	vals := e.Values(nil) // ascending
	var all mat.Dense
	e.VectorsTo(&all)
	outV := make([]float64, k)
	out := mat.NewDense(d, k, nil)
	for j := 0; j < k; j++ {
		src := d - 1 - j
		outV[j] = vals[src]
		for i := 0; i < d; i++ {
			out.Set(i, j, all.At(i, src))
		}
	}
	return outV, out
}

func topEigenTridiagonal(c []float64, d, k int, rng *rand.Rand) ([]float64, *mat.Dense, bool) {
	a := slices.Clone(c)
	diag := make([]float64, d)
	off := make([]float64, d-1)
	tau := make([]float64, d-1)
	work := make([]float64, 1)
	lapackImpl.Dsytrd(blas.Upper, d, a, d, diag, off, tau, work, -1)
	work = make([]float64, int(work[0]))
	lapackImpl.Dsytrd(blas.Upper, d, a, d, diag, off, tau, work, len(work))
	td, te := slices.Clone(diag), slices.Clone(off)
	// Entries below 1e-80 of the largest move no eigenvalue by more than
	// that, and left in they can make a block Dsterf would rescale (see
	// topEigen); zeros split the matrix instead.
	var tmax float64
	for _, v := range td {
		tmax = max(tmax, math.Abs(v))
	}
	for _, v := range te {
		tmax = max(tmax, math.Abs(v))
	}
	for _, x := range [][]float64{td, te} {
		for i, v := range x {
			if math.Abs(v) < 1e-80*tmax {
				x[i] = 0
			}
		}
	}
	work = make([]float64, 1)
	lapackImpl.Dorgtr(blas.Upper, d, a, d, tau, work, -1)
	work = make([]float64, max(int(work[0]), 1))
	lapackImpl.Dorgtr(blas.Upper, d, a, d, tau, work, len(work))
	// a now holds Q with c = Q T Qᵀ.
	vals := slices.Clone(td)
	if !lapackImpl.Dsterf(d, vals, slices.Clone(te)) {
		return nil, nil, false
	}
	// vals ascending; the top k are the last k.
	var norm float64
	for i := range td {
		row := math.Abs(td[i])
		if i > 0 {
			row += math.Abs(te[i-1])
		}
		if i < d-1 {
			row += math.Abs(te[i])
		}
		norm = max(norm, row)
	}
	if norm == 0 {
		return nil, nil, false // the zero matrix: let EigenSym pick a basis
	}
	// Eigenvectors of T, one row each. The top eigenvalues come first, so
	// those within Dstein's cluster distance (1e-3·‖T‖) of eigenvalue j
	// are a run of the rows before it: reorthogonalising against them is
	// two matrix–vector products (classical Gram–Schmidt) instead of a dot
	// and an axpy per vector, the loop MNIST's many tiny eigenvalues made
	// long at k = d.
	z := mat.NewDense(k, d, nil)
	zr := z.RawMatrix()
	outV := make([]float64, k)
	h := make([]float64, k)
	f := newTridiagLU(d)
	c0 := 0 // first row of the current cluster
	for j := 0; j < k; j++ {
		lam := vals[d-1-j]
		outV[j] = lam
		for c0 < j && math.Abs(outV[c0]-lam) > 1e-3*norm {
			c0++
		}
		f.factor(td, te, lam, norm)
		x := zr.Data[j*d : (j+1)*d]
		for i := range x {
			x[i] = rng.Float64() - 0.5
		}
		prev := blas64.General{Rows: j - c0, Cols: d, Stride: d, Data: zr.Data[c0*d:]}
		xv := blas64.Vector{N: d, Inc: 1, Data: x}
		hv := blas64.Vector{N: j - c0, Inc: 1, Data: h}
		for it := 0; it < 4; it++ {
			f.solve(x)
			if j > c0 {
				// Twice on the last iteration: one classical pass leaves
				// the vector orthogonal only to about cond·ε.
				for pass := 0; pass < 1+it/3; pass++ {
					blas64.Gemv(blas.NoTrans, 1, prev, xv, 0, hv)
					blas64.Gemv(blas.Trans, -1, prev, hv, 1, xv)
				}
			}
			nrm := floats.Norm(x, 2)
			if nrm == 0 || math.IsNaN(nrm) || math.IsInf(nrm, 0) {
				return nil, nil, false
			}
			for i := range x {
				x[i] /= nrm
			}
		}
	}
	// The vectors must be orthonormal (Q is): inverse iteration could
	// converge twice to one direction of a cluster it did not recognise.
	var zzt mat.Dense
	zzt.Mul(z, z.T())
	if !nearIdentity(zzt.RawMatrix().Data, k, 1e-9) {
		return nil, nil, false
	}
	// v = Q zᵀ, then check the residuals against c itself.
	q := mat.NewDense(d, d, a)
	zm := z.T()
	vecs := mat.NewDense(d, k, nil)
	vecs.Mul(q, zm)
	cv := mat.NewDense(d, k, zr.Data) // z is spent: its room holds C·V
	cv.Mul(mat.NewDense(d, d, c), vecs)
	var cnorm float64
	for _, v := range c {
		cnorm = max(cnorm, math.Abs(v))
	}
	cnorm *= float64(d) // ≥ ‖c‖₂
	for j := 0; j < k; j++ {
		var r float64
		for i := 0; i < d; i++ {
			e := cv.At(i, j) - outV[j]*vecs.At(i, j)
			r += e * e
		}
		if math.Sqrt(r) > 1e-9*cnorm {
			return nil, nil, false
		}
	}
	return outV, vecs, true
}

// tridiagLU is the LU factorisation with partial pivoting of T − λI for a
// symmetric tridiagonal T (LAPACK's Dlagtf), for inverse iteration.
type tridiagLU struct {
	dg, u1, u2, mult []float64
	piv              []bool
	tiny             float64
}

func newTridiagLU(n int) *tridiagLU {
	return &tridiagLU{dg: make([]float64, n), u1: make([]float64, n), u2: make([]float64, n), mult: make([]float64, n), piv: make([]bool, n)}
}

func (f *tridiagLU) factor(diag, off []float64, lam, norm float64) {
	n := len(diag)
	f.tiny = norm * 1e-14
	f.dg[0] = diag[0] - lam
	f.u1[0], f.u2[0] = 0, 0
	if n > 1 {
		f.u1[0] = off[0]
	}
	for i := 0; i < n-1; i++ {
		sub, nd, ns := off[i], diag[i+1]-lam, 0.0
		if i+1 < n-1 {
			ns = off[i+1]
		}
		if math.Abs(f.dg[i]) >= math.Abs(sub) {
			if f.dg[i] == 0 {
				f.dg[i] = f.tiny
			}
			m := sub / f.dg[i]
			f.piv[i], f.mult[i] = false, m
			f.dg[i+1] = nd - m*f.u1[i]
			f.u1[i+1] = ns - m*f.u2[i]
		} else {
			m := f.dg[i] / sub
			f.piv[i], f.mult[i] = true, m
			ou1, ou2 := f.u1[i], f.u2[i]
			f.dg[i], f.u1[i], f.u2[i] = sub, nd, ns
			f.dg[i+1] = ou1 - m*nd
			f.u1[i+1] = ou2 - m*ns
		}
		f.u2[i+1] = 0
	}
	if f.dg[n-1] == 0 {
		f.dg[n-1] = f.tiny
	}
}

// solve overwrites b with (T − λI)⁻¹ b.
func (f *tridiagLU) solve(b []float64) {
	n := len(b)
	for i := 0; i < n-1; i++ {
		if f.piv[i] {
			b[i], b[i+1] = b[i+1], b[i]
		}
		b[i+1] -= f.mult[i] * b[i]
	}
	for i := n - 1; i >= 0; i-- {
		s := b[i]
		if i+1 < n {
			s -= f.u1[i] * b[i+1]
		}
		if i+2 < n {
			s -= f.u2[i] * b[i+2]
		}
		dg := f.dg[i]
		if math.Abs(dg) < f.tiny {
			dg = math.Copysign(f.tiny, dg)
		}
		b[i] = s / dg
	}
	// Rescale to keep the iterate finite.
	var m float64
	for _, v := range b {
		m = max(m, math.Abs(v))
	}
	if m > 0 && !math.IsInf(m, 0) {
		for i := range b {
			b[i] /= m
		}
	}
}

// orthonormalize returns an orthonormal basis of the column space of y
// (d×l, d ≥ l): by Cholesky QR twice when y is well conditioned, else as
// the left singular vectors of its thin SVD, whose columns for zero
// singular values are still orthonormal, so the result always has l
// orthonormal columns. The sketch needs the span alone (the Nyström step
// does not change under a rotation of Q₀).
func orthonormalize(y *mat.Dense) *mat.Dense {
	mustBeFinite(y.RawMatrix().Data)
	if q, ok := cholQR2(y); ok {
		return q
	}
	var svd mat.SVD
	if !svd.Factorize(y, mat.SVDThin) {
		panic("pca: SVD did not converge")
	}
	var u mat.Dense
	svd.UTo(&u)
	return &u
}

// normalizeSigns flips each column of v (d×k) so that its entry of largest
// magnitude (the first, on ties) is positive: the sign of an eigenvector is
// arbitrary, and this makes models reproducible and comparable.
func normalizeSigns(v *mat.Dense) {
	d, k := v.Dims()
	for j := 0; j < k; j++ {
		best, at := -1.0, 0
		for i := 0; i < d; i++ {
			if a := math.Abs(v.At(i, j)); a > best {
				best, at = a, i
			}
		}
		if v.At(at, j) < 0 {
			for i := 0; i < d; i++ {
				v.Set(i, j, -v.At(i, j))
			}
		}
	}
}

// cholQR2 orthonormalizes y's columns as Q = Y R⁻¹ with RᵀR = YᵀY, twice
// (the second pass restores the orthogonality the first loses to cond(Y)²).
// Two l×l Gram matrices and triangular solves cost 4·d·l², where gonum's
// SVD of a tall y ran an unblocked Householder QR down strided columns: in
// a CPU profile of BenchmarkTrainSparseWide (200,000 features) it took 3.1
// of 8.4 s, and its copies (mat.use, useZeroed, CloneFrom) were about half
// a gigabyte of the run's allocations. ok is false, and y left alone, when y is too
// ill-conditioned for that (a Cholesky pivot below 10⁻⁵ of the largest,
// cond(Y) past about 10⁵), the result is not orthonormal to 10⁻¹⁰, or y
// is not tall (d < 4·l).
func cholQR2(y *mat.Dense) (*mat.Dense, bool) {
	d, l := y.Dims()
	if l == 0 || d < 4*l {
		// Tall matrices only: near square, the SVD's own QR costs no more
		// than the 4·d·l² here.
		return nil, false
	}
	q := mat.DenseCopyOf(y)
	raw := q.RawMatrix()
	g := blas64.Symmetric{Uplo: blas.Upper, N: l, Stride: l, Data: make([]float64, l*l)}
	gram := func() {
		// YᵀY as a general product, both triangles: gonum's pure-Go Dsyrk
		// runs an axpy of l or fewer values per row of Y (half of the pure-Go
		// BenchmarkTrainSparseWide), its Dgemm blocked and on every core.
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, raw, raw, 0, blas64.General{Rows: l, Cols: l, Stride: l, Data: g.Data})
	}
	for range 2 {
		gram()
		var chol mat.Cholesky
		if !chol.Factorize(mat.NewSymDense(l, g.Data)) {
			return nil, false
		}
		var r mat.TriDense
		chol.UTo(&r)
		lo, hi := math.Inf(1), 0.0
		for i := range l {
			lo, hi = min(lo, r.At(i, i)), max(hi, r.At(i, i))
		}
		if !(lo > 1e-5*hi) {
			return nil, false
		}
		blas64.Trsm(blas.Right, blas.NoTrans, 1, r.RawTriangular(), raw)
	}
	gram()
	if !nearIdentity(g.Data, l, 1e-10) {
		return nil, false
	}
	return q, true
}

// nearIdentity reports whether the upper triangle of the symmetric n×n
// row-major g is within tol of the identity's: a Gram matrix of columns
// that are orthonormal. NaN fails.
func nearIdentity(g []float64, n int, tol float64) bool {
	for i := range n {
		for j := i; j < n; j++ {
			want := 0.0
			if i == j {
				want = 1
			}
			if !(math.Abs(g[i*n+j]-want) <= tol) {
				return false
			}
		}
	}
	return true
}

// thinSVD returns the left singular vectors and the singular values
// (descending) of a tall f (d×l): through f = Q·R (cholQR2) and the SVD of
// the l×l R = QᵀF when f is well conditioned, else gonum's SVD of f itself.
// ok is false when the SVD did not converge.
func thinSVD(f *mat.Dense) (u *mat.Dense, vals []float64, ok bool) {
	var svd mat.SVD
	if q, qok := cholQR2(f); qok {
		var r mat.Dense
		r.Mul(q.T(), f)
		if !svd.Factorize(&r, mat.SVDThin) {
			return nil, nil, false
		}
		var ur mat.Dense
		svd.UTo(&ur)
		u = new(mat.Dense)
		u.Mul(q, &ur)
		return u, svd.Values(nil), true
	}
	if !svd.Factorize(f, mat.SVDThin) {
		return nil, nil, false
	}
	u = new(mat.Dense)
	svd.UTo(u)
	return u, svd.Values(nil), true
}
