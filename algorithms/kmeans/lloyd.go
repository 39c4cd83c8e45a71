package kmeans

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
)

// reduce turns the K mini-batch centers into k with Lloyd's method on the
// centers weighted by the points they represent: local_lloyd_num_trials runs
// from local_lloyd_init_method seeds, each stopping after
// local_lloyd_max_iter iterations or when the weighted ssd improves by less
// than local_lloyd_tol (relative); the run with the least ssd wins. It
// also returns each trial's mean square distance (weighted ssd over the
// total weight), none when the candidates are k already.
func reduce(be compute.Backend, pts candidates, counts []float64, p Params, rng *rand.Rand) (compute.Matrix, []float64) {
	// Centers no point ever reached carry no mass; keep them only if too few
	// others remain.
	var w []float64
	var reached []int
	for i := 0; i < pts.n(); i++ {
		if counts[i] > 0 {
			w = append(w, counts[i])
			reached = append(reached, i)
		}
	}
	keep := pts
	if len(w) < pts.n() {
		keep = pts.pick(reached)
	}
	if keep.n() < p.K {
		keep, w = pts, make([]float64, pts.n())
		for i := range w {
			w[i] = math.Max(counts[i], 1e-6)
		}
	}
	if keep.n() == p.K {
		out := compute.NewMatrix(p.K, pts.d)
		copy(out.Data, keep.dense().Data)
		return out, nil
	}
	mass := floats.Sum(w)
	msds := make([]float64, 0, p.LloydNumTrials)
	if useGram(keep.n(), keep.d) {
		keep = keep.withLive()
		if g := gram(keep); finiteNorms(g, keep.n()) {
			var best []mix
			bestLoss := math.Inf(1)
			for trial := 0; trial < p.LloydNumTrials; trial++ {
				c, loss := lloydGram(g, keep.n(), w, p, rng)
				if loss < bestLoss {
					best, bestLoss = c, loss
				}
				msds = append(msds, loss/mass)
			}
			return centersOf(best, keep), msds
		}
	}
	x := keep.dense()
	var best compute.Matrix
	bestLoss := math.Inf(1)
	for trial := 0; trial < p.LloydNumTrials; trial++ {
		c, loss := lloyd(be, x, w, p, rng)
		if loss < bestLoss {
			best, bestLoss = c, loss
		}
		msds = append(msds, loss/mass)
	}
	return best, msds
}

// logShrink writes what the algorithm's own log says of the local Lloyd
// step (a real 2021 training log: "shrinking 80 centers into 8", a line a
// trial, then the winner's value as the train msd), so that a metric
// definition written against SageMaker's log finds train:msd in ours. The
// winner is the least msd, as reduce picks it (a NaN trial never wins).
func logShrink(m algorithms.Metrics, from, k int, msds []float64) {
	m.Logf("shrinking %d centers into %d", from, k)
	best := 0.0 // no trials: the candidates are the centers, no distance left
	if len(msds) > 0 {
		best = math.Inf(1)
	}
	for i, v := range msds {
		m.Logf("local kmeans attempt #%d. Current mean square distance %f", i, v)
		if v < best { // NaN never
			best = v
		}
	}
	m.Score("train", "msd", best) // #quality_metric: host=…, train msd <loss>=…
}

// lloyd runs one weighted Lloyd trial and returns its centers and weighted ssd.
func lloyd(be compute.Backend, x compute.Matrix, w []float64, p Params, rng *rand.Rand) (compute.Matrix, float64) {
	n, d, k := x.Rows, x.Cols, p.K
	var rows []int
	if p.LloydInitMethod == "random" {
		rows = weightedSample(w, k, rng)
	} else {
		rows = kmeansPlusPlus(be, x, w, k, rng)
	}
	c := compute.NewMatrix(k, d)
	for i, r := range rows {
		copy(c.Row(i), x.Row(r))
	}
	idx := make([]int32, n)
	dist := make([]float32, n)
	norms := make([]float32, k)
	scratch := make([]float32, n*k)
	sums := make([]float64, k*d)
	mass := make([]float64, k)
	assign := func() float64 {
		be.RowSquaredNorms(norms, c)
		compute.NearestL2(be, idx, dist, x, c, norms, scratch)
		var loss float64
		for i := range dist {
			loss += w[i] * float64(dist[i])
		}
		return loss
	}
	prev := math.Inf(1)
	loss := assign()
	for iter := 0; iter < p.LloydMaxIter && loss > 0; iter++ {
		clear(sums)
		clear(mass)
		for i := 0; i < n; i++ {
			j := int(idx[i])
			mass[j] += w[i]
			s := sums[j*d : (j+1)*d]
			for f, v := range x.Row(i) {
				s[f] += w[i] * float64(v)
			}
		}
		for j := 0; j < k; j++ {
			if mass[j] == 0 {
				// An emptied cluster restarts at the point that costs most.
				far := 0
				for i := range dist {
					if w[i]*float64(dist[i]) > w[far]*float64(dist[far]) {
						far = i
					}
				}
				copy(c.Row(j), x.Row(far))
				dist[far] = 0
				continue
			}
			row := c.Row(j)
			for f := range row {
				row[f] = float32(sums[j*d+f] / mass[j])
			}
		}
		prev, loss = loss, assign()
		if prev-loss <= p.LloydTol*prev {
			break
		}
	}
	return c, loss
}

// weightedSample draws k distinct indices with probability proportional to w.
func weightedSample(w []float64, k int, rng *rand.Rand) []int {
	left := append([]float64(nil), w...)
	var total float64
	for _, v := range left {
		total += v
	}
	out := make([]int, 0, k)
	for len(out) < k {
		u := rng.Float64() * total
		pick := -1
		for i, v := range left {
			if v <= 0 {
				continue
			}
			pick = i
			if u -= v; u < 0 {
				break
			}
		}
		if pick < 0 {
			break
		}
		out = append(out, pick)
		total -= left[pick]
		left[pick] = 0
	}
	return out
}
