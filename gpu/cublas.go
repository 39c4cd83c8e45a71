package gpu

// The typed binding of cuBLAS: a handle, its stream, and SGEMM.

// cuBLAS library file names, tried in order (CUDA 13, 12, 11).
var cublasNames = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}

const (
	cublasOpN = 0 // CUBLAS_OP_N
	cublasOpT = 1 // CUBLAS_OP_T

	cublasDefaultMath = 0 // CUBLAS_DEFAULT_MATH: no TF32, float32 products stay float32
)

var cublasStatusNames = map[int]string{
	0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
	13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR",
}

type cublas struct {
	lib *library

	cublasCreate      func(h *uintptr) int32
	cublasDestroy     func(h uintptr) int32
	cublasSetStream   func(h, s uintptr) int32
	cublasSetMathMode func(h uintptr, mode int32) int32
	// cublasSgemm_v2(handle, transa, transb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc)
	cublasSgemm func(h uintptr, ta, tb, m, n, k int32, alpha *float32, a uint64, lda int32, b uint64, ldb int32, beta *float32, c uint64, ldc int32) int32
}

func loadCublas(names []string) (*cublas, error) {
	lib, err := openLibrary("cuBLAS", names)
	if err != nil {
		return nil, err
	}
	c := &cublas{lib: lib}
	err = lib.bind([]fn{
		{"cublasCreate_v2", &c.cublasCreate},
		{"cublasDestroy_v2", &c.cublasDestroy},
		{"cublasSetStream_v2", &c.cublasSetStream},
		{"cublasSetMathMode", &c.cublasSetMathMode},
		{"cublasSgemm_v2", &c.cublasSgemm},
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *cublas) check(call string, r int32) error {
	if r == 0 {
		return nil
	}
	return &Error{Lib: c.lib.file, Call: call, Code: int(r), Name: codeName(cublasStatusNames, int(r), "cublasStatus_t")}
}

// sgemmCall is one column-major cublasSgemm_v2 call: C = alpha*op(A)*op(B)
// + beta*C with C m×n, in cuBLAS's own terms. first and second say which
// of the caller's row-major operands ('a' or 'b') cuBLAS reads as its A
// and its B.
type sgemmCall struct {
	transa, transb int32
	m, n, k        int32
	first, second  byte
	lda, ldb, ldc  int32
}

// colMajor maps a row-major product C = op(A)·op(B) (C m×n, inner
// dimension k; the row-major strides of A, B and C are sa, sb, sc) onto
// column-major SGEMM. A row-major r×c matrix with stride s is, read
// column-major, its c×r transpose with leading dimension s, so
//
//	C = op(A)·op(B)  <=>  Cᵀ = op(B)ᵀ·op(A)ᵀ,
//
// and cuBLAS computes the n×m matrix Cᵀ (ldc = sc) from B first (opB = N
// when B is not transposed: its column-major reading already is Bᵀ) and A
// second, with m and n swapped.
func colMajor(transA, transB bool, m, n, k, sa, sb, sc int) sgemmCall {
	op := func(t bool) int32 {
		if t {
			return cublasOpT
		}
		return cublasOpN
	}
	return sgemmCall{
		transa: op(transB), transb: op(transA),
		m: int32(n), n: int32(m), k: int32(k),
		first: 'b', second: 'a',
		lda: int32(max(sb, 1)), ldb: int32(max(sa, 1)), ldc: int32(max(sc, 1)),
	}
}
