package linearlearner

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/cluster/clustertest"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/internal/wire"
)

// trainHosts trains one in-process host per entry of channels, joined
// through real cluster groups on loopback.
func trainHosts(t *testing.T, hp map[string]any, channels ...map[string]algorithms.Channel) ([]*Model, []*fakeMetrics, []error) {
	t.Helper()
	v, err := Algorithm{}.Schema().Parse(hp)
	if err != nil {
		t.Fatal(err)
	}
	jobs := make([]*algorithms.Job, len(channels))
	metrics := make([]*fakeMetrics, len(channels))
	for i, ch := range channels {
		metrics[i] = &fakeMetrics{}
		jobs[i] = &algorithms.Job{Hyper: v, Channels: ch, Metrics: metrics[i], Compute: compute.Current()}
	}
	ms, errs := clustertest.Train(t, context.Background(), Algorithm{}, jobs)
	models := make([]*Model, len(ms))
	for i, m := range ms {
		if m != nil {
			models[i] = m.(*Model)
		}
	}
	return models, metrics, errs
}

// byLabel splits c into the rows whose label is below cut and the rest.
func byLabel(c *memChannel, cut float32) (lo, hi *memChannel) {
	lo, hi = &memChannel{d: c.d}, &memChannel{d: c.d}
	for i, y := range c.y {
		dst := hi
		if y < cut {
			dst = lo
		}
		dst.x = append(dst.x, c.x[i])
		dst.y = append(dst.y, y)
	}
	return lo, hi
}

// sameModels fails t unless every host holds the leader's model.
func sameModels(t *testing.T, models []*Model) {
	t.Helper()
	for i, m := range models[1:] {
		if !slices.Equal(m.w.Data, models[0].w.Data) || !slices.Equal(m.b, models[0].b) || m.threshold != models[0].threshold {
			t.Errorf("host %d's model differs from the leader's", i+2)
		}
	}
}

// TestMergeBinaryShards: each host holds one class only (ShardedByS3Key
// over files sorted by label), which no host could learn from alone;
// the merged job learns the problem, with and without a validation
// channel (sharded the same way: the leader alone scores it).
func TestMergeBinaryShards(t *testing.T) {
	neg, pos := byLabel(synth(4000, 3, 6, binaryTarget), 1)
	vneg, vpos := byLabel(synth(1000, 3, 7, binaryTarget), 1)
	test := synth(2000, 3, 8, binaryTarget)
	hp := map[string]any{"feature_dim": "3", "predictor_type": "binary_classifier", "mini_batch_size": "100", "num_models": "8", "epochs": "8"}
	for _, withVal := range []bool{false, true} {
		chans := []map[string]algorithms.Channel{{"train": neg, "test": test}, {"train": pos, "test": test}}
		if withVal {
			chans[0]["validation"], chans[1]["validation"] = vneg, vpos
		}
		models, metrics, errs := trainHosts(t, hp, chans...)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("validation %v, host %d: %v", withVal, i+1, err)
			}
			// The Bayes accuracy of this problem is about 0.85.
			if acc := metrics[i].scores["test:binary_classification_accuracy"]; !(acc > 0.80) {
				t.Errorf("validation %v, host %d: test accuracy %v, want > 0.80", withVal, i+1, acc)
			}
		}
		sameModels(t, models)
	}
}

// TestMergeRegression: shards cut by the first feature; both hosts' model
// fits the whole line to about the noise (sd 0.5).
func TestMergeRegression(t *testing.T) {
	all := synth(4000, 3, 1, linearTarget)
	a, b := &memChannel{d: 3}, &memChannel{d: 3}
	for i, x := range all.x {
		dst := b
		if standardized(x, 0) < 0 {
			dst = a
		}
		dst.x = append(dst.x, x)
		dst.y = append(dst.y, all.y[i])
	}
	test := synth(2000, 3, 2, linearTarget)
	hp := map[string]any{"feature_dim": "3", "predictor_type": "regressor", "mini_batch_size": "100", "num_models": "4", "epochs": "10"}
	models, metrics, errs := trainHosts(t, hp, map[string]algorithms.Channel{"train": a, "test": test}, map[string]algorithms.Channel{"train": b, "test": test})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("host %d: %v", i+1, err)
		}
		if rmse := math.Sqrt(metrics[i].scores["test:mse"]); !(rmse < 0.6) {
			t.Errorf("host %d: test RMSE %v, want < 0.6 (noise 0.5)", i+1, rmse)
		}
	}
	sameModels(t, models)
}

// TestMergeEmptyHost: a host without records takes part with none; when no
// host has any, every host fails with a client error.
func TestMergeEmptyHost(t *testing.T) {
	hp := map[string]any{"feature_dim": "3", "predictor_type": "binary_classifier", "mini_batch_size": "100", "num_models": "4", "epochs": "5"}
	test := synth(1000, 3, 8, binaryTarget)
	models, metrics, errs := trainHosts(t, hp,
		map[string]algorithms.Channel{"train": &memChannel{d: 3}, "test": test},
		map[string]algorithms.Channel{"train": synth(3000, 3, 6, binaryTarget), "test": test})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("host %d: %v", i+1, err)
		}
		if acc := metrics[i].scores["test:binary_classification_accuracy"]; !(acc > 0.80) {
			t.Errorf("host %d: test accuracy %v, want > 0.80", i+1, acc)
		}
	}
	sameModels(t, models)

	_, _, errs = trainHosts(t, hp, map[string]algorithms.Channel{"train": &memChannel{d: 3}}, map[string]algorithms.Channel{"train": &memChannel{d: 3}})
	for i, err := range errs {
		if err == nil || !algorithms.ClientError(err) || !strings.Contains(err.Error(), "the train channels of all 2 hosts hold no records") {
			t.Errorf("no records, host %d: %v, want the client error of no train records", i+1, err)
		}
	}

	// Validation channels present but empty on every host.
	tr := synth(1000, 3, 6, binaryTarget)
	_, _, errs = trainHosts(t, hp,
		map[string]algorithms.Channel{"train": tr, "validation": &memChannel{d: 3}},
		map[string]algorithms.Channel{"train": tr, "validation": &memChannel{d: 3}})
	for i, err := range errs {
		if err == nil || !algorithms.ClientError(err) || !strings.Contains(err.Error(), "the validation channels of all 2 hosts hold no records") {
			t.Errorf("no validation records, host %d: %v, want the client error of no validation records", i+1, err)
		}
	}
}

// TestMergeInterrupted: SIGTERM reaches every host mid-training (the
// leader's context is cancelled at the end of its second epoch, the
// follower's wherever it is): both return promptly with the cancellation,
// the leader with a model of what was learnt.
func TestMergeInterrupted(t *testing.T) {
	hp := map[string]any{"feature_dim": "3", "predictor_type": "binary_classifier", "mini_batch_size": "100", "num_models": "4", "epochs": "50"}
	v, err := Algorithm{}.Schema().Parse(hp)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lead := &fakeMetrics{}
	jobs := []*algorithms.Job{
		{Hyper: v, Channels: map[string]algorithms.Channel{"train": synth(2000, 3, 6, binaryTarget)},
			Metrics: cancelAfter{fakeMetrics: lead, n: 2, cancel: cancel}, Compute: compute.Current()},
		{Hyper: v, Channels: map[string]algorithms.Channel{"train": synth(2000, 3, 9, binaryTarget)},
			Metrics: &fakeMetrics{}, Compute: compute.Current()},
	}
	done := make(chan struct{})
	var models []algorithms.Model
	var errs []error
	go func() {
		defer close(done)
		models, errs = clustertest.Train(t, ctx, Algorithm{}, jobs)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the hosts did not return within 30 s of the cancellation")
	}
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("host %d: %v, want context.Canceled", i+1, err)
		}
	}
	if models[0] == nil {
		t.Errorf("the leader returned no model of what it learnt")
	}
}

// FuzzDecodeStats feeds arbitrary bytes to the decoder of a host's sample
// sums: errors, never panics.
func FuzzDecodeStats(f *testing.F) {
	st := &sampleStats{n: 2, sum: []float64{1, 2, 3}, sq: []float64{1, 4, 9}, counts: []float64{1, 1}}
	f.Add(st.encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeStats(b, 3, 2)
		if err == nil && (len(got.sum) != 3 || len(got.sq) != 3 || len(got.counts) != 2) {
			t.Errorf("decoded %+v from %d bytes", got, len(b))
		}
	})
}

// sparseRegression is n rows of d features with nnz stored entries each
// (N(0,1) values at uniform positions) and the label Σ x_j·j/d plus noise,
// given as CSR rows when sparse.
func sparseRegression(n, d, nnz int, seed uint64, sparse bool) *memChannel {
	rng := rand.New(rand.NewPCG(seed, 3))
	c := &memChannel{d: d, sparse: sparse}
	for range n {
		x := make([]float32, d)
		y := 0.1 * rng.NormFloat64()
		for range nnz {
			j := rng.IntN(d)
			x[j] = float32(rng.NormFloat64())
			y += float64(x[j]) * float64(j) / float64(d)
		}
		c.x, c.y = append(c.x, x), append(c.y, float32(y))
	}
	return c
}

// alternate deals c's rows to two channels a batch of size rows at a time:
// the first, third, … batches to one, the others to the other.
func alternate(c *memChannel, size int) (a, b *memChannel) {
	a, b = &memChannel{d: c.d, sparse: c.sparse}, &memChannel{d: c.d, sparse: c.sparse}
	for i, x := range c.x {
		dst := a
		if i/size%2 == 1 {
			dst = b
		}
		dst.x, dst.y = append(dst.x, x), append(dst.y, c.y[i])
	}
	return a, b
}

// sameScores fails t unless a and b score c's first rows alike, to float32
// rounding of sums taken in another order.
func sameScores(t *testing.T, what string, a, b *Model, c *memChannel) {
	t.Helper()
	pa, pb := predict(t, a, c.x[:200]...).Outputs[0].Values, predict(t, b, c.x[:200]...).Outputs[0].Values
	for i := range pa {
		if math.Abs(float64(pa[i]-pb[i])) > 1e-3*(1+math.Abs(float64(pb[i]))) {
			t.Fatalf("%s: row %d scores %v and %v", what, i, pa[i], pb[i])
		}
	}
}

// TestMergeSparseSameAsOneHost: two hosts whose sparse mini-batches of 100
// rows alternate train the model one host trains on mini-batches of 200,
// the pairs put together: a step of a multi-host job averages the hosts'
// gradients (weighted by rows) and updates the rows of the features any
// of the hosts' batches held (mergeSteps sends them as rows, not d × M·K).
// The features (2,000, four a row) are far more than a batch holds, so the
// lazy update's rows matter.
func TestMergeSparseSameAsOneHost(t *testing.T) {
	all := sparseRegression(2000, 2000, 4, 11, true)
	a, b := alternate(all, 100)
	hp := map[string]any{"feature_dim": "2000", "predictor_type": "regressor", "num_models": "1", "epochs": "5", "wd": "0.001", "l1": "0.0001"}
	hp["mini_batch_size"] = "200"
	one, _ := train(t, hp, map[string]algorithms.Channel{"train": all})
	hp["mini_batch_size"] = "100"
	models, _, errs := trainHosts(t, hp, map[string]algorithms.Channel{"train": a}, map[string]algorithms.Channel{"train": b})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("host %d: %v", i+1, err)
		}
	}
	sameModels(t, models)
	sameScores(t, "one host against two", one, models[0], all)
}

// TestMergeDenseAndSparseHosts: one host reads dense rows and the other
// CSR rows (unshifted, so the second host's steps are lazy): the leader
// merges a dense gradient and rows into a dense step, and the model is the
// one two dense hosts train.
func TestMergeDenseAndSparseHosts(t *testing.T) {
	all := sparseRegression(2000, 300, 4, 12, false)
	a, b := alternate(all, 100)
	bs := b.clone()
	bs.sparse = true
	hp := map[string]any{"feature_dim": "300", "predictor_type": "regressor", "num_models": "2", "epochs": "4", "unbias_data": "false", "mini_batch_size": "100"}
	dense, _, errs := trainHosts(t, hp, map[string]algorithms.Channel{"train": a}, map[string]algorithms.Channel{"train": b})
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("dense hosts: %v", errs)
	}
	mixed, _, errs := trainHosts(t, hp, map[string]algorithms.Channel{"train": a}, map[string]algorithms.Channel{"train": bs})
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("a dense and a sparse host: %v", errs)
	}
	sameModels(t, mixed)
	sameScores(t, "dense hosts against a dense and a sparse host", dense[0], mixed[0], all)
}

// FuzzMergeSteps feeds two arbitrary parts to the leader's merge of a step
// (5 features, 2 models): an error, or a step every host can read; never a
// panic, and the feature positions it marks are all cleared again (a later
// step reuses them).
func FuzzMergeSteps(f *testing.F) {
	newTrainer := func() *trainer { return &trainer{p: Params{FeatureDim: 5}, M: 2, K: 1, cols: 2} }
	s := newTrainer()
	dense := slices.Clone(s.densePart(compute.MatrixOf(5, 2, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}), []float32{1, 2}, 3))
	rows := slices.Clone(s.rowsPart([]int32{4, 0}, []float32{1, 2, 3, 4}, []float32{5, 6}, 2))
	losses := slices.Clone(s.lossPart([]float64{0.5, 0.25}, 7))
	f.Add(dense, rows)
	f.Add(rows, rows)
	f.Add(rows, losses)
	f.Add(losses, losses)
	f.Add(rows[:30], dense)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		tr := newTrainer()
		res, err := tr.mergeSteps([][]byte{a, b})
		for _, slots := range [][]int32{tr.slot, tr.unionSlot} {
			for j, s := range slots {
				if s != -1 {
					t.Fatalf("feature %d left at position %d", j, s)
				}
			}
		}
		if err != nil {
			return
		}
		r := wire.NewReader(res)
		kind, _ := r.U64(), r.Count()
		switch kind {
		case partLosses:
			r.F64s(tr.M)
		case partDense:
			r.F32s(5 * 2)
			r.F32s(2)
		case partRows:
			if _, _, _, err := tr.readRows(r); err != nil {
				t.Fatalf("the merged rows: %v", err)
			}
		default:
			t.Fatalf("merged step of kind %d", kind)
		}
		if err := r.Done(); err != nil {
			t.Fatalf("the merged step of kind %d: %v", kind, err)
		}
	})
}

// TestMergeStepsRefusesCorruptCounts: the leader refuses a host's
// gradient of no rows, and row counts whose sum would pass int64 (before
// the check, the sum wrapped negative: FuzzMergeSteps).
func TestMergeStepsRefusesCorruptCounts(t *testing.T) {
	tr := &trainer{p: Params{FeatureDim: 5}, M: 2, K: 1, cols: 2}
	rows := func(n int) []byte {
		return slices.Clone(tr.rowsPart([]int32{1}, []float32{1, 2}, []float32{3, 4}, n))
	}
	for _, tc := range []struct {
		parts [][]byte
		want  string
	}{
		{[][]byte{rows(3), rows(0)}, "host 2 sent the gradient of no rows"},
		{[][]byte{rows(math.MaxInt64), rows(2)}, "host 2's step of 2 rows overflows the count of rows"},
	} {
		if _, err := tr.mergeSteps(tc.parts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}
