package linearlearner

import (
	"context"
	"fmt"

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

// syncStep is one synchronous step of a multi-host job (SageMaker's
// "distributed implementation of stochastic gradient descent"): every host
// sends the gradient of its mini-batch of rows rows (dw, d × M·K, and gb),
// the leader averages them weighted by rows, and every host applies the
// same update, so the hosts' models stay the same. A host out of rows for
// this epoch sends instead its epoch's summed losses and rows (lossSum, n)
// and still applies the others' updates; the round in which every host is
// out of rows ends the epoch, and returns the losses and rows summed over
// the hosts with done set.
func (t *trainer) syncStep(ctx context.Context, dw compute.Matrix, gb []float32, rows int, lossSum []float64, n int64) (losses []float64, total int64, done bool, err error) {
	nw := dw.Rows * dw.Cols
	// A gradient a step (1 MB at Fashion-MNIST's 784 × 320): the buffer is
	// sized once, not grown by append each step.
	w := wire.Writer{B: t.stepBuf[:0]}
	if rows > 0 {
		w.U64(1)
		w.U64(uint64(rows))
		w.F32s(dw.Data[:nw])
		w.F32s(gb[:t.cols])
	} else {
		w.U64(0)
		w.U64(uint64(n))
		w.F64s(lossSum)
	}
	t.stepBuf = w.B
	res, err := t.peers.Exchange(ctx, w.B, func(parts [][]byte) ([]byte, error) {
		return t.mergeSteps(parts, nw)
	})
	if err != nil {
		return nil, 0, false, err
	}
	r := wire.NewReader(res)
	kind, count := r.U64(), r.Count()
	if kind == 0 {
		losses = r.F64s(t.M)
		if err := r.Done(); err != nil {
			return nil, 0, false, fmt.Errorf("linear-learner: the leader's epoch losses: %w", err)
		}
		return losses, count, true, nil
	}
	r.F32sTo(dw.Data[:nw])
	r.F32sTo(gb[:t.cols])
	if err := r.Done(); err != nil {
		return nil, 0, false, fmt.Errorf("linear-learner: the leader's averaged gradient: %w", err)
	}
	if t.fold && !t.folded {
		t.refold() // a host without rows has not run forward yet
	}
	t.updates++
	t.update(dw, gb)
	return nil, 0, false, nil
}

// mergeSteps is the leader's half of syncStep: the rows-weighted mean of
// the gradients sent, or, when every host is out of rows, the sums of
// their losses and rows.
func (t *trainer) mergeSteps(parts [][]byte, nw int) ([]byte, error) {
	var rows, seen int64
	dw := make([]float64, nw)
	gb := make([]float64, t.cols)
	losses := make([]float64, t.M)
	g, b := make([]float32, nw), make([]float32, t.cols) // one host's, in turn
	for h, p := range parts {
		r := wire.NewReader(p)
		kind, count := r.U64(), r.Count()
		if kind == 1 {
			r.F32sTo(g)
			r.F32sTo(b)
			if err := r.Done(); err != nil {
				return nil, fmt.Errorf("linear-learner: the gradient of host %d: %w", h+1, err)
			}
			f := float64(count)
			for i, v := range g {
				dw[i] += f * float64(v)
			}
			for i, v := range b {
				gb[i] += f * float64(v)
			}
			rows += count
			continue
		}
		l := r.F64s(t.M)
		if err := r.Done(); err != nil {
			return nil, fmt.Errorf("linear-learner: the epoch losses of host %d: %w", h+1, err)
		}
		addTo(losses, l)
		seen += count
	}
	out := wire.Writer{B: make([]byte, 0, 16+4*(nw+t.cols))}
	if rows == 0 {
		out.U64(0)
		out.U64(uint64(seen))
		out.F64s(losses)
		return out.B, nil
	}
	out.U64(1)
	out.U64(uint64(rows))
	out.F32s(toF32(dw, 1/float64(rows)))
	out.F32s(toF32(gb, 1/float64(rows)))
	return out.B, nil
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
	d := t.p.FeatureDim
	t.dw = grow(t.dw, d*t.cols)
	t.gb = grow(t.gb, t.cols)
	dw := compute.MatrixOf(d, t.cols, t.dw)
	for {
		losses, total, done, err := t.syncStep(ctx, dw, t.gb, 0, lossSum, n)
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
