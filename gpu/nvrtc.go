package gpu

import (
	"fmt"
	"unsafe"
)

// The typed binding of NVRTC: compile CUDA C source to PTX at run time.

// NVRTC library file names, tried in order (CUDA 13, 12, 11.2+).
var nvrtcNames = []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"}

var nvrtcResultNames = map[int]string{
	0: "NVRTC_SUCCESS", 1: "NVRTC_ERROR_OUT_OF_MEMORY", 2: "NVRTC_ERROR_PROGRAM_CREATION_FAILURE",
	3: "NVRTC_ERROR_INVALID_INPUT", 4: "NVRTC_ERROR_INVALID_PROGRAM", 5: "NVRTC_ERROR_INVALID_OPTION",
	6: "NVRTC_ERROR_COMPILATION", 7: "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE",
	11: "NVRTC_ERROR_INTERNAL_ERROR",
}

type nvrtc struct {
	lib *library

	nvrtcVersion           func(major, minor *int32) int32
	nvrtcCreateProgram     func(p *uintptr, src, name string, nHeaders int32, headers, includeNames unsafe.Pointer) int32
	nvrtcCompileProgram    func(p uintptr, nOpts int32, opts **byte) int32
	nvrtcGetPTXSize        func(p uintptr, n *uint64) int32
	nvrtcGetPTX            func(p uintptr, ptx *byte) int32
	nvrtcGetProgramLogSize func(p uintptr, n *uint64) int32
	nvrtcGetProgramLog     func(p uintptr, log *byte) int32
	nvrtcDestroyProgram    func(p *uintptr) int32
}

func loadNVRTC(names []string) (*nvrtc, error) {
	lib, err := openLibrary("NVRTC", names)
	if err != nil {
		return nil, err
	}
	r := &nvrtc{lib: lib}
	err = lib.bind([]fn{
		{"nvrtcVersion", &r.nvrtcVersion},
		{"nvrtcCreateProgram", &r.nvrtcCreateProgram},
		{"nvrtcCompileProgram", &r.nvrtcCompileProgram},
		{"nvrtcGetPTXSize", &r.nvrtcGetPTXSize},
		{"nvrtcGetPTX", &r.nvrtcGetPTX},
		{"nvrtcGetProgramLogSize", &r.nvrtcGetProgramLogSize},
		{"nvrtcGetProgramLog", &r.nvrtcGetProgramLog},
		{"nvrtcDestroyProgram", &r.nvrtcDestroyProgram},
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *nvrtc) check(call string, code int32) error {
	if code == 0 {
		return nil
	}
	return &Error{Lib: r.lib.file, Call: call, Code: int(code), Name: codeName(nvrtcResultNames, int(code), "nvrtcResult")}
}

// compile compiles src (named name in messages) to PTX for the virtual
// architecture compute_<arch> (e.g. 90), with the given extra options. A
// compile error carries NVRTC's log.
func (r *nvrtc) compile(src, name string, arch int, opts ...string) ([]byte, error) {
	var prog uintptr
	if err := r.check("nvrtcCreateProgram", r.nvrtcCreateProgram(&prog, src+"\x00", name+"\x00", 0, nil, nil)); err != nil {
		return nil, err
	}
	defer r.nvrtcDestroyProgram(&prog)
	all := append([]string{fmt.Sprintf("--gpu-architecture=compute_%d", arch)}, opts...)
	cOpts := make([]*byte, len(all))
	for i, o := range all {
		b := append([]byte(o), 0)
		cOpts[i] = &b[0]
	}
	if code := r.nvrtcCompileProgram(prog, int32(len(cOpts)), &cOpts[0]); code != 0 {
		err := r.check("nvrtcCompileProgram", code).(*Error)
		err.Log = r.log(prog)
		return nil, err
	}
	var n uint64
	if err := r.check("nvrtcGetPTXSize", r.nvrtcGetPTXSize(prog, &n)); err != nil {
		return nil, err
	}
	ptx := make([]byte, n+1)
	if err := r.check("nvrtcGetPTX", r.nvrtcGetPTX(prog, &ptx[0])); err != nil {
		return nil, err
	}
	return ptx, nil // NUL-terminated, as cuModuleLoadData wants
}

func (r *nvrtc) log(prog uintptr) string {
	var n uint64
	if r.nvrtcGetProgramLogSize(prog, &n) != 0 || n <= 1 {
		return ""
	}
	b := make([]byte, n)
	if r.nvrtcGetProgramLog(prog, &b[0]) != 0 {
		return ""
	}
	return trimNUL(b)
}
