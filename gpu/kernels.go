package gpu

// The project's CUDA C kernels, compiled by NVRTC to PTX for the device's
// architecture when the backend opens, and loaded as one module. All take
// compact row-major float32 matrices (leading dimension = columns) in
// device memory. Launch geometry, used by the Go side in backend.go:
//
//	sb_row_sqnorms   one warp per row: 256-thread blocks (8 rows each),
//	                 grid ceil(n/8).
//	sb_l2_epilogue   grid-stride over the n×k elements: 256-thread blocks,
//	                 grid min(ceil(n*k/256), 32*SMs) blocks.
//	sb_argmin_rows   one warp per row, as sb_row_sqnorms. With xn non-null
//	                 it first turns the GEMM output g = -2·x·yᵀ into the
//	                 clamped distance max(xn_i + yn_j + g_ij, 0) (the fused
//	                 nearest-center kernel: distances never stored).
//	sb_topk_rows     one block per row, T threads (T = 128 for k <= 16, 64
//	                 for k <= 32, 32 for k <= 64; a power of two): each
//	                 thread keeps a sorted list of its k best in shared
//	                 memory, then the lists are merged pairwise in log2(T)
//	                 rounds. Dynamic shared memory 12*T*k bytes (at most
//	                 24 KiB). Optional epilogue as sb_argmin_rows.
//	sb_segment_sums  the mini-batch center update: grid (ceil(d/256), k),
//	                 256-thread blocks; block (b, c) sums, in row order and
//	                 in double precision, columns 256b.. of the rows
//	                 assigned to center c. No atomics, so the result does
//	                 not depend on scheduling.
//
// Ordering everywhere is (value, index) ascending: ties go to the lower
// index, as the CPU engine breaks them. NaN values are never selected.
const kernelSource = `
#define SB_INF __int_as_float(0x7f800000)
#define SB_NOIDX 0x7fffffff
typedef unsigned long long sb_size; /* NVRTC has no <stddef.h> without headers */

__device__ __forceinline__ bool sb_better(float v, int j, float bv, int bj) {
	return v < bv || (v == bv && j < bj);
}

__device__ __forceinline__ float sb_dist(float a, float b, float g) {
	float v = a + b + g;
	return v > 0.0f ? v : 0.0f;
}

extern "C" __global__ void sb_row_sqnorms(const float* __restrict__ x, int n, int d, float* __restrict__ out) {
	int row = (int)((blockIdx.x * blockDim.x + threadIdx.x) >> 5);
	int lane = threadIdx.x & 31;
	if (row >= n) return; /* uniform across the warp */
	const float* r = x + (sb_size)row * d;
	float s = 0.0f;
	for (int j = lane; j < d; j += 32) {
		float v = r[j];
		s = fmaf(v, v, s);
	}
	for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
	if (lane == 0) out[row] = s;
}

extern "C" __global__ void sb_l2_epilogue(float* __restrict__ g, const float* __restrict__ xn, const float* __restrict__ yn, int n, int k) {
	sb_size total = (sb_size)n * (sb_size)k;
	sb_size step = (sb_size)gridDim.x * blockDim.x;
	for (sb_size t = (sb_size)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += step) {
		int i = (int)(t / k), j = (int)(t % k);
		g[t] = sb_dist(xn[i], yn[j], g[t]);
	}
}

extern "C" __global__ void sb_argmin_rows(const float* __restrict__ m, int n, int k,
		const float* __restrict__ xn, const float* __restrict__ yn,
		int* __restrict__ idx, float* __restrict__ val) {
	int row = (int)((blockIdx.x * blockDim.x + threadIdx.x) >> 5);
	int lane = threadIdx.x & 31;
	if (row >= n) return; /* uniform across the warp */
	const float* r = m + (sb_size)row * k;
	float a = xn ? xn[row] : 0.0f;
	float bv = SB_INF;
	int bj = SB_NOIDX;
	for (int j = lane; j < k; j += 32) {
		float v = r[j];
		if (xn) v = sb_dist(a, yn[j], v);
		if (sb_better(v, j, bv, bj)) { bv = v; bj = j; }
	}
	for (int o = 16; o > 0; o >>= 1) {
		float ov = __shfl_down_sync(0xffffffffu, bv, o);
		int oj = __shfl_down_sync(0xffffffffu, bj, o);
		if (sb_better(ov, oj, bv, bj)) { bv = ov; bj = oj; }
	}
	if (lane == 0) {
		if (bj == SB_NOIDX) { /* every value NaN: report column 0 */
			bj = 0;
			bv = xn ? sb_dist(a, yn[0], r[0]) : r[0];
		}
		idx[row] = bj;
		val[row] = bv;
	}
}

extern __shared__ float sb_smem[];

extern "C" __global__ void sb_topk_rows(const float* __restrict__ m, int n, int k, int kk,
		const float* __restrict__ xn, const float* __restrict__ yn,
		float* __restrict__ outd, int* __restrict__ outi) {
	int row = blockIdx.x;
	if (row >= n) return; /* uniform across the block */
	int T = blockDim.x, t = threadIdx.x;
	float* sd = sb_smem;                    /* T lists of kk values */
	int* si = (int*)(sd + T * kk);          /* T lists of kk indices */
	float* cd = (float*)(si + T * kk);      /* T/2 merge buffers */
	int* ci = (int*)(cd + (T / 2) * kk);
	float* md = sd + t * kk;
	int* mi = si + t * kk;
	for (int q = 0; q < kk; q++) { md[q] = SB_INF; mi[q] = SB_NOIDX; }
	const float* r = m + (sb_size)row * k;
	float a = xn ? xn[row] : 0.0f;
	for (int j = t; j < k; j += T) {
		float v = r[j];
		if (xn) v = sb_dist(a, yn[j], v);
		if (!sb_better(v, j, md[kk - 1], mi[kk - 1])) continue;
		int q = kk - 1;
		while (q > 0 && sb_better(v, j, md[q - 1], mi[q - 1])) {
			md[q] = md[q - 1];
			mi[q] = mi[q - 1];
			q--;
		}
		md[q] = v;
		mi[q] = j;
	}
	__syncthreads();
	for (int s = 1; s < T; s <<= 1) {
		if (t % (2 * s) == 0) {
			float* ad = sd + t * kk;
			int* ai = si + t * kk;
			float* bd = sd + (t + s) * kk;
			int* bi = si + (t + s) * kk;
			float* od = cd + (t / 2) * kk;
			int* oi = ci + (t / 2) * kk;
			int p = 0, q = 0;
			for (int o = 0; o < kk; o++) {
				if (sb_better(bd[q], bi[q], ad[p], ai[p])) { od[o] = bd[q]; oi[o] = bi[q]; q++; }
				else { od[o] = ad[p]; oi[o] = ai[p]; p++; }
			}
			for (int o = 0; o < kk; o++) { ad[o] = od[o]; ai[o] = oi[o]; }
		}
		__syncthreads();
	}
	for (int o = t; o < kk; o += T) {
		int j = si[o];
		outi[(sb_size)row * kk + o] = j == SB_NOIDX ? -1 : j;
		outd[(sb_size)row * kk + o] = j == SB_NOIDX ? SB_INF : sd[o];
	}
}

extern "C" __global__ void sb_segment_sums(const float* __restrict__ x, const int* __restrict__ assign,
		int n, int d, float* __restrict__ sums, float* __restrict__ counts) {
	int c = blockIdx.y;
	int j = blockIdx.x * blockDim.x + threadIdx.x;
	double s = 0.0;
	int cnt = 0;
	for (int i = 0; i < n; i++) {
		if (assign[i] == c) {
			if (j < d) s += (double)x[(sb_size)i * d + j];
			cnt++;
		}
	}
	if (j < d) sums[(sb_size)c * d + j] = (float)s;
	if (blockIdx.x == 0 && threadIdx.x == 0) counts[c] = (float)cnt;
}
`

// kernelNames are the entry points the Go side launches; each must be an
// extern "C" __global__ function of kernelSource (a test checks).
var kernelNames = []string{"sb_row_sqnorms", "sb_l2_epilogue", "sb_argmin_rows", "sb_topk_rows", "sb_segment_sums"}

// Launch geometry constants (see the table above).
const (
	warpRows      = 8   // rows per 256-thread block in the one-warp-per-row kernels
	blockThreads  = 256 // threads per block of the row and element kernels
	topKMax       = 64  // the largest k sb_topk_rows takes; larger k go through PairwiseL2 blocks
	segmentThread = 256
)

// topKThreads is sb_topk_rows's block size for k neighbours: its shared
// memory, 12*T*k bytes, stays at or under 24 KiB.
func topKThreads(k int) int {
	switch {
	case k <= 16:
		return 128
	case k <= 32:
		return 64
	default:
		return 32
	}
}

// topKShared is sb_topk_rows's dynamic shared memory for T threads and k:
// T lists of k (float, int) pairs plus T/2 merge buffers.
func topKShared(t, k int) int { return (t*k + t/2*k) * 8 }
