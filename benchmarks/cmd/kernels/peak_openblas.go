//go:build cgo && openblas

package main

/*
void openblas_set_num_threads(int);
*/
import "C"

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
)

// peakBLAS is OpenBLAS's sgemm with threads threads (compute/cpu pins it
// to one; this restores that after).
func peakBLAS(threads int) (string, func(m, n, k int, a, b, c []float32)) {
	return "openblas", func(m, n, k int, a, b, c []float32) {
		C.openblas_set_num_threads(C.int(threads))
		defer C.openblas_set_num_threads(1)
		netlib.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
	}
}
