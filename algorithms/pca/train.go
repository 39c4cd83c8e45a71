package pca

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
)

// seed fixes the random stream (randomized mode's test matrix, the start
// vectors of inverse iteration): PCA has no seed hyperparameter, and the
// same data must give the same model bytes.
const seed = 0x9ca5eed

// gemmRows bounds the rows of one float32 product before its result is
// added to the float64 accumulators, so float32 sums stay short however
// large mini_batch_size is.
const gemmRows = 4096

// summary is what one streaming pass keeps: its size depends on
// feature_dim (and ℓ), never on the number of rows.
type summary interface {
	add(x []float32, rows int) error // dense rows, row-major; x is scratch the summary may overwrite
	// addSparse adds a CSR batch from its stored entries when the summary
	// can (ok), else the caller adds it made dense.
	addSparse(b *data.Batch) (ok bool, err error)
	rows() int64
	// solve returns the k principal directions (d×k, descending), the
	// singular values of the (centred) data matrix, the mean (zeros when
	// not centring) and the total variance Σ‖x − mean‖² of the pass.
	solve(k int) (v *mat.Dense, s, mean []float64, total float64, err error)
	// part encodes the summary for the leader of a multi-host job, and
	// merged (on the leader) adds every host's part up into one summary.
	part() []byte
	merged(parts [][]byte) (summary, error)
}

// Train streams the train channel once into the mode's summary, solves the
// eigenproblem, and scores the test channel if present.
func (Algorithm) Train(ctx context.Context, job *algorithms.Job) (_ algorithms.Model, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(overflowed); !ok {
				panic(r)
			}
			err = errOverflow
		}
	}()
	p := ParamsFrom(job.Hyper)
	d := int64(p.FeatureDim)
	if p.Sketches() {
		err = algorithms.CheckMemory(48*d*int64(p.SketchWidth()),
			fmt.Sprintf("feature_dim = %d with a sketch of %d columns", d, p.SketchWidth()))
	} else {
		// The float64 scatter matrix, its float32 partial and the
		// eigensolver's copy, and its d×k vectors (three sets of them in
		// topEigenTridiagonal, plus the float32 model).
		need, k := 20*d*d, int64(p.NumComponents)
		need += 28 * d * k // num_components ≤ feature_dim (the schema)
		what := fmt.Sprintf("feature_dim = %d in regular mode (a %d×%d scatter matrix; randomized mode needs far less)", d, d, d)
		if p.Mode == "randomized" {
			what = fmt.Sprintf("feature_dim = %d with a sketch of %d columns, more than a quarter of the features, so computed exactly (a %d×%d scatter matrix)", d, p.SketchWidth(), d, d)
		}
		err = algorithms.CheckMemory(need, what)
	}
	if err != nil {
		return nil, err
	}
	host := 0
	for i, h := range job.Cluster.Hosts {
		if h == job.Cluster.CurrentHost {
			host = i
		}
	}
	rng := rand.New(rand.NewPCG(seed, uint64(host)))
	be := job.Compute
	if be == nil {
		be = compute.Current()
	}
	multi := job.MultiHost()
	var sum summary
	switch {
	case p.Sketches():
		sk := newSketch(be, p, rng)
		if multi {
			sk.shared = func(warm []float32, m int) ([]float32, *mat.Dense, error) {
				return mergeWarm(ctx, job.Peers, sk, warm, m, job.Metrics)
			}
		}
		sum = sk
		job.Metrics.Logf("randomized mode: sketch of %d columns (num_components=%d + extra_components=%d, at most feature_dim=%d), subtract_mean=%v",
			p.SketchWidth(), p.NumComponents, p.ExtraComponents, p.FeatureDim, p.SubtractMean)
	default:
		sum = newScatter(be, p, rng)
		if p.Mode == "randomized" {
			job.Metrics.Logf("randomized mode: a sketch of %d columns (num_components=%d + extra_components=%d, at most feature_dim=%d) would hold more than a quarter of the features, so the exact regular computation is used",
				p.SketchWidth(), p.NumComponents, p.ExtraComponents, p.FeatureDim)
		}
		job.Metrics.Logf("regular mode: %d×%d scatter matrix in float64, subtract_mean=%v", p.FeatureDim, p.FeatureDim, p.SubtractMean)
	}
	start := time.Now()
	if err := stream(ctx, job.Channels["train"], p, sum, job.Metrics); err != nil {
		return nil, err
	}
	n := sum.rows()
	if n == 0 && !multi {
		return nil, algorithms.Errorf("the train channel holds no records: PCA needs at least one row")
	}
	passed := time.Since(start)
	var sol *solution
	if multi {
		job.Metrics.Logf("pass over this host's %d records in %.3fs; merging the summaries of %d hosts", n, passed.Seconds(), job.Peers.Size())
		sol, err = mergeHosts(ctx, job.Peers, sum, p, job.Metrics)
	} else {
		sol = &solution{n: n}
		sol.v, sol.s, sol.mean, sol.total, err = solve(sum, p.NumComponents)
	}
	if err != nil {
		return nil, err
	}
	v, s, mean := sol.v, sol.s, sol.mean
	var explained float64
	for _, x := range s {
		explained += x * x
	}
	evr := 0.0
	if sol.total > 0 {
		evr = explained / sol.total
	}
	solved := "decomposition"
	if multi {
		solved = "merge and decomposition" // the wait for the other hosts included
	}
	job.Metrics.Logf("pass over %d records in %.3fs, %s in %.3fs; explained variance ratio of %d components %.6f",
		sol.n, passed.Seconds(), solved, (time.Since(start) - passed).Seconds(), p.NumComponents, evr)
	job.Metrics.EpochEnd(0, nil)
	m := newModel(v, s, mean, p.SubtractMean, job.Cluster.CurrentHost)
	if test, ok := job.Channels["test"]; ok {
		if err := score(ctx, m, test, p, job.Metrics); err != nil {
			return m, err // saved only if the error is a stop
		}
	}
	return m, nil
}

// errOverflow is the error of a decomposition that came out NaN or
// infinite: finite float32 features beyond about ±1.8e19 square past
// float32's range in the products of the pass.
var errOverflow = algorithms.Errorf("the principal components are not finite numbers: feature values beyond about ±1e19 overflow float32 products; scale the data down")

// overflowed is the panic of a decomposition handed NaNs or infinities
// (mustBeFinite): gonum's SVD loops forever on NaN rather than fail. Train
// turns it into errOverflow.
type overflowed struct{}

// mustBeFinite panics with overflowed{} unless every value is finite.
func mustBeFinite(xs []float64) {
	if !algorithms.Finite(xs) {
		panic(overflowed{})
	}
}

// solve is sum.solve with its outputs checked: a pass that overflowed
// leaves NaNs or infinities.
func solve(sum summary, k int) (v *mat.Dense, s, mean []float64, total float64, err error) {
	v, s, mean, total, err = sum.solve(k)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	if !algorithms.Finite(s, mean, v.RawMatrix().Data, []float64{total}) {
		return nil, nil, nil, 0, errOverflow
	}
	return v, s, mean, total, nil
}

// minAddBytes is the least a dense add carries: smaller mini-batches are
// gathered up to it (at most 256 rows) before the summary takes them. Each
// add ends in a pass over the d×d (or ℓ×d) float64 accumulators: before
// the gathering, BenchmarkTrainBatchSizes (784 features) took 2.4–3.2 s
// in regular mode at mini_batch_size 10 against 0.60–0.63 s at 500
// (docs/algorithms/pca.md); the sums are the same whatever the grouping,
// up to rounding.
const minAddBytes = 4 << 20

// minAddRows is the number of dense rows stream gathers for one add.
func minAddRows(d int) int { return max(1, min(256, minAddBytes/(4*d))) }

// stream makes the one pass over ch.
func stream(ctx context.Context, ch algorithms.Channel, p Params, sum summary, metrics algorithms.Metrics) error {
	rc, err := ch.Open(ctx, 0)
	if err != nil {
		return err
	}
	r := data.ReadAhead(rc, p.MiniBatchSize) // decode the next batch while this one computes
	d, least := p.FeatureDim, minAddRows(p.FeatureDim)
	var x, held []float32 // held: dense rows not yet added, fewer than least
	flush := func() error {
		if len(held) == 0 {
			return nil
		}
		err := sum.add(held, len(held)/d)
		held = held[:0]
		return err
	}
	err = data.Each(ctx, r, p.MiniBatchSize, func(b *data.Batch) error {
		if b.Cols != p.FeatureDim {
			return algorithms.Errorf("train records have %d features; feature_dim is %d", b.Cols, p.FeatureDim)
		}
		ok := false
		if b.Sparse() {
			// Rows in the order they came: the first ones seed the
			// randomized sketch and the shift.
			if err := flush(); err != nil {
				return err
			}
			var err error
			if ok, err = sum.addSparse(b); err != nil {
				return err
			}
		}
		if !ok {
			if len(held) == 0 && b.Rows >= least {
				rows := b.Dense[:b.Rows*d] // a dense batch as it is (add only reads it)
				if b.Sparse() {
					x = b.DenseTo(x)
					rows = x
				}
				if err := sum.add(rows, b.Rows); err != nil {
					return err
				}
			} else {
				// Written straight onto held's end: one copy, not two.
				n := len(held)
				held = slices.Grow(held, b.Rows*d)[:n+b.Rows*d]
				b.DenseTo(held[n:])
				if len(held) >= least*d {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		metrics.Batch(b.Rows)
		return nil
	})
	if err == nil {
		err = flush()
	}
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return err
}

// ---- regular mode ----

// scatter accumulates Σ (x−c)ᵀ(x−c) and Σ (x−c) in float64, with c a
// shift (the first dense mini-batch's mean when centring, else 0) that
// keeps the float32 products free of cancellation against a large mean.
type scatter struct {
	be     compute.Backend
	d      int
	center bool
	rng    *rand.Rand

	shift   []float32 // nil until the first batch
	n       int64
	sum     []float64 // Σ (x − shift)
	scatter []float64 // upper triangle (row-major d×d storage) of Σ (x−shift)ᵀ(x−shift)

	xt []float32 // d × rows transposed chunk
	g  []float32 // d×d float32 products
}

// block is the side of the diagonal blocks of XᵀX computed per product:
// only blocks on or above the diagonal are formed (57% of the work at
// d=784).
const block = 128

func newScatter(be compute.Backend, p Params, rng *rand.Rand) *scatter {
	d := p.FeatureDim
	return &scatter{be: be, d: d, center: p.SubtractMean, rng: rng,
		sum: make([]float64, d), scatter: make([]float64, d*d), g: make([]float32, d*d)}
}

func (s *scatter) rows() int64 { return s.n }

func (s *scatter) initShift(x []float32, rows int) {
	s.shift = make([]float32, s.d)
	if !s.center || x == nil {
		return
	}
	acc := make([]float64, s.d)
	for i := 0; i < rows; i++ {
		for j, v := range x[i*s.d : (i+1)*s.d] {
			acc[j] += float64(v)
		}
	}
	for j := range acc {
		s.shift[j] = float32(acc[j] / float64(rows))
	}
}

// addSparse accumulates a sparse batch directly (Σ over pairs of stored
// entries) when that is cheaper than the dense product and the shift is
// zero; it reports whether it did.
func (s *scatter) addSparse(b *data.Batch) (bool, error) {
	if s.shift == nil {
		s.initShift(nil, 0) // a sparse first batch: no shift, keep sparsity
	}
	for _, c := range s.shift {
		if c != 0 {
			return false, nil
		}
	}
	var pairs int
	for i := 0; i < b.Rows; i++ {
		nz := b.Indptr[i+1] - b.Indptr[i]
		pairs += nz * (nz + 1) / 2
	}
	// The scalar loop runs ~20× slower per multiply-add than the product.
	if float64(pairs)*20 > float64(b.Rows)*float64(s.d)*float64(s.d)/2 {
		return false, nil
	}
	d := s.d
	for i := 0; i < b.Rows; i++ {
		idx := b.Indices[b.Indptr[i]:b.Indptr[i+1]]
		val := b.Values[b.Indptr[i]:b.Indptr[i+1]]
		for a, ja := range idx {
			va := float64(val[a])
			s.sum[ja] += va
			row := s.scatter[int(ja)*d:]
			for c := a; c < len(idx); c++ {
				jb, vb := idx[c], float64(val[c])
				if ja <= jb {
					row[jb] += va * vb
				} else {
					s.scatter[int(jb)*d+int(ja)] += va * vb
				}
			}
		}
	}
	s.n += int64(b.Rows)
	return true, nil
}

func (s *scatter) add(x []float32, rows int) error {
	if s.shift == nil {
		s.initShift(x, rows)
	}
	for lo := 0; lo < rows; lo += gemmRows {
		hi := min(lo+gemmRows, rows)
		s.addChunk(x[lo*s.d:hi*s.d], hi-lo)
	}
	s.n += int64(rows)
	return nil
}

func (s *scatter) addChunk(x []float32, rows int) {
	d := s.d
	if cap(s.xt) < d*rows {
		s.xt = make([]float32, d*gemmRows)
	}
	xt := s.xt[:d*rows]
	for i := 0; i < rows; i++ {
		for j, v := range x[i*d : (i+1)*d] {
			xt[j*rows+i] = v - s.shift[j]
		}
	}
	for j := 0; j < d; j++ {
		var t float64
		for _, v := range xt[j*rows : (j+1)*rows] {
			t += float64(v)
		}
		s.sum[j] += t
	}
	for i0 := 0; i0 < d; i0 += block {
		i1 := min(i0+block, d)
		a := compute.Matrix{Rows: i1 - i0, Cols: rows, Stride: rows, Data: xt[i0*rows : i1*rows]}
		for j0 := i0; j0 < d; j0 += block {
			j1 := min(j0+block, d)
			b := compute.Matrix{Rows: j1 - j0, Cols: rows, Stride: rows, Data: xt[j0*rows : j1*rows]}
			c := compute.Matrix{Rows: i1 - i0, Cols: j1 - j0, Stride: d, Data: s.g[i0*d+j0 : (i1-1)*d+j1]}
			s.be.Gemm(false, true, 1, a, b, 0, c)
			for i := i0; i < i1; i++ {
				g := s.g[i*d : i*d+j1]
				acc := s.scatter[i*d : i*d+j1]
				for j := max(j0, i); j < j1; j++ {
					acc[j] += float64(g[j])
				}
			}
		}
	}
}

func (s *scatter) solve(k int) (*mat.Dense, []float64, []float64, float64, error) {
	d, n := s.d, float64(s.n)
	c := make([]float64, d*d)
	var total float64
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			v := s.scatter[i*d+j]
			if s.center {
				v -= s.sum[i] * s.sum[j] / n
			}
			c[i*d+j], c[j*d+i] = v, v
		}
		total += c[i*d+i]
	}
	vals, vecs := topEigen(c, d, k, s.rng)
	sv := make([]float64, k)
	for j, l := range vals {
		sv[j] = math.Sqrt(max(l, 0))
	}
	mean := make([]float64, d)
	if s.center {
		for j := range mean {
			mean[j] = float64(s.shift[j]) + s.sum[j]/n
		}
	}
	return vecs, sv, mean, total, nil
}

// ---- randomized mode ----

// sketch keeps Zᵀ = Q₀ᵀ Σ (x−c)ᵀ(x−c) (ℓ×d, float64) and Σ (x−c), where
// Q₀ (d×ℓ, orthonormal) spans the dominant subspace of the first
// warmRows rows (c: their mean when centring, else 0), found by
// subspaceIters rounds of subspace iteration from a Gaussian start. The
// Nyström approximation C ≈ Z (Q₀ᵀZ)⁺ Zᵀ of the covariance C then gives
// the components: with Q₀ already close to the answer, one pass over the
// data acts as a further power step (see docs/algorithms/pca.md for the
// measured accuracy).
type sketch struct {
	be     compute.Backend
	d, l   int
	center bool
	rng    *rand.Rand

	warm  []float32 // buffered first rows (row-major), until Q₀ exists
	nwarm int
	// warmCSR buffers the first rows instead while they all come as CSR
	// batches the sketch takes from their entries (addSparse), on one host:
	// at 200,000 features and ℓ = 100 the dense rows would be 800 MB.
	warmCSR *data.Batch
	ready   bool
	// shared, set in a multi-host job, finds the shift and Q₀ from every
	// host's first rows (mergeWarm) so that all hosts' sketches add up.
	shared func(warm []float32, m int) ([]float32, *mat.Dense, error)

	shift []float32
	qt    compute.Matrix // Q₀ᵀ, ℓ×d float32
	q     *mat.Dense     // Q₀, d×ℓ float64

	n     int64
	sum   []float64 // Σ (x − c)
	sumsq float64   // Σ ‖x − c‖²
	zt    []float64 // ℓ×d

	qc []float64 // Q₀ᵀc and ‖c‖², for CSR rows
	cc float64

	xc  []float32 // rows×d centred chunk
	xt  []float32 // its transpose, d×rows
	wt  []float32 // ℓ×rows
	zt2 []float32 // ℓ×d product
}

// warmRowsPerColumn × ℓ rows seed Q₀; subspaceIters rounds of subspace
// iteration on them.
const (
	warmRowsPerColumn = 10
	subspaceIters     = 3
)

func newSketch(be compute.Backend, p Params, rng *rand.Rand) *sketch {
	d, l := p.FeatureDim, p.SketchWidth()
	return &sketch{be: be, d: d, l: l, center: p.SubtractMean, rng: rng,
		sum: make([]float64, d), zt: make([]float64, l*d)}
}

func (s *sketch) warmRows() int { return warmRowsPerColumn * s.l }

func (s *sketch) rows() int64 {
	if !s.ready {
		return int64(s.nwarm)
	}
	return s.n
}

// addSparse adds a CSR batch from its stored entries, never made dense
// (addChunk's products would cost rows × d): with X_c = X − 1·cᵀ,
// W = Q₀ᵀX_cᵀ is Q₀ᵀXᵀ less Q₀ᵀc in every column, and Z += W·X_c is W·X
// over the stored entries less (W·1)·cᵀ. The rows that seed Q₀ are
// buffered dense, as add buffers them (10·ℓ rows). It reports whether it
// took the batch.
func (s *sketch) addSparse(b *data.Batch) (bool, error) {
	// The scalar loops run ~20× slower per multiply-add than the products
	// (as for scatter): dense rows unless under 5% of the values are stored.
	if 20*int64(b.Indptr[b.Rows]) > int64(b.Rows)*int64(s.d) {
		return false, nil
	}
	lo := 0
	if !s.ready {
		take := min(b.Rows, s.warmRows()-s.nwarm)
		if s.shared == nil && s.nwarm == len(s.warmCSRRows()) {
			s.appendWarmCSR(b, take)
		} else {
			n := len(s.warm)
			s.warm = slices.Grow(s.warm, take*s.d)[:n+take*s.d]
			for i := range take {
				b.RowTo(s.warm[n+i*s.d:n+(i+1)*s.d], i)
			}
		}
		s.nwarm += take
		if s.nwarm < s.warmRows() {
			return true, nil
		}
		if err := s.start(); err != nil {
			return true, err
		}
		lo = take
	}
	for c := lo; c < b.Rows; c += gemmRows {
		s.addSparseRows(b, c, min(c+gemmRows, b.Rows))
	}
	return true, nil
}

// addSparseRows adds rows [lo, hi) of the CSR batch b (see addSparse).
func (s *sketch) addSparseRows(b *data.Batch, lo, hi int) {
	d := s.d
	if s.qc == nil {
		// Q₀ᵀc and ‖c‖², once.
		s.qc = shiftProducts(s.q, s.shift)
		for _, c := range s.shift {
			s.cc += float64(c) * float64(c)
		}
	}
	w1 := sparseProducts(b, lo, hi, s.q, s.qc, s.shift, func(j int, v float64, w []float64) {
		for a, wa := range w {
			s.zt[a*d+j] += wa * v
		}
	})
	for i := lo; i < hi; i++ {
		var xx, xc float64 // ‖x‖², x·c
		for e := b.Indptr[i]; e < b.Indptr[i+1]; e++ {
			v, j := float64(b.Values[e]), int(b.Indices[e])
			xx += v * v
			xc += v * float64(s.shift[j])
			s.sum[j] += v
		}
		s.sumsq += xx - 2*xc + s.cc
	}
	rows := float64(hi - lo)
	for j, c := range s.shift {
		if c != 0 {
			s.sum[j] -= rows * float64(c)
			for a, wa := range w1 {
				s.zt[a*d+j] -= wa * float64(c)
			}
		}
	}
	s.n += int64(hi - lo)
}

// shiftProducts returns Qᵀc for q (d×ℓ) and the shift c.
func shiftProducts(q *mat.Dense, shift []float32) []float64 {
	_, l := q.Dims()
	qd, qc := q.RawMatrix().Data, make([]float64, l)
	for j, c := range shift {
		if c != 0 {
			floats.AddScaled(qc, float64(c), qd[j*l:(j+1)*l])
		}
	}
	return qc
}

// sparseProducts is the shared step of the sketch and of its sparse warm
// start: for each row x of rows [lo, hi) of the CSR batch b it forms
// w = Qᵀ(x − c) from the stored entries (q d×ℓ row-major, so a feature's ℓ
// values lie together; qc = Qᵀc), calls add(j, x_j, w) for each stored
// entry, and returns Σ w over the rows, with which the caller subtracts
// the shift's rank-one term from its product W·(X − 1cᵀ).
func sparseProducts(b *data.Batch, lo, hi int, q *mat.Dense, qc []float64, shift []float32, add func(j int, v float64, w []float64)) []float64 {
	l := len(qc)
	qd := q.RawMatrix().Data
	w, w1 := make([]float64, l), make([]float64, l)
	for i := lo; i < hi; i++ {
		for a := range w {
			w[a] = -qc[a]
		}
		for e := b.Indptr[i]; e < b.Indptr[i+1]; e++ {
			j := int(b.Indices[e])
			floats.AddScaled(w, float64(b.Values[e]), qd[j*l:(j+1)*l])
		}
		for e := b.Indptr[i]; e < b.Indptr[i+1]; e++ {
			add(int(b.Indices[e]), float64(b.Values[e]), w)
		}
		floats.Add(w1, w)
	}
	return w1
}

func (s *sketch) add(x []float32, rows int) error {
	if !s.ready {
		s.densifyWarm()
		take := min(rows, s.warmRows()-s.nwarm)
		s.warm = append(s.warm, x[:take*s.d]...)
		s.nwarm += take
		if s.nwarm < s.warmRows() {
			return nil
		}
		if err := s.start(); err != nil {
			return err
		}
		x, rows = x[take*s.d:], rows-take
	}
	for lo, c := 0, s.chunkRows(); lo < rows; lo += c {
		hi := min(lo+c, rows)
		s.addChunk(x[lo*s.d:hi*s.d], hi-lo)
	}
	return nil
}

// sketchChunkBytes bounds a dense chunk of the sketch: addChunk keeps the
// chunk centred and transposed, two copies, so at 200,000 features the
// 200 warm rows took 320 MB at once where chunks of 83 rows (64 MiB a
// copy) do the same work in 133 MB, by arithmetic.
const sketchChunkBytes = 64 << 20

// chunkRows is how many dense rows addChunk takes at once.
func (s *sketch) chunkRows() int {
	return max(1, min(gemmRows, sketchChunkBytes/(4*s.d)))
}

// start finds the shift and Q₀ from the buffered rows (from every host's,
// through shared, in a multi-host job) and feeds this host's buffered rows
// into the sketch.
func (s *sketch) start() error {
	var shift []float32
	var q *mat.Dense
	switch {
	case s.shared != nil:
		var err error
		if shift, q, err = s.shared(s.warm, s.nwarm); err != nil {
			return err
		}
	case s.warmCSR != nil:
		shift, q = s.warmStartSparse(s.warmCSR)
	default:
		shift, q = s.warmStart(s.warm, s.nwarm)
	}
	s.shift, s.q = shift, q
	s.qt = compute.NewMatrix(s.l, s.d)
	toRowsT(s.qt, q)
	s.ready = true
	if b := s.warmCSR; b != nil {
		s.warmCSR = nil
		for c := 0; c < b.Rows; c += gemmRows {
			s.addSparseRows(b, c, min(c+gemmRows, b.Rows))
		}
		return nil
	}
	warm, m := s.warm, s.nwarm
	s.warm = nil
	for lo, c := 0, s.chunkRows(); lo < m; lo += c {
		hi := min(lo+c, m)
		s.addChunk(warm[lo*s.d:hi*s.d], hi-lo)
	}
	return nil
}

// warmStart returns the shift (the rows' mean when centring, else zeros)
// and Q₀ found by subspace iteration on m rows (row-major) from a Gaussian
// start.
func (s *sketch) warmStart(rows []float32, m int) ([]float32, *mat.Dense) {
	d, l := s.d, s.l
	shift := make([]float32, d)
	if s.center && m > 0 {
		acc := make([]float64, d)
		for i := 0; i < m; i++ {
			for j, v := range rows[i*d : (i+1)*d] {
				acc[j] += float64(v)
			}
		}
		for j := range acc {
			shift[j] = float32(acc[j] / float64(m))
		}
	}
	sc := compute.MatrixOf(m, d, make([]float32, m*d))
	for i := 0; i < m; i++ {
		for j, v := range rows[i*d : (i+1)*d] {
			sc.Data[i*d+j] = v - shift[j]
		}
	}
	q := s.gaussianStart()
	qt := compute.NewMatrix(l, d)
	wt := compute.NewMatrix(l, m)
	yt := compute.NewMatrix(l, d)
	y := mat.NewDense(d, l, nil)
	for it := 0; it < subspaceIters; it++ {
		toRowsT(qt, q)
		s.be.Gemm(false, true, 1, qt, sc, 0, wt)  // Qᵀ S_cᵀ
		s.be.Gemm(false, false, 1, wt, sc, 0, yt) // Qᵀ S_cᵀ S_c
		for i := 0; i < l; i++ {
			for j := 0; j < d; j++ {
				y.Set(j, i, float64(yt.Data[i*d+j]))
			}
		}
		q = orthonormalize(y)
	}
	return shift, q
}

// gaussianStart is the subspace iteration's start: an orthonormal basis
// of a d×ℓ Gaussian matrix drawn from the sketch's stream.
func (s *sketch) gaussianStart() *mat.Dense {
	omega := mat.NewDense(s.d, s.l, nil)
	for i := 0; i < s.d; i++ {
		for j := 0; j < s.l; j++ {
			omega.Set(i, j, s.rng.NormFloat64())
		}
	}
	return orthonormalize(omega)
}

// warmCSRRows is the CSR warm buffer's rows' start pointers (nil when
// there is none): as many as the warm rows while every one came as CSR.
func (s *sketch) warmCSRRows() []int {
	if s.warmCSR == nil {
		return nil
	}
	return s.warmCSR.Indptr[:s.warmCSR.Rows]
}

// appendWarmCSR appends b's first take rows to the CSR warm buffer.
func (s *sketch) appendWarmCSR(b *data.Batch, take int) {
	if s.warmCSR == nil {
		s.warmCSR = &data.Batch{Cols: s.d}
	}
	rows := make([]int, take)
	for i := range rows {
		rows[i] = i
	}
	s.warmCSR.AppendRows(b, rows)
}

// densifyWarm moves the CSR warm rows into the dense buffer: a dense batch
// (or one with too many values stored) arrived among the first rows.
func (s *sketch) densifyWarm() {
	w := s.warmCSR
	if w == nil {
		return
	}
	s.warmCSR = nil
	s.warm = w.DenseTo(s.warm[:0])
}

// warmStartSparse is warmStart on the CSR rows b, never made dense: the
// same Gaussian start, and each round's Qᵀ S_cᵀ and (Qᵀ S_cᵀ) S_c from the
// stored entries less the shift's rank-one terms (sparseProducts, as
// addSparseRows), in float64.
func (s *sketch) warmStartSparse(b *data.Batch) ([]float32, *mat.Dense) {
	d, l, m := s.d, s.l, b.Rows
	shift := make([]float32, d)
	if s.center && m > 0 {
		acc := make([]float64, d)
		for e, j := range b.Indices[:b.Indptr[m]] {
			acc[j] += float64(b.Values[e])
		}
		for j := range acc {
			shift[j] = float32(acc[j] / float64(m))
		}
	}
	q := s.gaussianStart()
	for it := 0; it < subspaceIters; it++ {
		y := mat.NewDense(d, l, nil)
		yd := y.RawMatrix().Data
		w1 := sparseProducts(b, 0, m, q, shiftProducts(q, shift), shift, func(j int, v float64, w []float64) {
			floats.AddScaled(yd[j*l:(j+1)*l], v, w)
		})
		for j, c := range shift {
			if c != 0 {
				floats.AddScaled(yd[j*l:(j+1)*l], -float64(c), w1)
			}
		}
		q = orthonormalize(y)
	}
	return shift, q
}

// toRowsT writes the transpose of q (d×l) into dst (l×d) as float32.
func toRowsT(dst compute.Matrix, q *mat.Dense) {
	d, l := q.Dims()
	for j := 0; j < l; j++ {
		for i := 0; i < d; i++ {
			dst.Data[j*d+i] = float32(q.At(i, j))
		}
	}
}

func (s *sketch) addChunk(x []float32, rows int) {
	d, l := s.d, s.l
	if cap(s.xc) < rows*d {
		// rows × d, not gemmRows × d: at 200,000 features that is
		// 4,096 × 200,000 float32 (3.2 GB, by arithmetic) of address
		// space twice over for a chunk of 200 rows.
		s.xc = make([]float32, rows*d)
		s.xt = make([]float32, rows*d)
		s.wt = make([]float32, l*rows)
		s.zt2 = make([]float32, l*d)
	}
	xc := compute.MatrixOf(rows, d, s.xc)
	// Both products in the dot-product form (op(B) = Bᵀ), which pure-Go
	// gonum runs about twice as fast as the axpy form: the second needs
	// X_c transposed, a strided copy that cost more than the time it saved
	// once the backend packs its operands (OpenBLAS: 12% of the run's CPU).
	transposed := !compute.PacksOperands(s.be)
	xt := compute.MatrixOf(d, rows, s.xt)
	for i := 0; i < rows; i++ {
		row := xc.Row(i)
		var sq float64
		for j, v := range x[i*d : (i+1)*d] {
			c := v - s.shift[j]
			row[j] = c
			s.sum[j] += float64(c)
			sq += float64(c) * float64(c)
		}
		if transposed {
			for j, c := range row {
				xt.Data[j*rows+i] = c
			}
		}
		s.sumsq += sq
	}
	wt := compute.MatrixOf(l, rows, s.wt)
	zt := compute.MatrixOf(l, d, s.zt2)
	s.be.Gemm(false, true, 1, s.qt, xc, 0, wt) // Q₀ᵀ X_cᵀ
	if transposed {
		s.be.Gemm(false, true, 1, wt, xt, 0, zt) // Q₀ᵀ X_cᵀ X_c
	} else {
		s.be.Gemm(false, false, 1, wt, xc, 0, zt)
	}
	for i, v := range zt.Data {
		s.zt[i] += float64(v)
	}
	s.n += int64(rows)
}

func (s *sketch) solve(k int) (*mat.Dense, []float64, []float64, float64, error) {
	if !s.ready {
		if s.nwarm == 0 {
			return nil, nil, nil, 0, nil
		}
		if err := s.start(); err != nil {
			return nil, nil, nil, 0, err
		}
	}
	d, l, n := s.d, s.l, float64(s.n)
	z := mat.NewDense(d, l, nil) // C Q₀
	for i := 0; i < l; i++ {
		for j := 0; j < d; j++ {
			z.Set(j, i, s.zt[i*d+j])
		}
	}
	total := s.sumsq
	if s.center {
		// C = Σ(x−c)ᵀ(x−c) − s sᵀ/n with s = Σ(x−c).
		sv := mat.NewVecDense(d, s.sum)
		var sq mat.VecDense
		sq.MulVec(s.q.T(), sv) // Q₀ᵀ s
		var corr mat.Dense
		corr.Outer(1/n, sv, &sq)
		z.Sub(z, &corr)
		total -= mat.Dot(sv, sv) / n
	}
	// M = Q₀ᵀ C Q₀ = W Λ Wᵀ; F = Z W₊ Λ₊^{-1/2}, so F Fᵀ = Z M⁺ Zᵀ.
	var mm mat.Dense
	mm.Mul(s.q.T(), z)
	sym := mat.NewSymDense(l, nil)
	for i := 0; i < l; i++ {
		for j := i; j < l; j++ {
			sym.SetSym(i, j, (mm.At(i, j)+mm.At(j, i))/2)
		}
	}
	mustBeFinite(sym.RawSymmetric().Data)
	var eig mat.EigenSym
	if !eig.Factorize(sym, true) {
		return nil, nil, nil, 0, fmt.Errorf("pca: eigendecomposition of the %d×%d sketch core did not converge", l, l)
	}
	lam := eig.Values(nil)
	var w mat.Dense
	eig.VectorsTo(&w)
	lmax := lam[len(lam)-1]
	var keep []int
	for i, v := range lam {
		if v > 1e-12*lmax && v > 0 {
			keep = append(keep, i)
		}
	}
	v := mat.NewDense(d, k, nil)
	sv := make([]float64, k)
	r := 0
	if len(keep) > 0 {
		wk := mat.NewDense(l, len(keep), nil)
		for c, i := range keep {
			f := 1 / math.Sqrt(lam[i])
			for a := 0; a < l; a++ {
				wk.Set(a, c, w.At(a, i)*f)
			}
		}
		var f mat.Dense
		f.Mul(z, wk)
		mustBeFinite(f.RawMatrix().Data)
		u, vals, ok := thinSVD(&f)
		if !ok {
			return nil, nil, nil, 0, fmt.Errorf("pca: SVD of the %d×%d Nyström factor did not converge", d, len(keep))
		}
		r = min(k, len(vals))
		for j := 0; j < r; j++ {
			sv[j] = vals[j] // √λ of C: singular values of the centred data
			for i := 0; i < d; i++ {
				v.Set(i, j, u.At(i, j))
			}
		}
	}
	completeBasis(v, r)
	mean := make([]float64, d)
	if s.center {
		for j := range mean {
			mean[j] = float64(s.shift[j]) + s.sum[j]/n
		}
	}
	return v, sv, mean, total, nil
}

// completeBasis fills columns r.. of v (d×k, first r columns orthonormal)
// with unit vectors orthogonal to the others (Gram–Schmidt over the
// standard basis): directions of zero variance when the data have rank
// below num_components.
func completeBasis(v *mat.Dense, r int) {
	d, k := v.Dims()
	col := make([]float64, d)
	for e := 0; r < k && e < d; e++ {
		clear(col)
		col[e] = 1
		for pass := 0; pass < 2; pass++ {
			for j := 0; j < r; j++ {
				var p float64
				for i := 0; i < d; i++ {
					p += v.At(i, j) * col[i]
				}
				for i := 0; i < d; i++ {
					col[i] -= p * v.At(i, j)
				}
			}
		}
		nrm := floats.Norm(col, 2)
		if nrm < 1e-6 {
			continue
		}
		for i := 0; i < d; i++ {
			v.Set(i, r, col[i]/nrm)
		}
		r++
	}
}

// score reports the mean squared reconstruction error of the test rows,
// ‖x − mean − (x − mean)·v·vᵀ‖², in the log (SageMaker documents no PCA
// metric names, so no metric line is emitted).
func score(ctx context.Context, m *Model, ch algorithms.Channel, p Params, metrics algorithms.Metrics) error {
	rc, err := ch.Open(ctx, 0)
	if err != nil {
		return err
	}
	r := data.ReadAhead(rc, p.MiniBatchSize)
	defer r.Close()
	var sse float64
	var n int64
	var scratch []float32
	var sq []float64
	err = data.Each(ctx, r, p.MiniBatchSize, func(b *data.Batch) error {
		if b.Cols != p.FeatureDim {
			return algorithms.Errorf("test records have %d features; feature_dim is %d", b.Cols, p.FeatureDim)
		}
		var proj []float32
		sq = slices.Grow(sq[:0], b.Rows)[:b.Rows]
		proj, scratch = m.project(b, scratch, sq)
		k := m.k
		for i := 0; i < b.Rows; i++ {
			var pp float64
			for _, v := range proj[i*k : (i+1)*k] {
				pp += float64(v) * float64(v)
			}
			sse += max(sq[i]-pp, 0)
		}
		n += int64(b.Rows)
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		metrics.Logf("the test channel holds no records: nothing to score")
		return nil
	}
	metrics.Logf("test: %d records, mean squared reconstruction error %.6g", n, sse/float64(n))
	return nil
}
