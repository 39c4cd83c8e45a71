// Package compute is the numeric interface the algorithms share: matrix
// products, pairwise distances and per-row reductions on float32 row-major
// matrices. The CPU implementation (package compute/cpu) is the default; a GPU
// implementation installs itself with Use when a cmd main imports it.
//
// Shapes are the caller's contract: a kernel panics when a destination or an
// operand has the wrong shape, as gonum's mat does (bugs, not data errors).
package compute

import "sync/atomic"

// Matrix is a row-major float32 matrix view: element (i, j) is
// Data[i*Stride+j]. Stride >= Cols.
type Matrix struct {
	Rows, Cols, Stride int
	Data               []float32
}

// NewMatrix allocates a zeroed rows×cols matrix with Stride == cols.
func NewMatrix(rows, cols int) Matrix {
	return Matrix{Rows: rows, Cols: cols, Stride: cols, Data: make([]float32, rows*cols)}
}

// MatrixOf wraps data (len rows*cols) as a rows×cols matrix; it panics if
// data is too short.
func MatrixOf(rows, cols int, data []float32) Matrix {
	if len(data) < rows*cols {
		panic("compute: data shorter than rows*cols")
	}
	return Matrix{Rows: rows, Cols: cols, Stride: cols, Data: data[:rows*cols]}
}

// Row returns row i as a slice of length Cols.
func (m Matrix) Row(i int) []float32 { return m.Data[i*m.Stride : i*m.Stride+m.Cols] }

// Backend is one implementation of the kernels.
type Backend interface {
	// Name says which implementation runs, for the log ("cpu", "cuda").
	Name() string

	// Gemm computes C = alpha*op(A)*op(B) + beta*C, where op(X) is X or Xᵀ
	// as transA/transB say. It panics on mismatched shapes.
	Gemm(transA, transB bool, alpha float32, a, b Matrix, beta float32, c Matrix)

	// RowSquaredNorms writes ‖row i of x‖² into dst[i]; len(dst) must be x.Rows.
	RowSquaredNorms(dst []float32, x Matrix)

	// PairwiseL2 writes into dst (x.Rows×y.Rows) the squared Euclidean
	// distances between the rows of x and the rows of y. yNorms, when not
	// nil, holds RowSquaredNorms of y (so repeated calls against the same
	// centers skip that work). Distances are clamped at zero.
	PairwiseL2(dst, x, y Matrix, yNorms []float32)

	// ArgminRows writes, for each row i of m, the column of its smallest
	// value into idx[i] and that value into val[i] (ties: lowest column).
	ArgminRows(idx []int32, val []float32, m Matrix)
}

// Nearest is an optional fused kernel: for each row of x, the index of the
// nearest row of y and the squared distance to it, without materialising the
// full distance matrix. Backends that have it are found by type assertion;
// NearestL2 falls back to PairwiseL2 + ArgminRows otherwise.
type Nearest interface {
	NearestL2(idx []int32, dist []float32, x, y Matrix, yNorms []float32)
}

var current atomic.Pointer[Backend]

// Use installs b as the backend returned by Current.
func Use(b Backend) { current.Store(&b) }

// Current returns the installed backend. It panics if none was installed:
// importing compute/cpu installs the CPU backend.
func Current() Backend {
	p := current.Load()
	if p == nil {
		panic("compute: no backend installed (import compute/cpu)")
	}
	return *p
}

// NearestL2 writes for each row i of x the index of its nearest row of y
// into idx[i] and the squared distance into dist[i], using the backend's fused
// kernel when it has one. scratch, when not nil and at least x.Rows*y.Rows
// long, holds the distance matrix of the unfused path.
func NearestL2(b Backend, idx []int32, dist []float32, x, y Matrix, yNorms, scratch []float32) {
	if n, ok := b.(Nearest); ok {
		n.NearestL2(idx, dist, x, y, yNorms)
		return
	}
	if len(scratch) < x.Rows*y.Rows {
		scratch = make([]float32, x.Rows*y.Rows)
	}
	d := MatrixOf(x.Rows, y.Rows, scratch)
	b.PairwiseL2(d, x, y, yNorms)
	b.ArgminRows(idx, dist, d)
}
