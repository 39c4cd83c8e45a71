package gpu

import (
	"errors"
	"math/bits"
	"unsafe"
)

// devPool is a caching allocator of device memory: freed buffers go on a
// free list keyed by their size class and are handed out again, so a
// training loop that calls the same kernels on every mini-batch allocates
// device memory in its first iteration only. Not safe for concurrent use
// (the Backend's mutex guards it).
type devPool struct {
	d      *driver
	free   map[uint64][]uint64 // size class -> device pointers
	cached uint64              // bytes on the free lists
	live   uint64              // bytes handed out
}

// sizeClass rounds n up to a class: powers of two up to 1 MiB, then
// multiples of a sixteenth of the next power of two (under 12.5% waste).
func sizeClass(n uint64) uint64 {
	if n <= 256 {
		return 256
	}
	p := uint64(1) << bits.Len64(n-1) // next power of two >= n
	if p <= 1<<20 {
		return p
	}
	step := p / 16
	return (n + step - 1) / step * step
}

// get returns a device buffer of at least n bytes. When the device is out
// of memory it frees every cached buffer and tries once more.
func (p *devPool) get(n uint64) (uint64, error) {
	c := sizeClass(n)
	if l := p.free[c]; len(l) > 0 {
		ptr := l[len(l)-1]
		p.free[c] = l[:len(l)-1]
		p.cached -= c
		p.live += c
		return ptr, nil
	}
	var ptr uint64
	err := p.d.check("cuMemAlloc_v2", p.d.cuMemAlloc(&ptr, c))
	var ce *Error
	if errors.As(err, &ce) && ce.Code == 2 && p.cached > 0 { // CUDA_ERROR_OUT_OF_MEMORY
		p.release()
		err = p.d.check("cuMemAlloc_v2", p.d.cuMemAlloc(&ptr, c))
	}
	if err != nil {
		return 0, err
	}
	p.live += c
	return ptr, nil
}

// put returns a buffer of n requested bytes (as passed to get) to the pool.
func (p *devPool) put(ptr, n uint64) {
	if ptr == 0 {
		return
	}
	c := sizeClass(n)
	if p.free == nil {
		p.free = map[uint64][]uint64{}
	}
	p.free[c] = append(p.free[c], ptr)
	p.cached += c
	p.live -= c
}

// release frees every cached buffer.
func (p *devPool) release() {
	for c, l := range p.free {
		for _, ptr := range l {
			_ = p.d.cuMemFree(ptr)
		}
		delete(p.free, c)
	}
	p.cached = 0
}

// staging is a page-locked host buffer that the DMA engine copies to and
// from asynchronously, with the event recorded after the last copy that
// used it: before the host writes it again, it waits for that event.
type staging struct {
	p    unsafe.Pointer
	n    uint64
	ev   uintptr
	busy bool
}

// acquire waits until the buffer's last copy is done and returns it with
// at least n bytes, growing it when needed.
func (b *Backend) acquire(s *staging, n uint64) (unsafe.Pointer, error) {
	d := b.drv
	if s.busy {
		if err := d.check("cuEventSynchronize", d.cuEventSynchronize(s.ev)); err != nil {
			return nil, err
		}
		s.busy = false
	}
	if s.ev == 0 {
		if err := d.check("cuEventCreate", d.cuEventCreate(&s.ev, eventDisableTiming)); err != nil {
			return nil, err
		}
	}
	if s.n < n {
		if s.p != nil {
			_ = d.cuMemFreeHost(s.p)
			s.p, s.n = nil, 0
		}
		c := sizeClass(n)
		if err := d.check("cuMemHostAlloc", d.cuMemHostAlloc(&s.p, c, memHostAllocDefault)); err != nil {
			return nil, err
		}
		s.n = c
	}
	return s.p, nil
}

// done records, on the backend's stream, that the copies queued so far
// are the last users of s.
func (b *Backend) done(s *staging) error {
	if err := b.drv.check("cuEventRecord", b.drv.cuEventRecord(s.ev, b.stream)); err != nil {
		return err
	}
	s.busy = true
	return nil
}

func floats(p unsafe.Pointer, n int) []float32 { return unsafe.Slice((*float32)(p), n) }

func int32s(p unsafe.Pointer, n int) []int32 { return unsafe.Slice((*int32)(p), n) }
