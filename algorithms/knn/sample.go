package knn

import (
	"math/rand/v2"

	"github.com/sagebrush-ml/sagebrush/data"
)

// Reservoir is a uniform random sample of at most Size rows of a stream
// (Vitter's algorithm R): after t rows were offered, every one of them is in
// the sample with probability min(1, Size/t), in memory proportional to
// Size × Dim whatever the length of the stream. It copies the rows it keeps.
type Reservoir struct {
	Size, Dim int
	X         []float32 // len(Labels) rows of Dim values
	Labels    []float32
	Seen      int64 // rows offered

	rng   *rand.Rand
	zeros []float32 // Dim of them: a new row's room
}

// maxReserveBytes bounds the room Offer reserves for the sample up front.
const maxReserveBytes = 1 << 30

// NewReservoir returns an empty reservoir drawing from rng.
func NewReservoir(size, dim int, rng *rand.Rand) *Reservoir {
	return &Reservoir{Size: size, Dim: dim, rng: rng, zeros: make([]float32, dim)}
}

// Len is the number of rows held.
func (r *Reservoir) Len() int { return len(r.Labels) }

// Offer considers every row of b (its first label per row; 0 when b has no
// labels).
func (r *Reservoir) Offer(b *data.Batch) {
	for i, p := range r.Places(b.Rows) {
		if p < 0 {
			continue
		}
		b.RowTo(r.X[p*r.Dim:(p+1)*r.Dim], i)
		r.Labels[p] = 0
		if b.LabelSize > 0 {
			r.Labels[p] = b.Label(i)
		}
	}
}

// Places decides where each of the next n rows of the stream goes: its
// row in X, or -1 when the sample passes it over. X and Labels grow by the
// rows appended (zeros until the caller writes them). It draws as Offer
// does; a caller that must transform rows (a projection) transforms only
// those placed.
func (r *Reservoir) Places(n int) []int {
	if r.X == nil && r.Size > 0 {
		// Room for the whole sample up front (at most 1 GiB of it): grown
		// by append, 60,000 rows of 784 left as much garbage as they hold,
		// and the heap peaked at 2.5 times the sample. Pages of the room
		// that the stream never fills are never touched.
		m := min(r.Size, maxReserveBytes/(4*max(r.Dim, 1)))
		r.X = make([]float32, 0, m*r.Dim)
		r.Labels = make([]float32, 0, m)
	}
	places := make([]int, n)
	for i := range places {
		t := r.Seen
		r.Seen++
		if t < int64(r.Size) {
			places[i] = len(r.Labels)
			r.X = append(r.X, r.zeros...)
			r.Labels = append(r.Labels, 0)
			continue
		}
		j := r.rng.Int64N(t + 1)
		places[i] = -1
		if j < int64(r.Size) {
			places[i] = int(j)
		}
	}
	return places
}

// subBatch is the rows keep (ascending) of b, dense or CSR as b is, without
// labels.
func subBatch(b *data.Batch, keep []int) *data.Batch {
	out := &data.Batch{Cols: b.Cols}
	out.AppendRows(b, keep)
	return out
}
