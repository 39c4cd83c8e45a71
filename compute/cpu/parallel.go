package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagebrush-ml/sagebrush/internal/recovered"
)

// A job is a set of independent tasks, numbered from 0; do runs task t.
// Jobs are pointers to pooled structs, so handing one to the workers as an
// interface value allocates nothing.
type job interface {
	do(t int)
}

// batch is one parallel run of a job: the caller and its helpers claim task
// numbers from next until all n are taken. The last task to finish signals
// done; the last participant to leave (refs reaching zero) recycles the
// batch, so a helper that picks the batch up late never sees it reused.
type batch struct {
	job   job
	n     int64
	next  atomic.Int64
	left  atomic.Int64 // tasks not yet finished
	refs  atomic.Int32 // participants still holding the batch
	done  chan struct{}
	panic atomic.Pointer[recovered.Panic] // the first task's panic, raised again by run
}

// freeList recycles scratch structs. Not a sync.Pool: a struct is often
// returned on another P than the one that took it (the last helper to
// finish returns a batch; a caller resumes elsewhere after waiting), and a
// per-P pool then misses and allocates. A shared buffered channel does not.
type freeList[T any] struct{ ch chan *T }

func newFreeList[T any]() freeList[T] { return freeList[T]{ch: make(chan *T, 64)} }

// get returns a recycled *T, or a new zero one.
func (f freeList[T]) get() *T {
	select {
	case x := <-f.ch:
		return x
	default:
		return new(T)
	}
}

// put recycles x; beyond the list's capacity x is left to the GC.
func (f freeList[T]) put(x *T) {
	select {
	case f.ch <- x:
	default:
	}
}

var freeBatches = newFreeList[batch]()

func getBatch() *batch {
	b := freeBatches.get()
	if b.done == nil {
		b.done = make(chan struct{}, 1)
	}
	return b
}

// work claims and runs tasks until none are left.
func (b *batch) work() {
	for {
		t := b.next.Add(1) - 1
		if t >= b.n {
			return
		}
		b.do(int(t))
		if b.left.Add(-1) == 0 {
			b.done <- struct{}{}
		}
	}
}

// do runs task t, recovering a panic for run to raise on the caller's
// goroutine: on a helper's it would end the process.
func (b *batch) do(t int) {
	defer recovered.Catch(&b.panic)
	b.job.do(t)
}

// release drops one participant's hold and recycles the batch after the last.
func (b *batch) release() {
	if b.refs.Add(-1) == 0 {
		b.job = nil
		freeBatches.put(b)
	}
}

// workers is the process-wide pool of helper goroutines. They are started
// on first need (GOMAXPROCS-1 of them) and live as long as the process, so
// a parallel kernel call starts no goroutines and allocates nothing.
var workers struct {
	mu      sync.Mutex
	started int
	queue   chan *batch
}

func init() {
	workers.queue = make(chan *batch, 1024)
}

func ensureWorkers(n int) {
	workers.mu.Lock()
	for ; workers.started < n; workers.started++ {
		go func() {
			for {
				b := nextBatch()
				b.work()
				b.release()
			}
		}()
	}
	workers.mu.Unlock()
}

// spinFor is how long an idle helper keeps polling for the next batch,
// yielding its P to any runnable goroutine, before it parks. A parked
// helper's thread sleeps, and on a VM waking it (and its vCPU) again
// takes long enough to idle a core at every fork-join of a training step:
// the linear learner's multiclass training went from 3.60-4.20 s to
// 3.26-3.35 s with it (alternating /usr/bin/time runs by hand, not a
// benchmark: docs/algorithms/linear-learner.md).
var spinFor = 300 * time.Microsecond

// nextBatch returns the next queued batch, polling for spinFor first.
func nextBatch() *batch {
	deadline := time.Now().Add(spinFor)
	for {
		select {
		case b := <-workers.queue:
			return b
		default:
		}
		if time.Now().After(deadline) {
			return <-workers.queue
		}
		runtime.Gosched()
	}
}

// parallelMinWork is the number of multiply-adds below which a kernel runs
// on the calling goroutine alone: about a quarter of a millisecond of work,
// where waking helpers would cost more latency than it saves.
const parallelMinWork = 1 << 20

// run runs tasks 0..n-1 of j, on the calling goroutine alone when work (in
// multiply-adds) is small or GOMAXPROCS is 1, and otherwise shared with up
// to GOMAXPROCS-1 helpers. It returns when every task has finished.
func run(j job, n int, work int) {
	helpers := min(runtime.GOMAXPROCS(0), n) - 1
	if helpers <= 0 || work < parallelMinWork {
		for t := range n {
			j.do(t)
		}
		return
	}
	ensureWorkers(helpers)
	b := getBatch()
	b.job = j
	b.n = int64(n)
	b.next.Store(0)
	b.left.Store(int64(n))
	b.refs.Store(int32(helpers + 1))
	for range helpers {
		workers.queue <- b
	}
	b.work()
	<-b.done
	p := b.panic.Swap(nil)
	b.release()
	recovered.Repanic(p)
}
