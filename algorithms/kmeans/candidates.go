package kmeans

import "github.com/sagebrush-ml/sagebrush/compute"

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
}

func rowCandidates(x compute.Matrix) candidates {
	return candidates{x: x, k: x.Rows, d: x.Cols}
}

func columnCandidates(ct []float32, scale []float64, k, d int) candidates {
	return candidates{ct: ct, scale: scale, k: k, d: d}
}

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
	c.use = use
	return c
}

// block writes features [lo, hi) of the candidates in use into buf,
// candidate i's at buf[i·(hi−lo):], in float64. A CSR center's value is
// the float32 its row would hold (scale × ct rounded to float32), so
// either source gives the same numbers.
func (c candidates) block(lo, hi int, buf []float64) {
	cb, n := hi-lo, c.n()
	if c.x.Data != nil {
		for i := 0; i < n; i++ {
			dst := buf[i*cb : (i+1)*cb]
			for f, v := range c.x.Row(c.row(i))[lo:hi] {
				dst[f] = float64(v)
			}
		}
		return
	}
	// A candidate at a time: its run of buf is written in order, and the
	// block's rows of ct (hi−lo rows of K values) stay in cache from one
	// candidate to the next.
	k := c.k
	for i := 0; i < n; i++ {
		r := c.row(i)
		s := c.scale[r]
		dst := buf[i*cb : (i+1)*cb]
		src := c.ct[lo*k+r : (hi-1)*k+r+1]
		for f := range dst {
			dst[f] = float64(float32(s * float64(src[f*k])))
		}
	}
}

// dense returns the candidates in use as the rows of a matrix: x itself
// when it holds all of them, else a copy.
func (c candidates) dense() compute.Matrix {
	if c.x.Data != nil && c.use == nil {
		return c.x
	}
	const band = 512
	n := c.n()
	out := compute.NewMatrix(n, c.d)
	buf := make([]float64, n*band)
	for lo := 0; lo < c.d; lo += band {
		hi := min(lo+band, c.d)
		c.block(lo, hi, buf)
		for i := 0; i < n; i++ {
			for f, v := range buf[i*(hi-lo) : (i+1)*(hi-lo)] {
				out.Row(i)[lo+f] = float32(v)
			}
		}
	}
	return out
}
