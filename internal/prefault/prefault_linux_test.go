package prefault

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BenchmarkFirstTouch reads then writes every page of a fresh 40 MB
// mapping, as the sparse k-means step meets its centers, with and without
// Write first. The mapping is made and dropped each time so that every
// page is new to the process, as a large allocation's are (Go's own heap
// would hand a benchmark loop back the pages of the last iteration).
func BenchmarkFirstTouch(b *testing.B) {
	const size = 40 << 20
	for _, pre := range []bool{false, true} {
		name := "faulting"
		if pre {
			name = "prefaulted"
		}
		b.Run(name, func(b *testing.B) {
			var sink float32
			for range b.N {
				m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
				if err != nil {
					b.Fatal(err)
				}
				s := unsafe.Slice((*float32)(unsafe.Pointer(&m[0])), size/4)
				if pre {
					Write(s)
				}
				for i := 0; i < len(s); i += 1024 {
					sink += s[i]
				}
				for i := 0; i < len(s); i += 1024 {
					s[i] = 1
				}
				if err := unix.Munmap(m); err != nil {
					b.Fatal(err)
				}
			}
			_ = sink
		})
	}
}
