package linearlearner

import (
	"context"
	"io"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/data"
)

// cacheBudget is how many bytes of decoded batches the train and
// validation channels may keep in memory between passes (together). A data
// set that fits is decoded once instead of once per epoch (decoding
// RecordIO-protobuf costs about as much CPU as the training GEMMs on
// Fashion-MNIST); a larger one streams every pass, as before.
var cacheBudget int64 = 1 << 30

// cachedChannel wraps a channel: its first pass keeps a copy of every batch
// while the shared budget lasts; once a pass was kept whole, later passes
// replay it from memory without opening the channel (in Pipe mode the
// FIFOs of later passes are then never opened).
type cachedChannel struct {
	ch       algorithms.Channel
	budget   *int64
	batches  []*data.Batch
	size     int64
	complete bool
	started  bool
}

func newCached(ch algorithms.Channel, budget *int64) *cachedChannel {
	return &cachedChannel{ch: ch, budget: budget}
}

// Open returns pass epoch: from memory when the first pass was kept whole,
// else from the channel (recording, on the first pass). cached tells which.
func (c *cachedChannel) Open(ctx context.Context, epoch int) (r data.BatchReadCloser, cached bool, err error) {
	if c.complete {
		return &replay{batches: c.batches}, true, nil // shared: readers must not modify them
	}
	r, err = c.ch.Open(ctx, epoch)
	if err != nil || c.started {
		c.drop()
		return r, false, err
	}
	c.started = true
	return &recorder{r: r, c: c}, false, nil
}

// drop frees the kept batches and returns their bytes to the budget.
func (c *cachedChannel) drop() {
	*c.budget += c.size
	c.batches, c.size, c.complete = nil, 0, false
}

func batchBytes(b *data.Batch) int64 {
	dense := 0
	if b.Dense != nil {
		dense = b.Rows * b.Cols
	}
	return int64(4*(dense+len(b.Values)+len(b.Indices)+len(b.Labels)) + 8*len(b.Indptr) + 128)
}

// recorder keeps a copy of each batch read through it.
type recorder struct {
	r    data.BatchReadCloser
	c    *cachedChannel
	full bool // over budget: keep nothing
}

func (r *recorder) Read(n int) (*data.Batch, error) {
	b, err := r.r.Read(n)
	switch {
	case err == io.EOF:
		if !r.full {
			r.c.complete = true
		}
	case err != nil || r.full:
	default:
		if sz := batchBytes(b); sz <= *r.c.budget {
			*r.c.budget -= sz
			r.c.size += sz
			r.c.batches = append(r.c.batches, b.Clone())
		} else {
			r.full = true
			r.c.drop()
		}
	}
	return b, err
}

func (r *recorder) Close() error { return r.r.Close() }
