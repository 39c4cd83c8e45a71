package data

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sagebrush-ml/sagebrush/internal/recovered"
)

// ReadAhead wraps r so that the next mini-batch of n rows is read and decoded
// in a goroutine while the caller works on the current one: decoding and
// compute overlap instead of taking turns. Read must always be called with
// the same n. Memory is three mini-batches (the caller's, the next one, and
// r's own buffer). Batches returned stay valid until the next Read, as with
// any BatchReader. Close stops the goroutine and closes r.
func ReadAhead(r BatchReadCloser, n int) BatchReadCloser {
	a := &readAhead{r: r, n: n, free: make(chan *Batch, 2), ready: make(chan result, 1), done: make(chan struct{})}
	a.free <- new(Batch)
	a.free <- new(Batch)
	a.wg.Add(1)
	go a.loop()
	return a
}

type result struct {
	b     *Batch
	err   error
	panic *recovered.Panic // the reader's, raised again by Read on the caller's goroutine
}

type readAhead struct {
	r     BatchReadCloser
	n     int
	free  chan *Batch // buffers the loop may fill
	ready chan result // filled buffers, in order
	done  chan struct{}
	held  *Batch // the batch the caller holds
	err   error  // sticky, once the loop has stopped
	wg    sync.WaitGroup
	once  sync.Once
}

func (a *readAhead) loop() {
	defer a.wg.Done()
	for {
		var buf *Batch
		select {
		case buf = <-a.free:
		case <-a.done:
			return
		}
		res := a.read(buf)
		select {
		case a.ready <- res:
		case <-a.done:
			return
		}
		if res.err != nil {
			return
		}
	}
}

// read reads the next batch into buf. A panic of the reader (a decoder's
// bug) is recovered here and raised again by Read: on this goroutine it
// would end the process.
func (a *readAhead) read(buf *Batch) (res result) {
	var p atomic.Pointer[recovered.Panic]
	func() {
		defer recovered.Catch(&p)
		b, err := a.r.Read(a.n)
		if err == nil {
			copyBatch(buf, b)
		}
		res = result{b: buf, err: err}
	}()
	if res.panic = p.Load(); res.panic != nil {
		res.err = res.panic
	}
	return res
}

// Read returns the next batch of n rows (fewer at the end), or the reader's
// error (io.EOF at the end).
func (a *readAhead) Read(n int) (*Batch, error) {
	if n != a.n {
		return nil, fmt.Errorf("data: read-ahead reader asked for %d rows, set up for %d", n, a.n)
	}
	if a.err != nil {
		return nil, a.err
	}
	if a.held != nil {
		a.free <- a.held // cannot block: two buffers, at most one elsewhere
		a.held = nil
	}
	res := <-a.ready
	if res.err != nil {
		a.err = res.err
		recovered.Repanic(res.panic)
		return nil, res.err
	}
	a.held = res.b
	return res.b, nil
}

// Close stops reading ahead and closes the underlying reader.
func (a *readAhead) Close() error {
	var err error
	a.once.Do(func() {
		close(a.done)
		err = a.r.Close() // unblocks a Read stuck on a pipe
		a.wg.Wait()
		if a.err == nil {
			a.err = errors.New("data: read from a closed read-ahead reader")
		}
	})
	return err
}

// copyBatch makes dst a deep copy of src, reusing dst's slices.
func copyBatch(dst, src *Batch) {
	dst.Rows, dst.Cols, dst.LabelSize = src.Rows, src.Cols, src.LabelSize
	dst.Dense = cloneInto(dst.Dense, src.Dense)
	dst.Indptr = cloneInto(dst.Indptr, src.Indptr)
	dst.Indices = cloneInto(dst.Indices, src.Indices)
	dst.Values = cloneInto(dst.Values, src.Values)
	dst.Labels = cloneInto(dst.Labels, src.Labels)
}

// cloneInto copies src into dst's storage; nil stays nil, so a dense batch
// is not mistaken for CSR.
func cloneInto[T any](dst, src []T) []T {
	if src == nil {
		return nil
	}
	return append(dst[:0], src...)
}
