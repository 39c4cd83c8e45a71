package kmeans

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"

	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/internal/recovered"
)

// The local Lloyd step on the Gram matrix. Every center it forms is a
// weighted mean of the candidate rows, so every distance it needs follows
// from the candidates' dot products: ‖xᵢ − c‖² = Gᵢᵢ − 2·Σₗ aₗGᵢₗ + aᵀGa.
// One pass of n²·d/2 multiply-adds makes G; each Lloyd iteration then costs
// O(n²) instead of O(n·k·d), which decides wide data (a CPU profile of
// BenchmarkTrainSparseWide, 200,000 features: 8.2 of 9.5 s in the direct
// local Lloyd step).

// gramParts is the number of partial sums gram splits the columns over: fixed,
// so the sums, and therefore the model, do not depend on the core count.
const gramParts = 4

// useGram reports whether the local Lloyd step runs on the Gram matrix of n
// candidate rows of d features: when its partial sums take no more memory
// than the candidates themselves, or 32 MiB.
func useGram(n, d int) bool {
	return gramParts*2*n <= d || n*n <= 4<<20
}

// gram returns x·xᵀ in float64 for the candidates in use, n×n row-major
// with both triangles filled. It takes x's live features (those not zero
// in every candidate) a block at a time (candidates.gather) and hands the
// blocks round-robin to gramParts goroutines.
func gram(x candidates) []float64 {
	n, feats := x.n(), x.live()
	d := len(feats)
	const block = featureBlock
	parts := make([][]float64, gramParts)
	var wg recovered.Group // a panic fails the job, not the process
	for part := range parts {
		if part*block >= d {
			break
		}
		wg.Go(func() {
			g := make([]float64, n*n)
			buf := make([]float64, n*block)
			for lo := part * block; lo < d; lo += gramParts * block {
				hi := min(lo+block, d)
				cb := hi - lo
				x.gather(feats[lo:hi], buf)
				a := blas64.General{Rows: cb, Cols: n, Stride: n, Data: buf[:cb*n]}
				blas64.Syrk(blas.Trans, 1, a, 1, blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: g})
			}
			parts[part] = g
		})
	}
	wg.Wait()
	g := parts[0]
	if g == nil { // every candidate is zero
		g = make([]float64, n*n)
	}
	for _, p := range parts[1:] {
		if p != nil {
			floats.Add(g, p)
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j < i; j++ {
			g[i*n+j] = g[j*n+i]
		}
	}
	return g
}

// mix is a center as a weighted mean of candidate rows: Σ coef·x[rows] / mass.
type mix struct {
	rows []int
	coef []float64
	mass float64
}

// lloydGram is lloyd on the Gram matrix g of x's rows: the same seeding, the
// same iterations and stopping rule, the same restart of emptied clusters,
// with distances in float64. It returns the centers as mixes of x's rows.
func lloydGram(g []float64, n int, w []float64, p Params, rng *rand.Rand) ([]mix, float64) {
	k := p.K
	diag := make([]float64, n)
	for i := range diag {
		diag[i] = g[i*n+i]
	}
	var seeds []int
	if p.LloydInitMethod == "random" {
		seeds = weightedSample(w, k, rng)
	} else {
		seeds = kmeansPlusPlusBy(n, func(row int, dist []float32) {
			gr := g[row*n : (row+1)*n]
			for i := range dist {
				dist[i] = float32(max(0, diag[i]+diag[row]-2*gr[i]))
			}
		}, w, k, rng)
	}
	cs := make([]mix, k)
	for j, r := range seeds {
		cs[j] = mix{rows: []int{r}, coef: []float64{1}, mass: 1}
	}
	idx := make([]int, n)
	dist := make([]float64, n)
	xc := make([]float64, n)
	assign := func() float64 {
		for i := range dist {
			dist[i] = math.Inf(1)
		}
		for j, c := range cs {
			clear(xc)
			for t, r := range c.rows {
				floats.AddScaled(xc, c.coef[t]/c.mass, g[r*n:(r+1)*n])
			}
			var cc float64 // aᵀGa
			for t, r := range c.rows {
				cc += c.coef[t] / c.mass * xc[r]
			}
			for i, v := range xc {
				if d := diag[i] - 2*v + cc; d < dist[i] {
					dist[i], idx[i] = d, j
				}
			}
		}
		var loss float64
		for i, d := range dist {
			dist[i] = max(d, 0)
			loss += w[i] * dist[i]
		}
		return loss
	}
	prev := math.Inf(1)
	loss := assign()
	for iter := 0; iter < p.LloydMaxIter && loss > 0; iter++ {
		for j := range cs {
			cs[j] = mix{rows: cs[j].rows[:0], coef: cs[j].coef[:0]}
		}
		for i, j := range idx {
			c := &cs[j]
			c.rows = append(c.rows, i)
			c.coef = append(c.coef, w[i])
			c.mass += w[i]
		}
		for j := range cs {
			if cs[j].mass == 0 {
				// An emptied cluster restarts at the point that costs most.
				far := 0
				for i := range dist {
					if w[i]*dist[i] > w[far]*dist[far] {
						far = i
					}
				}
				cs[j] = mix{rows: append(cs[j].rows, far), coef: append(cs[j].coef, 1), mass: 1}
				dist[far] = 0
			}
		}
		prev, loss = loss, assign()
		if prev-loss <= p.LloydTol*prev {
			break
		}
	}
	return cs, loss
}

// centersOf forms the centers the mixes describe from x's candidates in
// use, summing in float64 as lloyd does, a block of features at a time,
// the blocks shared among the cores (each feature's sums are its own, so
// the split changes no bit; on one core, with the local Lloyd trials, it
// was about a tenth of the sparse benchmark's wall time by timers in a
// throwaway build).
func centersOf(cs []mix, x candidates) compute.Matrix {
	const block = featureBlock
	n, feats := x.n(), x.live()
	c := compute.NewMatrix(len(cs), x.d)
	blocks := (len(feats) + block - 1) / block
	var next atomic.Int64
	var g recovered.Group // a panic fails the job, not the process
	for range min(runtime.GOMAXPROCS(0), blocks) {
		g.Go(func() {
			buf := make([]float64, n*block)
			for b := int(next.Add(1) - 1); b < blocks; b = int(next.Add(1) - 1) {
				fs := feats[b*block : min((b+1)*block, len(feats))]
				x.gather(fs, buf)
				for j, m := range cs {
					row := c.Row(j)
					for t, f := range fs {
						vals := buf[t*n : (t+1)*n]
						var s float64
						for q, r := range m.rows {
							s += m.coef[q] * vals[r]
						}
						row[f] = float32(s / m.mass)
					}
				}
			}
		})
	}
	g.Wait()
	return c
}

// finiteNorms reports whether every candidate's squared norm, the diagonal
// of g, fits float32: beyond it the float32 distances of scoring and
// inference overflow, and reduce leaves the overflow to lloyd to report.
func finiteNorms(g []float64, n int) bool {
	for i := 0; i < n; i++ {
		if g[i*n+i] > math.MaxFloat32 {
			return false
		}
	}
	return true
}
