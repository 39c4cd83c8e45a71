package cpu

import (
	"runtime"

	"gonum.org/v1/gonum/blas"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// PairwiseL2 writes into dst the squared distances ‖x_i‖² + ‖y_j‖² - 2 x_i·y_j,
// clamped at zero. The products come from gonum's Sgemm on tiles of dst, and
// each tile gets its norms added while it is still in cache.
func (be *Backend) PairwiseL2(dst, x, y compute.Matrix, yNorms []float32) {
	checkDistance("PairwiseL2", x, y, yNorms)
	checkMatrix("PairwiseL2", "dst", dst)
	if dst.Rows != x.Rows || dst.Cols != y.Rows {
		panicf("compute: PairwiseL2 dst is %d×%d, want %d×%d", dst.Rows, dst.Cols, x.Rows, y.Rows)
	}
	if x.Rows == 0 || y.Rows == 0 {
		return
	}
	distance(dst, nil, nil, x, y, yNorms)
}

// NearestL2 writes for each row i of x the index of its nearest row of y
// into idx[i] and the squared distance into dist[i]; ties go to the lowest
// index. It computes the same distances as PairwiseL2, a tile at a time,
// and never holds more than one 192×64 tile of them per goroutine.
func (be *Backend) NearestL2(idx []int32, dist []float32, x, y compute.Matrix, yNorms []float32) {
	checkDistance("NearestL2", x, y, yNorms)
	if len(idx) != x.Rows || len(dist) != x.Rows {
		panicf("compute: NearestL2 idx and dist have lengths %d and %d, want %d (x.Rows)", len(idx), len(dist), x.Rows)
	}
	if x.Rows == 0 {
		return
	}
	if y.Rows == 0 {
		panicf("compute: NearestL2 y is 0×%d: no rows to be nearest to", y.Cols)
	}
	distance(compute.Matrix{}, idx, dist, x, y, yNorms)
}

func checkDistance(op string, x, y compute.Matrix, yNorms []float32) {
	checkMatrix(op, "x", x)
	checkMatrix(op, "y", y)
	if x.Cols != y.Cols {
		panicf("compute: %s x is %d×%d and y is %d×%d: column counts differ", op, x.Rows, x.Cols, y.Rows, y.Cols)
	}
	if yNorms != nil && len(yNorms) != y.Rows {
		panicf("compute: %s yNorms has length %d, want %d (y.Rows)", op, len(yNorms), y.Rows)
	}
}

// distJob computes distances between a block of tileRows rows of x and a
// range of rows of y per task. With idx == nil it writes them to dst;
// otherwise it keeps the nearest per row of x, in idx/dist directly when
// each row of x is one task (splits == 1), else per split in pv/pi, merged
// after the run.
type distJob struct {
	x, y, dst compute.Matrix
	yn        []float32
	idx       []int32
	dist      []float32
	splits    int

	// Owned buffers, kept with the pooled job and grown as needed.
	ynBuf []float32
	pv    []float32
	pi    []int32
}

var distJobs = newFreeList[distJob]()

// tile is one task's scratch: the norms of its rows of x and, for
// NearestL2, the distance tile.
type tile struct {
	xn [maxTileRows]float32
	d  [maxTileRows * maxTileCols]float32
}

var tiles = newFreeList[tile]()

func distance(dst compute.Matrix, idx []int32, dist []float32, x, y compute.Matrix, yNorms []float32) {
	j := distJobs.get()
	j.x, j.y, j.dst, j.idx, j.dist = x, y, dst, idx, dist
	if yNorms == nil {
		j.ynBuf = grow(j.ynBuf, y.Rows)
		rowNorms(j.ynBuf, y)
		yNorms = j.ynBuf
	}
	j.yn = yNorms

	xBlocks, work := ceilDiv(x.Rows, tileRows), x.Rows*y.Rows*x.Cols
	j.splits = ySplits(xBlocks, y.Rows, work, 4)
	if idx != nil && j.splits > 1 {
		j.pv = grow(j.pv, j.splits*x.Rows)
		if cap(j.pi) < j.splits*x.Rows {
			j.pi = make([]int32, j.splits*x.Rows)
		}
		j.pi = j.pi[:j.splits*x.Rows]
	}
	run(j, xBlocks*j.splits, work)

	if idx != nil && j.splits > 1 {
		n := x.Rows
		for i := range n {
			bv, bi := j.pv[i], j.pi[i]
			for s := 1; s < j.splits; s++ {
				if v := j.pv[s*n+i]; v < bv {
					bv, bi = v, j.pi[s*n+i]
				}
			}
			dist[i], idx[i] = bv, bi
		}
	}
	ynBuf, pv, pi := j.ynBuf, j.pv, j.pi
	*j = distJob{ynBuf: ynBuf, pv: pv, pi: pi}
	distJobs.put(j)
}

// ySplits is how many parts to cut the rows of y into, so that a product
// with few blocks of x rows (a few queries against a large index) still
// makes about perCore tasks for every core: 1 when x alone makes that many,
// or the work is too small to share.
func ySplits(xBlocks, yRows, work, perCore int) int {
	target := perCore * runtime.GOMAXPROCS(0)
	if xBlocks >= target || work < parallelMinWork {
		return 1
	}
	return max(1, min(ceilDiv(target, xBlocks), ceilDiv(yRows, tileCols)))
}

// splitRows returns split s of n rows of y cut into splits parts on whole
// tiles of tileCols rows, so every tile (and so every result, whatever BLAS
// computes it: OpenBLAS rounds by tile shape) is the same however many
// splits there are.
func splitRows(s, splits, n int) (lo, hi int) {
	tiles := ceilDiv(n, tileCols)
	return min(s*tiles/splits*tileCols, n), min((s+1)*tiles/splits*tileCols, n)
}

func (j *distJob) do(t int) {
	xb, s := t/j.splits, t%j.splits
	i0 := xb * tileRows
	mb := min(tileRows, j.x.Rows-i0)
	lo, hi := splitRows(s, j.splits, j.y.Rows)
	if lo == hi {
		return
	}
	sc := tiles.get()
	xn := sc.xn[:mb]
	for i := range xn {
		r := j.x.Row(i0 + i)
		xn[i] = level1.Sdot(len(r), r, 1, r, 1)
	}

	// Where this task's nearest neighbours go.
	var bestV []float32
	var bestI []int32
	if j.idx != nil {
		if j.splits == 1 {
			bestV, bestI = j.dist[i0:i0+mb], j.idx[i0:i0+mb]
		} else {
			o := s*j.x.Rows + i0
			bestV, bestI = j.pv[o:o+mb], j.pi[o:o+mb]
		}
	}

	for y0 := lo; y0 < hi; y0 += tileCols {
		nb := min(tileCols, hi-y0)
		// c = -2 x·yᵀ for rows i0.. of x and y0.. of y.
		c, ldc := sc.d[:], nb
		if j.idx == nil {
			c, ldc = j.dst.Data[i0*j.dst.Stride+y0:], j.dst.Stride
		}
		beta := float32(0)
		for k0 := 0; k0 < j.x.Cols; k0 += kChunk {
			kb := min(kChunk, j.x.Cols-k0)
			sgemm(blas.NoTrans, blas.Trans, mb, nb, kb,
				-2, j.x.Data[i0*j.x.Stride+k0:], j.x.Stride, j.y.Data[y0*j.y.Stride+k0:], j.y.Stride,
				beta, c, ldc)
			beta = 1
		}
		yn := j.yn[y0 : y0+nb]
		for i, xi := range xn {
			row := c[i*ldc : i*ldc+nb]
			if j.idx == nil {
				for jj, v := range row {
					d := xi + yn[jj] + v
					if d < 0 {
						d = 0
					}
					row[jj] = d
				}
				continue
			}
			jj0 := 0
			bv, bi := bestV[i], bestI[i]
			if y0 == lo {
				bv = xi + yn[0] + row[0]
				if bv < 0 {
					bv = 0
				}
				bi, jj0 = int32(y0), 1
			}
			for jj := jj0; jj < nb; jj++ {
				d := xi + yn[jj] + row[jj]
				if d < 0 {
					d = 0
				}
				if d < bv {
					bv, bi = d, int32(y0+jj)
				}
			}
			bestV[i], bestI[i] = bv, bi
		}
	}
	tiles.put(sc)
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
