package linearlearner

import (
	"context"
	"fmt"
	"math"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/internal/wire"
)

// MergesHosts: a multi-host job is synchronous data-parallel SGD. The
// hosts fit the scaler to all their samples together, start from the same
// weights, and take every step together with the mean of their
// mini-batches' gradients (syncStep); the leader evaluates, decides early
// stopping and selects, and every host gets the model it selected.
func (Algorithm) MergesHosts() bool { return true }

// sampleStats is what the scaler and the initial biases are fitted to:
// sums over the sample's rows.
type sampleStats struct {
	n       float64
	sparse  bool      // some sample batch was sparse (no centring under auto)
	sum, sq []float64 // per feature: Σx, Σx²
	ys, yq  float64   // Σy, Σy²
	counts  []float64 // per class (classifiers)
}

// stats sums the sample.
func (t *trainer) stats() *sampleStats {
	p, d := t.p, t.p.FeatureDim
	st := &sampleStats{n: float64(t.sampleRows), sum: make([]float64, d), sq: make([]float64, d),
		counts: make([]float64, max(p.NumClasses, 2))}
	row := make([]float32, d)
	for _, b := range t.sample {
		st.sparse = st.sparse || b.Sparse()
		for i := 0; i < b.Rows; i++ {
			if b.Sparse() {
				for q := b.Indptr[i]; q < b.Indptr[i+1]; q++ {
					v := float64(b.Values[q])
					st.sum[b.Indices[q]] += v
					st.sq[b.Indices[q]] += v * v
				}
			} else {
				b.RowTo(row, i)
				for j, v := range row {
					st.sum[j] += float64(v)
					st.sq[j] += float64(v) * float64(v)
				}
			}
			y := float64(b.Label(i))
			st.ys += y
			st.yq += y * y
			if p.PredictorType != Regressor {
				st.counts[int(y)]++
			}
		}
	}
	return st
}

func (st *sampleStats) encode() []byte {
	var w wire.Writer
	sparse := 0.0
	if st.sparse {
		sparse = 1
	}
	w.U64(uint64(len(st.sum)))
	w.U64(uint64(len(st.counts)))
	w.F64s([]float64{st.n, sparse, st.ys, st.yq})
	w.F64s(st.sum)
	w.F64s(st.sq)
	w.F64s(st.counts)
	return w.B
}

// decodeStats reads encode's layout for d features and c classes.
func decodeStats(b []byte, d, c int) (*sampleStats, error) {
	r := wire.NewReader(b)
	if hd, hc := r.U64(), r.U64(); r.Err() == nil && (hd != uint64(d) || hc != uint64(c)) {
		return nil, fmt.Errorf("%d features and %d classes, expected %d and %d", hd, hc, d, c)
	}
	head := r.F64s(4)
	st := &sampleStats{sum: r.F64s(d), sq: r.F64s(d), counts: r.F64s(c)}
	if err := r.Done(); err != nil {
		return nil, err
	}
	st.n, st.sparse, st.ys, st.yq = head[0], head[1] != 0, head[2], head[3]
	return st, nil
}

// mergeStats adds every host's sample sums up on the leader; every host
// gets the total. No host with a sample row fails the job.
func (t *trainer) mergeStats(ctx context.Context, peers algorithms.Peers, st *sampleStats) (*sampleStats, error) {
	d, c := t.p.FeatureDim, len(st.counts)
	res, err := peers.Exchange(ctx, st.encode(), func(parts [][]byte) ([]byte, error) {
		all := &sampleStats{sum: make([]float64, d), sq: make([]float64, d), counts: make([]float64, c)}
		for h, p := range parts {
			x, err := decodeStats(p, d, c)
			if err != nil {
				return nil, fmt.Errorf("linear-learner: the sample of host %d: %w", h+1, err)
			}
			all.n += x.n
			all.sparse = all.sparse || x.sparse
			all.ys += x.ys
			all.yq += x.yq
			addTo(all.sum, x.sum)
			addTo(all.sq, x.sq)
			addTo(all.counts, x.counts)
		}
		if all.n == 0 {
			return nil, algorithms.Errorf("the train channels of all %d hosts hold no records", len(parts))
		}
		t.metrics.Logf("scaler fitted to the samples of %d hosts: %d rows", len(parts), int64(all.n))
		return all.encode(), nil
	})
	if err != nil {
		return nil, err
	}
	all, err := decodeStats(res, d, c)
	if err != nil {
		return nil, fmt.Errorf("linear-learner: the leader's sample sums: %w", err)
	}
	return all, nil
}

func addTo(dst, src []float64) {
	for i, v := range src {
		dst[i] += v
	}
}

// The kinds of a step's part (syncStep): a host's epoch totals once it is
// out of rows, a dense gradient, or the rows of a lazy step's gradient.
const (
	partLosses = 0
	partDense  = 1
	partRows   = 2
)

// densePart is a host's part of a step with the gradient dw (d × M·K) and
// gb of its mini-batch of rows rows.
func (t *trainer) densePart(dw compute.Matrix, gb []float32, rows int) []byte {
	// A gradient a step (1 MB at Fashion-MNIST's 784 × 320): the buffer is
	// sized once, not grown by append each step.
	w := wire.Writer{B: t.stepBuf[:0]}
	w.U64(partDense)
	w.U64(uint64(rows))
	w.F32s(dw.Data[:dw.Rows*dw.Cols])
	w.F32s(gb[:t.cols])
	t.stepBuf = w.B
	return w.B
}

// rowsPart is a host's part of a lazy step: the features its mini-batch of
// rows rows holds and their gradient rows (backwardLazy), and gb.
func (t *trainer) rowsPart(idx []int32, grad, gb []float32, rows int) []byte {
	w := wire.Writer{B: t.stepBuf[:0]}
	w.U64(partRows)
	w.U64(uint64(rows))
	w.U64(uint64(len(idx)))
	w.I32s(idx)
	w.F32s(grad[:len(idx)*t.cols])
	w.F32s(gb[:t.cols])
	t.stepBuf = w.B
	return w.B
}

// lossPart is the part of a host out of rows for this epoch: its epoch's
// summed losses and rows.
func (t *trainer) lossPart(lossSum []float64, n int64) []byte {
	w := wire.Writer{B: t.stepBuf[:0]}
	w.U64(partLosses)
	w.U64(uint64(n))
	w.F64s(lossSum)
	t.stepBuf = w.B
	return w.B
}

// syncStep is one synchronous step of a multi-host job (SageMaker's
// "distributed implementation of stochastic gradient descent"): every host
// sends its part (the gradient of its mini-batch, densePart or rowsPart),
// the leader averages the gradients weighted by rows, and every host
// applies the same update, so the hosts' models stay the same. A host out
// of rows for this epoch sends instead its epoch's summed losses and rows
// (lossPart) and still applies the others' updates; the round in which
// every host is out of rows ends the epoch, and returns the losses and rows
// summed over the hosts with done set.
func (t *trainer) syncStep(ctx context.Context, part []byte) (losses []float64, total int64, done bool, err error) {
	res, err := t.peers.Exchange(ctx, part, t.mergeSteps)
	if err != nil {
		return nil, 0, false, err
	}
	d, cols := t.p.FeatureDim, t.cols
	r := wire.NewReader(res)
	kind, count := r.U64(), r.Count()
	switch kind {
	case partLosses:
		losses = r.F64s(t.M)
		if err := r.Done(); err != nil {
			return nil, 0, false, fmt.Errorf("linear-learner: the leader's epoch losses: %w", err)
		}
		return losses, count, true, nil
	case partDense:
		t.dw = grow(t.dw, d*cols)
		t.gb = grow(t.gb, cols)
		r.F32sTo(t.dw)
		r.F32sTo(t.gb)
		if err := r.Done(); err != nil {
			return nil, 0, false, fmt.Errorf("linear-learner: the leader's averaged gradient: %w", err)
		}
		t.ready()
		t.update(compute.MatrixOf(d, cols, t.dw), t.gb)
	case partRows:
		idx, grad, gb, err := t.readRows(r)
		if err == nil {
			err = r.Done()
		}
		if err != nil {
			return nil, 0, false, fmt.Errorf("linear-learner: the leader's averaged gradient: %w", err)
		}
		t.ready()
		t.updateLazy(idx, grad, gb)
	default:
		return nil, 0, false, fmt.Errorf("linear-learner: the leader's step is of kind %d", kind)
	}
	return nil, 0, false, nil
}

// ready counts a step about to be applied, and folds the weights first on
// a host that has not run forward yet (one without rows).
func (t *trainer) ready() {
	if t.fold && !t.folded {
		t.refold()
	}
	t.updates++
}

// readRows reads the rest of a rows part after its kind and rows: the
// features (each once, within feature_dim), their gradient rows and gb.
func (t *trainer) readRows(r *wire.Reader) (idx []int32, grad, gb []float32, err error) {
	d, cols := t.p.FeatureDim, t.cols
	n := r.Count()
	if n > int64(d) {
		return nil, nil, nil, fmt.Errorf("%d feature rows, more than feature_dim (%d)", n, d)
	}
	idx = r.I32s(int(n))
	grad = r.F32s(int(n) * cols)
	gb = r.F32s(cols)
	if r.Err() != nil {
		return nil, nil, nil, r.Err()
	}
	if t.slot == nil {
		t.slot = newSlots(d)
	}
	read := idx // not idx itself: an error return sets it to nil first
	defer func() {
		for _, j := range read {
			if j >= 0 && int(j) < d {
				t.slot[j] = -1
			}
		}
	}()
	for _, j := range idx {
		if j < 0 || int(j) >= d {
			return nil, nil, nil, fmt.Errorf("feature %d outside feature_dim (%d)", j, d)
		}
		if t.slot[j] >= 0 {
			return nil, nil, nil, fmt.Errorf("feature %d twice", j)
		}
		t.slot[j] = 0
	}
	return idx, grad, gb, nil
}

// mergeSteps is the leader's half of syncStep: the rows-weighted mean of
// the gradients sent, as the rows of the features any host's batch held
// when every gradient came as rows, else dense; or, when every host is out
// of rows, the sums of their losses and rows.
func (t *trainer) mergeSteps(parts [][]byte) ([]byte, error) {
	d, cols := t.p.FeatureDim, t.cols
	nw := d * cols
	anyDense := false
	for _, p := range parts {
		if k := wire.NewReader(p).U64(); k == partDense {
			anyDense = true
		}
	}
	var rows, seen int64
	var dw []float64 // the dense sum, when a host sent one
	var union []int32
	var acc []float64 // the rows' sum, row i for feature union[i]
	if anyDense {
		dw = make([]float64, nw)
	} else if t.unionSlot == nil {
		t.unionSlot = newSlots(d)
	}
	defer func() {
		for _, j := range union {
			t.unionSlot[j] = -1
		}
	}()
	gb := make([]float64, cols)
	losses := make([]float64, t.M)
	var g, b []float32 // one host's dense gradient, in turn
	for h, p := range parts {
		r := wire.NewReader(p)
		kind, count := r.U64(), r.Count()
		if count > math.MaxInt64-max(rows, seen) {
			return nil, fmt.Errorf("linear-learner: host %d's step of %d rows overflows the count of rows", h+1, count)
		}
		if count == 0 && kind != partLosses {
			return nil, fmt.Errorf("linear-learner: host %d sent the gradient of no rows", h+1)
		}
		switch kind {
		case partDense:
			g, b = grow(g, nw), grow(b, cols)
			r.F32sTo(g)
			r.F32sTo(b)
			if err := r.Done(); err != nil {
				return nil, fmt.Errorf("linear-learner: the gradient of host %d: %w", h+1, err)
			}
			addScaled(dw, g, float64(count))
			addScaled(gb, b, float64(count))
		case partRows:
			idx, g, b, err := t.readRows(r)
			if err == nil {
				err = r.Done()
			}
			if err != nil {
				return nil, fmt.Errorf("linear-learner: the gradient of host %d: %w", h+1, err)
			}
			f := float64(count)
			for i, j := range idx {
				src := g[i*cols : (i+1)*cols]
				if anyDense {
					addScaled(dw[int(j)*cols:(int(j)+1)*cols], src, f)
					continue
				}
				s := t.unionSlot[j]
				if s < 0 {
					s = int32(len(union))
					t.unionSlot[j] = s
					union = append(union, j)
					acc = append(acc, make([]float64, cols)...)
				}
				addScaled(acc[int(s)*cols:(int(s)+1)*cols], src, f)
			}
			addScaled(gb, b, f)
		case partLosses:
			l := r.F64s(t.M)
			if err := r.Done(); err != nil {
				return nil, fmt.Errorf("linear-learner: the epoch losses of host %d: %w", h+1, err)
			}
			addTo(losses, l)
			seen += count
			continue
		default:
			return nil, fmt.Errorf("linear-learner: the step of host %d is of kind %d", h+1, kind)
		}
		rows += count
	}
	var out wire.Writer
	switch {
	case rows == 0:
		out.U64(partLosses)
		out.U64(uint64(seen))
		out.F64s(losses)
	case anyDense:
		out.B = make([]byte, 0, 16+4*(nw+cols))
		out.U64(partDense)
		out.U64(uint64(rows))
		out.F32s(toF32(dw, 1/float64(rows)))
		out.F32s(toF32(gb, 1/float64(rows)))
	default:
		out.B = make([]byte, 0, 24+4*(len(union)*(cols+1)+cols))
		out.U64(partRows)
		out.U64(uint64(rows))
		out.U64(uint64(len(union)))
		out.I32s(union)
		out.F32s(toF32(acc, 1/float64(rows)))
		out.F32s(toF32(gb, 1/float64(rows)))
	}
	return out.B, nil
}

// addScaled adds f·src to dst.
func addScaled(dst []float64, src []float32, f float64) {
	for i, v := range src {
		dst[i] += f * float64(v)
	}
}

func toF32(xs []float64, f float64) []float32 {
	out := make([]float32, len(xs))
	for i, v := range xs {
		out[i] = float32(v * f)
	}
	return out
}

// drain takes part in the epoch's remaining steps once this host is out of
// rows, and returns the epoch's losses and rows over all hosts.
func (t *trainer) drain(ctx context.Context, lossSum []float64, n int64) ([]float64, int64, error) {
	for {
		losses, total, done, err := t.syncStep(ctx, t.lossPart(lossSum, n))
		if err != nil || done {
			return losses, total, err
		}
	}
}

// mergeEvals sums every host's evaluation of the models (each on its own
// rows of channel) on the leader: the losses and rows, and a calibration
// sample of the hosts' first rows in host order, up to
// num_calibration_samples. Every host gets the same, so every host's
// selection sees all hosts' rows.
func (t *trainer) mergeEvals(ctx context.Context, evals []*evaluator, channel string) ([]*evaluator, error) {
	cal := t.cal.scores != nil
	own := evalSums{sums: make([]float64, 0, 2*t.M), labels: t.cal.labels}
	for _, e := range evals {
		own.sums = append(own.sums, e.lossSum, e.n)
	}
	for _, sc := range t.cal.scores {
		own.scores = append(own.scores, sc[:len(own.labels)])
	}
	res, err := t.peers.Exchange(ctx, own.encode(), func(parts [][]byte) ([]byte, error) {
		all := evalSums{sums: make([]float64, 2*t.M)}
		if cal {
			all.scores = make([][]float32, t.M)
		}
		for h, p := range parts {
			e, err := decodeEvalSums(p, t.M, cal)
			if err != nil {
				return nil, fmt.Errorf("linear-learner: the %s evaluation of host %d: %w", channel, h+1, err)
			}
			addTo(all.sums, e.sums)
			take := max(0, min(len(e.labels), t.p.NumCalibration-len(all.labels)))
			all.labels = append(all.labels, e.labels[:take]...)
			for m, sc := range e.scores {
				all.scores[m] = append(all.scores[m], sc[:take]...)
			}
		}
		if all.sums[1] == 0 {
			return nil, algorithms.Errorf("the %s channels of all %d hosts hold no records", channel, len(parts))
		}
		return all.encode(), nil
	})
	if err != nil {
		return nil, err
	}
	all, err := decodeEvalSums(res, t.M, cal)
	if err != nil {
		return nil, fmt.Errorf("linear-learner: the leader's %s evaluation: %w", channel, err)
	}
	out := make([]*evaluator, t.M)
	for m := range out {
		out[m] = newEvaluator(t.p, defaultThreshold(t.p.Loss))
		out[m].lossSum, out[m].n = all.sums[2*m], all.sums[2*m+1]
	}
	t.cal = calibration{scores: all.scores, labels: all.labels}
	return out, nil
}

// evalSums is an evaluation of the models as it travels between hosts, a
// host's own and the leader's merge in one layout: per model the loss sum
// and rows, the calibration labels and, when calibrating, each model's
// scores of those rows.
type evalSums struct {
	sums   []float64 // loss sum and rows, per model
	labels []float32
	scores [][]float32 // per model, len(labels) each; nil without calibration
}

func (e evalSums) encode() []byte {
	var w wire.Writer
	w.U64(uint64(len(e.labels)))
	w.F64s(e.sums)
	w.F32s(e.labels)
	for _, sc := range e.scores {
		w.F32s(sc)
	}
	return w.B
}

// decodeEvalSums reads what encode wrote for models models.
func decodeEvalSums(p []byte, models int, cal bool) (evalSums, error) {
	r := wire.NewReader(p)
	c := int(min(r.U64(), uint64(len(p))))
	e := evalSums{sums: r.F64s(2 * models), labels: r.F32s(c)}
	if cal {
		for range models {
			e.scores = append(e.scores, r.F32s(c))
		}
	}
	return e, r.Done()
}

// shareDecision makes the leader's decisions after an epoch every host's:
// whether to stop early, and which models go on training (keep: their
// positions, ascending; nil: all; see retiring).
func shareDecision(ctx context.Context, peers algorithms.Peers, stop bool, keep []int, models int) (bool, []int, error) {
	var w wire.Writer
	w.B = []byte{0}
	if stop {
		w.B[0] = 1
	}
	if keep != nil {
		w.U64(uint64(len(keep)))
		for _, m := range keep {
			w.U64(uint64(m))
		}
	}
	res, err := peers.Exchange(ctx, w.B, func(parts [][]byte) ([]byte, error) { return parts[0], nil })
	if err != nil {
		return false, nil, err
	}
	if len(res) < 1 {
		return false, nil, fmt.Errorf("linear-learner: the leader's stopping decision is empty")
	}
	stop, keep = res[0] == 1, nil
	if len(res) > 1 {
		r := wire.NewReader(res[1:])
		n := r.U64()
		if r.Err() == nil && (n < 1 || n > uint64(models)) {
			return false, nil, fmt.Errorf("linear-learner: the leader keeps %d of %d models", n, models)
		}
		keep = make([]int, 0, n)
		for range n {
			m := r.U64()
			if r.Err() != nil {
				break
			}
			if m >= uint64(models) || len(keep) > 0 && int(m) <= keep[len(keep)-1] {
				return false, nil, fmt.Errorf("linear-learner: the leader keeps model %d after %v of %d", m, keep, models)
			}
			keep = append(keep, int(m))
		}
		if err := r.Done(); err != nil {
			return false, nil, fmt.Errorf("linear-learner: the leader's models to keep: %w", err)
		}
	}
	return stop, keep, nil
}

// shareModel sends the leader's selected model (m, nil elsewhere) to every
// host, as its artifact.
func shareModel(ctx context.Context, peers algorithms.Peers, m *Model, host string) (*Model, error) {
	var part []byte
	if peers.Leader() {
		b, err := m.artifact()
		if err != nil {
			return nil, err
		}
		part = b
	}
	res, err := peers.Exchange(ctx, part, func(parts [][]byte) ([]byte, error) { return parts[0], nil })
	if err != nil {
		return nil, err
	}
	if peers.Leader() {
		return m, nil
	}
	got, err := parseArtifact(res)
	if err != nil {
		return nil, fmt.Errorf("linear-learner: the leader's model: %w", err)
	}
	got.host = host
	return got, nil
}
