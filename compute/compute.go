// Package compute is the numeric interface the algorithms share: matrix
// products, pairwise distances and per-row reductions on float32 row-major
// matrices. The CPU implementation (package compute/cpu) is the default; a GPU
// implementation installs itself with Use when a cmd main imports it.
//
// Shapes are the caller's contract: a kernel panics when a destination or an
// operand has the wrong shape, as gonum's mat does (bugs, not data errors).
package compute

import (
	"math"
	"sync/atomic"
)

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

// RowRange returns rows lo to hi-1 as a view sharing m's data, its Data
// ending with row hi-1 (so a copy of Data copies those rows only).
func (m Matrix) RowRange(lo, hi int) Matrix {
	if hi <= lo {
		return Matrix{Cols: m.Cols, Stride: m.Stride}
	}
	return Matrix{Rows: hi - lo, Cols: m.Cols, Stride: m.Stride, Data: m.Data[lo*m.Stride : (hi-1)*m.Stride+m.Cols]}
}

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

// Packing is optional: a backend whose Gemm packs its operands into
// blocks first (OpenBLAS, cuBLAS) runs op(B) = B as fast as op(B) = Bᵀ, so
// a caller need not transpose an operand to get the faster form. Pure-Go
// gonum forms a product with B as axpy updates of C's rows, about half as
// fast as the dot-product form with Bᵀ. PacksOperands reports it.
type Packing interface {
	PacksOperands() bool
}

// PacksOperands reports whether b's Gemm is as fast with B as with Bᵀ
// (false when b does not say).
func PacksOperands(b Backend) bool {
	p, ok := b.(Packing)
	return ok && p.PacksOperands()
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

// TopK is an optional kernel: for each row of x, the k rows of y nearest to
// it, without materialising the full x.Rows×y.Rows distance matrix. Backends
// that have it are found by type assertion; the functions TopKL2 and TopKIP
// fall back to blocked PairwiseL2 / Gemm calls otherwise.
//
// Both methods write row i's neighbours to idx[i*k:(i+1)*k] and their
// distances to dist[i*k:(i+1)*k], nearest first: ascending distance, ties
// to the lower index of y. When y has fewer than k rows the tail is padded
// with index -1 and distance +Inf, as faiss pads a search. They panic if
// dist or idx is not x.Rows*k long or the shapes disagree.
type TopK interface {
	// TopKL2 ranks by squared Euclidean distance ‖x_i - y_j‖², computed as
	// PairwiseL2 computes it (yNorms as there, may be nil).
	TopKL2(dist []float32, idx []int32, k int, x, y Matrix, yNorms []float32)
	// TopKIP ranks by inner product, largest first, and writes the
	// distance -x_i·y_j (so that the nearest still comes first, ascending).
	TopKIP(dist []float32, idx []int32, k int, x, y Matrix)
}

// topKBlock is the number of rows of x whose distances to all of y the
// fallback holds at once.
const topKBlock = 64

// TopKL2 is TopK.TopKL2 on backend b: its own kernel when it has one, else
// PairwiseL2 on blocks of topKBlock rows of x followed by a selection.
func TopKL2(b Backend, dist []float32, idx []int32, k int, x, y Matrix, yNorms []float32) {
	if t, ok := b.(TopK); ok {
		t.TopKL2(dist, idx, k, x, y, yNorms)
		return
	}
	topKFallback(dist, idx, k, x, y, func(d, xb Matrix) { b.PairwiseL2(d, xb, y, yNorms) })
}

// TopKIP is TopK.TopKIP on backend b: its own kernel when it has one, else
// Gemm on blocks of topKBlock rows of x followed by a selection.
func TopKIP(b Backend, dist []float32, idx []int32, k int, x, y Matrix) {
	if t, ok := b.(TopK); ok {
		t.TopKIP(dist, idx, k, x, y)
		return
	}
	topKFallback(dist, idx, k, x, y, func(d, xb Matrix) { b.Gemm(false, true, -1, xb, y, 0, d) })
}

func topKFallback(dist []float32, idx []int32, k int, x, y Matrix, fill func(d, xb Matrix)) {
	if k < 1 || len(dist) != x.Rows*k || len(idx) != x.Rows*k || x.Cols != y.Cols {
		panic("compute: TopK: dist and idx must hold x.Rows*k values (k >= 1) and x, y must have the same columns")
	}
	if x.Rows == 0 {
		return
	}
	if y.Rows == 0 {
		for i := range idx {
			idx[i], dist[i] = -1, float32(posInf)
		}
		return
	}
	rows := min(topKBlock, x.Rows)
	buf := make([]float32, rows*y.Rows)
	var h KHeap
	for i0 := 0; i0 < x.Rows; i0 += topKBlock {
		mb := min(topKBlock, x.Rows-i0)
		d := MatrixOf(mb, y.Rows, buf)
		xb := x.RowRange(i0, i0+mb)
		fill(d, xb)
		for i := range mb {
			h.Reset(dist[(i0+i)*k:(i0+i+1)*k], idx[(i0+i)*k:(i0+i+1)*k])
			for j, v := range d.Row(i) {
				h.Push(v, int32(j))
			}
			h.Sort()
		}
	}
}

var posInf = float32(math.Inf(1))

// KHeap keeps the k smallest (distance, index) pairs pushed into it, in
// caller-owned storage: a bounded max-heap ordered by distance, then index
// (so ties keep the lower index whatever the push order). Backends use it
// to select neighbours; the zero value is ready after Reset.
type KHeap struct {
	d []float32
	i []int32
	n int
}

// Reset starts an empty heap over dist and idx (same length k >= 1), which
// it fills; Sort leaves them sorted nearest first, padded with -1 / +Inf.
func (h *KHeap) Reset(dist []float32, idx []int32) {
	h.d, h.i, h.n = dist, idx, 0
}

// worse reports whether (a, ai) ranks after (b, bi).
func worse(a float32, ai int32, b float32, bi int32) bool {
	return a > b || (a == b && ai > bi)
}

// Full reports whether the heap holds k pairs; then Max is the pair a new
// one must beat.
func (h *KHeap) Full() bool { return h.n == len(h.d) }

// Max returns the distance of the worst pair held (valid when Full).
func (h *KHeap) Max() float32 { return h.d[0] }

// Push offers (v, j); it is kept if the heap is not full or it ranks before
// the worst pair held.
func (h *KHeap) Push(v float32, j int32) {
	d, ix := h.d, h.i
	if h.n < len(d) {
		c := h.n
		h.n++
		for c > 0 {
			p := (c - 1) / 2
			if !worse(v, j, d[p], ix[p]) {
				break
			}
			d[c], ix[c] = d[p], ix[p]
			c = p
		}
		d[c], ix[c] = v, j
		return
	}
	if !worse(d[0], ix[0], v, j) {
		return
	}
	h.siftDown(0, v, j, h.n)
}

func (h *KHeap) siftDown(c int, v float32, j int32, n int) {
	d, ix := h.d, h.i
	for {
		l := 2*c + 1
		if l >= n {
			break
		}
		if r := l + 1; r < n && worse(d[r], ix[r], d[l], ix[l]) {
			l = r
		}
		if !worse(d[l], ix[l], v, j) {
			break
		}
		d[c], ix[c] = d[l], ix[l]
		c = l
	}
	d[c], ix[c] = v, j
}

// Sort orders the pairs held nearest first and pads the rest of the
// storage with index -1 and distance +Inf.
func (h *KHeap) Sort() {
	d, ix := h.d, h.i
	for end := h.n - 1; end > 0; end-- {
		v, j := d[end], ix[end]
		d[end], ix[end] = d[0], ix[0]
		h.siftDown(0, v, j, end)
	}
	for p := h.n; p < len(d); p++ {
		d[p], ix[p] = posInf, -1
	}
	h.n = 0
}
