// Package data holds the Batch type (a mini-batch of float32 rows, dense or
// CSR, with optional labels) and SageMaker's content types: training readers
// for text/csv and application/x-recordio-protobuf, request decoders for
// text/csv, application/json, application/jsonlines and
// application/x-recordio-protobuf, and response encoders for
// application/json, application/jsonlines and application/x-recordio-protobuf.
package data

import (
	"context"
	"io"
)

// Batch is a mini-batch of rows. It is dense (Dense holds Rows*Cols values,
// row-major) or sparse in CSR form (Indptr, Indices, Values), never both.
// Labels, when present, hold Rows*LabelSize values.
type Batch struct {
	Rows int
	Cols int // feature dimension

	Dense []float32 // dense rows; nil when the batch is sparse

	Indptr  []int     // CSR row pointers, len Rows+1
	Indices []int32   // CSR column indices, ascending within a row
	Values  []float32 // CSR values

	Labels    []float32
	LabelSize int
}

// Sparse reports whether the batch is stored in CSR form.
func (b *Batch) Sparse() bool { return b.Dense == nil && b.Indptr != nil }

// Clone returns a deep copy of b, sharing no storage with it.
func (b *Batch) Clone() *Batch {
	c := new(Batch)
	copyBatch(c, b)
	return c
}

// AppendRows appends the given rows of src to b, without labels: densely
// when src is dense, as CSR when it is CSR (b, if not empty, stored the
// same way, with the same Cols).
func (b *Batch) AppendRows(src *Batch, rows []int) {
	if !src.Sparse() {
		for _, i := range rows {
			b.Dense = append(b.Dense, src.Dense[i*src.Cols:(i+1)*src.Cols]...)
		}
		b.Rows += len(rows)
		return
	}
	if b.Indptr == nil {
		b.Indptr = []int{0}
	}
	for _, i := range rows {
		lo, hi := src.Indptr[i], src.Indptr[i+1]
		b.Indices = append(b.Indices, src.Indices[lo:hi]...)
		b.Values = append(b.Values, src.Values[lo:hi]...)
		b.Indptr = append(b.Indptr, len(b.Values))
	}
	b.Rows += len(rows)
}

// Reset empties the batch, keeping its buffers for reuse.
func (b *Batch) Reset() {
	b.Rows = 0
	b.Dense = b.Dense[:0]
	b.Indptr = b.Indptr[:0]
	b.Indices = b.Indices[:0]
	b.Values = b.Values[:0]
	b.Labels = b.Labels[:0]
}

// RowTo writes row i as a dense vector into dst (len Cols) and returns it.
// dst is allocated when nil; it panics if dst has the wrong length.
func (b *Batch) RowTo(dst []float32, i int) []float32 {
	if dst == nil {
		dst = make([]float32, b.Cols)
	}
	if len(dst) != b.Cols {
		panic("data: RowTo destination length differs from Cols")
	}
	if !b.Sparse() {
		copy(dst, b.Dense[i*b.Cols:(i+1)*b.Cols])
		return dst
	}
	clear(dst)
	for p := b.Indptr[i]; p < b.Indptr[i+1]; p++ {
		dst[b.Indices[p]] = b.Values[p]
	}
	return dst
}

// DenseTo writes all rows densely into dst (len Rows*Cols, row-major) and
// returns it; dst is allocated when too short.
func (b *Batch) DenseTo(dst []float32) []float32 {
	n := b.Rows * b.Cols
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	if !b.Sparse() {
		copy(dst, b.Dense[:n])
		return dst
	}
	clear(dst)
	for i := 0; i < b.Rows; i++ {
		row := dst[i*b.Cols : (i+1)*b.Cols]
		for p := b.Indptr[i]; p < b.Indptr[i+1]; p++ {
			row[b.Indices[p]] = b.Values[p]
		}
	}
	return dst
}

// Label returns the first label of row i (the usual single-label case).
func (b *Batch) Label(i int) float32 { return b.Labels[i*b.LabelSize] }

// BatchReader yields the rows of one pass over a channel, mini-batch by
// mini-batch.
type BatchReader interface {
	// Read returns the next batch of at most n rows (fewer only at the end of
	// the data), or io.EOF when no rows remain. The batch and its slices
	// belong to the reader and are valid until the next call to Read; a
	// caller that keeps rows copies them.
	Read(n int) (*Batch, error)
}

// Each calls fn on every batch of at most n rows that r returns, until
// io.EOF (then it returns nil). Between batches it returns ctx.Err() once
// ctx is cancelled; fn's error and a read error are returned as they are
// (a channel's reader names the channel itself). It does not close r. fn
// must not keep the batch (see Read).
func Each(ctx context.Context, r BatchReader, n int, fn func(*Batch) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := r.Read(n)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
}

// BatchReadCloser is a BatchReader over a resource that must be released.
type BatchReadCloser interface {
	BatchReader
	io.Closer
}
