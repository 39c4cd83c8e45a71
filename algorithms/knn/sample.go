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

	rng *rand.Rand
	row []float32
}

// maxReserveBytes bounds the room Offer reserves for the sample up front.
const maxReserveBytes = 1 << 30

// NewReservoir returns an empty reservoir drawing from rng.
func NewReservoir(size, dim int, rng *rand.Rand) *Reservoir {
	return &Reservoir{Size: size, Dim: dim, rng: rng, row: make([]float32, dim)}
}

// Len is the number of rows held.
func (r *Reservoir) Len() int { return len(r.Labels) }

// Offer considers every row of b (its first label per row; 0 when b has no
// labels).
func (r *Reservoir) Offer(b *data.Batch) {
	if r.X == nil && r.Size > 0 {
		// Room for the whole sample up front (at most 1 GiB of it): grown
		// by append, 60,000 rows of 784 left as much garbage as they hold,
		// and the heap peaked at 2.5 times the sample. Pages of the room
		// that the stream never fills are never touched.
		n := min(r.Size, maxReserveBytes/(4*max(r.Dim, 1)))
		r.X = make([]float32, 0, n*r.Dim)
		r.Labels = make([]float32, 0, n)
	}
	for i := 0; i < b.Rows; i++ {
		label := float32(0)
		if b.LabelSize > 0 {
			label = b.Label(i)
		}
		t := r.Seen
		r.Seen++
		if t < int64(r.Size) {
			if b.Sparse() {
				r.X = append(r.X, b.RowTo(r.row, i)...)
			} else {
				r.X = append(r.X, b.Dense[i*b.Cols:(i+1)*b.Cols]...)
			}
			r.Labels = append(r.Labels, label)
			continue
		}
		j := r.rng.Int64N(t + 1)
		if j >= int64(r.Size) {
			continue
		}
		b.RowTo(r.X[j*int64(r.Dim):(j+1)*int64(r.Dim)], i)
		r.Labels[j] = label
	}
}
