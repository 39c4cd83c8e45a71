//go:build !(cgo && openblas)

package main

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// peakBLAS is gonum's sgemm (it parallelises large products itself; threads
// is not settable).
func peakBLAS(threads int) (string, func(m, n, k int, a, b, c []float32)) {
	return "gonum", func(m, n, k int, a, b, c []float32) {
		gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
	}
}
