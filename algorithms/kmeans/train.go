package kmeans

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/internal/prefault"
)

// seed fixes the random stream: k-means has no seed hyperparameter, and the
// same data must give the same model bytes.
const seed = 0x5a6e5eed

// Train runs web-scale mini-batch k-means over the train channel, reduces the
// centers to k with the local Lloyd step, and scores the test channel.
// Cancelled mid-training, it still returns a model from the centers learnt so
// far (if any batch was seen) together with the context's error.
func (Algorithm) Train(ctx context.Context, job *algorithms.Job) (algorithms.Model, error) {
	p := ParamsFrom(job.Hyper)
	// The K centers and their sums, float32 (a mini-batch holds only the
	// rows there are: not counted).
	nc := int64(p.K) * int64(p.ExtraCenterFactor)
	if err := algorithms.CheckMemory(12*int64(p.FeatureDim)*nc,
		fmt.Sprintf("k × extra_center_factor = %d centers of feature_dim = %d", nc, p.FeatureDim)); err != nil {
		return nil, err
	}
	host := 0
	for i, h := range job.Cluster.Hosts {
		if h == job.Cluster.CurrentHost {
			host = i
		}
	}
	rng := rand.New(rand.NewPCG(seed, uint64(host)))
	multi := job.MultiHost()
	t := &trainer{p: p, be: job.Compute, rng: rng, metrics: job.Metrics, multi: multi}
	if t.be == nil {
		t.be = compute.Current()
	}
	train := job.Channels["train"]
	err := t.stream(ctx, train)
	if t.centers.Rows == 0 && !multi {
		if err == nil {
			err = algorithms.Errorf("the train channel holds no records: k-means needs at least k=%d rows", p.K)
		}
		return nil, err
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	var centers compute.Matrix
	if multi {
		if err != nil {
			return nil, err // a stop: no host can finish the merge
		}
		centers, err = t.mergeHosts(ctx, job.Peers, rng)
		if err != nil {
			return nil, err
		}
	} else {
		job.Metrics.Logf("mini-batch phase done: %d centers from %d records; reducing to k=%d with local Lloyd (%s init, %d trials)",
			t.centers.Rows, t.seen, p.K, p.LloydInitMethod, p.LloydNumTrials)
		var msds []float64
		centers, msds = reduce(t.be, t.candidates(), t.counts, p, rng)
		logShrink(job.Metrics, t.centers.Rows, p.K, msds)
	}
	// No centers: no local Lloyd trial had a finite loss (overflowed
	// distances), so reduce kept none.
	if centers.Rows == 0 || !algorithms.Finite(centers.Data) {
		return nil, errOverflow
	}
	m := newModel(centers, p.FeatureDim, job.Cluster.CurrentHost)
	if err != nil {
		return m, err
	}
	if test, ok := job.Channels["test"]; ok {
		if err := score(ctx, m, test, p, job.Metrics); err != nil {
			return m, err // saved only if the error is a stop
		}
	}
	return m, nil
}

// trainer is the state of the mini-batch phase.
type trainer struct {
	p       Params
	be      compute.Backend
	rng     *rand.Rand
	metrics algorithms.Metrics
	multi   bool // a host of a multi-host job: fewer than k rows of its own are fine

	centers compute.Matrix // K × d
	counts  []float64      // (decayed) points represented by each center
	seen    int64          // records consumed

	// CSR batches work on the centers transposed, each column scaled:
	// center j is scale[j] × column j of ct (d × K). While lazy, those are
	// the centers and the rows of centers are stale (or not yet made, when
	// the first batches were CSR); settle makes the rows current again, and
	// reduce reads the columns as they are (candidates).
	lazy    bool
	ct      []float32
	scale   []float64
	nn      []float64 // ‖column j of ct‖²
	ents    []entry   // a CSR batch's entries by (feature, cluster)
	entsTmp []entry   // sortEntries' other buffer
	resets  []int     // the centers a CSR batch makes its points' mean

	// per-batch scratch, reused
	norms  []float32
	scl32  []float32
	idx    []int32
	dist   []float32
	sums   []float64 // K × d, for dense batches; zero between steps
	newCnt []float64
	rate   []float64 // each center's step toward its new points' mean
	dscr   []float32
}

// stream makes Epochs passes over the channel, one mini-batch at a time.
func (t *trainer) stream(ctx context.Context, ch algorithms.Channel) error {
	for epoch := 0; epoch < t.p.Epochs; epoch++ {
		rc, err := ch.Open(ctx, epoch)
		if err != nil {
			return err
		}
		r := data.ReadAhead(rc, t.p.MiniBatchSize) // decode the next batch while this one computes
		var ssd float64
		var n int64
		stepOn := func(b *data.Batch) {
			ssd += t.step(b)
			n += int64(b.Rows)
			t.metrics.Batch(b.Rows)
		}
		// The K initial centers come from the first K rows' batches:
		// one batch unless mini_batch_size < K.
		var first []*data.Batch
		start := func() error {
			if err := t.init(first); err != nil {
				return err
			}
			for _, b := range first {
				stepOn(b)
			}
			first = nil
			return nil
		}
		err = data.Each(ctx, r, t.p.MiniBatchSize, func(b *data.Batch) error {
			if t.centers.Rows == 0 {
				if len(first) > 0 || b.Rows < t.p.K*t.p.ExtraCenterFactor {
					b = b.Clone() // kept past the next Read
				}
				first = append(first, b)
				if rows(first) < t.p.K*t.p.ExtraCenterFactor {
					return nil
				}
				return start()
			}
			stepOn(b)
			return nil
		})
		if err == nil && len(first) > 0 { // the channel holds fewer than K rows
			err = start()
		}
		if cerr := r.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		t.seen += n
		train := map[string]float64{}
		if n > 0 {
			train["msd"] = ssd / float64(n)
		}
		t.metrics.EpochEnd(epoch, train)
	}
	return nil
}

// rows counts the rows of bs.
func rows(bs []*data.Batch) int {
	n := 0
	for _, b := range bs {
		n += b.Rows
	}
	return n
}

// init picks the K = k × extra_center_factor initial centers from the rows
// of the first batches (one batch unless mini_batch_size < K). With fewer
// rows than K in the whole channel, K shrinks to the rows available; fewer
// than k rows is an error, on one host; a host of a multi-host job keeps
// what it has, and the leader checks the hosts' rows together.
func (t *trainer) init(first []*data.Batch) error {
	d, n := t.p.FeatureDim, rows(first)
	if n < t.p.K && !t.multi {
		return algorithms.Errorf("the train channel holds %d records but k is %d: k-means needs at least k records", n, t.p.K)
	}
	K := min(t.p.K*t.p.ExtraCenterFactor, n)
	if anySparse(first) {
		// Rows as they are (k-means++ makes one pick dense at a time), and
		// the centers kept as the CSR step wants them (unsettle): rows of
		// centers are made only if a dense batch comes.
		t.centers = compute.Matrix{Rows: K, Cols: d, Stride: d}
		rs := newBatchRows(first, d)
		var picked []int
		switch t.p.InitMethod {
		case "kmeans++":
			c := make([]float32, d)
			picked = kmeansPlusPlusBy(n, func(row int, dist []float32) {
				rs.row(row, c)
				rs.sqDistTo(c, dist)
			}, nil, K, t.rng)
		default:
			picked = t.rng.Perm(n)[:K]
		}
		t.ct = make([]float32, d*K)
		prefault.Write(t.ct) // written where batches fall after reads there
		t.scale = grow(t.scale, K)
		t.nn = grow(t.nn, K)
		for i, r := range picked {
			// Only the row's stored values: a dense copy written down a
			// column of ct missed the cache at every feature. The squared
			// norm is summed as they are stored, in the order sqNorm64 adds
			// a row (the zeros it skips add nothing): summing down all of ct
			// read 40 MB on the sparse benchmark for a hundred rows of ten
			// values, and before prefault.Write mapped every page of it to
			// the zero page, to fault again when written.
			var nn float64
			b, row := rs.at(r)
			if b.Sparse() {
				for q := b.Indptr[row]; q < b.Indptr[row+1]; q++ {
					f, v := int(b.Indices[q]), b.Values[q] // ascending within a row (data.Batch)
					t.ct[f*K+i] = v
					nn += float64(v) * float64(v)
				}
			} else {
				for f, v := range b.Dense[row*d : (row+1)*d] {
					if v != 0 {
						t.ct[f*K+i] = v
						nn += float64(v) * float64(v)
					}
				}
			}
			t.scale[i], t.nn[i] = 1, nn
		}
		t.lazy = true
	} else {
		t.centers = compute.NewMatrix(K, d)
		xs := make([]float32, 0, n*d)
		for _, b := range first {
			xs = append(xs, b.Dense[:b.Rows*d]...)
		}
		x := compute.MatrixOf(n, d, xs)
		var picked []int
		switch t.p.InitMethod {
		case "kmeans++":
			picked = kmeansPlusPlus(t.be, x, nil, K, t.rng)
		default:
			picked = t.rng.Perm(n)[:K]
		}
		for i, r := range picked {
			copy(t.centers.Row(i), x.Row(r))
		}
	}
	t.counts = make([]float64, K)
	t.newCnt = make([]float64, K)
	t.rate = make([]float64, K)
	t.norms = make([]float32, K)
	t.metrics.Logf("initialized %d centers (k=%d x extra_center_factor=%d) with %s from %d records",
		K, t.p.K, t.p.ExtraCenterFactor, t.p.InitMethod, n)
	return nil
}

// candidates are the centers of the mini-batch phase for reduce, where
// they lie.
func (t *trainer) candidates() candidates {
	if t.lazy {
		return columnCandidates(t.ct, t.scale, t.centers.Rows, t.centers.Cols)
	}
	return rowCandidates(t.centers)
}

// step assigns a mini-batch to its nearest centers and moves each center
// toward the mean of its new points by p_j = new_j / (previous_j + new_j),
// previous counts first decayed by the half-life. It returns the batch's sum
// of squared distances before the update.
func (t *trainer) step(b *data.Batch) float64 {
	if b.Sparse() {
		return t.stepSparse(b)
	}
	t.settle()
	d, K := t.p.FeatureDim, t.centers.Rows
	if t.sums == nil {
		t.sums = make([]float64, K*d)
	}
	t.idx = grow(t.idx, b.Rows)
	t.dist = grow(t.dist, b.Rows)
	t.be.RowSquaredNorms(t.norms, t.centers)
	clear(t.newCnt)
	var ssd float64
	x := compute.MatrixOf(b.Rows, d, b.Dense[:b.Rows*d])
	t.dscr = grow(t.dscr, b.Rows*K)
	compute.NearestL2(t.be, t.idx, t.dist, x, t.centers, t.norms, t.dscr)
	for i := 0; i < b.Rows; i++ {
		j := int(t.idx[i])
		ssd += float64(t.dist[i])
		t.newCnt[j]++
		s := t.sums[j*d : (j+1)*d]
		for c, v := range x.Row(i) {
			s[c] += float64(v)
		}
	}
	t.rates(b.Rows)
	for j, pj := range t.rate {
		if pj == 0 {
			continue
		}
		n := t.newCnt[j]
		c := t.centers.Row(j)
		s := t.sums[j*d : (j+1)*d]
		for f := range c {
			c[f] = float32((1-pj)*float64(c[f]) + pj*s[f]/n)
			s[f] = 0 // t.sums stays zero between steps
		}
	}
	return ssd
}

// rates decays the counts by the half-life over a batch of rows, adds the
// new points, and sets each center's step p_j = new_j / (previous_j + new_j)
// (0 for a center no point reached).
func (t *trainer) rates(rows int) {
	decay := 1.0
	if h := t.p.HalfLifeTimeSize; h > 0 {
		decay = math.Pow(0.5, float64(rows)/float64(h))
	}
	for j := range t.counts {
		prev := t.counts[j] * decay
		n := t.newCnt[j]
		t.counts[j] = prev + n
		t.rate[j] = 0
		if n > 0 {
			t.rate[j] = n / (prev + n)
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// kmeansPlusPlus picks K rows of x: the first at random, each next one with
// probability proportional to weight × squared distance to the nearest
// center already picked (weights nil: all 1). Rows already picked have
// distance 0 and are never picked twice while another row has mass.
func kmeansPlusPlus(be compute.Backend, x compute.Matrix, weights []float64, K int, rng *rand.Rand) []int {
	return kmeansPlusPlusBy(x.Rows, func(row int, dist []float32) {
		c := compute.MatrixOf(1, x.Cols, x.Row(row))
		be.PairwiseL2(compute.MatrixOf(x.Rows, 1, dist), x, c, nil)
	}, weights, K, rng)
}

// kmeansPlusPlusBy is kmeansPlusPlus over n rows given by distTo, which
// writes every row's squared distance to row row into dist.
func kmeansPlusPlusBy(n int, distTo func(row int, dist []float32), weights []float64, K int, rng *rand.Rand) []int {
	pick := func(mass []float64, total float64) int {
		u := rng.Float64() * total
		for i, m := range mass {
			u -= m
			if u < 0 && m > 0 {
				return i
			}
		}
		for i := n - 1; i >= 0; i-- { // rounding: the last row with mass
			if mass[i] > 0 {
				return i
			}
		}
		return rng.IntN(n)
	}
	mass := make([]float64, n)
	var total float64
	for i := range mass {
		mass[i] = 1
		if weights != nil {
			mass[i] = weights[i]
		}
		total += mass[i]
	}
	rows := []int{pick(mass, total)}
	best := make([]float64, n)
	for i := range best {
		best[i] = math.Inf(1)
	}
	dist := make([]float32, n)
	for len(rows) < K {
		distTo(rows[len(rows)-1], dist)
		total = 0
		for i := range best {
			best[i] = math.Min(best[i], float64(dist[i]))
			w := 1.0
			if weights != nil {
				w = weights[i]
			}
			mass[i] = w * best[i]
			total += mass[i]
		}
		if total == 0 { // every row coincides with a center: pick uniformly among unpicked
			taken := map[int]bool{}
			for _, r := range rows {
				taken[r] = true
			}
			for i := 0; i < n && len(rows) < K; i++ {
				if !taken[i] {
					rows = append(rows, i)
				}
			}
			break
		}
		rows = append(rows, pick(mass, total))
	}
	return rows
}

// errOverflow is the error of centers that came out NaN or infinite:
// finite float32 features beyond about ±1.8e19 square past float32's range.
var errOverflow = algorithms.Errorf("training gave centers that are not finite numbers: feature values beyond about ±1e19 overflow float32 squared distances; scale the data down")

// score computes test msd/ssd with the final model and reports them.
func score(ctx context.Context, m *Model, ch algorithms.Channel, p Params, metrics algorithms.Metrics) error {
	rc, err := ch.Open(ctx, 0)
	if err != nil {
		return err
	}
	r := data.ReadAhead(rc, p.MiniBatchSize)
	defer r.Close()
	var ssd float64
	var n int64
	var idx []int32
	var dist []float64
	var scratch []float32
	err = data.Each(ctx, r, p.MiniBatchSize, func(b *data.Batch) error {
		idx = grow(idx, b.Rows)
		dist = grow(dist, b.Rows)
		scratch = m.assign(idx, dist, b, scratch)
		for _, v := range dist {
			ssd += v
		}
		n += int64(b.Rows)
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		metrics.Logf("the test channel holds no records: no test metrics")
		return nil
	}
	for _, name := range p.EvalMetrics {
		switch name {
		case "msd":
			metrics.Score("test", "msd", ssd/float64(n))
		case "ssd":
			metrics.Score("test", "ssd", ssd)
		}
	}
	return nil
}
