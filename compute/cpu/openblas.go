//go:build cgo && openblas

package cpu

// The OpenBLAS engine: gonum's netlib binding over Debian's libopenblas,
// linked statically (the Makefile passes the archive in CGO_LDFLAGS).

/*
void openblas_set_num_threads(int);
*/
import "C"

import (
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

func init() {
	// One thread per call: the kernels split work across the cores
	// themselves, and OpenBLAS's own threads would oversubscribe them.
	C.openblas_set_num_threads(1)
	impl = netlib.Implementation{}
	engine = "openblas"
	tileRows, tileCols = maxTileRows, maxTileCols
	perCoreWide = true
	// gonum's float64 routines (mat, and the LAPACK of PCA's
	// eigendecomposition) call the BLAS installed here: OpenBLAS's too.
	blas64.Use(netlib.Implementation{})
}
