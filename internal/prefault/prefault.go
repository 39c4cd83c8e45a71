// Package prefault has the kernel back a fresh buffer with pages before
// the program touches it.
//
// A large allocation comes from the kernel unbacked. A buffer that is read
// before it is written (centers updated where a batch's features fall, a
// scatter target) then faults every page twice: a read maps the shared
// zero page, and the first write faults again to replace it. On the sparse
// k-means benchmark, with its one 40 MB buffer of centers prefaulted, a
// run's page faults went from 26,000 to 17,000 (/usr/bin/time,
// benchmarks/README.md).
package prefault

// Write backs the pages under s with writable memory, as if every page had
// been written once, without changing what s holds. It is a hint: where
// the kernel cannot (not Linux, or older than 5.14), it does nothing and
// the pages fault in as they are touched.
func Write[T any](s []T) {
	populateWrite(s)
}
