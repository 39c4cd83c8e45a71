package data

import (
	"cmp"
	"math"
	"slices"
)

// builder appends rows to a Batch it owns the buffers of. Rows are dense
// until the first sparse row; then the batch switches to CSR and stays CSR
// (dense rows are stored by their nonzeros).
type builder struct {
	b      *Batch
	cols   int
	sparse bool

	dense   []float32
	indptr  []int
	indices []int32
	values  []float32
	labels  []float32

	pairs []sparsePair // sorting scratch
	want  int          // dense values reserve asked for, made at the first dense row
}

type sparsePair struct {
	k uint64
	v float32
}

// reset starts a new batch of cols-wide rows, keeping the buffers.
func (bl *builder) reset(b *Batch, cols int) {
	bl.b = b
	bl.cols = cols
	bl.sparse = false
	bl.dense = bl.dense[:0]
	bl.indptr = bl.indptr[:0]
	bl.indices = bl.indices[:0]
	bl.values = bl.values[:0]
	bl.labels = bl.labels[:0]
	b.Rows = 0
	b.Cols = cols
}

// reserveValues bounds reserve: 16 MB of float32.
const reserveValues = 1 << 22

// reserve makes room for n dense rows, so a reader's first batch does not
// grow its buffer row by row. Bounded, by rows and by values: a huge n is a
// hint, not a promise (1,000 rows of 200,000 features reserved 800 MB,
// zeroed, for every reader of a sparse channel opened). And made only when
// a dense row comes: the rows may all come sparse (the 16 MiB each reader
// of a sparse channel of 100,000 features zeroed showed in perf profiles of
// the sparse k-means benchmark; TestRecordIOSparseWideAllocates bounds what
// a sparse read allocates).
func (bl *builder) reserve(n int) {
	if bl.cols > 0 {
		bl.want = min(n, 1<<16, max(1, reserveValues/bl.cols)) * bl.cols
	}
}

// denseRow appends a row and returns it for the caller to fill; with a
// sparse batch the caller must use addDense instead.
func (bl *builder) denseRow() []float32 {
	n := len(bl.dense)
	if n == 0 && cap(bl.dense) < bl.want {
		bl.dense = slices.Grow(bl.dense, bl.want)
	}
	bl.dense = slices.Grow(bl.dense, bl.cols)[:n+bl.cols]
	bl.b.Rows++
	return bl.dense[n:]
}

// unDenseRow removes the row denseRow just appended.
func (bl *builder) unDenseRow() {
	bl.dense = bl.dense[:len(bl.dense)-bl.cols]
	bl.b.Rows--
}

// addDense appends a dense row of len cols.
func (bl *builder) addDense(vals []float32) {
	if !bl.sparse {
		copy(bl.denseRow(), vals)
		return
	}
	for j, v := range vals {
		if v != 0 {
			bl.indices = append(bl.indices, int32(j))
			bl.values = append(bl.values, v)
		}
	}
	bl.indptr = append(bl.indptr, len(bl.indices))
	bl.b.Rows++
}

// toSparse converts the dense rows so far to CSR.
func (bl *builder) toSparse() {
	if bl.sparse {
		return
	}
	bl.sparse = true
	bl.indptr = append(bl.indptr[:0], 0)
	for i := 0; i < bl.b.Rows; i++ {
		for j, v := range bl.dense[i*bl.cols : (i+1)*bl.cols] {
			if v != 0 {
				bl.indices = append(bl.indices, int32(j))
				bl.values = append(bl.values, v)
			}
		}
		bl.indptr = append(bl.indptr, len(bl.indices))
	}
	bl.dense = bl.dense[:0]
}

// checkSparse checks one sparse record (JSON or RecordIO) before it is
// added: the flattened size of its shape, when given, may be smaller than
// cols (the SDK writes a scipy matrix's own width, which leaves out
// trailing columns no row uses) but not larger; it has one value per key;
// every key is below cols. A size or key beyond cols is a *DimensionError;
// a count mismatch is counts ("N keys and M values"), for the caller to
// word.
func checkSparse(record int, shape, keys []uint64, nvals, cols int) (dim error, counts string) {
	if len(shape) > 0 {
		size := uint64(1)
		for _, d := range shape {
			if d != 0 && size > math.MaxInt32/d {
				size = math.MaxInt32
				break
			}
			size *= d
		}
		if size > uint64(cols) {
			return &DimensionError{Record: record, Got: int(size), Want: cols, Shape: true}, ""
		}
	}
	if len(keys) != nvals {
		return nil, itoa(int64(len(keys))) + " keys and " + itoa(int64(nvals)) + " values"
	}
	for _, k := range keys {
		if k >= uint64(cols) {
			return &DimensionError{Record: record, Got: int(min(k, math.MaxInt32)), Want: cols, Key: true}, ""
		}
	}
	return nil, ""
}

// addSparse appends a sparse row; keys and vals have equal length and every
// key is < cols (checked by the caller). Keys are sorted here; a repeated
// key is an error message.
func (bl *builder) addSparse(keys []uint64, vals []float32) string {
	sorted := true
	for i := 1; i < len(keys); i++ {
		if keys[i] <= keys[i-1] {
			sorted = false
			break
		}
	}
	if !sorted {
		bl.pairs = bl.pairs[:0]
		for i, k := range keys {
			bl.pairs = append(bl.pairs, sparsePair{k, vals[i]})
		}
		slices.SortStableFunc(bl.pairs, func(a, b sparsePair) int { return cmp.Compare(a.k, b.k) })
		for i := 1; i < len(bl.pairs); i++ {
			if bl.pairs[i].k == bl.pairs[i-1].k {
				return "sparse key " + itoa(int64(bl.pairs[i].k)) + " is repeated"
			}
		}
	}
	bl.toSparse()
	if sorted {
		for i, k := range keys {
			bl.indices = append(bl.indices, int32(k))
			bl.values = append(bl.values, vals[i])
		}
	} else {
		for _, p := range bl.pairs {
			bl.indices = append(bl.indices, int32(p.k))
			bl.values = append(bl.values, p.v)
		}
	}
	bl.indptr = append(bl.indptr, len(bl.indices))
	bl.b.Rows++
	return ""
}

// finish stores the rows in the batch; labelSize 0 means no labels.
func (bl *builder) finish(labelSize int) *Batch {
	b := bl.b
	if bl.sparse {
		b.Dense = nil
		b.Indptr, b.Indices, b.Values = bl.indptr, bl.indices, bl.values
	} else {
		if bl.dense == nil {
			bl.dense = []float32{}
		}
		b.Dense = bl.dense
		b.Indptr, b.Indices, b.Values = nil, nil, nil
	}
	b.LabelSize = labelSize
	if labelSize > 0 {
		b.Labels = bl.labels
	} else {
		b.Labels = nil
	}
	return b
}
