package gpu

import (
	"fmt"
	"unsafe"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// checkMatrix panics unless m is a well-formed view (the CPU engine's
// contract, with its messages).
func checkMatrix(op, name string, m compute.Matrix) {
	if m.Rows < 0 || m.Cols < 0 {
		panic(fmt.Sprintf("compute: %s %s is %d×%d: negative dimension", op, name, m.Rows, m.Cols))
	}
	if m.Rows == 0 || m.Cols == 0 {
		return
	}
	if m.Stride < m.Cols {
		panic(fmt.Sprintf("compute: %s %s has stride %d, less than its %d columns", op, name, m.Stride, m.Cols))
	}
	if need := (m.Rows-1)*m.Stride + m.Cols; len(m.Data) < need {
		panic(fmt.Sprintf("compute: %s %s is %d×%d with stride %d and needs %d elements, has %d", op, name, m.Rows, m.Cols, m.Stride, need, len(m.Data)))
	}
}

func checkDistance(op string, x, y compute.Matrix, yNorms []float32) {
	checkMatrix(op, "x", x)
	checkMatrix(op, "y", y)
	if x.Cols != y.Cols {
		panic(fmt.Sprintf("compute: %s x is %d×%d and y is %d×%d: column counts differ", op, x.Rows, x.Cols, y.Rows, y.Cols))
	}
	if yNorms != nil && len(yNorms) != y.Rows {
		panic(fmt.Sprintf("compute: %s yNorms has length %d, want %d (y.Rows)", op, len(yNorms), y.Rows))
	}
}

// small reports whether work multiply-adds are below MinWork.
func (b *Backend) small(work int) bool { return work < b.MinWork }

// Gemm computes C = alpha*op(A)*op(B) + beta*C with cuBLAS's SGEMM (the
// row-major operands read as their column-major transposes; see colMajor).
func (b *Backend) Gemm(transA, transB bool, alpha float32, a, bm compute.Matrix, beta float32, c compute.Matrix) {
	checkMatrix("Gemm", "a", a)
	checkMatrix("Gemm", "b", bm)
	checkMatrix("Gemm", "c", c)
	m, k := a.Rows, a.Cols
	if transA {
		m, k = k, m
	}
	kb, n := bm.Rows, bm.Cols
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		panic(fmt.Sprintf("compute: Gemm op(a) is %d×%d and op(b) is %d×%d: inner dimensions differ", m, k, kb, n))
	}
	if c.Rows != m || c.Cols != n {
		panic(fmt.Sprintf("compute: Gemm c is %d×%d, want %d×%d", c.Rows, c.Cols, m, n))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 || b.small(m*n*k) {
		b.cpu.Gemm(transA, transB, alpha, a, bm, beta, c)
		return
	}
	b.run("Gemm", func() error {
		bufs := buffers{b: b}
		defer bufs.release()
		na, nb, nc := a.Rows*a.Cols, bm.Rows*bm.Cols, m*n
		up := na + nb
		if beta != 0 {
			up += nc
		}
		h, err := b.acquire(&b.in[0], uint64(4*up))
		if err != nil {
			return err
		}
		hf := floats(h, up)
		pack(hf[:na], a)
		pack(hf[na:na+nb], bm)
		dA, err := bufs.get(4 * na)
		if err != nil {
			return err
		}
		dB, err := bufs.get(4 * nb)
		if err != nil {
			return err
		}
		dC, err := bufs.get(4 * nc)
		if err != nil {
			return err
		}
		if err := b.htod(dA, h, 4*na); err != nil {
			return err
		}
		if err := b.htod(dB, unsafe.Add(h, 4*na), 4*nb); err != nil {
			return err
		}
		if beta != 0 {
			pack(hf[na+nb:], c)
			if err := b.htod(dC, unsafe.Add(h, 4*(na+nb)), 4*nc); err != nil {
				return err
			}
		}
		if err := b.done(&b.in[0]); err != nil {
			return err
		}
		if err := b.sgemm(transA, transB, m, n, k, alpha, dA, a.Cols, dB, bm.Cols, beta, dC, n); err != nil {
			return err
		}
		o, err := b.acquire(&b.out[0], uint64(4*nc))
		if err != nil {
			return err
		}
		if err := b.dtoh(o, dC, 4*nc); err != nil {
			return err
		}
		if err := b.done(&b.out[0]); err != nil {
			return err
		}
		if err := b.wait(&b.out[0]); err != nil {
			return err
		}
		unpack(c, floats(o, nc))
		return nil
	})
}

// sgemm runs the row-major product C = alpha*op(A)*op(B) + beta*C on
// device buffers with row strides sa, sb, sc.
func (b *Backend) sgemm(transA, transB bool, m, n, k int, alpha float32, dA uint64, sa int, dB uint64, sb int, beta float32, dC uint64, sc int) error {
	call := colMajor(transA, transB, m, n, k, sa, sb, sc)
	ops := map[byte]uint64{'a': dA, 'b': dB}
	return b.blas.check("cublasSgemm_v2", b.blas.cublasSgemm(b.handle, call.transa, call.transb, call.m, call.n, call.k,
		&alpha, ops[call.first], call.lda, ops[call.second], call.ldb, &beta, dC, call.ldc))
}

// RowSquaredNorms writes ‖row i of x‖² into dst[i] (sb_row_sqnorms).
func (b *Backend) RowSquaredNorms(dst []float32, x compute.Matrix) {
	checkMatrix("RowSquaredNorms", "x", x)
	if len(dst) != x.Rows {
		panic(fmt.Sprintf("compute: RowSquaredNorms dst has length %d, want %d (x.Rows)", len(dst), x.Rows))
	}
	if x.Rows == 0 {
		return
	}
	if x.Cols == 0 || b.small(x.Rows*x.Cols) {
		b.cpu.RowSquaredNorms(dst, x)
		return
	}
	b.run("RowSquaredNorms", func() error {
		bufs := buffers{b: b}
		defer bufs.release()
		n, d := x.Rows, x.Cols
		h, err := b.acquire(&b.in[0], uint64(4*n*d))
		if err != nil {
			return err
		}
		pack(floats(h, n*d), x)
		dX, err := bufs.get(4 * n * d)
		if err != nil {
			return err
		}
		dN, err := bufs.get(4 * n)
		if err != nil {
			return err
		}
		if err := b.htod(dX, h, 4*n*d); err != nil {
			return err
		}
		if err := b.done(&b.in[0]); err != nil {
			return err
		}
		if err := b.launch("sb_row_sqnorms", ceilDiv(n, warpRows), 1, blockThreads, 0, dX, n, d, dN); err != nil {
			return err
		}
		return b.fetch(dst, nil, dN, 0, n)
	})
}

// fetch copies n floats from device f into fdst and n int32s from device
// i into idst (either may be skipped), and waits for them.
func (b *Backend) fetch(fdst []float32, idst []int32, f, i uint64, n int) error {
	o, err := b.acquire(&b.out[0], uint64(8*n))
	if err != nil {
		return err
	}
	if fdst != nil {
		if err := b.dtoh(o, f, 4*n); err != nil {
			return err
		}
	}
	if idst != nil {
		if err := b.dtoh(unsafe.Add(o, 4*n), i, 4*n); err != nil {
			return err
		}
	}
	if err := b.done(&b.out[0]); err != nil {
		return err
	}
	if err := b.wait(&b.out[0]); err != nil {
		return err
	}
	if fdst != nil {
		copy(fdst, floats(o, n))
	}
	if idst != nil {
		copy(idst, int32s(unsafe.Add(o, 4*n), n))
	}
	return nil
}

// ArgminRows writes the column and value of each row's minimum
// (sb_argmin_rows; ties to the lowest column).
func (b *Backend) ArgminRows(idx []int32, val []float32, m compute.Matrix) {
	checkMatrix("ArgminRows", "m", m)
	if len(idx) != m.Rows || len(val) != m.Rows {
		panic(fmt.Sprintf("compute: ArgminRows idx and val have lengths %d and %d, want %d (m.Rows)", len(idx), len(val), m.Rows))
	}
	if m.Rows == 0 {
		return
	}
	if m.Cols == 0 || b.small(m.Rows*m.Cols) {
		b.cpu.ArgminRows(idx, val, m)
		return
	}
	b.run("ArgminRows", func() error {
		bufs := buffers{b: b}
		defer bufs.release()
		n, k := m.Rows, m.Cols
		h, err := b.acquire(&b.in[0], uint64(4*n*k))
		if err != nil {
			return err
		}
		pack(floats(h, n*k), m)
		dM, err := bufs.get(4 * n * k)
		if err != nil {
			return err
		}
		dI, err := bufs.get(4 * n)
		if err != nil {
			return err
		}
		dV, err := bufs.get(4 * n)
		if err != nil {
			return err
		}
		if err := b.htod(dM, h, 4*n*k); err != nil {
			return err
		}
		if err := b.done(&b.in[0]); err != nil {
			return err
		}
		if err := b.launch("sb_argmin_rows", ceilDiv(n, warpRows), 1, blockThreads, 0, dM, n, k, uint64(0), uint64(0), dI, dV); err != nil {
			return err
		}
		return b.fetch(val, idx, dV, dI, n)
	})
}

// PairwiseL2 writes the clamped squared distances between the rows of x
// and of y into dst: SGEMM for -2·x·yᵀ, then sb_l2_epilogue.
func (b *Backend) PairwiseL2(dst, x, y compute.Matrix, yNorms []float32) {
	checkDistance("PairwiseL2", x, y, yNorms)
	checkMatrix("PairwiseL2", "dst", dst)
	if dst.Rows != x.Rows || dst.Cols != y.Rows {
		panic(fmt.Sprintf("compute: PairwiseL2 dst is %d×%d, want %d×%d", dst.Rows, dst.Cols, x.Rows, y.Rows))
	}
	if x.Rows == 0 || y.Rows == 0 {
		return
	}
	if b.small(x.Rows * y.Rows * max(x.Cols, 1)) {
		b.cpu.PairwiseL2(dst, x, y, yNorms)
		return
	}
	b.run("PairwiseL2", func() error {
		return b.distances(&distOp{kind: opPairwise, l2: true, x: x, y: y, yNorms: yNorms, dst: dst})
	})
}

// NearestL2 writes each row of x's nearest row of y and the squared
// distance to it: SGEMM, then sb_argmin_rows with the distance epilogue
// fused (the distances are never stored).
func (b *Backend) NearestL2(idx []int32, dist []float32, x, y compute.Matrix, yNorms []float32) {
	checkDistance("NearestL2", x, y, yNorms)
	if len(idx) != x.Rows || len(dist) != x.Rows {
		panic(fmt.Sprintf("compute: NearestL2 idx and dist have lengths %d and %d, want %d (x.Rows)", len(idx), len(dist), x.Rows))
	}
	if x.Rows == 0 {
		return
	}
	if y.Rows == 0 {
		panic(fmt.Sprintf("compute: NearestL2 y is 0×%d: no rows to be nearest to", y.Cols))
	}
	if b.small(x.Rows * y.Rows * max(x.Cols, 1)) {
		compute.NearestL2(b.cpu, idx, dist, x, y, yNorms, nil)
		return
	}
	b.run("NearestL2", func() error {
		return b.distances(&distOp{kind: opNearest, l2: true, x: x, y: y, yNorms: yNorms, idx: idx, dist: dist})
	})
}

// TopKL2 writes each row of x's k nearest rows of y by squared distance
// (compute.TopK's contract): SGEMM, then sb_topk_rows with the distance
// epilogue fused for k <= 64; for larger k the distance blocks come back
// to the host and a bounded heap selects.
func (b *Backend) TopKL2(dist []float32, idx []int32, k int, x, y compute.Matrix, yNorms []float32) {
	checkDistance("TopKL2", x, y, yNorms)
	b.topK(dist, idx, k, x, y, yNorms, true)
}

// TopKIP is TopKL2 ranking by inner product, largest first, with distance
// -x_i·y_j.
func (b *Backend) TopKIP(dist []float32, idx []int32, k int, x, y compute.Matrix) {
	checkDistance("TopKIP", x, y, nil)
	b.topK(dist, idx, k, x, y, nil, false)
}

func (b *Backend) topK(dist []float32, idx []int32, k int, x, y compute.Matrix, yNorms []float32, l2 bool) {
	if k < 1 || len(dist) != x.Rows*k || len(idx) != x.Rows*k {
		panic("compute: TopK: dist and idx must hold x.Rows*k values (k >= 1) and x, y must have the same columns")
	}
	if x.Rows == 0 {
		return
	}
	if y.Rows == 0 {
		for i := range idx {
			idx[i], dist[i] = -1, posInf
		}
		return
	}
	if b.small(x.Rows * y.Rows * max(x.Cols, 1)) {
		if l2 {
			b.cpuTopK().TopKL2(dist, idx, k, x, y, yNorms)
		} else {
			b.cpuTopK().TopKIP(dist, idx, k, x, y)
		}
		return
	}
	kind := opTopK
	if k > topKMax {
		kind = opTopKHost
	}
	b.run("TopK", func() error {
		return b.distances(&distOp{kind: kind, l2: l2, x: x, y: y, yNorms: yNorms, k: k, idx: idx, dist: dist})
	})
}

// cpuTopK is the CPU engine's TopK kernel, or compute's fallback over it.
func (b *Backend) cpuTopK() compute.TopK {
	if t, ok := b.cpu.(compute.TopK); ok {
		return t
	}
	return fallbackTopK{b.cpu}
}

type fallbackTopK struct{ compute.Backend }

func (f fallbackTopK) TopKL2(dist []float32, idx []int32, k int, x, y compute.Matrix, yNorms []float32) {
	compute.TopKL2(f.Backend, dist, idx, k, x, y, yNorms)
}

func (f fallbackTopK) TopKIP(dist []float32, idx []int32, k int, x, y compute.Matrix) {
	compute.TopKIP(f.Backend, dist, idx, k, x, y)
}

// SegmentSums is the mini-batch center update: for each center c, the sum
// of the rows i of x with assign[i] == c into row c of sums (k×d) and
// their number into counts[c] (sb_segment_sums; summed in row order in
// float64, so the result does not depend on scheduling). assign values
// outside [0, k) are skipped. It panics on mismatched shapes.
func (b *Backend) SegmentSums(sums compute.Matrix, counts []float32, x compute.Matrix, assign []int32) {
	checkMatrix("SegmentSums", "sums", sums)
	checkMatrix("SegmentSums", "x", x)
	if sums.Cols != x.Cols || len(counts) != sums.Rows || len(assign) != x.Rows {
		panic(fmt.Sprintf("compute: SegmentSums sums is %d×%d, counts %d, x %d×%d, assign %d: want sums k×d, counts k, assign x.Rows",
			sums.Rows, sums.Cols, len(counts), x.Rows, x.Cols, len(assign)))
	}
	k, d, n := sums.Rows, x.Cols, x.Rows
	if k == 0 {
		return
	}
	if d == 0 || n == 0 {
		for c := range k {
			clear(sums.Row(c))
			counts[c] = 0
		}
		if d > 0 || n == 0 {
			return
		}
		for _, a := range assign {
			if a >= 0 && int(a) < k {
				counts[a]++
			}
		}
		return
	}
	b.run("SegmentSums", func() error {
		bufs := buffers{b: b}
		defer bufs.release()
		h, err := b.acquire(&b.in[0], uint64(4*(n*d+n)))
		if err != nil {
			return err
		}
		pack(floats(h, n*d), x)
		copy(int32s(unsafe.Add(h, 4*n*d), n), assign)
		dX, err := bufs.get(4 * n * d)
		if err != nil {
			return err
		}
		dA, err := bufs.get(4 * n)
		if err != nil {
			return err
		}
		dS, err := bufs.get(4 * k * d)
		if err != nil {
			return err
		}
		dC, err := bufs.get(4 * k)
		if err != nil {
			return err
		}
		if err := b.htod(dX, h, 4*n*d); err != nil {
			return err
		}
		if err := b.htod(dA, unsafe.Add(h, 4*n*d), 4*n); err != nil {
			return err
		}
		if err := b.done(&b.in[0]); err != nil {
			return err
		}
		if err := b.launch("sb_segment_sums", ceilDiv(d, segmentThread), k, segmentThread, 0, dX, dA, n, d, dS, dC); err != nil {
			return err
		}
		o, err := b.acquire(&b.out[0], uint64(4*(k*d+k)))
		if err != nil {
			return err
		}
		if err := b.dtoh(o, dS, 4*k*d); err != nil {
			return err
		}
		if err := b.dtoh(unsafe.Add(o, 4*k*d), dC, 4*k); err != nil {
			return err
		}
		if err := b.done(&b.out[0]); err != nil {
			return err
		}
		if err := b.wait(&b.out[0]); err != nil {
			return err
		}
		unpack(sums, floats(o, k*d))
		copy(counts, floats(unsafe.Add(o, 4*k*d), k))
		return nil
	})
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
