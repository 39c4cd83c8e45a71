package prefault

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// pageSize is the granule madvise takes; the whole pages inside s are
// populated, and a page s shares with its neighbours is left to fault.
var pageSize = uintptr(unix.Getpagesize())

func populateWrite[T any](s []T) {
	if len(s) == 0 {
		return
	}
	var zero T
	start := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	end := start + uintptr(len(s))*unsafe.Sizeof(zero)
	lo := (start + pageSize - 1) &^ (pageSize - 1)
	hi := end &^ (pageSize - 1)
	if hi <= lo {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(s)), lo-start)), hi-lo)
	// EINVAL before Linux 5.14: the hint is lost, nothing else.
	_ = unix.Madvise(b, unix.MADV_POPULATE_WRITE)
}
