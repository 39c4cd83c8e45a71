package kmeans

import (
	"runtime"

	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/internal/recovered"
)

// Sparse (CSR) batches are never made dense: a mini-batch of 5,000 rows of
// 200,000 features would be 4 GB. Their distances to the centers come from
// ‖x‖² − 2·x·c + ‖c‖² over the stored entries, with the centers transposed
// (d × K) so that an entry reads the K values of its feature at once; the
// dense path computes the same form with a GEMM (PairwiseL2).

// transpose writes the K × d centers c as d × K into dst (reused when
// large enough).
func transpose(c compute.Matrix, dst []float32) []float32 {
	dst = grow(dst, c.Rows*c.Cols)
	for k := 0; k < c.Rows; k++ {
		for j, v := range c.Row(k) {
			dst[j*c.Rows+k] = v
		}
	}
	return dst
}

// nearestSparse writes, for each row of the CSR batch b, the nearest of
// the K centers (ct: d × K, norms their squared norms) and the squared
// distance to it in the GEMM form (clamped at 0), ties to the lower index
// as ArgminRows breaks them. Rows are split across the cores.
func nearestSparse(idx []int32, dist []float32, b *data.Batch, ct, norms []float32) {
	K := len(norms)
	parts := min(runtime.GOMAXPROCS(0), max(1, b.Rows/64))
	chunk := (b.Rows + parts - 1) / parts
	var g recovered.Group // a panic fails the job, not the process
	for lo := 0; lo < b.Rows; lo += chunk {
		hi := min(lo+chunk, b.Rows)
		g.Go(func() {
			dots := make([]float32, K)
			for i := lo; i < hi; i++ {
				clear(dots)
				var xx float32
				for q := b.Indptr[i]; q < b.Indptr[i+1]; q++ {
					v, j := b.Values[q], int(b.Indices[q])
					xx += v * v
					for k, c := range ct[j*K : (j+1)*K] {
						dots[k] += v * c
					}
				}
				best, bd := 0, float32(0)
				for k, dot := range dots {
					dk := max(xx-2*dot+norms[k], 0)
					if k == 0 || dk < bd {
						best, bd = k, dk
					}
				}
				idx[i], dist[i] = int32(best), bd
			}
		})
	}
	g.Wait()
}

// sqDistSparse64 is ‖x−c‖² in float64 for row i of the CSR batch b, cc
// being ‖c‖² in float64: ‖c‖² less the stored features' c_j², plus their
// (x_j − c_j)².
func sqDistSparse64(b *data.Batch, i int, c []float32, cc float64) float64 {
	s := cc
	for q := b.Indptr[i]; q < b.Indptr[i+1]; q++ {
		cj := float64(c[b.Indices[q]])
		e := float64(b.Values[q]) - cj
		s += e*e - cj*cj
	}
	return max(s, 0)
}

// sqNorm64 is ‖c‖² in float64.
func sqNorm64(c []float32) float64 {
	var s float64
	for _, v := range c {
		s += float64(v) * float64(v)
	}
	return s
}

// batchRows are the rows of a list of batches, dense or CSR, numbered in
// order: the rows the initial centers are picked from.
type batchRows struct {
	bs    []*data.Batch
	start []int // the number of batch i's first row
	d     int
}

func newBatchRows(bs []*data.Batch, d int) *batchRows {
	r := &batchRows{bs: bs, d: d}
	n := 0
	for _, b := range bs {
		r.start = append(r.start, n)
		n += b.Rows
	}
	return r
}

// at returns the batch holding row i and the row's index in it.
func (r *batchRows) at(i int) (*data.Batch, int) {
	k := len(r.start) - 1
	for r.start[k] > i {
		k--
	}
	return r.bs[k], i - r.start[k]
}

// row writes row i densely into dst (len d).
func (r *batchRows) row(i int, dst []float32) {
	b, i := r.at(i)
	if !b.Sparse() {
		copy(dst, b.Dense[i*r.d:(i+1)*r.d])
		return
	}
	clear(dst)
	for q := b.Indptr[i]; q < b.Indptr[i+1]; q++ {
		dst[b.Indices[q]] += b.Values[q]
	}
}

// sqDistTo writes every row's squared distance to c into dist, in float64
// as sqDist64 and sqDistSparse64 compute it.
func (r *batchRows) sqDistTo(c []float32, dist []float32) {
	cc := sqNorm64(c)
	n := 0
	for _, b := range r.bs {
		for i := 0; i < b.Rows; i++ {
			if b.Sparse() {
				dist[n] = float32(sqDistSparse64(b, i, c, cc))
			} else {
				dist[n] = float32(sqDist64(b.Dense[i*r.d:(i+1)*r.d], c))
			}
			n++
		}
	}
}

// anySparse reports whether any of bs is CSR.
func anySparse(bs []*data.Batch) bool {
	for _, b := range bs {
		if b.Sparse() {
			return true
		}
	}
	return false
}
