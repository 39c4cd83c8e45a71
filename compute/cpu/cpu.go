// Package cpu is the default compute backend: float32 kernels on a BLAS
// behind gonum's blas.Float32Level3 interface, parallel across row blocks of
// the output. Built with cgo and the openblas tag (what `make build` does when
// Debian's static libopenblas is installed), the BLAS is OpenBLAS, linked
// statically and pinned to one thread per call since the parallel split is
// ours; otherwise it is gonum's pure-Go BLAS (gonum.org/v1/gonum/blas/gonum,
// whose inner products are SSE assembly on amd64).
//
// Importing the package installs its backend with compute.Use.
//
// The kernels allocate nothing in steady state: scratch comes from
// free lists and parallel calls are served by a fixed pool of GOMAXPROCS-1
// helper goroutines started on first need. Small calls (under about a
// million multiply-adds) run on the calling goroutine alone, to keep the
// latency of a single prediction low.
//
// Results do not depend on GOMAXPROCS: every output element is computed by
// the same sequence of floating-point operations however the work is split,
// and PairwiseL2 followed by ArgminRows gives bit for bit what NearestL2 gives.
// One exception: with OpenBLAS, Gemm's products with B (not Bᵀ) run as one
// row block per core, and OpenBLAS forms the last rows of a call with other
// kernels than the rest, so the last bits of some rows depend on the split,
// and so on GOMAXPROCS (a 1000×784 by 784×60 product: 332 rows differ
// between one call and two of 512 and 488 rows).
package cpu

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/sagebrush-ml/sagebrush/compute"
)

func init() { compute.Use(New()) }

// Backend is the CPU implementation of compute.Backend and compute.Nearest.
// The zero value is ready to use, and a Backend is safe for concurrent use.
type Backend struct{}

var (
	_ compute.Backend = (*Backend)(nil)
	_ compute.Nearest = (*Backend)(nil)
)

// New returns the CPU backend.
func New() *Backend { return &Backend{} }

// Name returns "cpu (openblas)" or "cpu (gonum)": the log says which engine runs.
func (*Backend) Name() string { return "cpu (" + engine + ")" }

// PacksOperands is true with OpenBLAS, false with gonum (compute.Packing).
func (*Backend) PacksOperands() bool { return engine == "openblas" }

// Engine names the BLAS behind the kernels: "openblas" or "gonum".
func Engine() string { return engine }

// impl computes every tile's product; openblas.go replaces it. Short dot
// products and tiny products stay in pure Go (level1), where a cgo call
// would cost more than the arithmetic.
var (
	impl   blas.Float32Level3 = gonum.Implementation{}
	level1 gonum.Implementation
	engine = "gonum"
)

// smallGemm is the size (in multiply-adds) under which a tile's product
// runs in pure Go even with OpenBLAS: a cgo call costs a few microseconds,
// more than a 1×784×10 product (a one-row k-means request: 6.0 µs through
// OpenBLAS, 1.9 µs in gonum). BenchmarkCPU/NearestL2/n=1,d=784,k=10 now
// takes 1.5-1.8 µs in the OpenBLAS build, as in the gonum one.
const smallGemm = 1 << 15

// sgemm computes one tile's product with the engine that suits its size.
func sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m*n*k < smallGemm {
		level1.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	impl.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Tile sizes. gonum's Sgemm runs serially (no goroutines, no allocation)
// when the product has fewer than four 64×64 blocks of C, and then forms
// each element of A·Bᵀ with one full-length SSE dot product. We call it on
// tiles of at most 3 such blocks and do the parallel split ourselves.
//
// tileRows×tileCols tiles for products with Bᵀ (the distance kernels and
// Gemm with transB): with gonum, x rows stay in L1 while 64 rows of y
// (200 KB at d=784) stay in L2, and the tile itself is 48 KB. OpenBLAS
// packs its operands and wants larger products per call: openblas.go sets
// 384×512 (BenchmarkTopKL2/n=1000,m=60000: 106 -> 115-122 GFLOP/s at
// 384×128; 512 columns took the kNN benchmark's Flat search, 5,000 queries
// × 60,000 rows × 784 a call, from 9.4-10.0 s to 8.0-9.0 s, and left PCA's
// regular mode as it was). The scratch arrays are sized for the largest.
var (
	tileRows = 192
	tileCols = 64
	// perCoreWide splits products with B (not Bᵀ) into one row block per
	// core instead of wide tiles; openblas.go sets it.
	perCoreWide = false
)

const (
	maxTileRows = 384
	maxTileCols = 512
	// wideRows×wideCols tiles for products with B: gonum forms those as
	// axpy updates of rows of C, which prefer long rows.
	wideRows = 64
	wideCols = 192
	// maxPerCoreCols bounds n for the per-core split of products with B
	// (perCoreWide); wider ones keep the wide tiles.
	maxPerCoreCols = 1024
	// kChunk bounds the inner dimension of one Sgemm call so that a row of
	// each operand (16 KB) stays in L1 for very wide inputs.
	kChunk = 4096
)

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// Gemm computes C = alpha*op(A)*op(B) + beta*C.
func (be *Backend) Gemm(transA, transB bool, alpha float32, a, b compute.Matrix, beta float32, c compute.Matrix) {
	checkMatrix("Gemm", "a", a)
	checkMatrix("Gemm", "b", b)
	checkMatrix("Gemm", "c", c)
	m, k := a.Rows, a.Cols
	if transA {
		m, k = k, m
	}
	kb, n := b.Rows, b.Cols
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		panicf("compute: Gemm op(a) is %d×%d and op(b) is %d×%d: inner dimensions differ", m, k, kb, n)
	}
	if c.Rows != m || c.Cols != n {
		panicf("compute: Gemm c is %d×%d, want %d×%d", c.Rows, c.Cols, m, n)
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scale(c, beta)
		return
	}
	j := gemmJobs.get()
	*j = gemmJob{transA: transA, transB: transB, alpha: alpha, beta: beta, a: a, b: b, c: c, m: m, n: n, k: k}
	j.tr, j.tc = wideRows, wideCols
	if transB {
		j.tr, j.tc = tileRows, tileCols
	} else if perCoreWide && n <= maxPerCoreCols {
		// One call per core: OpenBLAS packs B once per call. On the
		// linear learner's step (X·W and Xᵀ·G, n = 60) about 10% faster
		// than 64-row tiles, medians of a noisy machine
		// (BenchmarkGemmSkinny/step, -tags openblas).
		p := max(1, runtime.GOMAXPROCS(0))
		j.tr, j.tc = max(16, (ceilDiv(m, p)+15)&^15), n
	}
	j.nc = ceilDiv(n, j.tc)
	run(j, ceilDiv(m, j.tr)*j.nc, m*n*k)
	*j = gemmJob{}
	gemmJobs.put(j)
}

type gemmJob struct {
	transA, transB bool
	alpha, beta    float32
	a, b, c        compute.Matrix
	m, n, k        int
	tr, tc, nc     int // tile rows and columns, tiles per row of tiles
}

var gemmJobs = newFreeList[gemmJob]()

func (j *gemmJob) do(t int) {
	i0, j0 := t/j.nc*j.tr, t%j.nc*j.tc
	mb, nb := min(j.tr, j.m-i0), min(j.tc, j.n-j0)
	beta := j.beta
	for k0 := 0; k0 < j.k; k0 += kChunk {
		kb := min(kChunk, j.k-k0)
		var ao, bo int
		if j.transA {
			ao = k0*j.a.Stride + i0
		} else {
			ao = i0*j.a.Stride + k0
		}
		if j.transB {
			bo = j0*j.b.Stride + k0
		} else {
			bo = k0*j.b.Stride + j0
		}
		sgemm(trans(j.transA), trans(j.transB), mb, nb, kb,
			j.alpha, j.a.Data[ao:], j.a.Stride, j.b.Data[bo:], j.b.Stride,
			beta, j.c.Data[i0*j.c.Stride+j0:], j.c.Stride)
		beta = 1
	}
}

// scale sets c = beta*c (c = 0 when beta is 0, whatever c held).
func scale(c compute.Matrix, beta float32) {
	for i := range c.Rows {
		r := c.Row(i)
		if beta == 0 {
			clear(r)
			continue
		}
		for j := range r {
			r[j] *= beta
		}
	}
}

// RowSquaredNorms writes ‖row i of x‖² into dst[i].
func (be *Backend) RowSquaredNorms(dst []float32, x compute.Matrix) {
	checkMatrix("RowSquaredNorms", "x", x)
	if len(dst) != x.Rows {
		panicf("compute: RowSquaredNorms dst has length %d, want %d (x.Rows)", len(dst), x.Rows)
	}
	rowNorms(dst, x)
}

func rowNorms(dst []float32, x compute.Matrix) {
	const rowsPerTask = 256
	j := normJobs.get()
	j.dst, j.x, j.rows = dst, x, rowsPerTask
	run(j, ceilDiv(x.Rows, rowsPerTask), x.Rows*x.Cols)
	*j = normJob{}
	normJobs.put(j)
}

type normJob struct {
	dst  []float32
	x    compute.Matrix
	rows int
}

var normJobs = newFreeList[normJob]()

func (j *normJob) do(t int) {
	for i := t * j.rows; i < min((t+1)*j.rows, j.x.Rows); i++ {
		r := j.x.Row(i)
		j.dst[i] = level1.Sdot(len(r), r, 1, r, 1)
	}
}

// ArgminRows writes for each row i of m the column of its smallest value
// into idx[i] and the value into val[i]; ties go to the lowest column.
// A NaN is never smaller than anything, so it is returned only when it is
// in column 0 and nothing else is smaller.
func (be *Backend) ArgminRows(idx []int32, val []float32, m compute.Matrix) {
	checkMatrix("ArgminRows", "m", m)
	if len(idx) != m.Rows || len(val) != m.Rows {
		panicf("compute: ArgminRows idx and val have lengths %d and %d, want %d (m.Rows)", len(idx), len(val), m.Rows)
	}
	if m.Rows == 0 {
		return
	}
	if m.Cols == 0 {
		panicf("compute: ArgminRows m is %d×0: a row with no columns has no minimum", m.Rows)
	}
	const rowsPerTask = 256
	j := argminJobs.get()
	j.idx, j.val, j.m, j.rows = idx, val, m, rowsPerTask
	run(j, ceilDiv(m.Rows, rowsPerTask), m.Rows*m.Cols/4)
	*j = argminJob{}
	argminJobs.put(j)
}

type argminJob struct {
	idx  []int32
	val  []float32
	m    compute.Matrix
	rows int
}

var argminJobs = newFreeList[argminJob]()

func (j *argminJob) do(t int) {
	for i := t * j.rows; i < min((t+1)*j.rows, j.m.Rows); i++ {
		j.idx[i], j.val[i] = argmin(j.m.Row(i))
	}
}

func argmin(r []float32) (int32, float32) {
	best, bi := r[0], 0
	for c, v := range r[1:] {
		if v < best {
			best, bi = v, c+1
		}
	}
	return int32(bi), best
}
