//go:build cgo && openblas

package cpu

// The OpenBLAS engine: gonum's netlib binding over Debian's libopenblas,
// linked statically (the Makefile passes the archive in CGO_LDFLAGS).

/*
void openblas_set_num_threads(int);
int blas_thread_shutdown_(void);
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
	// Debian's OpenBLAS starts a worker per core when the library loads
	// (before Go runs) and they spin on sched_yield awaiting work that one
	// thread per call never gives them: about 0.1 s of system time at the
	// start of every process. Stop them; a call that wanted threads again
	// would restart them.
	C.blas_thread_shutdown_()
	impl = netlib.Implementation{}
	engine = "openblas"
	tileRows, tileCols = maxTileRows, maxTileCols
	perCoreWide = true
	// gonum's float64 routines (mat, and the LAPACK of PCA's
	// eigendecomposition) call the BLAS installed here: OpenBLAS's too.
	blas64.Use(netlib.Implementation{})
}
