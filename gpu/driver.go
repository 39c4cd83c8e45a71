package gpu

import (
	"bytes"
	"fmt"
	"unsafe"
)

// The typed binding of the CUDA driver API (libcuda.so.1): the few calls
// the backend makes, each a Go func bound with purego. Handles are opaque
// pointers (uintptr); device pointers are CUdeviceptr (uint64 on 64-bit).
//
// Every wrapper turns a non-zero CUresult into an *Error naming the call.

// Driver library file names, tried in order.
var driverNames = []string{"libcuda.so.1", "libcuda.so"}

const (
	cuSuccess = 0

	// CUdevice_attribute values.
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76
	attrMultiprocessorCount    = 16

	// cuStreamCreate / cuEventCreate flags.
	streamNonBlocking   = 0x1
	eventDisableTiming  = 0x2
	memHostAllocDefault = 0x0
)

// cuResultNames names the CUresult values seen in practice, for when
// cuGetErrorName itself is not available.
var cuResultNames = map[int]string{
	0: "CUDA_SUCCESS", 1: "CUDA_ERROR_INVALID_VALUE", 2: "CUDA_ERROR_OUT_OF_MEMORY",
	3: "CUDA_ERROR_NOT_INITIALIZED", 4: "CUDA_ERROR_DEINITIALIZED",
	100: "CUDA_ERROR_NO_DEVICE", 101: "CUDA_ERROR_INVALID_DEVICE",
	200: "CUDA_ERROR_INVALID_IMAGE", 201: "CUDA_ERROR_INVALID_CONTEXT",
	209: "CUDA_ERROR_NO_BINARY_FOR_GPU", 218: "CUDA_ERROR_INVALID_PTX",
	222: "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", 400: "CUDA_ERROR_INVALID_HANDLE",
	500: "CUDA_ERROR_NOT_FOUND", 700: "CUDA_ERROR_ILLEGAL_ADDRESS",
	701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", 702: "CUDA_ERROR_LAUNCH_TIMEOUT",
	719: "CUDA_ERROR_LAUNCH_FAILED", 999: "CUDA_ERROR_UNKNOWN",
}

type driver struct {
	lib *library

	cuInit                    func(flags uint32) int32
	cuDriverGetVersion        func(v *int32) int32
	cuGetErrorName            func(code int32, name **byte) int32
	cuDeviceGetCount          func(n *int32) int32
	cuDeviceGet               func(dev *int32, ordinal int32) int32
	cuDeviceGetName           func(name *byte, n int32, dev int32) int32
	cuDeviceTotalMem          func(bytes *uint64, dev int32) int32
	cuDeviceGetAttribute      func(v *int32, attr int32, dev int32) int32
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) int32
	cuDevicePrimaryCtxRelease func(dev int32) int32
	cuCtxSetCurrent           func(ctx uintptr) int32
	cuStreamCreate            func(s *uintptr, flags uint32) int32
	cuStreamSynchronize       func(s uintptr) int32
	cuEventCreate             func(e *uintptr, flags uint32) int32
	cuEventRecord             func(e, s uintptr) int32
	cuEventSynchronize        func(e uintptr) int32
	cuMemAlloc                func(p *uint64, bytes uint64) int32
	cuMemFree                 func(p uint64) int32
	cuMemHostAlloc            func(p *unsafe.Pointer, bytes uint64, flags uint32) int32
	cuMemFreeHost             func(p unsafe.Pointer) int32
	cuMemcpyHtoDAsync         func(dst uint64, src unsafe.Pointer, bytes uint64, s uintptr) int32
	cuMemcpyDtoHAsync         func(dst unsafe.Pointer, src uint64, bytes uint64, s uintptr) int32
	cuMemsetD32Async          func(dst uint64, v uint32, n uint64, s uintptr) int32
	cuModuleLoadData          func(m *uintptr, image unsafe.Pointer) int32
	cuModuleGetFunction       func(f *uintptr, m uintptr, name string) int32
	cuLaunchKernel            func(f uintptr, gx, gy, gz, bx, by, bz, shared uint32, s uintptr, params *unsafe.Pointer, extra unsafe.Pointer) int32
}

// loadDriver opens the driver library from names and binds its functions.
func loadDriver(names []string) (*driver, error) {
	lib, err := openLibrary("CUDA driver", names)
	if err != nil {
		return nil, err
	}
	d := &driver{lib: lib}
	err = lib.bind([]fn{
		{"cuInit", &d.cuInit},
		{"cuDriverGetVersion", &d.cuDriverGetVersion},
		{"cuGetErrorName", &d.cuGetErrorName},
		{"cuDeviceGetCount", &d.cuDeviceGetCount},
		{"cuDeviceGet", &d.cuDeviceGet},
		{"cuDeviceGetName", &d.cuDeviceGetName},
		{"cuDeviceTotalMem_v2", &d.cuDeviceTotalMem},
		{"cuDeviceGetAttribute", &d.cuDeviceGetAttribute},
		{"cuDevicePrimaryCtxRetain", &d.cuDevicePrimaryCtxRetain},
		{"cuDevicePrimaryCtxRelease_v2", &d.cuDevicePrimaryCtxRelease},
		{"cuCtxSetCurrent", &d.cuCtxSetCurrent},
		{"cuStreamCreate", &d.cuStreamCreate},
		{"cuStreamSynchronize", &d.cuStreamSynchronize},
		{"cuEventCreate", &d.cuEventCreate},
		{"cuEventRecord", &d.cuEventRecord},
		{"cuEventSynchronize", &d.cuEventSynchronize},
		{"cuMemAlloc_v2", &d.cuMemAlloc},
		{"cuMemFree_v2", &d.cuMemFree},
		{"cuMemHostAlloc", &d.cuMemHostAlloc},
		{"cuMemFreeHost", &d.cuMemFreeHost},
		{"cuMemcpyHtoDAsync_v2", &d.cuMemcpyHtoDAsync},
		{"cuMemcpyDtoHAsync_v2", &d.cuMemcpyDtoHAsync},
		{"cuMemsetD32Async", &d.cuMemsetD32Async},
		{"cuModuleLoadData", &d.cuModuleLoadData},
		{"cuModuleGetFunction", &d.cuModuleGetFunction},
		{"cuLaunchKernel", &d.cuLaunchKernel},
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// check turns a CUresult into nil or an *Error naming call.
func (d *driver) check(call string, r int32) error {
	if r == cuSuccess {
		return nil
	}
	return &Error{Lib: d.lib.file, Call: call, Code: int(r), Name: d.errorName(r)}
}

func (d *driver) errorName(r int32) string {
	var p *byte
	if d.cuGetErrorName != nil && d.cuGetErrorName(r, &p) == cuSuccess && p != nil {
		return cString(p)
	}
	return codeName(cuResultNames, int(r), "CUresult")
}

// codeName looks code up in names, or says it is unknown.
func codeName(names map[int]string, code int, kind string) string {
	if n, ok := names[code]; ok {
		return n
	}
	return fmt.Sprintf("unknown %s", kind)
}

// cString copies the NUL-terminated C string at p (owned by the library).
func cString(p *byte) string {
	if p == nil {
		return ""
	}
	var n int
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// trimNUL returns the bytes of a fixed C char buffer up to its first NUL.
func trimNUL(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// deviceInfo is what the log line and the kernel compiler need to know.
type deviceInfo struct {
	ordinal      int32
	name         string
	totalMem     uint64
	major, minor int32
	sms          int32
	driverVer    int32 // e.g. 12040 for CUDA 12.4
}

// probe initialises the driver and describes device ordinal.
func (d *driver) probe(ordinal int32) (deviceInfo, error) {
	info := deviceInfo{ordinal: ordinal}
	if err := d.check("cuInit", d.cuInit(0)); err != nil {
		return info, err
	}
	_ = d.cuDriverGetVersion(&info.driverVer)
	var n int32
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&n)); err != nil {
		return info, err
	}
	if n <= ordinal {
		return info, fmt.Errorf("%s: cuDeviceGetCount: %d devices, want device %d", d.lib.file, n, ordinal)
	}
	var dev int32
	if err := d.check("cuDeviceGet", d.cuDeviceGet(&dev, ordinal)); err != nil {
		return info, err
	}
	info.ordinal = dev
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", d.cuDeviceGetName(&name[0], int32(len(name)), dev)); err != nil {
		return info, err
	}
	info.name = trimNUL(name)
	if err := d.check("cuDeviceTotalMem_v2", d.cuDeviceTotalMem(&info.totalMem, dev)); err != nil {
		return info, err
	}
	for _, a := range []struct {
		attr int32
		dst  *int32
	}{{attrComputeCapabilityMajor, &info.major}, {attrComputeCapabilityMinor, &info.minor}, {attrMultiprocessorCount, &info.sms}} {
		if err := d.check("cuDeviceGetAttribute", d.cuDeviceGetAttribute(a.dst, a.attr, dev)); err != nil {
			return info, err
		}
	}
	return info, nil
}
