package kmeans

import (
	"cmp"
	"runtime"
	"slices"

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
// large enough), in bands of 64 features: a band's K × 64 reads and 64 × K
// writes stay in cache, where a whole column at a time missed on every
// write (a quarter of a wide sparse run's time).
func transpose(c compute.Matrix, dst []float32) []float32 {
	const band = 64
	K, d := c.Rows, c.Cols
	dst = grow(dst, K*d)
	for lo := 0; lo < d; lo += band {
		hi := min(lo+band, d)
		for k := 0; k < K; k++ {
			for j, v := range c.Data[k*d+lo : k*d+hi] {
				dst[(lo+j)*K+k] = v
			}
		}
	}
	return dst
}

// nearestSparse writes, for each row of the CSR batch b, the nearest of
// the K centers (scale[k] × column k of ct, d × K; scale nil for 1; norms
// their squared norms) and the squared distance to it in the GEMM form
// (clamped at 0), ties to the lower index as ArgminRows breaks them. Rows
// are split across the cores.
func nearestSparse(idx []int32, dist []float32, b *data.Batch, ct, norms, scale []float32) {
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
					axpy32(v, ct[j*K:(j+1)*K], dots)
				}
				for k := range scale {
					dots[k] *= scale[k]
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

// axpy32 is y += a·x over len(x) values: axpy32Go, or its AVX2 version
// (the same bits) when the build and the CPU have it. The CSR distances
// (nearestSparse) are one call per stored entry over the K centers: a
// fifth of the sparse benchmark's CPU.
var axpy32 = axpy32Go

func axpy32Go(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
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

// The mini-batch step on a CSR batch costs what the batch holds, not K × d:
// with center j kept as scale[j] × column j of ct, moving it toward its
// new points' mean, c ← (1−p)·c + p·mean, scales the column by (1−p) in
// scale[j] and adds p·mean/scale[j] to the stored features alone, where
// every step transposed and rescaled all K × d values before
// (BenchmarkTrainSparseWideBatches' setting, 500-row batches, go test
// -bench: 1.30 s before, 0.43 s after, the Gram-matrix Lloyd step already
// in both).

// minScale is where a column folds its scale back in, long before float32
// would lose range: a center's scale shrinks with every step it takes.
const minScale = 1e-6

// entry is one stored value of a CSR batch, keyed by feature × K + cluster
// (its place in ct), seq its place in the batch.
type entry struct {
	key int
	seq int32
	v   float32
}

// stepSparse is step for a CSR batch.
func (t *trainer) stepSparse(b *data.Batch) float64 {
	t.unsettle()
	K := t.centers.Rows
	t.idx = grow(t.idx, b.Rows)
	t.dist = grow(t.dist, b.Rows)
	t.scl32 = grow(t.scl32, K)
	for k, s := range t.scale {
		t.norms[k] = float32(s * s * t.nn[k])
		t.scl32[k] = float32(s)
	}
	nearestSparse(t.idx, t.dist, b, t.ct, t.norms, t.scl32)
	clear(t.newCnt)
	var ssd float64
	t.ents = t.ents[:0]
	for i := 0; i < b.Rows; i++ {
		j := int(t.idx[i])
		ssd += float64(t.dist[i])
		t.newCnt[j]++
		for q := b.Indptr[i]; q < b.Indptr[i+1]; q++ {
			t.ents = append(t.ents, entry{int(b.Indices[q])*K + j, int32(q), b.Values[q]})
		}
	}
	t.rates(b.Rows)
	t.resets = t.resets[:0]
	for j, pj := range t.rate {
		switch {
		case pj == 1: // no previous mass: the center becomes the mean
			t.resets = append(t.resets, j)
			t.scale[j], t.nn[j] = 1, 0
		case pj > 0:
			t.scale[j] *= 1 - pj
		}
	}
	if len(t.resets) > 0 { // one pass over ct, not a column at a time
		for row := t.ct; len(row) >= K; row = row[K:] {
			for _, j := range t.resets {
				row[j] = 0
			}
		}
	}
	// A feature's values add up in row order (seq breaks ties): the same
	// sums whatever the sort does with equal keys.
	t.ents, t.entsTmp = sortEntries(t.ents, t.entsTmp)
	for lo := 0; lo < len(t.ents); {
		key, sum := t.ents[lo].key, 0.0
		hi := lo
		for ; hi < len(t.ents) && t.ents[hi].key == key; hi++ {
			sum += float64(t.ents[hi].v)
		}
		lo = hi
		j := key % K
		old := float64(t.ct[key])
		v := float32(old + t.rate[j]/(t.newCnt[j]*t.scale[j])*sum)
		t.ct[key] = v
		t.nn[j] += float64(v)*float64(v) - old*old
	}
	for j, s := range t.scale {
		if s < minScale {
			t.fold(j)
		}
	}
	return ssd
}

// sortEntries orders es by key, and by seq among equal keys, returning
// the sorted entries and the other buffer for reuse. es comes in seq
// order, so a stable radix sort on the key alone (11 bits a pass) gives
// that order without comparisons: pdqsort's were a twentieth of the
// sparse benchmark's CPU. Short lists take pdqsort.
func sortEntries(es, tmp []entry) (sorted, spare []entry) {
	if len(es) < 1024 {
		slices.SortFunc(es, func(a, b entry) int {
			if c := cmp.Compare(a.key, b.key); c != 0 {
				return c
			}
			return cmp.Compare(a.seq, b.seq)
		})
		return es, tmp
	}
	const bits = 11
	const mask = 1<<bits - 1
	maxKey := 0
	for _, e := range es {
		maxKey = max(maxKey, e.key)
	}
	var count [1 << bits]int
	src, dst := es, grow(tmp, len(es))
	for shift := 0; shift == 0 || maxKey>>shift > 0; shift += bits {
		clear(count[:])
		for _, e := range src {
			count[e.key>>shift&mask]++
		}
		sum := 0
		for i, c := range count {
			count[i], sum = sum, sum+c
		}
		for _, e := range src {
			b := e.key >> shift & mask
			dst[count[b]] = e
			count[b]++
		}
		src, dst = dst, src
	}
	return src, dst
}

// scaled is the float32 a center kept as scale s × stored value v holds:
// what settle writes into its row, fold into its column, and what the
// local Lloyd step reads (candidates), so that all agree to the bit.
func scaled(s float64, v float32) float32 { return float32(s * float64(v)) }

// fold multiplies column j of ct by its scale, which becomes 1, and
// recomputes its squared norm.
func (t *trainer) fold(j int) {
	K, s := t.centers.Rows, t.scale[j]
	var nn float64
	for f := j; f < len(t.ct); f += K {
		t.ct[f] = scaled(s, t.ct[f])
		nn += float64(t.ct[f]) * float64(t.ct[f])
	}
	t.scale[j], t.nn[j] = 1, nn
}

// unsettle makes ct and scale the centers, from the rows of centers.
func (t *trainer) unsettle() {
	if t.lazy {
		return
	}
	K := t.centers.Rows
	t.ct = transpose(t.centers, t.ct)
	t.scale = grow(t.scale, K)
	t.nn = grow(t.nn, K)
	for j := range K {
		t.scale[j], t.nn[j] = 1, sqNorm64(t.centers.Row(j))
	}
	t.lazy = true
}

// settle writes the centers that ct and scale hold back into the rows of
// centers, in bands of features as transpose reads them.
func (t *trainer) settle() {
	if !t.lazy {
		return
	}
	const band = 64
	K, d := t.centers.Rows, t.centers.Cols
	if t.centers.Data == nil { // the first batches were CSR (init)
		t.centers = compute.NewMatrix(K, d)
	}
	for lo := 0; lo < d; lo += band {
		hi := min(lo+band, d)
		for j := 0; j < K; j++ {
			s, row := t.scale[j], t.centers.Row(j)
			for f := lo; f < hi; f++ {
				row[f] = scaled(s, t.ct[f*K+j])
			}
		}
	}
	t.lazy = false
}
