package cpu

import (
	"math"

	"gonum.org/v1/gonum/blas"

	"github.com/sagebrush-ml/sagebrush/compute"
)

var _ compute.TopK = (*Backend)(nil)

var posInf = float32(math.Inf(1))

// TopKL2 writes for each row i of x its k nearest rows of y by squared
// Euclidean distance, nearest first (ties: lower index), into
// idx[i*k:(i+1)*k] and dist[i*k:(i+1)*k], padded with -1/+Inf when y has
// fewer than k rows. The distances are the ones PairwiseL2 computes, bit for
// bit, a 192×64 tile at a time; each row keeps a bounded heap, so nothing of
// size x.Rows×y.Rows is ever held.
func (be *Backend) TopKL2(dist []float32, idx []int32, k int, x, y compute.Matrix, yNorms []float32) {
	checkDistance("TopKL2", x, y, yNorms)
	checkTopK("TopKL2", dist, idx, k, x)
	topK(dist, idx, k, x, y, yNorms, true)
}

// TopKIP writes for each row i of x the k rows of y with the largest inner
// products x_i·y_j, largest first (ties: lower index), with dist = -x_i·y_j.
func (be *Backend) TopKIP(dist []float32, idx []int32, k int, x, y compute.Matrix) {
	checkDistance("TopKIP", x, y, nil)
	checkTopK("TopKIP", dist, idx, k, x)
	topK(dist, idx, k, x, y, nil, false)
}

func checkTopK(op string, dist []float32, idx []int32, k int, x compute.Matrix) {
	if k < 1 {
		panicf("compute: %s k is %d, want >= 1", op, k)
	}
	if len(dist) != x.Rows*k || len(idx) != x.Rows*k {
		panicf("compute: %s dist and idx have lengths %d and %d, want %d (x.Rows*k)", op, len(dist), len(idx), x.Rows*k)
	}
}

// topKJob is one TopK call: tasks are (block of tileRows rows of x, range
// of rows of y). With splits == 1 each row's heap lives in dist/idx
// directly; otherwise each split keeps its own k best in pv/pi, merged
// after the run.
type topKJob struct {
	x, y   compute.Matrix
	yn     []float32
	l2     bool
	k      int
	dist   []float32
	idx    []int32
	splits int

	ynBuf []float32
	pv    []float32
	pi    []int32
}

var topKJobs = newFreeList[topKJob]()

// topKTile is one task's scratch: x norms, the distance tile and the heaps.
type topKTile struct {
	xn    [maxTileRows]float32
	d     [maxTileRows * maxTileCols]float32
	heaps [maxTileRows]compute.KHeap
}

var topKTiles = newFreeList[topKTile]()

func topK(dist []float32, idx []int32, k int, x, y compute.Matrix, yNorms []float32, l2 bool) {
	if x.Rows == 0 {
		return
	}
	if y.Rows == 0 {
		for i := range idx {
			idx[i], dist[i] = -1, posInf
		}
		return
	}
	j := topKJobs.get()
	j.x, j.y, j.l2, j.k, j.dist, j.idx = x, y, l2, k, dist, idx
	if l2 {
		if yNorms == nil {
			j.ynBuf = grow(j.ynBuf, y.Rows)
			rowNorms(j.ynBuf, y)
			yNorms = j.ynBuf
		}
		j.yn = yNorms
	}
	xBlocks := ceilDiv(x.Rows, tileRows)
	work := x.Rows * y.Rows * x.Cols
	// 32 tasks a core, more than balance needs, but measured: the kNN
	// benchmark's Flat search (14 blocks of x a call) ran 5-10% faster
	// split 5 ways than whole (8.0-9.0 s -> 7.6-8.5 s, three alternating
	// rounds), for a merge of 5·k candidates a row.
	j.splits = ySplits(xBlocks, y.Rows, work, 32)
	if j.splits > 1 {
		n := j.splits * x.Rows * k
		j.pv = grow(j.pv, n)
		if cap(j.pi) < n {
			j.pi = make([]int32, n)
		}
		j.pi = j.pi[:n]
	}
	run(j, xBlocks*j.splits, work)

	if j.splits > 1 {
		var h compute.KHeap
		n := x.Rows
		for i := range n {
			h.Reset(dist[i*k:(i+1)*k], idx[i*k:(i+1)*k])
			for s := range j.splits {
				o := (s*n + i) * k
				for p := o; p < o+k && j.pi[p] >= 0; p++ {
					h.Push(j.pv[p], j.pi[p])
				}
			}
			h.Sort()
		}
	}
	ynBuf, pv, pi := j.ynBuf, j.pv, j.pi
	*j = topKJob{ynBuf: ynBuf, pv: pv, pi: pi}
	topKJobs.put(j)
}

func (j *topKJob) do(t int) {
	xb, s := t/j.splits, t%j.splits
	i0 := xb * tileRows
	mb := min(tileRows, j.x.Rows-i0)
	lo, hi := splitRows(s, j.splits, j.y.Rows)
	k := j.k
	sc := topKTiles.get()
	xn := sc.xn[:mb]
	heaps := sc.heaps[:mb]
	for i := range mb {
		o := (i0 + i) * k
		if j.splits > 1 {
			o = (s*j.x.Rows + i0 + i) * k
			heaps[i].Reset(j.pv[o:o+k], j.pi[o:o+k])
		} else {
			heaps[i].Reset(j.dist[o:o+k], j.idx[o:o+k])
		}
		if j.l2 {
			r := j.x.Row(i0 + i)
			xn[i] = level1.Sdot(len(r), r, 1, r, 1)
		}
	}
	alpha := float32(-1)
	if j.l2 {
		alpha = -2
	}
	for y0 := lo; y0 < hi; y0 += tileCols {
		nb := min(tileCols, hi-y0)
		c := sc.d[:]
		beta := float32(0)
		for k0 := 0; k0 < j.x.Cols; k0 += kChunk {
			kb := min(kChunk, j.x.Cols-k0)
			sgemm(blas.NoTrans, blas.Trans, mb, nb, kb,
				alpha, j.x.Data[i0*j.x.Stride+k0:], j.x.Stride, j.y.Data[y0*j.y.Stride+k0:], j.y.Stride,
				beta, c, nb)
			beta = 1
		}
		for i := range mb {
			row := c[i*nb : i*nb+nb]
			h := &heaps[i]
			// The worst distance held lives in a register between pushes:
			// this loop sees every one of the n×m distances, and most are
			// rejected by this one comparison. Indices only grow within a
			// task, so a distance equal to the worst held never displaces it.
			full := h.Full()
			var worst float32
			if full {
				worst = h.Max()
			}
			if j.l2 {
				xi := xn[i]
				yn := j.yn[y0 : y0+nb]
				for jj, v := range row {
					d := xi + yn[jj] + v
					if d < 0 {
						d = 0
					}
					if full && d >= worst {
						continue
					}
					h.Push(d, int32(y0+jj))
					if full = h.Full(); full {
						worst = h.Max()
					}
				}
				continue
			}
			for jj, d := range row {
				if full && d >= worst {
					continue
				}
				h.Push(d, int32(y0+jj))
				if full = h.Full(); full {
					worst = h.Max()
				}
			}
		}
	}
	for i := range heaps {
		heaps[i].Sort()
		heaps[i] = compute.KHeap{}
	}
	topKTiles.put(sc)
}
