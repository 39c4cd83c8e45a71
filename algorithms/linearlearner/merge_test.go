package linearlearner

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/cluster/clustertest"
	"github.com/sagebrush-ml/sagebrush/compute"
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
