package gpu

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ebitengine/purego"
)

// Error is a failed call into one of the CUDA libraries: which library,
// which call, and the status it returned, by number and by name.
type Error struct {
	Lib  string // the library's file name, e.g. "libcuda.so.1"
	Call string // the C function, e.g. "cuMemAlloc_v2"
	Code int    // the CUresult, cublasStatus_t or nvrtcResult
	Name string // the status's name, e.g. "CUDA_ERROR_OUT_OF_MEMORY"
	Log  string // NVRTC's compile log, when there is one
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s: %s (%d)", e.Lib, e.Call, e.Name, e.Code)
	if e.Log != "" {
		s += ":\n" + strings.TrimSpace(e.Log)
	}
	return s
}

// LoadError says that none of a library's candidate file names could be
// opened (Symbol empty), or that an opened library lacks a function.
type LoadError struct {
	Lib    string   // what the library is: "CUDA driver", "cuBLAS", "NVRTC"
	Tried  []string // the file names tried, in order
	Symbol string   // the missing function, when the library opened
	Err    error    // dlopen's or dlsym's own message
}

func (e *LoadError) Error() string {
	if e.Symbol != "" {
		return fmt.Sprintf("%s (%s): no function %s: %v", e.Lib, e.Tried[len(e.Tried)-1], e.Symbol, e.Err)
	}
	return fmt.Sprintf("%s: dlopen %s: %v", e.Lib, strings.Join(e.Tried, ", "), e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// library is one shared object opened with dlopen.
type library struct {
	what   string // "CUDA driver", "cuBLAS", "NVRTC"
	file   string // the file name that opened
	handle uintptr
}

// openLibrary dlopens the first of names that opens. The error names every
// file tried and the last dlopen message (the first one when all say the
// same "cannot open shared object file").
func openLibrary(what string, names []string) (*library, error) {
	if len(names) == 0 {
		panic("gpu: openLibrary with no file names")
	}
	var first error
	for _, n := range names {
		h, err := purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return &library{what: what, file: n, handle: h}, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, &LoadError{Lib: what, Tried: names, Err: errors.New(strings.TrimSpace(first.Error()))}
}

// fn is one C function to bind: its name and a pointer to the Go func
// variable that will call it.
type fn struct {
	name string
	ptr  any
}

// bind points each fn's Go func at the library's function of that name. It
// returns a LoadError naming the first missing function, in order.
func (l *library) bind(fns []fn) error {
	for _, f := range fns {
		sym, err := purego.Dlsym(l.handle, f.name)
		if err != nil {
			return &LoadError{Lib: l.what, Tried: []string{l.file}, Symbol: f.name, Err: errors.New(strings.TrimSpace(err.Error()))}
		}
		purego.RegisterFunc(f.ptr, sym)
	}
	return nil
}
