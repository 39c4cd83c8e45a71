package knn

import (
	"math/rand/v2"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// Index is a faiss-style vector index: Train learns what the index needs
// (nothing for Flat, the coarse centroids and codebooks for IVF), Add
// stores rows with consecutive ids from Len(), Search finds each query's k
// nearest stored rows. The metric is fixed at construction; query knobs
// (nprobe) travel with each Search. After Add, an index is read-only and
// Search is safe for concurrent use.
type Index interface {
	// Dim is the vector dimension.
	Dim() int
	// Len is the number of rows added.
	Len() int
	// Train learns the index's parameters from x (n × Dim).
	Train(be compute.Backend, x compute.Matrix, rng *rand.Rand) error
	// Add stores the rows of x, with ids Len() ... Len()+x.Rows-1.
	Add(be compute.Backend, x compute.Matrix)
	// Search writes, for each row i of q, its k nearest ids into
	// ids[i*k:(i+1)*k] and their distances into dist[i*k:(i+1)*k],
	// nearest first (ties: lower id), padded with -1 and +Inf. Distances
	// are squared L2 for L2 and -x·y for inner product.
	Search(be compute.Backend, q compute.Matrix, k int, dist []float32, ids []int32, p SearchParams)
	// Reset removes every row (trained parameters are kept).
	Reset()
}

// SearchParams are the per-query knobs.
type SearchParams struct {
	// NProbe is the number of inverted lists an IVF index scans per query
	// (at least 1; at most nlist).
	NProbe int
}

// innerProduct reports whether metric ranks by inner product (COSINE is
// normalised rows plus inner product).
func innerProduct(metric string) bool { return metric == "INNER_PRODUCT" || metric == "COSINE" }

// Flat is exact search: every query against every stored row, as matrix
// products through compute's TopK kernel (faiss IndexFlatL2 / IndexFlatIP).
type Flat struct {
	d     int
	ip    bool
	x     []float32 // Len() × d
	norms []float32 // squared norms, for L2
}

var _ Index = (*Flat)(nil)

// NewFlat returns an empty flat index of dimension d; ip selects inner
// product ranking instead of L2.
func NewFlat(d int, ip bool) *Flat { return &Flat{d: d, ip: ip} }

func (f *Flat) Dim() int { return f.d }
func (f *Flat) Len() int { return len(f.norms) }

// Train does nothing: a flat index needs no training.
func (f *Flat) Train(compute.Backend, compute.Matrix, *rand.Rand) error { return nil }

// Add copies the rows of x.
func (f *Flat) Add(be compute.Backend, x compute.Matrix) {
	if x.Cols != f.d {
		panic("knn: Flat.Add dimension mismatch")
	}
	n0 := len(f.norms)
	for i := 0; i < x.Rows; i++ {
		f.x = append(f.x, x.Row(i)...)
	}
	f.norms = append(f.norms, make([]float32, x.Rows)...)
	be.RowSquaredNorms(f.norms[n0:], compute.MatrixOf(x.Rows, f.d, f.x[n0*f.d:]))
}

// adopt is Add on an empty index that takes ownership of x's storage.
func (f *Flat) adopt(be compute.Backend, x compute.Matrix) {
	if f.Len() != 0 || x.Cols != f.d {
		panic("knn: Flat.adopt on a non-empty index or with a dimension mismatch")
	}
	f.x = x.Data[:x.Rows*x.Cols]
	f.norms = make([]float32, x.Rows)
	be.RowSquaredNorms(f.norms, x)
}

// Vectors returns the stored rows (shared, do not modify).
func (f *Flat) Vectors() compute.Matrix { return compute.MatrixOf(f.Len(), f.d, f.x) }

// Search is exact: compute.TopKL2 or compute.TopKIP over every stored row.
func (f *Flat) Search(be compute.Backend, q compute.Matrix, k int, dist []float32, ids []int32, _ SearchParams) {
	y := f.Vectors()
	if f.ip {
		compute.TopKIP(be, dist, ids, k, q, y)
		return
	}
	compute.TopKL2(be, dist, ids, k, q, y, f.norms)
}

func (f *Flat) Reset() { f.x, f.norms = nil, nil }
