package gpu

import (
	"unsafe"

	"github.com/sagebrush-ml/sagebrush/compute"
)

type opKind int

const (
	opPairwise opKind = iota // dst gets the distance matrix
	opNearest                // idx/dist get each row's nearest
	opTopK                   // idx/dist get each row's k nearest, selected on the device
	opTopKHost               // the same, k > topKMax: distance blocks selected on the host
)

// distOp is one distance computation between the rows of x and of y:
// squared L2 (l2) or negated inner product.
type distOp struct {
	kind      opKind
	l2        bool
	x, y      compute.Matrix
	yNorms    []float32
	k         int
	dst       compute.Matrix
	idx       []int32
	dist      []float32
	heap      compute.KHeap
	resFloats int // floats of result per row of x on the device
}

// blockBudget bounds the device memory of one block's distance matrix.
const blockBudget = 64 << 20

// blockRows picks how many rows of x go in one block: as many as keep the
// block's distances within blockBudget (at least 64), and, when x is
// larger than 4 MiB, at most a quarter of x, so the host's packing of the
// next block overlaps the device's work on this one.
func blockRows(n, ny, d int) int {
	r := max(64, blockBudget/(4*max(ny, 1)))
	if 4*n*d > 4<<20 {
		r = min(r, max(64, ceilDiv(n, 4)))
	}
	return min(r, n)
}

// distances runs o on the device: y (and its norms) go over once; then
// for each block of rows of x, the copy in, SGEMM (alpha -2 for L2, -1 for
// inner product), the row kernel, and the copy back of the block's
// results, with the host unpacking block b-1 and packing block b+1 while
// the device works on block b.
func (b *Backend) distances(o *distOp) error {
	bufs := buffers{b: b}
	defer bufs.release()
	n, ny, d := o.x.Rows, o.y.Rows, o.x.Cols

	// y and its norms.
	hy, err := b.acquire(&b.yst, uint64(4*(ny*d+ny)))
	if err != nil {
		return err
	}
	pack(floats(hy, ny*d), o.y)
	dY, err := bufs.get(4 * ny * d)
	if err != nil {
		return err
	}
	if err := b.htod(dY, hy, 4*ny*d); err != nil {
		return err
	}
	var dYn, dXn uint64
	if o.l2 {
		if dYn, err = bufs.get(4 * ny); err != nil {
			return err
		}
		if o.yNorms != nil {
			copy(floats(unsafe.Add(hy, 4*ny*d), ny), o.yNorms)
			if err := b.htod(dYn, unsafe.Add(hy, 4*ny*d), 4*ny); err != nil {
				return err
			}
		} else if err := b.launch("sb_row_sqnorms", ceilDiv(ny, warpRows), 1, blockThreads, 0, dY, ny, d, dYn); err != nil {
			return err
		}
	}
	if err := b.done(&b.yst); err != nil {
		return err
	}

	bx := blockRows(n, ny, d)
	dX, err := bufs.get(4 * bx * d)
	if err != nil {
		return err
	}
	if o.l2 {
		if dXn, err = bufs.get(4 * bx); err != nil {
			return err
		}
	}
	dG, err := bufs.get(4 * bx * ny)
	if err != nil {
		return err
	}
	// Per-row results: indices then values.
	switch o.kind {
	case opPairwise, opTopKHost:
		o.resFloats = ny
	case opNearest:
		o.resFloats = 2
	case opTopK:
		o.resFloats = 2 * o.k
	}
	var dI, dV uint64
	if o.kind == opNearest || o.kind == opTopK {
		per := o.resFloats / 2
		if dI, err = bufs.get(4 * bx * per); err != nil {
			return err
		}
		if dV, err = bufs.get(4 * bx * per); err != nil {
			return err
		}
	}
	alpha := float32(-1)
	if o.l2 {
		alpha = -2
	}

	pending, pendingRows, pendingSlot := -1, 0, 0
	for blk, i0 := 0, 0; i0 < n; blk, i0 = blk+1, i0+bx {
		rows := min(bx, n-i0)
		s := blk % 2
		hx, err := b.acquire(&b.in[s], uint64(4*rows*d))
		if err != nil {
			return err
		}
		pack(floats(hx, rows*d), o.x.RowRange(i0, i0+rows))
		if err := b.htod(dX, hx, 4*rows*d); err != nil {
			return err
		}
		if err := b.done(&b.in[s]); err != nil {
			return err
		}
		if err := b.sgemm(false, true, rows, ny, d, alpha, dX, d, dY, d, 0, dG, ny); err != nil {
			return err
		}
		if o.l2 {
			if err := b.launch("sb_row_sqnorms", ceilDiv(rows, warpRows), 1, blockThreads, 0, dX, rows, d, dXn); err != nil {
				return err
			}
		}
		ho, err := b.acquire(&b.out[s], uint64(4*rows*o.resFloats))
		if err != nil {
			return err
		}
		switch o.kind {
		case opPairwise, opTopKHost:
			if o.l2 {
				grid := min(ceilDiv(rows*ny, blockThreads), 32*max(int(b.info.sms), 1))
				if err := b.launch("sb_l2_epilogue", grid, 1, blockThreads, 0, dG, dXn, dYn, rows, ny); err != nil {
					return err
				}
			}
			err = b.dtoh(ho, dG, 4*rows*ny)
		case opNearest:
			if err := b.launch("sb_argmin_rows", ceilDiv(rows, warpRows), 1, blockThreads, 0, dG, rows, ny, dXn, dYn, dI, dV); err != nil {
				return err
			}
			if err = b.dtoh(ho, dI, 4*rows); err == nil {
				err = b.dtoh(unsafe.Add(ho, 4*rows), dV, 4*rows)
			}
		case opTopK:
			t := topKThreads(o.k)
			if err := b.launch("sb_topk_rows", rows, 1, t, topKShared(t, o.k), dG, rows, ny, o.k, dXn, dYn, dV, dI); err != nil {
				return err
			}
			if err = b.dtoh(ho, dI, 4*rows*o.k); err == nil {
				err = b.dtoh(unsafe.Add(ho, 4*rows*o.k), dV, 4*rows*o.k)
			}
		}
		if err != nil {
			return err
		}
		if err := b.done(&b.out[s]); err != nil {
			return err
		}
		if pending >= 0 {
			if err := b.collect(o, pendingSlot, pending, pendingRows); err != nil {
				return err
			}
		}
		pending, pendingRows, pendingSlot = i0, rows, s
	}
	if pending >= 0 {
		return b.collect(o, pendingSlot, pending, pendingRows)
	}
	return nil
}

// collect waits for the results of rows [i0, i0+rows) in out[slot] and
// writes them to o's destinations.
func (b *Backend) collect(o *distOp, slot, i0, rows int) error {
	st := &b.out[slot]
	if err := b.wait(st); err != nil {
		return err
	}
	ny := o.y.Rows
	switch o.kind {
	case opPairwise:
		unpack(o.dst.RowRange(i0, i0+rows), floats(st.p, rows*ny))
	case opNearest:
		copy(o.idx[i0:i0+rows], int32s(st.p, rows))
		copy(o.dist[i0:i0+rows], floats(unsafe.Add(st.p, 4*rows), rows))
	case opTopK:
		k := o.k
		copy(o.idx[i0*k:(i0+rows)*k], int32s(st.p, rows*k))
		copy(o.dist[i0*k:(i0+rows)*k], floats(unsafe.Add(st.p, 4*rows*k), rows*k))
	case opTopKHost:
		k := o.k
		g := floats(st.p, rows*ny)
		for i := range rows {
			r := i0 + i
			o.heap.Reset(o.dist[r*k:(r+1)*k], o.idx[r*k:(r+1)*k])
			for j, v := range g[i*ny : (i+1)*ny] {
				o.heap.Push(v, int32(j))
			}
			o.heap.Sort()
		}
	}
	return nil
}
