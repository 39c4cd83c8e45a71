package linearlearner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/internal/recovered"
)

// seed fixes the random stream (initial weights, the nearby parameters of
// the parallel models): the same data give the same model bytes.
const seed = 0x11ea7

// Train normalises from a sample, trains num_models models in parallel,
// stops early on the validation channel (or the training sample), selects
// and calibrates the best model, and scores the validation and test
// channels with it.
func (Algorithm) Train(ctx context.Context, job *algorithms.Job) (algorithms.Model, error) {
	p := ParamsFrom(job.Hyper)
	// W and what steps it (moments, gradient, folded copy, the repeated
	// rates, snapshots), float32 (a mini-batch holds only the rows there
	// are: not counted).
	if err := algorithms.CheckMemory(40*int64(p.FeatureDim)*int64(p.NumModels)*int64(p.outputs()),
		fmt.Sprintf("feature_dim = %d with %d models of %d outputs", p.FeatureDim, p.NumModels, p.outputs())); err != nil {
		return nil, err
	}
	be := job.Compute
	if be == nil {
		be = compute.Current()
	}
	t := &trainer{p: p, be: be, metrics: job.Metrics, rng: rand.New(rand.NewPCG(seed, 0))}
	budget := int64(cacheBudget)
	train := newCached(job.Channels["train"], &budget)
	r, err := t.open(ctx, train, 0)
	if err != nil {
		return nil, err
	}
	if err := t.readSample(ctx, r); err != nil {
		r.Close()
		return nil, err
	}
	multi := job.MultiHost()
	leads := !multi || job.Peers.Leader()
	if t.sampleRows == 0 && !multi {
		r.Close()
		return nil, algorithms.Errorf("the train channel holds no records")
	}
	st := t.stats()
	if multi {
		t.peers = job.Peers
		if st, err = t.mergeStats(ctx, job.Peers, st); err != nil {
			r.Close()
			return nil, err
		}
	}
	t.fitScaler(st)
	t.initModels()
	if p.TuningObjective != "" {
		job.Metrics.Logf("automatic model tuning (objective %s): the internal tuning is off, one model whatever num_models says", p.TuningObjective)
	}
	if p.PredictorType == Binary && (t.posFraction == 0 || t.posFraction == 1) {
		job.Metrics.Logf("warning: every label of the train channel's %d sample rows is %g; a binary classifier learns both classes only from rows of both",
			int64(st.n), t.posFraction)
	}
	job.Metrics.Logf("linear learner: %s, loss %s, optimizer %s, models in parallel: %d, %d features, normalization: data=%v (shift=%v) label=%v, from %d sample rows",
		p.PredictorType, p.Loss, p.Optimizer, t.M, p.FeatureDim, p.NormalizeData, t.shiftData, p.NormalizeLabel, t.sampleRows)

	valCh, hasVal := job.Channels["validation"]
	t.hasVal = hasVal
	var val *cachedChannel
	if hasVal {
		val = newCached(valCh, &budget)
	}
	epochs := 0
	t.stopBest = math.Inf(1)
	for epoch := 0; epoch < p.Epochs; epoch++ {
		if epoch > 0 {
			if r, err = t.open(ctx, train, epoch); err != nil {
				return t.interrupted(err)
			}
		}
		var src data.BatchReader = r
		if epoch == 0 {
			src = &replay{batches: t.sample, r: r}
		}
		lossSum, n, err := t.epoch(ctx, src)
		if cerr := r.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return t.interrupted(err)
		}
		epochs++
		if epoch == 0 && t.schedStep == 0 {
			t.schedStep = max(1, t.updates) // auto: decay once per epoch
		}
		trainLoss := math.Inf(1)
		for m := range t.M {
			trainLoss = math.Min(trainLoss, lossSum[m]/float64(max(n, 1)))
		}
		trainMetrics := map[string]float64{"objective_loss": trainLoss}
		trainMetrics[objectiveName(p)] = trainLoss // as the algorithm's own log names it
		job.Metrics.EpochEnd(epoch, trainMetrics)

		// Without validation, early stopping watches the loss on the
		// training data: the epoch's own, summed batch by batch before
		// each update, and selection and calibration happen once, on the
		// sample, after the last epoch (selectOnSample): the last epoch is
		// where the training loss is lowest, and a pass over the sample
		// after every epoch would cost a twelfth of an epoch again
		// (Fashion-MNIST).
		stop := trainLoss
		lag := make([]float64, t.M) // what retire compares: this epoch's loss per model
		for m := range lag {
			lag[m] = lossSum[m] / float64(max(n, 1))
		}
		if hasVal {
			vr, err := t.open(ctx, val, epoch)
			if err != nil {
				return t.interrupted(err)
			}
			evals, err := t.evaluate(ctx, vr, "validation")
			if cerr := vr.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return t.interrupted(err)
			}
			stop = t.select_(evals)
			for _, name := range []string{"objective_loss", objectiveName(p)} {
				job.Metrics.Logf("#quality_metric: host=%s, epoch=%d, validation %s <loss>=%s",
					hostOf(job), epoch, name, pyFloat(t.bestLoss))
			}
			for m, e := range evals {
				lag[m] = e.meanLoss()
			}
		}
		t.logStopMetric(job, epoch, stop)
		stopNow := t.stopCheck(stop) && epoch+1 < p.Epochs
		var keep []int // the models that go on training; nil: all
		if !stopNow && epoch+1 < p.Epochs && leads {
			keep = t.retiring(lag, epoch)
		}
		if multi {
			// The leader's decisions, which every host must carry out alike.
			if stopNow, keep, err = shareDecision(ctx, job.Peers, stopNow, keep, t.M); err != nil {
				return t.interrupted(err)
			}
		}
		if keep != nil {
			if !leads {
				job.Metrics.Logf("training %d of %d models from epoch %d on, as the leading host decided", len(keep), t.numModels, epoch+1)
			}
			t.keepModels(keep)
		}
		if stopNow {
			job.Metrics.Logf("early stopping after epoch %d: no relative improvement of at least %g in %d epochs", epoch, p.Tolerance, p.Patience)
			break
		}
	}
	if !hasVal {
		if err := t.selectOnSample(ctx); err != nil {
			return t.interrupted(err)
		}
	}
	var m *Model
	if leads {
		m = t.final(hostOf(job))
		if !m.finite() {
			return nil, t.diverged()
		}
		job.Metrics.Logf("selected model %d of %d (learning_rate=%g, wd=%g, l1=%g); threshold %g",
			t.ids[t.chosen], t.numModels, t.lrM[t.chosen], t.wdM[t.chosen], t.l1M[t.chosen], m.threshold)
		job.Metrics.Logf("Best model found for hyperparameters: %s", t.bestHyperparameters())
	}
	if multi {
		if m, err = shareModel(ctx, job.Peers, m, hostOf(job)); err != nil {
			return nil, err
		}
		if !leads {
			job.Metrics.Logf("received the model the leading host selected (threshold %g)", m.threshold)
		}
	}
	// The model is final: the passes below only report on it, so a stop
	// during them returns it with the error (saved only if it is a stop).
	if hasVal {
		vr, err := t.open(ctx, val, epochs)
		if err != nil {
			return m, err
		}
		if err := score(ctx, m, vr, "validation", p, job.Metrics); err != nil {
			return m, err
		}
	} else {
		// The selection data: the training sample, in the "train" metrics
		// the built-in metric definitions read (train:mse,
		// train:objective_loss:final, ...), as the real algorithm reports
		// a job without validation.
		if err := score(ctx, m, &replay{batches: t.sample}, "train", p, job.Metrics); err != nil {
			return m, err
		}
	}
	if test, ok := job.Channels["test"]; ok {
		tr, err := test.Open(ctx, 0)
		if err != nil {
			return m, err
		}
		if err := score(ctx, m, data.ReadAhead(tr, p.MiniBatchSize), "test", p, job.Metrics); err != nil {
			return m, err
		}
	} else {
		job.Metrics.Logf("Test data is not provided.") // as the real algorithm's log says
	}
	return m, nil
}

// open starts pass epoch of c: from memory when it is kept, else read
// ahead (every read is of mini_batch_size rows: the next batch is decoded
// while this one computes).
func (t *trainer) open(ctx context.Context, c *cachedChannel, epoch int) (data.BatchReadCloser, error) {
	r, cached, err := c.Open(ctx, epoch)
	if err != nil || cached {
		return r, err
	}
	return data.ReadAhead(r, t.p.MiniBatchSize), nil
}

func hostOf(job *algorithms.Job) string {
	if job.Cluster.CurrentHost == "" {
		return "algo-1"
	}
	return job.Cluster.CurrentHost
}

// interrupted returns what a stop mid-training leaves: on cancellation (SIGTERM) a
// valid model from what was learnt so far, with the error.
func (t *trainer) interrupted(err error) (algorithms.Model, error) {
	if errors.Is(err, context.Canceled) && t.updates > 0 {
		if !t.hasVal {
			// The sample is in memory: a moment's work, after the cancel.
			// Should it fail, no model has a snapshot and final keeps
			// the current weights. On this host's sample alone: the
			// other hosts are stopping too, and no round with them could
			// be counted on to complete.
			t.peers = nil
			_ = t.selectOnSample(context.Background())
		}
		if m := t.final(""); m.finite() {
			return m, err
		}
	}
	return nil, err
}

// diverged is the error of a model whose weights came out NaN or
// infinite: a learning rate, wd or initial weights too large for the data,
// or data too large for float32.
//
// With adam and a small beta_2, the step m/√v is no longer bounded by the
// learning rate (v forgets a large gradient at once while m keeps it), and
// a grid of small jobs diverged at learning_rate 0.01 with beta_2 0: the
// message names beta_2 first there.
func (t *trainer) diverged() error {
	v := t.p
	raise := ""
	if v.Optimizer == "adam" && v.Beta2 < 0.9 {
		raise = fmt.Sprintf("raise beta_2 (%g) towards its default 0.999, or ", v.Beta2)
	}
	return algorithms.Errorf("training diverged: the selected model's weights are not finite numbers; %slower learning_rate (%g), wd (%g), init_scale (%g), init_bias (%g) or bias_lr_mult (%g), or scale the data down",
		raise, v.LearningRate, v.WD, v.InitScale, v.InitBias, v.BiasLRMult)
}

// logStopMetric logs what early stopping watched this epoch, as the real
// algorithm's log does (docs/DECISIONS.md):
//
//	#early_stopping_criteria_metric: host=algo-1, epoch=3, criteria=mse_objective, value=42.03
//	Epoch 3: Loss improved. Updating best model
//
// The second line only when the metric is below the best so far (before
// stopCheck records it). A criterion is watched as its negative; the line
// gives its value.
func (t *trainer) logStopMetric(job *algorithms.Job, epoch int, stop float64) {
	name, value := objectiveName(t.p), stop
	if t.watchesCriterion() {
		name, value = "sampled_"+t.p.Criterion, -stop
	}
	job.Metrics.Logf("#early_stopping_criteria_metric: host=%s, epoch=%d, criteria=%s, value=%s",
		hostOf(job), epoch, name, pyFloat(value))
	if stop < t.stopBest {
		job.Metrics.Logf("Epoch %d: Loss improved. Updating best model", epoch)
	}
}

// watchesCriterion says whether early stopping watches the binary
// criterion rather than the loss: when the user chose one and there is a
// validation channel, as the guide says (loss_function is the loss).
func (t *trainer) watchesCriterion() bool {
	p := t.p
	return p.PredictorType == Binary && p.CriterionGiven && p.Criterion != "loss_function" && t.hasVal
}

// stopCheck records an epoch's early-stopping metric against the best so
// far and reports whether patience has run out: an improvement counts
// when it is at least early_stopping_tolerance relative to the best.
func (t *trainer) stopCheck(metric float64) bool {
	if !(metric < t.stopBest) { // NaN included
		t.stale++
		return t.stale >= t.p.Patience
	}
	if math.IsInf(t.stopBest, 1) || (t.stopBest-metric)/math.Abs(t.stopBest) >= t.p.Tolerance {
		t.stale = 0
	} else {
		t.stale++
	}
	t.stopBest = metric
	return t.stale >= t.p.Patience
}

// selectOnSample evaluates every model on the training sample (the
// selection and calibration data when there is no validation channel) and
// records each one's metric and threshold for final.
func (t *trainer) selectOnSample(ctx context.Context) error {
	evals, err := t.evaluate(ctx, &replay{batches: t.sample}, "train")
	if err != nil {
		return err
	}
	t.select_(evals)
	return nil
}

// trainer is the state of a training run.
type trainer struct {
	p       Params
	be      compute.Backend
	metrics algorithms.Metrics
	rng     *rand.Rand
	peers   algorithms.Peers // a multi-host job's (nil for one host): every step is synchronous
	stepBuf []byte           // syncStep's part, reused step after step

	sample     []*data.Batch // the first rows of the train channel (copies)
	sampleRows int

	// normalisation: x' = (x - shift) * scale, y' = (y - yShift) / yScale
	shiftData     bool
	shift, scale  []float32
	yShift        float64
	yScale        float64
	classWeights  []float64 // multiclass
	classFreq     []float64 // multiclass, from the sample
	posFraction   float64   // binary, from the sample
	posSmoothed   float64   // posFraction with half a row of each class added: never 0 or 1
	trainLoss     lossFn    // in normalised label units
	rawLoss       lossFn
	M, K, cols    int   // models, outputs per model, M*K
	ids           []int // the original number of each model still trained (retire)
	numModels     int   // the models trained at first (num_models)
	strikes       []int // per model: the epochs in a row it has lagged the best (retire)
	w             compute.Matrix
	b             []float32
	m1, m2        []float32 // optimizer state for w
	bm1, bm2      []float32 // and for b
	lrM, wdM, l1M []float64 // per model
	posW          []float64 // per model (binary)
	colLR, colWD  []float32 // per column
	colL1         []float32
	lrTiled       []float32 // the step's per-column learning rates, row after row (tile)
	wdTiled       []float32 // colWD, row after row
	l1Tiled       []float32 // colL1, row after row
	updates       int
	schedStep     int

	// best snapshot per model
	snapW     [][]float32 // d×K each
	snapB     [][]float32
	snapThr   []float64
	snapScore []float64 // selection metric, lower is better
	chosen    int
	cal       calibration
	bestLoss  float64 // the lowest eval loss of the last evaluation
	stopBest  float64 // early stopping: the best metric so far (+Inf at first)
	stale     int     // and the epochs since it improved enough
	hasVal    bool    // evaluation on a validation channel (else the train sample)

	x, z, g, dw []float32
	y           []float64
	// A sparse step's rows (lazy): the features its batch holds, their
	// gradient rows, and each feature's position among them (-1: none).
	rows       []int32
	rowGrad    []float32
	slot       []int32
	unionSlot  []int32   // the leader's, for the union of the hosts' rows
	fold       bool      // the normalisation is folded into the GEMMs (see forward)
	folded     bool      // ws and c0 are current (update keeps them so)
	ws, c0, gb []float32 // folded weights and offsets, bias gradient
	prob       []float64
}

// Retiring models. The num_models models are a search over learning rate,
// wd and l1; most of them fall behind the best within a few epochs and stay
// there (Fashion-MNIST: three of six are 6-15% above the best training
// loss in the third epoch and end 5-23% above it). A model whose loss has
// been more than retireMargin above the best model's for retirePatience
// epochs in a row, and whose best snapshot is not the best, stops training:
// its columns leave W, and every later mini-batch's two GEMMs shrink with
// them. Only where selection is by the loss itself (multiclass, regression,
// and binary classifiers with the criterion loss_function; the other
// criteria are not ranked by the loss). In a multi-host job the leader decides and every host carries it
// out (shareDecision).
const retireMargin = 0.05

var retirePatience = 3 // a variable for the tests, which turn retiring off

// retiring returns the positions of the models that go on training, nil
// when all do, and logs the others: loss holds each model's loss of this
// epoch (on validation when there is one, else the epoch's training loss,
// what selection will compare).
func (t *trainer) retiring(loss []float64, epoch int) []int {
	if t.M < 2 || t.p.PredictorType == Binary && t.p.Criterion != "loss_function" {
		return nil
	}
	best, bestSnap := math.Inf(1), math.Inf(1)
	for m, v := range loss {
		if !math.IsNaN(v) {
			best = math.Min(best, v)
		}
		bestSnap = math.Min(bestSnap, t.snapScore[m])
	}
	if math.IsInf(best, 1) {
		return nil // every model diverged: early stopping and selection deal with it
	}
	keep := make([]int, 0, t.M)
	for m, v := range loss {
		if math.IsNaN(v) || v > best+retireMargin*math.Abs(best) {
			t.strikes[m]++
		} else {
			t.strikes[m] = 0
		}
		// A model whose best snapshot is the best so far stays a candidate.
		if t.strikes[m] < retirePatience || t.snapW[m] != nil && t.snapScore[m] <= bestSnap {
			keep = append(keep, m)
		} else {
			t.metrics.Logf("retired model %d of %d after epoch %d (learning_rate=%g, wd=%g, l1=%g): its loss %s has been over %g%% above the best model's (%s) for %d epochs",
				t.ids[m], t.numModels, epoch, t.lrM[m], t.wdM[m], t.l1M[m], strconv.FormatFloat(v, 'g', 6, 64),
				100*retireMargin, strconv.FormatFloat(best, 'g', 6, 64), retirePatience)
		}
	}
	if len(keep) == t.M {
		return nil
	}
	return keep
}

// keepModels keeps only the models at positions keep (ascending), in every
// per-model, per-column and per-weight array.
func (t *trainer) keepModels(keep []int) {
	d, K := t.p.FeatureDim, t.K
	cols := len(keep) * K
	// Column c of the new layout is column src(c) of the old.
	src := make([]int, 0, cols)
	for _, m := range keep {
		for k := range K {
			src = append(src, m*K+k)
		}
	}
	rows := func(a []float32) []float32 { // d × t.cols → d × cols
		if a == nil {
			return nil
		}
		out := make([]float32, d*cols)
		for j := range d {
			row, dst := a[j*t.cols:(j+1)*t.cols], out[j*cols:(j+1)*cols]
			for c, sc := range src {
				dst[c] = row[sc]
			}
		}
		return out
	}
	columns := func(a []float32) []float32 {
		if a == nil {
			return nil
		}
		out := make([]float32, cols)
		for c, sc := range src {
			out[c] = a[sc]
		}
		return out
	}
	t.w = compute.MatrixOf(d, cols, rows(t.w.Data))
	t.m1, t.m2 = rows(t.m1), rows(t.m2)
	if t.folded {
		t.ws = rows(t.ws)
		t.c0 = columns(t.c0)
	}
	t.b, t.bm1, t.bm2 = columns(t.b), columns(t.bm1), columns(t.bm2)
	t.colLR, t.colWD, t.colL1 = columns(t.colLR), columns(t.colWD), columns(t.colL1)
	t.lrTiled, t.wdTiled, t.l1Tiled = nil, nil, nil // tile lays them out again
	t.lrM, t.wdM, t.l1M = pick(t.lrM, keep), pick(t.wdM, keep), pick(t.l1M, keep)
	t.posW, t.ids, t.strikes = pick(t.posW, keep), pick(t.ids, keep), pick(t.strikes, keep)
	t.snapW, t.snapB = pick(t.snapW, keep), pick(t.snapB, keep)
	t.snapThr, t.snapScore = pick(t.snapThr, keep), pick(t.snapScore, keep)
	t.M, t.cols = len(keep), cols
}

// pick returns the elements of s at positions keep.
func pick[T any](s []T, keep []int) []T {
	out := make([]T, len(keep))
	for i, m := range keep {
		out[i] = s[m]
	}
	return out
}

// replay yields the batches of the training sample, then the rest of r
// (nil: the sample alone).
type replay struct {
	batches []*data.Batch
	i       int
	r       data.BatchReader
}

func (s *replay) Read(n int) (*data.Batch, error) {
	if s.i < len(s.batches) {
		s.i++
		return s.batches[s.i-1], nil
	}
	if s.r == nil {
		return nil, io.EOF
	}
	return s.r.Read(n)
}

// Close does nothing: whoever opened r closes it.
func (s *replay) Close() error { return nil }

// checkBatch checks the feature dimension and the labels of a batch of the
// named channel; first is the index of its first record.
func (t *trainer) checkBatch(b *data.Batch, channel string, first int64) error {
	if b.Cols != t.p.FeatureDim {
		return algorithms.Errorf("the %s channel has records of %d features, but feature_dim is %d", channel, b.Cols, t.p.FeatureDim)
	}
	if b.LabelSize < 1 || len(b.Labels) < b.Rows*b.LabelSize {
		return algorithms.Errorf("the %s channel has records without a label (record %d): linear learner needs a label in each record", channel, first)
	}
	for i := 0; i < b.Rows; i++ {
		y := b.Label(i)
		if math.IsNaN(float64(y)) || math.IsInf(float64(y), 0) {
			return algorithms.Errorf("the %s channel: record %d has the label %v; labels must be finite", channel, first+int64(i), y)
		}
		switch t.p.PredictorType {
		case Binary:
			if y != 0 && y != 1 {
				return algorithms.Errorf("the %s channel: record %d has the label %v; a binary_classifier needs labels 0 or 1", channel, first+int64(i), y)
			}
		case Multiclass:
			if y != float32(math.Trunc(float64(y))) || y < 0 || int(y) >= t.p.NumClasses {
				return algorithms.Errorf("the %s channel: record %d has the label %v; a multiclass_classifier with num_classes=%d needs integer labels 0 to %d",
					channel, first+int64(i), y, t.p.NumClasses, t.p.NumClasses-1)
			}
		}
	}
	return nil
}

// readSample reads the first num_point_for_scaler rows (whole mini-batches)
// of the train channel.
func (t *trainer) readSample(ctx context.Context, r data.BatchReader) error {
	for t.sampleRows < t.p.NumPointForScaler {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := r.Read(t.p.MiniBatchSize)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := t.checkBatch(b, "train", int64(t.sampleRows)); err != nil {
			return err
		}
		t.sample = append(t.sample, b.Clone())
		t.sampleRows += b.Rows
	}
	return nil
}

// fitScaler learns the normalisation and the class weights from the
// sample's sums (every host's, in a multi-host job).
func (t *trainer) fitScaler(st *sampleStats) {
	p, d := t.p, t.p.FeatureDim
	switch p.UnbiasData {
	case "auto":
		t.shiftData = p.NormalizeData && p.UseBias && !st.sparse
	default:
		t.shiftData = p.UnbiasData == "true"
	}
	t.shift = make([]float32, d)
	t.scale = make([]float32, d)
	for j := range t.scale {
		t.scale[j] = 1
	}
	sum, sq, ys, yq, counts, n := st.sum, st.sq, st.ys, st.yq, st.counts, st.n
	if p.NormalizeData {
		// A feature almost constant in the sample (a border pixel lit in one
		// image of thousands) would be blown up by 1/sd; its sd is floored
		// at a tenth of the mean sd of the varying features.
		sds := make([]float64, d)
		var sdSum float64
		var varying int
		for j := range d {
			mean := sum[j] / n
			sds[j] = math.Sqrt(math.Max(0, sq[j]/n-mean*mean))
			if t.shiftData {
				t.shift[j] = float32(mean)
			}
			if sds[j] > 1e-12 {
				sdSum += sds[j]
				varying++
			}
		}
		floor := 0.1 * sdSum / float64(max(varying, 1))
		for j, sd := range sds {
			if sd > 1e-12 {
				t.scale[j] = float32(1 / math.Max(sd, floor))
			}
		}
	} else if t.shiftData {
		for j := range d {
			t.shift[j] = float32(sum[j] / n)
		}
	}
	t.yScale = 1
	if p.PredictorType == Regressor {
		mean := ys / n
		sd := math.Sqrt(math.Max(0, yq/n-mean*mean))
		unbias := p.UseBias && (p.UnbiasLabel == "true" || (p.UnbiasLabel == "auto" && p.NormalizeLabel))
		if unbias {
			t.yShift = mean
		}
		if p.NormalizeLabel && sd > 1e-12 {
			t.yScale = sd
		}
	}
	t.rawLoss = newLoss(p)
	t.trainLoss = t.rawLoss.scaled(t.yScale)
	switch p.PredictorType {
	case Binary:
		t.posFraction = counts[1] / n
		t.posSmoothed = (counts[1] + 0.5) / (n + 1)
	case Multiclass:
		t.classWeights = make([]float64, p.NumClasses)
		t.classFreq = make([]float64, p.NumClasses)
		for c := range t.classWeights {
			t.classFreq[c] = counts[c] / n
			t.classWeights[c] = 1
			if p.BalanceClass && counts[c] > 0 {
				t.classWeights[c] = n / (float64(p.NumClasses) * counts[c])
			}
		}
	}
}

// initModels draws the initial weights and the per-model learning rate,
// wd, l1 and positive weight: model 0 has exactly the given (or auto)
// values, the others nearby ones.
func (t *trainer) initModels() {
	p, d := t.p, t.p.FeatureDim
	t.M, t.K = p.NumModels, p.outputs()
	t.cols = t.M * t.K
	t.numModels = t.M
	t.ids = make([]int, t.M)
	for m := range t.ids {
		t.ids[m] = m
	}
	t.strikes = make([]int, t.M)
	t.w = compute.NewMatrix(d, t.cols)
	for i := range t.w.Data {
		if p.InitMethod == "normal" {
			t.w.Data[i] = float32(t.rng.NormFloat64() * p.InitSigma)
		} else {
			t.w.Data[i] = float32((2*t.rng.Float64() - 1) * p.InitScale)
		}
	}
	t.b = make([]float32, t.cols)
	t.m1 = make([]float32, len(t.w.Data))
	t.m2 = make([]float32, len(t.w.Data))
	t.bm1 = make([]float32, t.cols)
	t.bm2 = make([]float32, t.cols)

	balanced := 1.0
	if t.posFraction > 0 && t.posFraction < 1 {
		balanced = (1 - t.posFraction) / t.posFraction
	}
	logU := func(lo, hi float64) float64 { return math.Pow(10, lo+(hi-lo)*t.rng.Float64()) }
	t.lrM = make([]float64, t.M)
	t.wdM = make([]float64, t.M)
	t.l1M = make([]float64, t.M)
	t.posW = make([]float64, t.M)
	for m := range t.M {
		lr, wd, l1 := p.LearningRate, p.WD, p.L1
		if p.WDAuto {
			wd = 0
		}
		if p.L1Auto {
			l1 = 0
		}
		if m > 0 {
			if p.LRAuto {
				lr *= logU(-1, 0.5)
			} else {
				lr *= logU(-0.3, 0.3)
			}
			switch {
			case p.WDAuto && m%2 == 1:
				// Below 1e-6 wd does nothing on data that fits one
				// machine (wd·n ≪ 1); up to 0.1 covers small, noisy sets.
				wd = logU(-6, -1)
			case !p.WDAuto && wd > 0:
				wd *= logU(-1, 1)
			}
			switch {
			case p.L1Auto && m%4 == 2:
				l1 = logU(-7, -3)
			case !p.L1Auto && l1 > 0:
				l1 *= logU(-1, 1)
			}
		}
		t.lrM[m], t.wdM[m], t.l1M[m] = lr, wd, l1
		switch p.PosWeightKind {
		case "balanced":
			t.posW[m] = balanced
		case "auto": // from 1 (model 0) to balanced (the last), log-spaced
			f := 0.0
			if t.M > 1 {
				f = float64(m) / float64(t.M-1)
			}
			t.posW[m] = math.Pow(balanced, f)
		default:
			t.posW[m] = p.PosWeight
		}
	}
	t.initBias()
	t.colLR = make([]float32, t.cols)
	t.colWD = make([]float32, t.cols)
	t.colL1 = make([]float32, t.cols)
	for c := range t.cols {
		m := c / t.K
		t.colLR[c], t.colWD[c], t.colL1[c] = float32(t.lrM[m]), float32(t.wdM[m]), float32(t.l1M[m])
	}
	t.schedStep = p.LRSchedulerStep
	t.snapW = make([][]float32, t.M)
	t.snapB = make([][]float32, t.M)
	t.snapThr = make([]float64, t.M)
	t.snapScore = make([]float64, t.M)
	for m := range t.M {
		t.snapScore[m] = math.Inf(1)
	}
	t.prob = make([]float64, t.K)
	t.fold = t.canFold()
}

// initBias starts each model's bias at init_bias plus the constant that
// minimises its loss on the sample's labels: the (weighted) log-odds of the
// positive class for the logistic loss, the log class frequencies for
// softmax (none with balance_multiclass_weights, whose weights make the
// classes equally frequent). The features are centred (or the initial
// weights average zero), so this is where the bias ends up; starting it at
// 0 leaves the optimizer, whose steps are about learning_rate in size, to
// walk it there (to -2.2 for a 10% positive class: over 200 Adam steps at
// 0.01, longer than a whole run on 10,000 rows), and until then every
// score is inflated. For regression the label is already centred
// (unbias_label), so init_bias alone.
func (t *trainer) initBias() {
	p := t.p
	if !p.UseBias {
		return
	}
	for c := range t.b {
		t.b[c] = float32(p.InitBias)
	}
	switch {
	case p.PredictorType == Binary && p.Loss == "logistic":
		// A sample of one class has no log-odds; half a row of each class
		// added gives a finite one (about -7 for 500 negatives), so such a
		// model predicts that class from the start instead of scoring 0.5
		// until the optimizer walks the bias down.
		f := t.posFraction
		if f <= 0 || f >= 1 {
			f = t.posSmoothed
		}
		for m := range t.M {
			t.b[m] += float32(math.Log(t.posW[m] * f / (1 - f)))
		}
	case p.PredictorType == Multiclass && !p.BalanceClass:
		// log frequencies, centred; a class absent from the sample gets
		// the lowest present one's.
		lo, sum, present := math.Inf(1), 0.0, 0
		for _, f := range t.classFreq {
			if f > 0 {
				lo = math.Min(lo, math.Log(f))
				sum += math.Log(f)
				present++
			}
		}
		if present == 0 {
			return
		}
		lf := make([]float64, t.K)
		for k, f := range t.classFreq {
			lf[k] = lo
			if f > 0 {
				lf[k] = math.Log(f)
			}
		}
		mean := (sum + lo*float64(t.K-present)) / float64(t.K)
		for c := range t.b {
			t.b[c] += float32(lf[c%t.K] - mean)
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// prepare returns the batch's features as the matrix forward takes, and
// writes its (normalised) labels into t.y. With t.fold the features are the
// batch's own dense rows, untouched (the normalisation is folded into the
// weights by forward and into the gradient by step); else a normalised
// copy in t.x. Sparse batches are densified into t.x.
func (t *trainer) prepare(b *data.Batch) compute.Matrix {
	d := t.p.FeatureDim
	t.setLabels(b)
	if t.fold && !b.Sparse() {
		return compute.MatrixOf(b.Rows, d, b.Dense[:b.Rows*d])
	}
	t.x = b.DenseTo(t.x)
	if !t.fold {
		for i := 0; i < b.Rows; i++ {
			row := t.x[i*d : (i+1)*d]
			for j := range row {
				row[j] = (row[j] - t.shift[j]) * t.scale[j]
			}
		}
	}
	return compute.MatrixOf(b.Rows, d, t.x)
}

// setLabels writes the batch's (normalised) labels into t.y.
func (t *trainer) setLabels(b *data.Batch) {
	t.y = grow(t.y, b.Rows)
	for i := range t.y {
		t.y[i] = (float64(b.Label(i)) - t.yShift) / t.yScale
	}
}

// sparseFold reports whether b takes the sparse path: a CSR batch with the
// normalisation folded into the weights, whose products then run over its
// stored entries instead of a dense copy of mini_batch_size × feature_dim.
func (t *trainer) sparseFold(b *data.Batch) bool { return t.fold && b.Sparse() }

// lazy reports whether b's step updates only the rows of the features it
// holds (updateLazy), as MXNet's optimizers do for a row_sparse gradient
// (lazy_update): a sparse batch on the folded path whose features are not
// shifted, so that every other row of Xᵀ·G is zero. A very wide sparse
// model then costs its batch's stored entries a step, not all its weights.
func (t *trainer) lazy(b *data.Batch) bool { return t.sparseFold(b) && !t.shiftData }

// outputsOf computes the outputs of every model for b's rows: through
// forward on its dense rows (x, which gradientOf then takes), or over its
// stored entries when sparseFold (x empty).
func (t *trainer) outputsOf(b *data.Batch) (x, z compute.Matrix) {
	if t.sparseFold(b) {
		return compute.Matrix{}, t.forwardSparse(b)
	}
	x = t.prepare(b)
	return x, t.forward(x)
}

// gradientOf is backward for the batch outputsOf ran on.
func (t *trainer) gradientOf(b *data.Batch, x, g compute.Matrix) (compute.Matrix, []float32) {
	if t.sparseFold(b) {
		return t.backwardSparse(b, g)
	}
	return t.backward(x, g)
}

// forwardSparse is forward for a CSR batch (sparseFold): Z = X·(diag(scale)·W)
// + c0 over X's stored entries, rows split across the cores.
func (t *trainer) forwardSparse(b *data.Batch) compute.Matrix {
	if !t.folded {
		t.refold()
	}
	t.setLabels(b)
	cols := t.cols
	t.z = grow(t.z, b.Rows*cols)
	z := compute.MatrixOf(b.Rows, cols, t.z)
	parallel(b.Rows, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := z.Row(i)
			copy(row, t.c0)
			for q := b.Indptr[i]; q < b.Indptr[i+1]; q++ {
				v, j := b.Values[q], int(b.Indices[q])
				for c, w := range t.ws[j*cols : (j+1)*cols] {
					row[c] += v * w
				}
			}
		}
	})
	return z
}

// backwardSparse is backward for a CSR batch (sparseFold): Xᵀ·G on the raw
// rows, scattered from X's stored entries into a zeroed d × M·K matrix
// (update unfolds it as it does the dense product), and G's column sums.
func (t *trainer) backwardSparse(b *data.Batch, g compute.Matrix) (compute.Matrix, []float32) {
	d, cols := t.p.FeatureDim, t.cols
	gb := t.colSums(g)
	t.dw = grow(t.dw, d*cols)
	clear(t.dw)
	for i := 0; i < b.Rows; i++ {
		gr := g.Row(i)
		for q := b.Indptr[i]; q < b.Indptr[i+1]; q++ {
			v, j := b.Values[q], int(b.Indices[q])
			dst := t.dw[j*cols : (j+1)*cols]
			for c, gv := range gr {
				dst[c] += v * gv
			}
		}
	}
	return compute.MatrixOf(d, cols, t.dw), gb
}

// backwardLazy is backward for a lazy step (see lazy): the features b
// holds, each once, and the rows of Xᵀ·G on the raw rows for them (rows ×
// M·K, row i for feature rows[i]; every other row is zero), and G's column
// sums.
func (t *trainer) backwardLazy(b *data.Batch, g compute.Matrix) (rows []int32, grad, gb []float32) {
	cols := t.cols
	gb = t.colSums(g)
	if t.slot == nil {
		t.slot = newSlots(t.p.FeatureDim)
	}
	rows = t.rows[:0]
	for _, j := range b.Indices[:b.Indptr[b.Rows]] {
		if t.slot[j] < 0 {
			t.slot[j] = int32(len(rows))
			rows = append(rows, j)
		}
	}
	grad = grow(t.rowGrad, len(rows)*cols)
	clear(grad)
	for i := 0; i < b.Rows; i++ {
		gr := g.Row(i)
		for q := b.Indptr[i]; q < b.Indptr[i+1]; q++ {
			v, s := b.Values[q], int(t.slot[b.Indices[q]])
			dst := grad[s*cols : (s+1)*cols]
			for c, gv := range gr {
				dst[c] += v * gv
			}
		}
	}
	for _, j := range rows {
		t.slot[j] = -1
	}
	t.rows, t.rowGrad = rows, grad
	return rows, grad, gb
}

// newSlots returns d positions, all -1 (none).
func newSlots(d int) []int32 {
	s := make([]int32, d)
	for j := range s {
		s[j] = -1
	}
	return s
}

// foldShiftLimit bounds |shift·scale| (a feature's mean in sds) for folding
// the normalisation into the weights: raw features far from zero in sds
// would cancel in float32.
const foldShiftLimit = 16

// canFold reports whether the normalisation may be folded into the
// weights instead of applied to every row.
func (t *trainer) canFold() bool {
	for j, sh := range t.shift {
		if math.Abs(float64(sh)*float64(t.scale[j])) > foldShiftLimit {
			return false
		}
	}
	return true
}

// forward computes Z = X'·W + b for every model at once (B × M·K), X' the
// normalised features: with t.fold, as X·(diag(scale)·W) + (b − (shift⊙scale)·W)
// on the raw rows, one GEMM and no pass over X.
func (t *trainer) forward(x compute.Matrix) compute.Matrix {
	t.z = grow(t.z, x.Rows*t.cols)
	z := compute.MatrixOf(x.Rows, t.cols, t.z)
	w, c0 := t.w, t.b
	if t.fold {
		if !t.folded {
			t.refold()
		}
		w, c0 = compute.MatrixOf(t.p.FeatureDim, t.cols, t.ws), t.c0
	}
	t.be.Gemm(false, false, 1, x, w, 0, z)
	for i := 0; i < x.Rows; i++ {
		row := z.Row(i)
		for c := range row {
			row[c] += c0[c]
		}
	}
	return z
}

// refold computes the folded weights diag(scale)·W and offsets
// b − (shift⊙scale)·W from W and b. update keeps them current as it steps,
// row by row (foldRows), so this runs once, before the first batch.
func (t *trainer) refold() {
	d := t.p.FeatureDim
	t.ws = grow(t.ws, d*t.cols)
	t.c0 = grow(t.c0, t.cols)
	acc := make([]float64, t.cols)
	t.foldRows(0, d, acc)
	t.setOffsets(acc)
	t.folded = true
}

// foldRows writes rows [lo, hi) of the folded weights and subtracts their
// shift⊙scale·W part from acc.
func (t *trainer) foldRows(lo, hi int, acc []float64) {
	for j := lo; j < hi; j++ {
		sc, sh := t.scale[j], float64(t.shift[j])
		src, dst := t.w.Row(j), t.ws[j*t.cols:(j+1)*t.cols]
		for c, v := range src {
			dst[c] = v * sc
		}
		if sh != 0 {
			for c, v := range dst {
				acc[c] -= sh * float64(v)
			}
		}
	}
}

// setOffsets sets the folded offsets to b + acc.
func (t *trainer) setOffsets(acc []float64) {
	for c, v := range acc {
		t.c0[c] = float32(float64(t.b[c]) + v)
	}
}

// epoch trains on every batch of src, returning each model's summed loss
// (in the label's units, before the update of its batch) and the rows seen.
func (t *trainer) epoch(ctx context.Context, src data.BatchReader) ([]float64, int64, error) {
	lossSum := make([]float64, t.M)
	var n int64
	err := data.Each(ctx, src, t.p.MiniBatchSize, func(b *data.Batch) error {
		if err := t.checkBatch(b, "train", n); err != nil {
			return err
		}
		if b.Rows > 0 {
			if err := t.step(ctx, b, lossSum); err != nil {
				return err
			}
			n += int64(b.Rows)
			t.metrics.Batch(b.Rows)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if t.peers != nil {
		return t.drain(ctx, lossSum, n)
	}
	return lossSum, n, nil
}

// step is one mini-batch update of every model: forward, the loss gradient
// with respect to the outputs, one GEMM Xᵀ·G for all models, then each
// model's optimizer step with its own learning rate, wd and l1.
func (t *trainer) step(ctx context.Context, b *data.Batch, lossSum []float64) error {
	B := b.Rows
	x, z := t.outputsOf(b)
	t.g = grow(t.g, B*t.cols)
	g := compute.MatrixOf(B, t.cols, t.g)
	inv := 1 / float64(B)
	if t.p.PredictorType == Multiclass {
		t.softmaxGrad(z, g, inv, lossSum)
	} else {
		loss := parallelSums(B, 256, t.M, func(acc []float64, lo, hi int) {
			t.outputGrad(z, g, inv, acc, lo, hi)
		})
		for m, v := range loss {
			lossSum[m] += v
		}
	}
	if t.lazy(b) {
		rows, grad, gb := t.backwardLazy(b, g)
		if t.peers != nil {
			_, _, _, err := t.syncStep(ctx, t.rowsPart(rows, grad, gb, B))
			return err
		}
		t.updates++
		t.updateLazy(rows, grad, gb)
		return nil
	}
	dw, gb := t.gradientOf(b, x, g)
	if t.peers != nil {
		_, _, _, err := t.syncStep(ctx, t.densePart(dw, gb, B))
		return err
	}
	t.updates++
	t.update(dw, gb)
	return nil
}

// outputGrad writes the gradient of every model's loss with respect to its
// output for rows lo..hi of z into g (weighted by inv, and by the model's
// positive weight for a positive binary label), and adds each model's loss
// in the label's units to lossSum. For a classifier the label is not
// normalised, so the training loss is that loss and is evaluated once.
func (t *trainer) outputGrad(z, g compute.Matrix, inv float64, lossSum []float64, lo, hi int) {
	binary := t.p.PredictorType == Binary
	raw := t.yScale != 1 || t.yShift != 0
	if binary && t.trainLoss.name == "logistic" && !raw {
		t.logisticRows(z, g, inv, lossSum, lo, hi)
		return
	}
	for i := lo; i < hi; i++ {
		zr, gr := z.Row(i), g.Row(i)
		y := t.y[i]
		for m := range t.M {
			zv := float64(zr[m])
			l, gv := t.trainLoss.eval(zv, y)
			if raw {
				l, _ = t.rawLoss.eval(zv*t.yScale+t.yShift, y*t.yScale+t.yShift)
			}
			lossSum[m] += l
			w := inv
			if binary && y == 1 {
				w *= t.posW[m]
			}
			gr[m] = float32(w * gv)
		}
	}
}

// logisticRows is outputGrad for the logistic loss, the binary default, in
// float32 with exp32 as the softmax's: e = e^-|z| gives the sigmoid (1/(1+e)
// for z ≥ 0, e/(1+e) below) and the loss max(z, 0) + log1p(e) - y·z, whose
// log1p terms are summed as the log of their product, one log per model
// per many rows (the product stays in [1, 2^rows], flushed before it could
// overflow).
func (t *trainer) logisticRows(z, g compute.Matrix, inv float64, lossSum []float64, lo, hi int) {
	prod := make([]float64, t.M)
	for m := range prod {
		prod[m] = 1
	}
	for i := lo; i < hi; i++ {
		zr, gr := z.Row(i), g.Row(i)
		y := t.y[i]
		for m := range t.M {
			zv := zr[m]
			e := exp32(-float32(math.Abs(float64(zv))))
			var sg float32
			var lin float64 // max(z, 0) - y·z, exact for y in {0, 1}
			if zv >= 0 {
				sg, lin = 1/(1+e), (1-y)*float64(zv)
			} else {
				sg, lin = e/(1+e), -y*float64(zv)
			}
			lossSum[m] += lin
			if prod[m] *= 1 + float64(e); prod[m] > 1e200 {
				lossSum[m] += math.Log(prod[m])
				prod[m] = 1
			}
			w := inv
			if y == 1 {
				w *= t.posW[m]
			}
			gr[m] = float32(w * (float64(sg) - y))
		}
	}
	for m, v := range prod {
		lossSum[m] += math.Log(v)
	}
}

// colSums returns G's column sums (the bias's gradient), in t.gb.
func (t *trainer) colSums(g compute.Matrix) []float32 {
	gb := grow(t.gb, t.cols)
	t.gb = gb
	clear(gb)
	for i := 0; i < g.Rows; i++ {
		for c, v := range g.Row(i) {
			gb[c] += v
		}
	}
	return gb
}

// backward returns the gradient of the mean loss with respect to W (d ×
// M·K) and b from G, the gradient with respect to the outputs: Xᵀ·G (one
// GEMM for all models), with the folded normalisation undone, and G's
// column sums.
func (t *trainer) backward(x, g compute.Matrix) (compute.Matrix, []float32) {
	d := t.p.FeatureDim
	gb := t.colSums(g)
	t.dw = grow(t.dw, d*t.cols)
	dw := compute.MatrixOf(d, t.cols, t.dw)
	t.be.Gemm(true, false, 1, x, g, 0, dw)
	// With t.fold, dw is Xᵀ·G on the raw rows; update turns each row into
	// the gradient of the normalised model as it steps it (unfoldRow).
	return dw, gb
}

// softmaxGrad writes the softmax cross-entropy gradient of every model's
// outputs z into g (weighted by the row's class weight times inv), and adds
// each model's loss to lossSum. float32 with exp32: this loop touches
// rows × num_models × num_classes values per batch.
func (t *trainer) softmaxGrad(z, g compute.Matrix, inv float64, lossSum []float64) {
	loss := parallelSums(z.Rows, 256, t.M, func(part []float64, lo, hi int) {
		t.softmaxRows(z, g, inv, part, lo, hi)
	})
	for m, v := range loss {
		lossSum[m] += v
	}
}

func (t *trainer) softmaxRows(z, g compute.Matrix, inv float64, lossSum []float64, lo, hi int) {
	K := t.K
	// Σ log(s) as log(Π s), flushed before it could overflow: one log per
	// model per many rows instead of per row (s is in [1, K]).
	prod := make([]float64, t.M)
	for m := range prod {
		prod[m] = 1
	}
	// Each model's outputs less their max, for every row; then the
	// exponentials of all of them in one call (expInPlace: eight at a time
	// with AVX2; a call a row would cost half again as much, as for
	// BenchmarkAdamRow); then the sums.
	mxs := make([]float32, (hi-lo)*t.M)
	for i := lo; i < hi; i++ {
		zr, gr := z.Row(i), g.Row(i)
		for m := range t.M {
			zs, gs := zr[m*K:(m+1)*K], gr[m*K:(m+1)*K]
			// Plain comparisons, not the max builtin: its NaN and signed
			// zero rules cost several instructions an element here.
			mx := zs[0]
			for _, v := range zs[1:] {
				if v > mx {
					mx = v
				}
			}
			gs = gs[:len(zs)]
			for k, v := range zs {
				gs[k] = v - mx
			}
			mxs[(i-lo)*t.M+m] = mx
		}
	}
	expInPlace(g.Data[lo*g.Stride : (hi-1)*g.Stride+t.M*K])
	for i := lo; i < hi; i++ {
		zr, gr := z.Row(i), g.Row(i)
		c := int(t.y[i])
		wc := float32(t.classWeights[c] * inv)
		for m := range t.M {
			zs, gs := zr[m*K:(m+1)*K], gr[m*K:(m+1)*K]
			mx := mxs[(i-lo)*t.M+m]
			var s float32
			for _, e := range gs {
				s += e
			}
			lossSum[m] += float64(mx) - float64(zs[c])
			if prod[m] *= float64(s); prod[m] > 1e200 {
				lossSum[m] += math.Log(prod[m])
				prod[m] = 1
			}
			f := wc / s
			for k := range gs {
				gs[k] *= f
			}
			gs[c] -= wc
		}
	}
	for m, v := range prod {
		lossSum[m] += math.Log(v)
	}
}

// chunking splits n rows into chunks of size chunk (count of them, at
// most GOMAXPROCS capped at 4, each of at least minChunk rows).
func chunking(n, minChunk int) (count, chunk int) {
	parts := min(runtime.GOMAXPROCS(0), 4, max(1, n/minChunk))
	chunk = (n + parts - 1) / parts
	if chunk == 0 {
		return 0, 0
	}
	return (n + chunk - 1) / chunk, chunk
}

// parallel runs fn on the chunks of [0, n) (see chunking), concurrently
// when there are several.
func parallel(n, minChunk int, fn func(lo, hi int)) {
	count, chunk := chunking(n, minChunk)
	runChunks(n, count, chunk, func(_, lo, hi int) { fn(lo, hi) })
}

// parallelSums runs fn as parallel does, each chunk with its own zeroed
// accumulator of width values, and returns their sum, added in chunk
// order: the same sums every run.
func parallelSums(n, minChunk, width int, fn func(acc []float64, lo, hi int)) []float64 {
	count, chunk := chunking(n, minChunk)
	accs := make([][]float64, max(count, 1))
	runChunks(n, count, chunk, func(part, lo, hi int) {
		acc := make([]float64, width) // one per goroutine: no shared cache lines
		fn(acc, lo, hi)
		accs[part] = acc
	})
	sum := accs[0]
	for _, acc := range accs[1:] {
		for c, v := range acc {
			sum[c] += v
		}
	}
	return sum
}

// runChunks calls fn(part, lo, hi) on the count chunks of chunk elements
// of [0, n), each on its own goroutine when there are several.
func runChunks(n, count, chunk int, fn func(part, lo, hi int)) {
	if count <= 1 {
		fn(0, 0, n)
		return
	}
	var g recovered.Group
	for part := range count {
		g.Go(func() { fn(part, part*chunk, min((part+1)*chunk, n)) })
	}
	g.Wait()
}

// exp32 is e^x in float32 for x ≤ 0 (softmax's shifted outputs), to about
// 1.5 ulp: x = (16m + j)·ln2/16 + r with |r| ≤ ln2/32, e^r by its degree-3
// Taylor polynomial (error r⁴/24 < 1e-8), 2^(j/16) from a table and 2^m
// added to its exponent bits. x·16/ln2 − ½ ≤ 0 is rounded by the
// conversion's truncation (no Floor), and ln2/16 is split so that n·hi is
// exact. Below -87 it returns e⁻⁸⁷ (1.6e-38), which no softmax sum
// notices. BenchmarkExp32: 3.9-4.4 ns a value, against 6.3-7.7 for the
// degree-6 polynomial over ln2/2 it replaced.
func exp32(x float32) float32 {
	if x < -87 { // below, 2^m would leave the normal range
		x = -87
	}
	n := int32(x*(16/math.Ln2) - 0.5) // x ≤ 0: truncation rounds
	nf := float32(n)
	r := x - nf*ln2By16Hi - nf*ln2By16Lo
	p := 1 + r*(1+r*(0.5+r*(1.0/6)))
	return p * math.Float32frombits(exp2Sixteenths[n&15]+uint32(n>>4)<<23)
}

var (
	// ln2/16 with its low 12 mantissa bits cleared (n·hi is exact for
	// |n| < 2¹²), and the rest.
	ln2By16Hi = math.Float32frombits(math.Float32bits(float32(math.Ln2/16)) &^ 0xfff)
	ln2By16Lo = float32(math.Ln2/16 - float64(ln2By16Hi))
	// exp2Sixteenths[j] holds the bits of 2^(j/16).
	exp2Sixteenths = func() (t [16]uint32) {
		for j := range t {
			t[j] = math.Float32bits(float32(math.Exp2(float64(j) / 16)))
		}
		return t
	}()
)

// lrFactor is the learning-rate schedule's factor after t.updates updates.
func (t *trainer) lrFactor() float64 {
	if !t.p.UseLRScheduler || t.schedStep == 0 {
		return 1
	}
	return math.Pow(t.p.LRSchedulerFactor, float64(t.updates/t.schedStep))
}

// rates returns this step's per-column learning rates and, for adam, the
// bias correction of its moments (1 otherwise).
func (t *trainer) rates() (lrs []float32, corr float32) {
	p := t.p
	f := t.lrFactor()
	minLR := p.LRSchedulerMinimum
	lrs = make([]float32, t.cols)
	for c := range t.cols {
		lr := t.lrM[c/t.K]
		lrs[c] = float32(math.Max(lr*f, math.Min(minLR, lr)))
		if !p.UseLRScheduler {
			lrs[c] = float32(lr)
		}
	}
	corr = 1
	if p.Optimizer == "adam" {
		tt := float64(t.updates)
		corr = float32(math.Sqrt(1-math.Pow(p.Beta2, tt)) / (1 - math.Pow(p.Beta1, tt)))
	}
	return lrs, corr
}

// updateBias steps the biases (with bias_lr_mult and bias_wd_mult).
func (t *trainer) updateBias(lrs, gb []float32, corr float32) {
	if !t.p.UseBias {
		return
	}
	blr := make([]float32, t.cols)
	bwd := make([]float32, t.cols)
	for c := range t.cols {
		blr[c] = lrs[c] * float32(t.p.BiasLRMult)
		bwd[c] = t.colWD[c] * float32(t.p.BiasWDMult)
	}
	t.updateRow(t.b, gb, t.bm1, t.bm2, blr, bwd, nil, corr)
}

// updateLazy is update for a lazy step (see lazy): only the weights of
// features rows (their gradient rows in grad, as backwardLazy returns
// them) and the biases move; wd, l1 and the optimizer's moments act on
// those rows alone, as MXNet's lazy_update does.
func (t *trainer) updateLazy(rows []int32, grad, gb []float32) {
	lrs, corr := t.rates()
	cols := t.cols
	parallel(len(rows), 256, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			j := int(rows[i])
			gr, a := grad[i*cols:(i+1)*cols], j*cols
			t.unfoldRow(j, gr, gb)
			t.updateRow(t.w.Data[a:a+cols], gr, t.m1[a:a+cols], t.m2[a:a+cols], lrs, t.colWD, t.colL1, corr)
			t.foldRows(j, j+1, nil) // unshifted: no offsets to add
		}
	})
	t.updateBias(lrs, gb, corr)
	copy(t.c0, t.b) // the folded offsets, with no shift: the biases
}

// update applies one optimizer step to every weight and bias.
func (t *trainer) update(dw compute.Matrix, gb []float32) {
	p := t.p
	lrs, corr := t.rates()
	cols := t.cols
	if p.Optimizer == "adam" {
		t.tile(lrs, dw.Rows)
	}
	// With t.fold, each core unfolds its rows' gradients, steps them and
	// folds them again while they are in its cache (three serial passes
	// over W before).
	width := 0 // of the folded offsets' partial sums
	if t.fold {
		width = cols
	}
	offsets := parallelSums(dw.Rows, 64, width, func(acc []float64, lo, hi int) {
		if t.fold {
			for j := lo; j < hi; j++ {
				t.unfoldRow(j, dw.Row(j), gb)
			}
		}
		a, b := lo*cols, hi*cols
		t.updateRows(t.w.Data[a:b], dw.Data[a:b], t.m1[a:b], t.m2[a:b], lrs, corr)
		if t.fold {
			t.foldRows(lo, hi, acc)
		}
	})
	t.updateBias(lrs, gb, corr)
	if t.fold {
		t.setOffsets(offsets) // after the bias's step: b + the rows' parts
	}
}

// unfoldRow turns row j of Xᵀ·G on the raw rows into row j of the gradient
// of the normalised model: d/dW of X'·W with X' = (X − shift)·diag(scale)
// is diag(scale)·(Xᵀ·G − shiftᵀ·colsum(G)).
func (t *trainer) unfoldRow(j int, row, gb []float32) {
	sc, sh := t.scale[j], t.shift[j]
	if sh != 0 {
		for c := range row {
			row[c] = (row[c] - sh*gb[c]) * sc
		}
	} else if sc != 1 {
		for c := range row {
			row[c] *= sc
		}
	}
}

// tile repeats the per-column learning rates lrs, wd and l1 over rows rows
// (t.lrTiled, t.wdTiled, t.l1Tiled) for updateRows: the vectors of the
// kernels run across row ends. lrs changes once an epoch at most, wd and l1
// never.
func (t *trainer) tile(lrs []float32, rows int) {
	n := rows * t.cols
	if len(t.wdTiled) != n {
		t.wdTiled, t.l1Tiled, t.lrTiled = make([]float32, n), make([]float32, n), make([]float32, n)
		for off := 0; off < n; off += t.cols {
			copy(t.wdTiled[off:], t.colWD)
			copy(t.l1Tiled[off:], t.colL1)
		}
	} else if slices.Equal(t.lrTiled[:t.cols], lrs) {
		return
	}
	for off := 0; off < n; off += t.cols {
		copy(t.lrTiled[off:], lrs)
	}
}

// updateRows is the optimizer step for whole rows of the weights (w, gr,
// s1 and s2 hold rows of t.cols columns), with the per-column learning
// rates lrs and the models' wd and l1. Adam steps them all in one call of
// its kernel, against t.tile's repeated rates, wd and l1: a call a row of
// 60 weights costs half again as much (BenchmarkAdamRow, per-row against
// one-call).
func (t *trainer) updateRows(w, gr, s1, s2, lrs []float32, corr float32) {
	if t.p.Optimizer != "adam" {
		for a := 0; a < len(w); a += t.cols {
			b := a + t.cols
			t.updateRow(w[a:b], gr[a:b], s1[a:b], s2[a:b], lrs, t.colWD, t.colL1, corr)
		}
		return
	}
	n := len(w)
	adamRow(w, gr, s1, s2, t.lrTiled[:n], t.wdTiled[:n], float32(t.p.Beta1), float32(t.p.Beta2), corr)
	l1Step(w, t.lrTiled[:n], t.l1Tiled[:n])
}

// updateRow is the optimizer step for one row of parameters w with
// gradients gr, per-column learning rate, wd and l1 (nil: none).
func (t *trainer) updateRow(w, gr, s1, s2, lr, wd, l1 []float32, corr float32) {
	p := t.p
	const eps = 1e-8
	switch p.Optimizer {
	case "adam":
		adamRow(w, gr, s1, s2, lr, wd, float32(p.Beta1), float32(p.Beta2), corr)
	case "rmsprop":
		const rho = 0.9
		for c := range w {
			gv := gr[c] + wd[c]*w[c]
			s2[c] = rho*s2[c] + (1-rho)*gv*gv
			w[c] -= lr[c] * gv / (float32(math.Sqrt(float64(s2[c]))) + eps)
		}
	default: // sgd with momentum
		mu := float32(p.Momentum)
		for c := range w {
			gv := gr[c] + wd[c]*w[c]
			s1[c] = mu*s1[c] - lr[c]*gv
			w[c] += s1[c]
		}
	}
	if l1 != nil {
		l1Step(w, lr, l1)
	}
}

// evaluate scores every model on src: the mean loss over all rows, and for
// a binary classifier a calibration sample of scores (the first
// num_calibration_samples rows).
func (t *trainer) evaluate(ctx context.Context, src data.BatchReader, channel string) ([]*evaluator, error) {
	p := t.p
	evals := make([]*evaluator, t.M)
	for m := range evals {
		evals[m] = newEvaluator(p, defaultThreshold(p.Loss))
	}
	var calScores [][]float32
	var calLabels []float32
	if p.PredictorType == Binary {
		calScores = make([][]float32, t.M)
	}
	var n int64
	err := data.Each(ctx, src, p.MiniBatchSize, func(b *data.Batch) error {
		if err := t.checkBatch(b, channel, n); err != nil {
			return err
		}
		_, z := t.outputsOf(b)
		calRows := 0 // the batch's first rows join the calibration sample
		if calScores != nil {
			calRows = min(b.Rows, max(0, p.NumCalibration-len(calLabels)))
		}
		// Each model's evaluator is its own: the models are split across
		// the cores (each adds the batch's rows in order, so its sums do
		// not depend on the split).
		parallel(t.M, 1, func(lo, hi int) {
			out := make([]float32, t.K)
			for m := lo; m < hi; m++ {
				for i := 0; i < b.Rows; i++ {
					zr := z.Row(i)
					for k := range t.K {
						out[k] = float32(float64(zr[m*t.K+k])*t.yScale + t.yShift)
					}
					score := evals[m].add(out, float64(b.Label(i)))
					if i < calRows {
						calScores[m] = append(calScores[m], score)
					}
				}
			}
		})
		for i := range calRows {
			calLabels = append(calLabels, b.Label(i))
		}
		n += int64(b.Rows)
		return nil
	})
	if err != nil {
		return nil, err
	}
	t.cal = calibration{scores: calScores, labels: calLabels}
	if t.peers != nil {
		return t.mergeEvals(ctx, evals, channel)
	}
	if n == 0 {
		return nil, algorithms.Errorf("the %s channel holds no records", channel)
	}
	return evals, nil
}

// calibration is the last evaluation's sample of binary scores per model.
type calibration struct {
	scores [][]float32
	labels []float32
}

// select_ computes each model's selection metric (lower is better) on the
// last evaluation, keeps a snapshot of each model at its best, and returns
// the early-stopping metric: the best model's loss, or its criterion when
// the user chose one (binary classifiers).
func (t *trainer) select_(evals []*evaluator) float64 {
	p := t.p
	stop := math.Inf(1)
	t.bestLoss = math.Inf(1)
	var improved []int
	for m, e := range evals {
		loss := e.meanLoss()
		t.bestLoss = math.Min(t.bestLoss, loss)
		metric, crit, thr := loss, loss, defaultThreshold(p.Loss)
		if p.PredictorType == Binary && p.Criterion != "loss_function" {
			var v float64
			var ok bool
			thr, v, ok = calibrate(t.cal.scores[m], t.cal.labels, p, thr)
			crit, metric = -v, -v
			if ok && (p.Criterion == "precision_at_target_recall" || p.Criterion == "recall_at_target_precision") {
				// Any model meeting the target beats every model missing
				// it. Selection only: early stopping's relative tolerance
				// sees the criterion itself, not the offset.
				metric--
			}
		}
		if math.IsNaN(metric) {
			metric, crit = math.Inf(1), math.Inf(1)
		}
		// Early stopping watches the criterion when the user chose one and
		// there is a validation channel; else the loss (on the training
		// sample without validation), as the guide says.
		if t.watchesCriterion() {
			stop = math.Min(stop, crit)
		} else {
			stop = math.Min(stop, loss)
		}
		if metric < t.snapScore[m] || t.snapW[m] == nil {
			t.snapScore[m] = metric
			t.snapThr[m] = thr
			improved = append(improved, m)
		}
	}
	t.snapshot(improved)
	return stop
}

// snapshot copies the weights and biases of models ms out of W and b into
// their snapshots, in one pass over W's rows (a pass a model read all of
// W's rows once per model: 32 times 128 MB at a million features).
func (t *trainer) snapshot(ms []int) {
	d, K := t.p.FeatureDim, t.K
	for _, m := range ms {
		t.snapW[m] = grow(t.snapW[m], d*K)
		t.snapB[m] = append(t.snapB[m][:0], t.b[m*K:(m+1)*K]...)
	}
	if len(ms) == 0 {
		return
	}
	parallel(d, 4096, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			row := t.w.Row(j)
			for _, m := range ms {
				copy(t.snapW[m][j*K:(j+1)*K], row[m*K:(m+1)*K])
			}
		}
	})
}

// columns copies model m's d×K weights out of W into dst.
func (t *trainer) columns(m int, dst []float32) []float32 {
	d, K := t.p.FeatureDim, t.K
	dst = grow(dst, d*K)
	for j := range d {
		copy(dst[j*K:(j+1)*K], t.w.Row(j)[m*K:(m+1)*K])
	}
	return dst
}

// final picks the model with the best selection metric, folds the
// normalisation into its weights (so it acts on raw features and returns
// raw labels) and returns it.
func (t *trainer) final(host string) *Model {
	p, d, K := t.p, t.p.FeatureDim, t.K
	best := 0
	for m := range t.M {
		if t.snapScore[m] < t.snapScore[best] {
			best = m
		}
	}
	t.chosen = best
	w, bias, thr := t.snapW[best], t.snapB[best], t.snapThr[best]
	if w == nil { // stopped before any evaluation: the current weights
		w = t.columns(best, nil)
		bias = append([]float32(nil), t.b[best*K:(best+1)*K]...)
		thr = defaultThreshold(p.Loss)
	}
	raw := compute.NewMatrix(d, K)
	rb := make([]float32, K)
	for k := range K {
		acc := float64(bias[k])
		for j := range d {
			wj := float64(w[j*K+k]) * float64(t.scale[j])
			acc -= float64(t.shift[j]) * wj
			raw.Data[j*K+k] = float32(wj * t.yScale)
		}
		if !p.UseBias {
			acc = 0
		}
		rb[k] = float32(acc*t.yScale + t.yShift)
	}
	m := newModel(p, raw, rb, thr, host)
	// The weights this model trained with, where "balanced", "auto" or
	// balance_multiclass_weights made them from the data.
	switch {
	case p.PredictorType == Binary:
		m.metricsParams["positive_example_weight_mult"] = t.posW[best]
	case p.PredictorType == Multiclass && p.BalanceClass:
		m.metricsParams["class_weights"] = slices.Clone(t.classWeights)
	}
	return m
}

// score reports the final model's metrics on one pass of a channel, r,
// which it closes.
func score(ctx context.Context, m *Model, r data.BatchReadCloser, name string, p Params, metrics algorithms.Metrics) error {
	defer r.Close()
	e := newEvaluator(p, m.threshold)
	e.keepScores = p.PredictorType == Binary
	t := &trainer{p: p}
	var z []float32
	var scratch []float32
	var n int64
	err := data.Each(ctx, r, p.MiniBatchSize, func(b *data.Batch) error {
		if err := t.checkBatch(b, name, n); err != nil {
			return err
		}
		z, scratch = m.outputs(b, z, scratch)
		for i := 0; i < b.Rows; i++ {
			e.add(z[i*m.k:(i+1)*m.k], float64(b.Label(i)))
		}
		n += int64(b.Rows)
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		metrics.Logf("the %s channel holds no records: no %s metrics", name, name)
		return nil
	}
	if e.dropped > 0 {
		metrics.Logf("%s roc_auc_score is over the first %d records; the other %d are in every other %s metric", name, maxAUCRows, e.dropped, name)
	}
	for _, mt := range e.metrics() {
		metrics.Score(name, mt.name, mt.value)
	}
	return nil
}

// bestHyperparameters is the selected model's optimizer settings as the
// algorithm's own log prints them after training ("Best model found for
// hyperparameters: {...}", the keys in its order), so that a script that
// reads that line from SageMaker's logs reads ours. The scheduler's step is
// the resolved one (auto: the updates of the first epoch).
func (t *trainer) bestHyperparameters() string {
	p := t.p
	step, factor, minLR := t.schedStep, p.LRSchedulerFactor, p.LRSchedulerMinimum
	if !p.UseLRScheduler {
		step, factor, minLR = 0, 1, t.lrM[t.chosen]
	}
	return fmt.Sprintf(`{"optimizer": %q, "learning_rate": %s, "l1": %s, "wd": %s, "lr_scheduler_step": %d, "lr_scheduler_factor": %s, "lr_scheduler_minimum_lr": %s}`,
		p.Optimizer, pyFloat(t.lrM[t.chosen]), pyFloat(t.l1M[t.chosen]), pyFloat(t.wdM[t.chosen]), step, pyFloat(factor), pyFloat(minLR))
}
