package gpu

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/compute/cpu"
)

// Backend is the CUDA implementation of compute.Backend, compute.Nearest
// and compute.TopK on one device. It is safe for concurrent use: calls are
// serialised on one CUDA stream (a mutex), each on a locked OS thread with
// the device's primary context current.
//
// Every call copies its operands to the device and its result back: the
// interface is synchronous and host-memory based. Inside a call, the rows
// of x go in blocks through two page-locked staging buffers, so the host
// packs block b+1 while the device computes block b. Device buffers come
// from a caching allocator and are reused across calls.
//
// A device failure inside a kernel call (out of memory, a launch error)
// panics with an *Error: the runtimes recover panics as algorithm errors.
type Backend struct {
	// MinWork is the number of multiply-adds under which a call runs on
	// the CPU engine instead: below it, the copies and the launch latency
	// (tens of microseconds) cost more than the arithmetic. Open sets it
	// to DefaultMinWork; tests set it to 0 to send everything to the GPU.
	MinWork int

	mu     sync.Mutex
	drv    *driver
	blas   *cublas
	rtc    *nvrtc
	info   deviceInfo
	arch   int // the compute_XY that the kernels were compiled for
	ctx    uintptr
	stream uintptr
	handle uintptr
	fns    map[string]uintptr
	pool   devPool
	yst    staging    // y and its norms
	in     [2]staging // blocks of x (double-buffered)
	out    [2]staging // blocks of results (double-buffered)
	cpu    compute.Backend
}

var (
	_ compute.Backend = (*Backend)(nil)
	_ compute.Nearest = (*Backend)(nil)
	_ compute.TopK    = (*Backend)(nil)
)

// DefaultMinWork is Backend.MinWork after Open: about 4 million
// multiply-adds, a millisecond of one CPU core.
const DefaultMinWork = 1 << 22

// Options says where Open looks. The zero value looks for the usual
// file names on the dynamic loader's path (LD_LIBRARY_PATH, ldconfig).
type Options struct {
	Device int      // the device ordinal (CUDA_VISIBLE_DEVICES applies first)
	Driver []string // file names tried for the driver; default libcuda.so.1, libcuda.so
	Cublas []string // default libcublas.so.13, .12, .11, libcublas.so
	NVRTC  []string // default libnvrtc.so.13, .12, .11.2, libnvrtc.so
}

// Open loads the CUDA driver, cuBLAS and NVRTC, opens device 0, and
// compiles the kernels. The error says which library or call failed.
func Open() (*Backend, error) { return OpenWith(Options{}) }

// OpenWith is Open with explicit options.
func OpenWith(o Options) (_ *Backend, err error) {
	if o.Driver == nil {
		o.Driver = driverNames
	}
	if o.Cublas == nil {
		o.Cublas = cublasNames
	}
	if o.NVRTC == nil {
		o.NVRTC = nvrtcNames
	}
	drv, err := loadDriver(o.Driver)
	if err != nil {
		return nil, err
	}
	info, err := drv.probe(int32(o.Device))
	if err != nil {
		return nil, err
	}
	// cuBLAS and NVRTC are looked for only once a device is known to be
	// there, so the common "no GPU" reason names the driver.
	blas, err := loadCublas(o.Cublas)
	if err != nil {
		return nil, err
	}
	rtc, err := loadNVRTC(o.NVRTC)
	if err != nil {
		return nil, err
	}
	b := &Backend{MinWork: DefaultMinWork, drv: drv, blas: blas, rtc: rtc, info: info, fns: map[string]uintptr{}, cpu: cpu.New()}
	b.pool.d = drv

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := drv.check("cuDevicePrimaryCtxRetain", drv.cuDevicePrimaryCtxRetain(&b.ctx, info.ordinal)); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if err := drv.check("cuCtxSetCurrent", drv.cuCtxSetCurrent(b.ctx)); err != nil {
		return nil, err
	}
	if err := drv.check("cuStreamCreate", drv.cuStreamCreate(&b.stream, streamNonBlocking)); err != nil {
		return nil, err
	}
	if err := blas.check("cublasCreate_v2", blas.cublasCreate(&b.handle)); err != nil {
		return nil, err
	}
	if err := blas.check("cublasSetStream_v2", blas.cublasSetStream(b.handle, b.stream)); err != nil {
		return nil, err
	}
	if err := blas.check("cublasSetMathMode", blas.cublasSetMathMode(b.handle, cublasDefaultMath)); err != nil {
		return nil, err
	}
	if err := b.loadKernels(); err != nil {
		return nil, err
	}
	return b, nil
}

// loadKernels compiles kernelSource for the device's architecture (or the
// newest one NVRTC knows below it) and loads the module.
func (b *Backend) loadKernels() error {
	want := int(b.info.major*10 + b.info.minor)
	var ptx []byte
	var err error
	for _, arch := range archCandidates(want) {
		ptx, err = b.rtc.compile(kernelSource, "sagebrush_kernels.cu", arch)
		if err == nil {
			b.arch = arch
			break
		}
		if e, ok := err.(*Error); !ok || e.Name != "NVRTC_ERROR_INVALID_OPTION" {
			return err // a compile error in our source: no other arch will help
		}
	}
	if err != nil {
		return err
	}
	var mod uintptr
	if err := b.drv.check("cuModuleLoadData", b.drv.cuModuleLoadData(&mod, unsafe.Pointer(&ptx[0]))); err != nil {
		return fmt.Errorf("loading the kernels compiled for compute_%d: %w", b.arch, err)
	}
	for _, name := range kernelNames {
		var f uintptr
		if err := b.drv.check("cuModuleGetFunction("+name+")", b.drv.cuModuleGetFunction(&f, mod, name)); err != nil {
			return err
		}
		b.fns[name] = f
	}
	return nil
}

// archCandidates lists the virtual architectures to try for a device of
// compute capability want (e.g. 90): want itself, then older ones, since
// PTX for an older architecture still runs on a newer device.
func archCandidates(want int) []int {
	out := []int{want}
	for _, a := range []int{120, 100, 90, 89, 87, 86, 80, 75, 70, 60, 52} {
		if a < want {
			out = append(out, a)
		}
	}
	return out
}

// Name returns "cuda (<device name>)".
func (b *Backend) Name() string { return "cuda (" + b.info.name + ")" }

// Device describes the device: its name, memory, compute capability and
// the architecture the kernels were compiled for.
func (b *Backend) Device() string {
	return fmt.Sprintf("%s (%s, compute capability %d.%d, %d SMs, kernels for compute_%d, driver %d.%d)",
		b.info.name, gib(b.info.totalMem), b.info.major, b.info.minor, b.info.sms, b.arch,
		b.info.driverVer/1000, b.info.driverVer%1000/10)
}

func gib(n uint64) string { return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30)) }

// Close frees the device memory, the cuBLAS handle and the context
// reference. The Backend must not be used after.
func (b *Backend) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.close()
}

func (b *Backend) close() {
	d := b.drv
	if b.ctx == 0 {
		return
	}
	_ = d.cuCtxSetCurrent(b.ctx)
	if b.stream != 0 {
		_ = d.cuStreamSynchronize(b.stream)
	}
	if b.handle != 0 {
		_ = b.blas.cublasDestroy(b.handle)
		b.handle = 0
	}
	b.pool.release()
	for _, s := range []*staging{&b.yst, &b.in[0], &b.in[1], &b.out[0], &b.out[1]} {
		if s.p != nil {
			_ = d.cuMemFreeHost(s.p)
		}
		*s = staging{}
	}
	_ = d.cuDevicePrimaryCtxRelease(b.info.ordinal)
	b.ctx = 0
}

// run runs f with the device ready on this goroutine's OS thread, and
// panics with f's error.
func (b *Backend) run(op string, f func() error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if b.ctx == 0 {
		panic("gpu: " + op + " on a closed Backend")
	}
	err := b.drv.check("cuCtxSetCurrent", b.drv.cuCtxSetCurrent(b.ctx))
	if err == nil {
		err = f()
	}
	if err != nil {
		// Leave the stream idle, so the next call starts clean.
		_ = b.drv.cuStreamSynchronize(b.stream)
		panic(fmt.Errorf("gpu: %s: %w", op, err))
	}
}

// launch starts kernel name with grid × block threads and shared bytes of
// dynamic shared memory. args are uint64 device pointers (0 for NULL),
// int (passed as int), or float32.
func (b *Backend) launch(name string, gx, gy, block, shared int, args ...any) error {
	params := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case uint64:
			p := new(uint64)
			*p = v
			params[i] = unsafe.Pointer(p)
		case int:
			p := new(int32)
			*p = int32(v)
			params[i] = unsafe.Pointer(p)
		case float32:
			p := new(float32)
			*p = v
			params[i] = unsafe.Pointer(p)
		default:
			panic(fmt.Sprintf("gpu: launch %s: argument %d has type %T", name, i, a))
		}
	}
	r := b.drv.cuLaunchKernel(b.fns[name], uint32(gx), uint32(gy), 1, uint32(block), 1, 1, uint32(shared), b.stream, &params[0], nil)
	runtime.KeepAlive(params)
	return b.drv.check("cuLaunchKernel("+name+")", r)
}

func (b *Backend) htod(dst uint64, src unsafe.Pointer, bytes int) error {
	if bytes == 0 {
		return nil
	}
	return b.drv.check("cuMemcpyHtoDAsync_v2", b.drv.cuMemcpyHtoDAsync(dst, src, uint64(bytes), b.stream))
}

func (b *Backend) dtoh(dst unsafe.Pointer, src uint64, bytes int) error {
	if bytes == 0 {
		return nil
	}
	return b.drv.check("cuMemcpyDtoHAsync_v2", b.drv.cuMemcpyDtoHAsync(dst, src, uint64(bytes), b.stream))
}

// wait blocks until the copies recorded on s are done.
func (b *Backend) wait(s *staging) error {
	if !s.busy {
		return nil
	}
	s.busy = false
	return b.drv.check("cuEventSynchronize", b.drv.cuEventSynchronize(s.ev))
}

// buffers hands out device buffers for one call and returns them all to
// the pool at the end.
type buffers struct {
	b    *Backend
	ptrs [][2]uint64
}

func (bs *buffers) get(bytes int) (uint64, error) {
	p, err := bs.b.pool.get(uint64(max(bytes, 4)))
	if err != nil {
		return 0, err
	}
	bs.ptrs = append(bs.ptrs, [2]uint64{p, uint64(max(bytes, 4))})
	return p, nil
}

func (bs *buffers) release() {
	for _, p := range bs.ptrs {
		bs.b.pool.put(p[0], p[1])
	}
	bs.ptrs = bs.ptrs[:0]
}

// pack copies m's rows, compactly, into dst (len m.Rows*m.Cols).
func pack(dst []float32, m compute.Matrix) {
	if m.Stride == m.Cols {
		copy(dst, m.Data[:m.Rows*m.Cols])
		return
	}
	for i := range m.Rows {
		copy(dst[i*m.Cols:(i+1)*m.Cols], m.Row(i))
	}
}

// unpack copies compact rows from src into m, leaving its padding alone.
func unpack(m compute.Matrix, src []float32) {
	for i := range m.Rows {
		copy(m.Row(i), src[i*m.Cols:(i+1)*m.Cols])
	}
}

var posInf = float32(math.Inf(1))
