// Package algorithmstest holds checks the algorithms' tests share.
package algorithmstest

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/cluster/clustertest"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/data"
)

// MaxFuzzCols is the widest model whose request Answers builds: a fuzzed
// model file may declare any width, and a request that wide is not what a
// loader's fuzz test is for.
const MaxFuzzCols = 1 << 12

// Answers fails t unless m, a model a loader accepted, answers a request
// of rows rows of its feature_dim (small varied values, dense) with one
// prediction a row. Models wider than MaxFuzzCols are not asked.
func Answers(t testing.TB, m algorithms.Model, rows int) {
	t.Helper()
	cols := m.FeatureDim()
	if cols < 1 || cols > MaxFuzzCols {
		return
	}
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	p, err := m.Predict(context.Background(), &data.Batch{Rows: rows, Cols: cols, Dense: x}, algorithms.PredictOptions{})
	if err != nil {
		t.Fatalf("a model that loads failed a request of %d rows: %v", rows, err)
	}
	if p.Rows != rows {
		t.Fatalf("%d prediction rows for %d", p.Rows, rows)
	}
}

// Train trains a one-host job of algo on channels (the current compute
// backend, no metrics kept) and stops the test if it fails: the models
// other tests start from.
func Train(t testing.TB, algo algorithms.Algorithm, hp map[string]any, channels map[string]algorithms.Channel) algorithms.Model {
	t.Helper()
	m, err := train(algo, hp, channels)
	if err != nil {
		t.Fatalf("%s %v: %v", algo.Name(), hp, err)
	}
	return m
}

// train parses hp and trains a one-host job (host algo-1).
func train(algo algorithms.Algorithm, hp map[string]any, channels map[string]algorithms.Channel) (algorithms.Model, error) {
	v, err := algo.Schema().Parse(hp)
	if err != nil {
		return nil, err
	}
	return algo.Train(context.Background(), &algorithms.Job{Hyper: v, Channels: channels, Metrics: discard{},
		Compute: compute.Current(), Cluster: algorithms.Cluster{CurrentHost: "algo-1", Hosts: []string{"algo-1"}}})
}

// discard is a Metrics sink that keeps nothing.
type discard struct{}

func (discard) Logf(string, ...any)              {}
func (discard) Batch(int)                        {}
func (discard) EpochEnd(int, map[string]float64) {}
func (discard) Score(string, string, float64)    {}

// TrainOrRefuse runs one single-host job of algo on channels, for the
// hyperparameter grid tests: the job must either train a model that
// answers a request, saves, loads back and answers again, or fail (at
// parsing or training) with a ClientError; a panic is reported as a test
// error naming hp. It reports whether a model was trained.
func TrainOrRefuse(t testing.TB, algo algorithms.Algorithm, hp map[string]any, channels map[string]algorithms.Channel) (trained bool) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%v: panic %v", hp, p)
		}
	}()
	mod, err := train(algo, hp, channels)
	if err == nil {
		roundTrip(t, algo, hp, mod)
		return true
	}
	if !algorithms.ClientError(err) {
		t.Errorf("%v: %v is not a ClientError", hp, err)
	}
	return false
}

// roundTrip checks a trained model: it answers a request, saves, loads
// back and answers again.
func roundTrip(t testing.TB, algo algorithms.Algorithm, hp map[string]any, mod algorithms.Model) {
	t.Helper()
	Answers(t, mod, 3)
	dir := t.TempDir()
	if err := mod.Save(dir); err != nil {
		t.Fatalf("%v: %v", hp, err)
	}
	back, err := algo.Load(dir)
	if err != nil {
		t.Errorf("%v: the saved model does not load: %v", hp, err)
		return
	}
	Answers(t, back, 3)
}

// TrainHostsOrRefuse runs one multi-host job of algo, host i on channels[i]
// (clustertest.Train: real groups on loopback), for the drawn-job tests of
// the merges: either every host trains, and the leader's model answers,
// saves, loads back and answers again, or every host fails with a
// ClientError. One host training while another fails is a test error, as
// is a job still running after a minute. It reports whether the job
// trained.
func TrainHostsOrRefuse(t testing.TB, algo algorithms.Algorithm, hp map[string]any, channels []map[string]algorithms.Channel) (trained bool) {
	t.Helper()
	v, err := algo.Schema().Parse(hp)
	if err != nil {
		if !algorithms.ClientError(err) {
			t.Errorf("%v: %v is not a ClientError", hp, err)
		}
		return false
	}
	jobs := make([]*algorithms.Job, len(channels))
	for i, ch := range channels {
		jobs[i] = &algorithms.Job{Hyper: v, Channels: ch, Metrics: discard{}, Compute: compute.Current()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	models, errs := clustertest.Train(t, ctx, algo, jobs)
	failed := 0
	for i, err := range errs {
		switch {
		case err == nil:
		case ctx.Err() != nil:
			t.Fatalf("%v: host %d still training after a minute", hp, i)
		case !algorithms.ClientError(err):
			t.Errorf("%v: host %d: %v is not a ClientError", hp, i, err)
			failed++
		default:
			failed++
		}
	}
	if failed > 0 {
		if failed < len(errs) {
			t.Errorf("%v: %d of %d hosts failed (%v)", hp, failed, len(errs), errs)
		}
		return false
	}
	roundTrip(t, algo, hp, models[0])
	return true
}

// Jobs is how many jobs of n a drawn-jobs test runs: all of them, or an
// eighth under the race detector, whose run is for races in the merges,
// not for the grids' panics (those run without it).
func Jobs(n int) int {
	if clitest.Race {
		return max(1, n/8)
	}
	return n
}

// SkipUnderRace skips a product grid of one-host jobs under the race
// detector: it looks for panics and refusals, which the run without -race
// finds, and would take most of the race run's time.
func SkipUnderRace(t testing.TB) {
	if clitest.Race {
		t.Skip("a grid for panics: run without -race")
	}
}

// DrawJobs runs Jobs(n) one-host jobs of algo, each drawn by draw from a
// generator seeded with seed (TrainOrRefuse decides each), and logs how
// many trained.
func DrawJobs(t *testing.T, seed uint64, n int, algo algorithms.Algorithm, draw func(rng *rand.Rand) (map[string]any, map[string]algorithms.Channel)) {
	t.Helper()
	drawn(t, seed, n, draw, func(hp map[string]any, ch map[string]algorithms.Channel) bool {
		return TrainOrRefuse(t, algo, hp, ch)
	})
}

// DrawHostJobs is DrawJobs for multi-host jobs (TrainHostsOrRefuse): draw
// returns each host's channels.
func DrawHostJobs(t *testing.T, seed uint64, n int, algo algorithms.Algorithm, draw func(rng *rand.Rand) (map[string]any, []map[string]algorithms.Channel)) {
	t.Helper()
	drawn(t, seed, n, draw, func(hp map[string]any, ch []map[string]algorithms.Channel) bool {
		return TrainHostsOrRefuse(t, algo, hp, ch)
	})
}

// drawn runs Jobs(n) drawn jobs through run and logs how many trained.
func drawn[C any](t *testing.T, seed uint64, n int, draw func(*rand.Rand) (map[string]any, C), run func(map[string]any, C) bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	trained, jobs := 0, Jobs(n)
	for range jobs {
		if run(draw(rng)) {
			trained++
		}
	}
	t.Logf("%d jobs, %d trained", jobs, trained)
}

// Pick returns one of vs, drawn by rng.
func Pick[T any](rng *rand.Rand, vs ...T) T { return vs[rng.IntN(len(vs))] }

// Combinations calls fn once for every combination of values (one value
// of each name), in a fixed order (names sorted, the last varying
// fastest), with fn's map holding base's entries as well: a product grid
// without one loop a name.
func Combinations(base map[string]any, values map[string][]string, fn func(hp map[string]any)) {
	names := slices.Sorted(maps.Keys(values))
	idx := make([]int, len(names))
	for {
		hp := maps.Clone(base)
		if hp == nil {
			hp = map[string]any{}
		}
		for i, name := range names {
			if len(values[name]) == 0 {
				return
			}
			hp[name] = values[name][idx[i]]
		}
		fn(hp)
		i := len(names) - 1
		for ; i >= 0; i-- {
			if idx[i]++; idx[i] < len(values[names[i]]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return
		}
	}
}
