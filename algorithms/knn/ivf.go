package knn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/internal/recovered"
)

// Training sizes, as faiss bounds them (max_points_per_centroid, niter):
// the coarse k-means sees at most coarsePointsPerList rows per list, each
// PQ codebook at most pqPointsPerCode rows per code; both run lloydIters
// Lloyd iterations from a random start.
const (
	coarsePointsPerList = 64
	pqPointsPerCode     = 32
	lloydIters          = 10
	pqKSub              = 256 // 8-bit codes
)

// IVF is an inverted-file index (faiss IndexIVFFlat, IndexIVFPQ): a coarse
// quantizer (a Flat of nlist centroids learnt by k-means) sends each row
// to the list of its nearest centroid; a query scans only the NProbe lists
// nearest to it. Rows are kept as they are (IVFFlat) or as PQ codes of
// their residual to the list's centroid (IVFPQ, L2 only).
type IVF struct {
	d     int
	ip    bool
	nlist int
	quant *Flat
	pq    *PQ // nil: IVFFlat
	lists []ivfList
	n     int
	// vecs, when not nil, holds every list's rows back to back in list
	// order (the lists' x are its pieces): what Save writes, without a
	// copy. The first Add on an empty index and Load set it; a later Add
	// clears it.
	vecs []float32

	// IVFPQ: term[(l*M + j)*KSub + c] = ‖w_jc‖² + 2 c_l,j·w_jc, the part
	// of ‖q - c_l - w‖² that does not depend on the query (faiss's
	// precomputed table), built on first search.
	termOnce sync.Once
	term     []float32
}

type ivfList struct {
	ids   []int32
	x     []float32 // IVFFlat: rows × d
	norms []float32 // IVFFlat, L2: squared norms
	codes []uint8   // IVFPQ: rows × m
}

var _ Index = (*IVF)(nil)

// NewIVFFlat returns an untrained IVFFlat index with nlist lists.
func NewIVFFlat(d, nlist int, ip bool) *IVF { return &IVF{d: d, ip: ip, nlist: nlist} }

// NewIVFPQ returns an untrained IVFPQ index (L2) with nlist lists and m
// sub-quantizers of 8 bits; m must divide d.
func NewIVFPQ(d, nlist, m int) *IVF {
	if d%m != 0 {
		panic("knn: NewIVFPQ: m does not divide d")
	}
	return &IVF{d: d, nlist: nlist, pq: &PQ{D: d, M: m, DSub: d / m}}
}

func (v *IVF) Dim() int   { return v.d }
func (v *IVF) Len() int   { return v.n }
func (v *IVF) NList() int { return v.nlist }

// Train learns the nlist centroids with k-means (nlist is lowered to the
// number of rows if there are fewer) and, for IVFPQ, the codebooks of the
// residuals to them.
func (v *IVF) Train(be compute.Backend, x compute.Matrix, rng *rand.Rand) error {
	if x.Rows == 0 {
		return errorf("cannot train an IVF index on no rows")
	}
	v.nlist = min(v.nlist, x.Rows)
	xt := subsample(x, coarsePointsPerList*v.nlist, rng)
	cent := lloyd(be, xt, v.nlist, lloydIters, rng)
	v.quant = NewFlat(v.d, v.ip)
	v.quant.Add(be, cent)
	v.lists = make([]ivfList, v.nlist)
	if v.pq != nil {
		xp := subsample(x, pqPointsPerCode*pqKSub, rng)
		v.pq.Train(be, v.residuals(be, xp, nil), rng)
	}
	return nil
}

// subsample returns at most n rows of x, a uniform random choice (x itself
// when it has no more).
func subsample(x compute.Matrix, n int, rng *rand.Rand) compute.Matrix {
	if x.Rows <= n {
		return x
	}
	out := compute.NewMatrix(n, x.Cols)
	for i, r := range rng.Perm(x.Rows)[:n] {
		copy(out.Row(i), x.Row(r))
	}
	return out
}

// assign returns the list of each row of x.
func (v *IVF) assign(be compute.Backend, x compute.Matrix) []int32 {
	ids := make([]int32, x.Rows)
	dist := make([]float32, x.Rows)
	v.quant.Search(be, x, 1, dist, ids, SearchParams{})
	return ids
}

// residuals returns x minus each row's centroid (lists nil: assign first).
func (v *IVF) residuals(be compute.Backend, x compute.Matrix, lists []int32) compute.Matrix {
	if lists == nil {
		lists = v.assign(be, x)
	}
	r := compute.NewMatrix(x.Rows, x.Cols)
	c := v.quant.Vectors()
	for i := range x.Rows {
		out, row, cr := r.Row(i), x.Row(i), c.Row(int(lists[i]))
		for j := range out {
			out[j] = row[j] - cr[j]
		}
	}
	return r
}

// pqSearchBlock is how many queries an IVFPQ Search handles at a time.
const pqSearchBlock = 1024

// addBlock is how many rows Add encodes at a time (IVFPQ).
const addBlock = 8192

// Add assigns each row to its list and stores it (IVFPQ: its code).
func (v *IVF) Add(be compute.Backend, x compute.Matrix) {
	lists := v.assign(be, x)
	var codes []uint8
	if v.pq != nil {
		// Residuals and codes a block of rows at a time: the residuals of
		// the whole sample (188 MB for Fashion-MNIST) on top of the
		// sample and the training residuals were the build's peak.
		codes = make([]uint8, 0, x.Rows*v.pq.M)
		for lo := 0; lo < x.Rows; lo += addBlock {
			hi := min(lo+addBlock, x.Rows)
			xb := x.RowRange(lo, hi)
			codes = append(codes, v.pq.Encode(be, v.residuals(be, xb, lists[lo:hi]))...)
		}
	}
	// Room for each list's new rows first, so the appends below never
	// regrow a list. On an empty IVFFlat the lists are carved from one
	// array in list order (full slice expressions: no list can grow into
	// the next), which Save then writes as it is.
	counts := make([]int, v.nlist)
	for _, l := range lists {
		counts[l]++
	}
	var flat []float32
	if v.n == 0 && v.pq == nil {
		flat = make([]float32, 0, x.Rows*v.d)
	}
	v.vecs = nil
	off := 0
	for l, c := range counts {
		L := &v.lists[l]
		L.ids = slices.Grow(L.ids, c)
		switch {
		case v.pq != nil:
			L.codes = slices.Grow(L.codes, c*v.pq.M)
		case flat != nil:
			L.x = flat[off : off : off+c*v.d]
			off += c * v.d
		default:
			L.x = slices.Grow(L.x, c*v.d)
		}
	}
	for i, l := range lists {
		L := &v.lists[l]
		L.ids = append(L.ids, int32(v.n+i))
		if v.pq != nil {
			L.codes = append(L.codes, codes[i*v.pq.M:(i+1)*v.pq.M]...)
			continue
		}
		L.x = append(L.x, x.Row(i)...)
	}
	if flat != nil {
		v.vecs = flat[:x.Rows*v.d]
	}
	if v.pq == nil && !v.ip {
		for l := range v.lists {
			L := &v.lists[l]
			L.norms = make([]float32, len(L.ids))
			be.RowSquaredNorms(L.norms, compute.MatrixOf(len(L.ids), v.d, L.x))
		}
	}
	v.n += x.Rows
}

func (v *IVF) Reset() {
	v.lists = make([]ivfList, v.nlist)
	v.n = 0
	v.vecs = nil
}

// Search finds the NProbe nearest lists of every query, then scans each
// list once for all the queries that probe it (a matrix product per list
// for IVFFlat, PQ distance tables per list for IVFPQ), and merges each
// query's NProbe partial top-k.
func (v *IVF) Search(be compute.Backend, q compute.Matrix, k int, dist []float32, ids []int32, p SearchParams) {
	n := q.Rows
	if n == 0 {
		return
	}
	if v.pq != nil && n > pqSearchBlock {
		// searchPQ holds every query's inner products with every codeword
		// (m × 256 floats a query: 287 MB for 5,000 queries at m = 56,
		// the peak of an IVFPQ job): a block of queries at a time.
		for lo := 0; lo < n; lo += pqSearchBlock {
			hi := min(lo+pqSearchBlock, n)
			qb := q.RowRange(lo, hi)
			v.Search(be, qb, k, dist[lo*k:hi*k], ids[lo*k:hi*k], p)
		}
		return
	}
	nprobe := min(max(p.NProbe, 1), v.nlist)
	if v.n < k {
		// No probe of fewer lists can find k rows: probe them all at once
		// rather than widen query by query (searchWider).
		nprobe = v.nlist
	}
	pd, pl := make([]float32, n*nprobe), make([]int32, n*nprobe)
	v.quant.Search(be, q, nprobe, pd, pl, SearchParams{})

	// Queries by list: slot s = i*nprobe + probe.
	count := make([]int, v.nlist+1)
	for _, l := range pl {
		count[l+1]++
	}
	for l := range v.nlist {
		count[l+1] += count[l]
	}
	bySlot := make([]int32, n*nprobe)
	fill := append([]int(nil), count[:v.nlist]...)
	for s, l := range pl {
		bySlot[fill[l]] = int32(s)
		fill[l]++
	}
	cd, ci := make([]float32, n*nprobe*k), make([]int32, n*nprobe*k)
	for i := range ci {
		cd[i], ci[i] = float32(math.Inf(1)), -1
	}
	if v.pq != nil {
		v.searchPQ(be, q, k, count, bySlot, pd, cd, ci)
	} else {
		v.searchFlat(be, q, k, count, bySlot, cd, ci)
	}
	var h compute.KHeap
	var short []int // queries whose probed lists held fewer than k rows
	for i := range n {
		h.Reset(dist[i*k:(i+1)*k], ids[i*k:(i+1)*k])
		for s := i * nprobe * k; s < (i+1)*nprobe*k; s++ {
			if ci[s] >= 0 {
				h.Push(cd[s], ci[s])
			}
		}
		h.Sort()
		if ids[(i+1)*k-1] < 0 {
			short = append(short, i)
		}
	}
	if len(short) > 0 && nprobe < v.nlist {
		v.searchWider(be, q, k, dist, ids, p, nprobe, short)
	}
}

// searchWider searches the short queries again, probing twice as many
// lists (up to all of them, where k rows are found whenever the index holds
// k), so that a response holds k real neighbours instead of empty slots.
// faiss would return id -1 there; a small list (few rows, or rows
// clustered in few lists) with a large k makes it common.
func (v *IVF) searchWider(be compute.Backend, q compute.Matrix, k int, dist []float32, ids []int32, p SearchParams, nprobe int, short []int) {
	sq := compute.NewMatrix(len(short), q.Cols)
	for r, i := range short {
		copy(sq.Row(r), q.Row(i))
	}
	sd, si := make([]float32, len(short)*k), make([]int32, len(short)*k)
	p.NProbe = min(2*nprobe, v.nlist)
	v.Search(be, sq, k, sd, si, p)
	for r, i := range short {
		copy(dist[i*k:(i+1)*k], sd[r*k:(r+1)*k])
		copy(ids[i*k:(i+1)*k], si[r*k:(r+1)*k])
	}
}

func (v *IVF) searchFlat(be compute.Backend, q compute.Matrix, k int, count []int, bySlot []int32, cd []float32, ci []int32) {
	nprobe := len(bySlot) / q.Rows
	var qb []float32
	var td []float32
	var ti []int32
	for l := range v.nlist {
		slots := bySlot[count[l]:count[l+1]]
		L := &v.lists[l]
		if len(slots) == 0 || len(L.ids) == 0 {
			continue
		}
		nq := len(slots)
		qb = growF(qb, nq*v.d)
		for r, s := range slots {
			copy(qb[r*v.d:(r+1)*v.d], q.Row(int(s)/nprobe))
		}
		qm := compute.MatrixOf(nq, v.d, qb)
		y := compute.MatrixOf(len(L.ids), v.d, L.x)
		td = growF(td, nq*k)
		if cap(ti) < nq*k {
			ti = make([]int32, nq*k)
		}
		ti = ti[:nq*k]
		if v.ip {
			compute.TopKIP(be, td, ti, k, qm, y)
		} else {
			compute.TopKL2(be, td, ti, k, qm, y, L.norms)
		}
		for r, s := range slots {
			o := int(s) * k
			for p := range k {
				if j := ti[r*k+p]; j >= 0 {
					cd[o+p], ci[o+p] = td[r*k+p], L.ids[j]
				}
			}
		}
	}
}

// searchPQ scores codes by ‖q - c - w‖² = ‖q - c‖² + Σ_j (‖w_j‖² +
// 2 c_j·w_j) - 2 Σ_j q_j·w_j: the coarse distance (from the quantizer
// search), the per-list table (precomputed once) and q's inner products
// with every codeword (one Gemm per sub-space for all queries).
func (v *IVF) searchPQ(be compute.Backend, q compute.Matrix, k int, count []int, bySlot []int32, pd []float32, cd []float32, ci []int32) {
	nprobe := len(bySlot) / q.Rows
	pq := v.pq
	m, ks := pq.M, pq.KSub
	v.termOnce.Do(func() { v.term = v.pqTerm(be) })
	qw := make([]float32, q.Rows*m*ks)
	for j := range m {
		dst := compute.Matrix{Rows: q.Rows, Cols: ks, Stride: m * ks, Data: qw[j*ks:]}
		be.Gemm(false, true, -2, sub(q, j, pq.DSub), pq.codebook(j), 0, dst)
	}
	tabs := make([]float32, workers()*m*ks)
	for l := range v.nlist {
		slots := bySlot[count[l]:count[l+1]]
		L := &v.lists[l]
		if len(slots) == 0 || len(L.ids) == 0 {
			continue
		}
		term := v.term[l*m*ks : (l+1)*m*ks]
		parallelFor(len(slots), func(w, r int) {
			s := int(slots[r])
			i := s / nprobe
			tab := tabs[w*m*ks : (w+1)*m*ks]
			qi := qw[i*m*ks : (i+1)*m*ks]
			for e := range tab {
				tab[e] = term[e] + qi[e]
			}
			base := pd[s]
			var h compute.KHeap
			h.Reset(cd[s*k:(s+1)*k], ci[s*k:(s+1)*k])
			for e, id := range L.ids {
				code := L.codes[e*m : (e+1)*m]
				d := base
				for j, cj := range code {
					d += tab[j*ks+int(cj)]
				}
				if d < 0 {
					d = 0
				}
				if h.Full() && d >= h.Max() {
					continue
				}
				h.Push(d, id)
			}
			h.Sort()
		})
	}
}

// pqTerm computes the per-list tables of term (see IVF).
func (v *IVF) pqTerm(be compute.Backend) []float32 {
	pq := v.pq
	m, ks := pq.M, pq.KSub
	term := make([]float32, v.nlist*m*ks)
	cent := v.quant.Vectors()
	norms := make([]float32, ks)
	for j := range m {
		cb := pq.codebook(j)
		be.RowSquaredNorms(norms, cb)
		dst := compute.Matrix{Rows: v.nlist, Cols: ks, Stride: m * ks, Data: term[j*ks:]}
		be.Gemm(false, true, 2, sub(cent, j, pq.DSub), cb, 0, dst)
		for l := range v.nlist {
			row := dst.Row(l)
			for c := range row {
				row[c] += norms[c]
			}
		}
	}
	return term
}

// workers is how many goroutines parallelFor uses.
func workers() int { return runtime.GOMAXPROCS(0) }

// parallelFor runs f(w, i) for i in 0..n-1 on up to workers() goroutines;
// w < workers() numbers the goroutine (for per-goroutine scratch).
func parallelFor(n int, f func(w, i int)) {
	workers := min(workers(), n)
	if workers <= 1 || n < 16 {
		for i := range n {
			f(0, i)
		}
		return
	}
	var g recovered.Group
	var mu sync.Mutex
	next := 0
	for w := range workers {
		g.Go(func() {
			for {
				mu.Lock()
				i := next
				next += 8
				mu.Unlock()
				if i >= n {
					return
				}
				for j := i; j < min(i+8, n); j++ {
					f(w, j)
				}
			}
		})
	}
	g.Wait()
}

func growF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// PQ is a product quantizer: a vector of D dims is M sub-vectors of DSub
// dims, each replaced by the index of its nearest of KSub codewords.
type PQ struct {
	D, M, DSub, KSub int
	// Codebooks holds M × KSub × DSub codewords.
	Codebooks []float32
}

// sub returns the sub-vectors j of the rows of x as a strided view.
func sub(x compute.Matrix, j, dsub int) compute.Matrix {
	return compute.Matrix{Rows: x.Rows, Cols: dsub, Stride: x.Stride, Data: x.Data[j*dsub:]}
}

func (pq *PQ) codebook(j int) compute.Matrix {
	return compute.MatrixOf(pq.KSub, pq.DSub, pq.Codebooks[j*pq.KSub*pq.DSub:])
}

// Train learns each sub-space's codebook by k-means on the rows of x.
func (pq *PQ) Train(be compute.Backend, x compute.Matrix, rng *rand.Rand) {
	pq.KSub = min(pqKSub, x.Rows)
	pq.Codebooks = make([]float32, pq.M*pq.KSub*pq.DSub)
	for j := range pq.M {
		xs := compute.NewMatrix(x.Rows, pq.DSub)
		sx := sub(x, j, pq.DSub)
		for i := range x.Rows {
			copy(xs.Row(i), sx.Row(i))
		}
		cb := lloyd(be, xs, pq.KSub, lloydIters, rng)
		copy(pq.Codebooks[j*pq.KSub*pq.DSub:], cb.Data)
	}
}

// Encode returns the codes of the rows of x, rows × M bytes.
func (pq *PQ) Encode(be compute.Backend, x compute.Matrix) []uint8 {
	codes := make([]uint8, x.Rows*pq.M)
	idx, dist := make([]int32, x.Rows), make([]float32, x.Rows)
	for j := range pq.M {
		if x.Rows == 0 {
			break
		}
		compute.NearestL2(be, idx, dist, sub(x, j, pq.DSub), pq.codebook(j), nil, nil)
		for i, c := range idx {
			codes[i*pq.M+j] = uint8(c)
		}
	}
	return codes
}

// Decode writes the reconstruction of code into dst (len D).
func (pq *PQ) Decode(dst []float32, code []uint8) {
	for j, c := range code {
		copy(dst[j*pq.DSub:(j+1)*pq.DSub], pq.codebook(j).Row(int(c)))
	}
}

// Tables writes for each row r of x the distance tables
// tab[(r*M + j)*KSub + c] = ‖x_r,j - codeword_j,c‖², one PairwiseL2 per
// sub-space; the asymmetric distance to a code is the sum over j.
func (pq *PQ) Tables(be compute.Backend, tab []float32, x compute.Matrix) {
	for j := range pq.M {
		dst := compute.Matrix{Rows: x.Rows, Cols: pq.KSub, Stride: pq.M * pq.KSub, Data: tab[j*pq.KSub:]}
		be.PairwiseL2(dst, sub(x, j, pq.DSub), pq.codebook(j), nil)
	}
}

// lloyd runs iters Lloyd iterations of k-means with K centers on the rows
// of x (x.Rows >= K), from K distinct random rows; a center left empty
// moves to a random row. Assignments are compute.NearestL2 calls; means
// are summed in float64.
func lloyd(be compute.Backend, x compute.Matrix, K, iters int, rng *rand.Rand) compute.Matrix {
	n, d := x.Rows, x.Cols
	c := compute.NewMatrix(K, d)
	for i, r := range rng.Perm(n)[:K] {
		copy(c.Row(i), x.Row(r))
	}
	norms := make([]float32, K)
	idx, dist := make([]int32, n), make([]float32, n)
	sums := make([]float64, K*d)
	cnt := make([]int, K)
	for range iters {
		be.RowSquaredNorms(norms, c)
		compute.NearestL2(be, idx, dist, x, c, norms, nil)
		clear(sums)
		clear(cnt)
		for i, j := range idx {
			cnt[j]++
			s := sums[int(j)*d : int(j+1)*d]
			for f, v := range x.Row(i) {
				s[f] += float64(v)
			}
		}
		for j := range K {
			row := c.Row(j)
			if cnt[j] == 0 {
				copy(row, x.Row(rng.IntN(n)))
				continue
			}
			s := sums[j*d : (j+1)*d]
			for f := range row {
				row[f] = float32(s[f] / float64(cnt[j]))
			}
		}
	}
	return c
}
