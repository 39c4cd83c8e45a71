package algorithmstest

import (
	"context"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"

	"github.com/sagebrush-ml/sagebrush/data"
)

// CSR is rows (of d values each) as one CSR batch of their nonzeros,
// unlabelled.
func CSR(d int, rows [][]float32) *data.Batch {
	b := &data.Batch{Rows: len(rows), Cols: d, Indptr: []int{0}}
	for _, row := range rows {
		for j, v := range row {
			if v != 0 {
				b.Indices = append(b.Indices, int32(j))
				b.Values = append(b.Values, v)
			}
		}
		b.Indptr = append(b.Indptr, len(b.Values))
	}
	return b
}

// CSRChannel is an in-memory channel of CSR rows of D features whose
// stored values are all 1: row i stores Keys[i] (ascending). With Labels
// (one a row) its batches are labelled. For wide rows a dense copy would
// not fit: the rows are never made dense.
type CSRChannel struct {
	D      int
	Keys   [][]int32
	Labels []float32
}

// Name is the channel's name in messages.
func (c *CSRChannel) Name() string { return "csr" }

// Open starts a pass over the rows.
func (c *CSRChannel) Open(context.Context, int) (data.BatchReadCloser, error) {
	return &csrReader{c: c}, nil
}

type csrReader struct {
	c   *CSRChannel
	pos int
}

func (r *csrReader) Read(n int) (*data.Batch, error) {
	if r.pos >= len(r.c.Keys) {
		return nil, io.EOF
	}
	end := min(r.pos+n, len(r.c.Keys))
	b := &data.Batch{Rows: end - r.pos, Cols: r.c.D, Indptr: []int{0}}
	if r.c.Labels != nil {
		b.LabelSize, b.Labels = 1, r.c.Labels[r.pos:end]
	}
	for _, keys := range r.c.Keys[r.pos:end] {
		for _, j := range keys {
			b.Indices = append(b.Indices, j)
			b.Values = append(b.Values, 1)
		}
		b.Indptr = append(b.Indptr, len(b.Values))
	}
	r.pos = end
	return b, nil
}

func (r *csrReader) Close() error { return nil }

// Topics is n labelled CSR rows of d features (d > 50): row i belongs to
// topic i mod 5 (its label) and stores three of that topic's ten features
// (10·topic to 10·topic+9) and two noise features anywhere past 50. The
// rows of a topic are near each other and far from the others'.
func Topics(n, d int) *CSRChannel {
	rng := rand.New(rand.NewPCG(9, 9))
	c := &CSRChannel{D: d}
	for i := range n {
		tp := i % 5
		var keys []int32
		for range 3 {
			keys = append(keys, int32(10*tp+rng.IntN(10)))
		}
		for range 2 {
			keys = append(keys, int32(50+rng.IntN(d-50)))
		}
		slices.Sort(keys)
		c.Keys, c.Labels = append(c.Keys, slices.Compact(keys)), append(c.Labels, float32(tp))
	}
	return c
}

// AllocatedMiB runs fn and returns the MiB the process allocated meanwhile
// (runtime.MemStats.TotalAlloc: every allocation, freed or not).
func AllocatedMiB(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) >> 20
}
