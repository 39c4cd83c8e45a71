package kmeans

import (
	"math"

	"github.com/sagebrush-ml/sagebrush/compute"
)

// candidates are the weighted centers the mini-batch phase leaves for the
// local Lloyd step: the rows of a matrix, or, after CSR batches, center j
// as scale[j] × column j of the transposed centers ct (d × K), read where
// they lie. Making the rows from ct cost a second K × d copy, 40 MB at
// 100 centers of 100,000 features, and a pass to fill it.
type candidates struct {
	x     compute.Matrix // K × d; Data nil when ct holds the centers
	ct    []float32      // d × K
	scale []float64
	k, d  int
	use   []int // the candidates in use, in order; nil: all k
	feats []int // their live features once found (withLive)
}

func rowCandidates(x compute.Matrix) candidates {
	return candidates{x: x, k: x.Rows, d: x.Cols}
}

func columnCandidates(ct []float32, scale []float64, k, d int) candidates {
	return candidates{ct: ct, scale: scale, k: k, d: d}
}

// featureBlock is how many live features the passes over the candidates
// (gram, centersOf, dense) convert to float64 at once.
const featureBlock = 512

// n is the number of candidates in use.
func (c candidates) n() int {
	if c.use != nil {
		return len(c.use)
	}
	return c.k
}

// row is the index in x or ct of candidate i in use.
func (c candidates) row(i int) int {
	if c.use != nil {
		return c.use[i]
	}
	return i
}

// pick returns the candidates of c at the given positions.
func (c candidates) pick(pos []int) candidates {
	use := make([]int, len(pos))
	for i, p := range pos {
		use[i] = c.row(p)
	}
	c.use, c.feats = use, nil
	return c
}

// withLive returns c with its live features found (live), for the
// passes of the local Lloyd step to share.
func (c candidates) withLive() candidates {
	c.feats = c.live()
	return c
}

// live returns, in order, the features some candidate in use does not
// hold at zero: the only ones the Gram matrix and the centers need. Means
// of sparse rows are sparse too (on the sparse benchmark 55% of 100,000
// features are live in 100 candidates), and a zero feature adds nothing
// to either.
func (c candidates) live() []int {
	if c.feats != nil {
		return c.feats
	}
	n := c.n()
	feats := []int{}
	if c.x.Data != nil {
		seen := make([]bool, c.d)
		for i := 0; i < n; i++ {
			for f, v := range c.x.Row(c.row(i)) {
				if v != 0 {
					seen[f] = true
				}
			}
		}
		for f, ok := range seen {
			if ok {
				feats = append(feats, f)
			}
		}
		return feats
	}
	for f := 0; f < c.d; f++ {
		col := c.ct[f*c.k : (f+1)*c.k]
		if !nonzero32(col) {
			continue
		}
		// The values a row would hold: scale × ct may round to zero. Zeros
		// are skipped on their bits, which costs less than the product.
		for i := 0; i < n; i++ {
			r := c.row(i)
			if math.Float32bits(col[r])&^(1<<31) != 0 && scaled(c.scale[r], col[r]) != 0 {
				feats = append(feats, f)
				break
			}
		}
	}
	return feats
}

// nonzero32 reports whether any of xs is other than ±0: nonzero32Go, or
// its AVX2 version when the build and the CPU have it. live reads all of
// ct through it (with the scalar loop, live was about a tenth of the sparse
// benchmark's wall time by timers in a throwaway build).
var nonzero32 = nonzero32Go

func nonzero32Go(xs []float32) bool {
	var or uint32 // branch-free: most columns are wholly zero or not
	for _, v := range xs {
		or |= math.Float32bits(v)
	}
	return or&^(1<<31) != 0
}

// scaledTo64 writes float64(scaled(s[i], x[i])) into dst[i]: the float32
// values the rows of centers kept as scaled columns hold, for float64 sums
// (gather). scaledTo64Go, or its AVX2 version (the same bits).
var scaledTo64 = scaledTo64Go

func scaledTo64Go(dst []float64, x []float32, s []float64) {
	dst, s = dst[:len(x)], s[:len(x)]
	for i, v := range x {
		dst[i] = float64(scaled(s[i], v))
	}
}

// gather writes the given features of the candidates in use into buf,
// feature t's values at buf[t·n:], candidate by candidate, in float64. A
// CSR center's value is the float32 its row would hold (scaled), so either
// source gives the same numbers. A
// feature's values lie contiguous in ct, so the CSR centers are read and
// written in order (a candidate at a time, they were gathered K apart: a
// tenth of the sparse benchmark's CPU).
func (c candidates) gather(feats []int, buf []float64) {
	n := c.n()
	if c.x.Data != nil {
		for i := 0; i < n; i++ {
			row := c.x.Row(c.row(i))
			for t, f := range feats {
				buf[t*n+i] = float64(row[f])
			}
		}
		return
	}
	k := c.k
	for t, f := range feats {
		col, dst := c.ct[f*k:(f+1)*k], buf[t*n:(t+1)*n]
		if c.use == nil {
			scaledTo64(dst, col, c.scale)
			continue
		}
		for i, r := range c.use {
			dst[i] = float64(scaled(c.scale[r], col[r]))
		}
	}
}

// dense returns the candidates in use as the rows of a matrix: x itself
// when it holds all of them, else a copy.
func (c candidates) dense() compute.Matrix {
	if c.x.Data != nil && c.use == nil {
		return c.x
	}
	n := c.n()
	out := compute.NewMatrix(n, c.d)
	if c.x.Data != nil { // a subset of the rows
		for i := range n {
			copy(out.Row(i), c.x.Row(c.row(i)))
		}
		return out
	}
	buf := make([]float64, n*featureBlock)
	feats := c.live()
	for lo := 0; lo < len(feats); lo += featureBlock {
		fs := feats[lo:min(lo+featureBlock, len(feats))]
		c.gather(fs, buf)
		for t, f := range fs {
			for i, v := range buf[t*n : (t+1)*n] {
				out.Row(i)[f] = float32(v)
			}
		}
	}
	return out
}
