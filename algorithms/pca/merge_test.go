package pca

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/cluster/clustertest"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/internal/wire"
)

// trainHosts trains one in-process host per shard, joined through real
// cluster groups on loopback, and returns each host's model and error.
func trainHosts(t *testing.T, hp map[string]any, d int, shards ...[][]float32) ([]*Model, []error) {
	t.Helper()
	v, err := Algorithm{}.Schema().Parse(hp)
	if err != nil {
		t.Fatal(err)
	}
	jobs := make([]*algorithms.Job, len(shards))
	for i, shard := range shards {
		jobs[i] = &algorithms.Job{Hyper: v, Channels: map[string]algorithms.Channel{"train": &memChannel{rows: shard, d: d}},
			Metrics: &fakeMetrics{}, Compute: compute.Current()}
	}
	ms, errs := clustertest.Train(t, context.Background(), Algorithm{}, jobs)
	models := make([]*Model, len(ms))
	for i, m := range ms {
		if m != nil {
			models[i] = m.(*Model)
		}
	}
	return models, errs
}

// splitByFirst sorts rows by their first feature and cuts them into parts
// of the given sizes, so that each shard has its own mean and spread.
func splitByFirst(rows [][]float32, sizes ...int) [][][]float32 {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b []float32) int { return compareF32(a[0], b[0]) })
	var out [][][]float32
	for _, n := range sizes {
		out = append(out, rows[:n])
		rows = rows[n:]
	}
	return out
}

func compareF32(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sameModel checks that got matches want: singular values to tol of the
// largest (float32 sums of different row blocks round differently),
// means to relative tol, directions by |cos| ≥ 1 − tol.
func sameModel(t *testing.T, name string, got, want *Model, tol float64) {
	t.Helper()
	top := float64(slices.Max(want.s))
	for c := range want.s {
		if g, w := float64(got.s[c]), float64(want.s[c]); math.Abs(g-w) > tol*top {
			t.Errorf("%s: s[%d] = %v, want %v", name, c, g, w)
		}
		var dotp float64
		for i := 0; i < want.d; i++ {
			dotp += float64(got.v.Data[i*want.k+c]) * float64(want.v.Data[i*want.k+c])
		}
		if dotp < 1-tol {
			t.Errorf("%s: component %d: cos with the one-host direction %v, want ≥ %v", name, c, dotp, 1-tol)
		}
	}
	for j := range want.mean {
		if g, w := float64(got.mean[j]), float64(want.mean[j]); math.Abs(g-w) > tol*math.Max(math.Abs(w), 1) {
			t.Errorf("%s: mean[%d] = %v, want %v", name, j, g, w)
		}
	}
}

// TestMergeRegular: three hosts with different shards (one empty) give the
// model one host gives on all the rows, centred and not, on every host.
func TestMergeRegular(t *testing.T) {
	sigma := []float64{50, 30, 20, 10, 5, 2, 1, 0.5}
	mean := []float64{3, -2, 100, 0, 1, 1, 7, -50}
	rows, r := knownSpectrum(1000, sigma, mean, 1)
	shards := splitByFirst(rows, 700, 0, 300)
	for _, center := range []string{"true", "false"} {
		hp := map[string]any{"feature_dim": "8", "num_components": "4", "mini_batch_size": "64", "subtract_mean": center}
		one := train(t, hp, &memChannel{rows: rows, d: 8})
		models, errs := trainHosts(t, hp, 8, shards...)
		for i, m := range models {
			if errs[i] != nil {
				t.Fatalf("subtract_mean=%s host %d: %v", center, i+1, errs[i])
			}
			sameModel(t, "subtract_mean="+center+" host "+clustertest.Hosts[i], m, one, 1e-5)
		}
		if center == "true" {
			checkComponents(t, models[0], sigma, r, 1e-4)
		}
	}
}

// TestMergeRandomized: two hosts share Q₀ from both hosts' first rows
// and their sketches add up to the known spectrum; one host's shard is
// shorter than the rows Q₀ is found from.
func TestMergeRandomized(t *testing.T) {
	d := 60
	rows, sigma, r := decaying(d)
	hp := map[string]any{"feature_dim": "60", "num_components": "4", "extra_components": "10",
		"algorithm_mode": "randomized", "mini_batch_size": "100"}
	for _, sizes := range [][]int{{1000, 1000}, {1950, 50}, {2000, 0}} {
		models, errs := trainHosts(t, hp, d, splitByFirst(rows, sizes...)...)
		for i, m := range models {
			if errs[i] != nil {
				t.Fatalf("shards %v host %d: %v", sizes, i+1, errs[i])
			}
			checkComponents(t, m, sigma, r, 1e-3)
			sameModel(t, "follower", m, models[0], 1e-6)
		}
	}
}

// TestMergeNoRecords: no host has a row: every host fails with a client
// error, whichever mode.
func TestMergeNoRecords(t *testing.T) {
	for _, mode := range []string{"regular", "randomized"} {
		hp := map[string]any{"feature_dim": "3", "num_components": "2", "algorithm_mode": mode}
		_, errs := trainHosts(t, hp, 3, nil, nil)
		for i, err := range errs {
			if err == nil || !algorithms.ClientError(err) || !strings.Contains(err.Error(), "the train channels of all 2 hosts hold no records") {
				t.Errorf("%s host %d: %v, want the client error of no records", mode, i+1, err)
			}
		}
	}
}

// FuzzDecodeParts feeds arbitrary bytes to every decoder of what hosts
// send each other: errors, never panics.
func FuzzDecodeParts(f *testing.F) {
	p := Params{FeatureDim: 3, NumComponents: 2, ExtraComponents: 1, Mode: "randomized", SubtractMean: true}
	sc := newScatter(compute.Current(), p, nil)
	sc.add([]float32{1, 2, 3, 4, 5, 7}, 2)
	f.Add(sc.part())
	sk := newSketch(compute.Current(), p, nil)
	sk.ready, sk.n, sk.sumsq = true, 5, 2
	f.Add(sk.part())
	var w wire.Writer
	w.U64(1)
	w.U64(3)
	w.F32s([]float32{1, 2, 3})
	f.Add(w.B)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := sc.merged([][]byte{b}); err == nil && len(b) != len(sc.part()) {
			t.Errorf("scatter: %d bytes accepted", len(b))
		}
		sk.merged([][]byte{b})
		decodeWarm(b, 3)
		decodeSolution(b, 3, 2)
	})
}
