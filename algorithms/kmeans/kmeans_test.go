package kmeans

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
	"github.com/sagebrush-ml/sagebrush/compute"
	_ "github.com/sagebrush-ml/sagebrush/compute/cpu"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// memChannel is an in-memory channel over dense rows.
type memChannel struct {
	rows  [][]float32
	d     int
	opens int
	// block, when set, makes Read wait for ctx cancellation after the first batch.
	block bool
	// sparse, when set, gives the rows as CSR batches of their nonzeros.
	sparse bool
	// mixed, when set, gives every other batch as CSR, the first dense
	// (the first CSR with csrFirst).
	mixed, csrFirst bool
}

func (c *memChannel) Name() string { return "mem" }
func (c *memChannel) Open(ctx context.Context, epoch int) (data.BatchReadCloser, error) {
	c.opens++
	return &memReader{c: c, ctx: ctx}, nil
}

type memReader struct {
	c   *memChannel
	ctx context.Context
	pos int
	n   int // batches read
	b   data.Batch
}

func (r *memReader) Read(n int) (*data.Batch, error) {
	if r.c.block && r.pos > 0 {
		<-r.ctx.Done()
		return nil, r.ctx.Err()
	}
	if r.pos >= len(r.c.rows) {
		return nil, io.EOF
	}
	end := min(r.pos+n, len(r.c.rows))
	r.b = data.Batch{Rows: end - r.pos, Cols: r.c.d}
	if sparse := r.c.sparse || r.c.mixed && (r.n%2 == 1) != r.c.csrFirst; sparse {
		r.b = *algorithmstest.CSR(r.c.d, r.c.rows[r.pos:end])
	} else {
		for _, row := range r.c.rows[r.pos:end] {
			r.b.Dense = append(r.b.Dense, row...)
		}
	}
	r.pos, r.n = end, r.n+1
	return &r.b, nil
}
func (r *memReader) Close() error { return nil }

// fakeMetrics records what training reports.
type fakeMetrics struct {
	epochs []map[string]float64
	scores map[string]float64
	rows   int
	logs   []string
}

func (m *fakeMetrics) Logf(format string, args ...any) { m.logs = append(m.logs, format) }
func (m *fakeMetrics) Batch(rows int)                  { m.rows += rows }
func (m *fakeMetrics) EpochEnd(epoch int, train map[string]float64) {
	m.epochs = append(m.epochs, train)
}
func (m *fakeMetrics) Score(channel, name string, v float64) {
	if m.scores == nil {
		m.scores = map[string]float64{}
	}
	m.scores[channel+":"+name] = v
}

// blobs draws n points around each of the given centers with standard
// deviation sd, shuffled.
func blobs(centers [][]float32, n int, sd float64, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	var rows [][]float32
	for _, c := range centers {
		for i := 0; i < n; i++ {
			row := make([]float32, len(c))
			for j := range c {
				row[j] = c[j] + float32(rng.NormFloat64()*sd)
			}
			rows = append(rows, row)
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return rows
}

var trueCenters = [][]float32{
	{0, 0, 0, 0}, {10, 0, 0, 0}, {0, 10, 0, 0}, {0, 0, 10, 0}, {0, 0, 0, 10},
}

func job(t *testing.T, hp map[string]any, channels map[string]algorithms.Channel) (*algorithms.Job, *fakeMetrics) {
	t.Helper()
	v, err := Algorithm{}.Schema().Parse(hp)
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMetrics{}
	return &algorithms.Job{Hyper: v, Channels: channels, Metrics: m, Compute: compute.Current(),
		Cluster: algorithms.Cluster{CurrentHost: "algo-1", Hosts: []string{"algo-1"}}}, m
}

// matchCenters pairs each true center with its nearest learnt one and
// returns the largest distance.
func matchCenters(t *testing.T, got compute.Matrix, want [][]float32) float64 {
	t.Helper()
	if got.Rows != len(want) {
		t.Fatalf("got %d centers, want %d", got.Rows, len(want))
	}
	worst := 0.0
	used := map[int]bool{}
	for _, w := range want {
		best, bi := math.Inf(1), -1
		for i := 0; i < got.Rows; i++ {
			var s float64
			for j, v := range got.Row(i) {
				s += (float64(v) - float64(w[j])) * (float64(v) - float64(w[j]))
			}
			if s < best {
				best, bi = s, i
			}
		}
		if used[bi] {
			t.Fatalf("two true centers matched learnt center %d: %v", bi, got.Data)
		}
		used[bi] = true
		worst = math.Max(worst, math.Sqrt(best))
	}
	return worst
}

func TestRecoversBlobs(t *testing.T) {
	rows := blobs(trueCenters, 400, 0.5, 1)
	test := blobs(trueCenters, 100, 0.5, 2)
	cases := []struct {
		name string
		hp   map[string]any
	}{
		{"defaults", map[string]any{}},
		{"kmeans++ init", map[string]any{"init_method": "kmeans++"}},
		{"random local init, 3 trials", map[string]any{"local_lloyd_init_method": "random", "local_lloyd_num_trials": "3"}},
		{"no extra centers", map[string]any{"extra_center_factor": "1", "init_method": "kmeans++"}},
		{"half life and epochs", map[string]any{"half_life_time_size": "500", "epochs": "3"}},
		{"small batches", map[string]any{"mini_batch_size": "100"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hp := map[string]any{"feature_dim": "4", "k": "5", "mini_batch_size": "500", "eval_metrics": `["msd", "ssd"]`}
			for k, v := range tc.hp {
				hp[k] = v
			}
			ch := &memChannel{rows: rows, d: 4}
			j, m := job(t, hp, map[string]algorithms.Channel{"train": ch, "test": &memChannel{rows: test, d: 4}})
			model, err := Algorithm{}.Train(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			// Points have sd 0.5 per coordinate around centers 10 apart: the
			// learnt centers sit within 0.25 of the true ones (mean of ≥400
			// points, sd 0.5/sqrt(400)*2 in 4-d, plus mini-batch drift).
			if d := matchCenters(t, model.(*Model).Centers(), trueCenters); d > 0.25 {
				t.Errorf("farthest learnt center is %.3f from the truth, want <= 0.25", d)
			}
			// test msd ≈ E‖noise‖² = 4 × 0.25 = 1.0.
			if msd := m.scores["test:msd"]; math.Abs(msd-1.0) > 0.15 {
				t.Errorf("test:msd = %v, want 1.0 ± 0.15", msd)
			}
			if ssd, msd := m.scores["test:ssd"], m.scores["test:msd"]; math.Abs(ssd-msd*500) > 1e-6*ssd {
				t.Errorf("test:ssd = %v, want msd × 500 = %v", ssd, msd*500)
			}
			if epochs := j.Hyper.Int("epochs"); ch.opens != epochs || len(m.epochs) != epochs || m.rows != epochs*len(rows) {
				t.Errorf("opens=%d epochs reported=%d rows=%d, want %d, %d, %d", ch.opens, len(m.epochs), m.rows, epochs, epochs, epochs*len(rows))
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	rows := blobs(trueCenters, 200, 1, 3)
	train := func() []float32 {
		j, _ := job(t, map[string]any{"feature_dim": "4", "k": "5", "init_method": "kmeans++"},
			map[string]algorithms.Channel{"train": &memChannel{rows: rows, d: 4}})
		m, err := Algorithm{}.Train(context.Background(), j)
		if err != nil {
			t.Fatal(err)
		}
		return m.(*Model).Centers().Data
	}
	a, b := train(), train()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("two runs differ at %d: %v vs %v", i, a[i], b[i])
		}
	}
}

func TestTooFewRows(t *testing.T) {
	j, _ := job(t, map[string]any{"feature_dim": "4", "k": "5"},
		map[string]algorithms.Channel{"train": &memChannel{rows: trueCenters[:3], d: 4}})
	_, err := Algorithm{}.Train(context.Background(), j)
	if err == nil || !algorithms.ClientError(err) || !strings.Contains(err.Error(), "k is 5") {
		t.Fatalf("got %v, want a client error naming k", err)
	}
	j, _ = job(t, map[string]any{"feature_dim": "4", "k": "5"},
		map[string]algorithms.Channel{"train": &memChannel{d: 4}})
	if _, err = (Algorithm{}).Train(context.Background(), j); err == nil || !algorithms.ClientError(err) {
		t.Fatalf("empty channel: got %v, want a client error", err)
	}
}

// TestFewerRowsThanCenters: K = k × 10 shrinks to the rows available.
func TestFewerRowsThanCenters(t *testing.T) {
	rows := blobs(trueCenters, 6, 0.1, 4) // 30 rows < K = 50
	j, _ := job(t, map[string]any{"feature_dim": "4", "k": "5"}, map[string]algorithms.Channel{"train": &memChannel{rows: rows, d: 4}})
	m, err := Algorithm{}.Train(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	if d := matchCenters(t, m.(*Model).Centers(), trueCenters); d > 0.2 {
		t.Errorf("farthest center %.3f from the truth", d)
	}
}

// TestCancelledKeepsModel: SIGTERM mid-training still yields a valid model
// from the centers learnt so far, with the context's error.
func TestCancelledKeepsModel(t *testing.T) {
	rows := blobs(trueCenters, 200, 0.5, 5)
	ctx, cancel := context.WithCancel(context.Background())
	ch := &memChannel{rows: rows, d: 4, block: true}
	j, _ := job(t, map[string]any{"feature_dim": "4", "k": "5", "mini_batch_size": "500"}, map[string]algorithms.Channel{"train": ch})
	j.Metrics = &cancelAfterBatch{fakeMetrics: &fakeMetrics{}, cancel: cancel}
	m, err := Algorithm{}.Train(ctx, j)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if m == nil || m.(*Model).Centers().Rows != 5 {
		t.Fatalf("got model %v, want 5 centers", m)
	}
}

type cancelAfterBatch struct {
	*fakeMetrics
	cancel func()
}

func (c *cancelAfterBatch) Batch(rows int) { c.cancel() }

func TestSaveLoadPredict(t *testing.T) {
	centers := compute.MatrixOf(3, 2, []float32{0, 0, 3, 4, -1, -1})
	m := newModel(centers, 2, "algo-1")
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	// The artifact is SageMaker's layout: one (k, d) float32 array in a list.
	f, err := mxnet.ReadFile(filepath.Join(dir, "model_algo-1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Arrays) != 1 || f.Names != nil || f.Arrays[0].DType != mxnet.Float32 ||
		len(f.Arrays[0].Shape) != 2 || f.Arrays[0].Shape[0] != 3 || f.Arrays[0].Shape[1] != 2 {
		t.Fatalf("artifact: %+v", f)
	}
	loaded, err := Algorithm{}.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := &data.Batch{Rows: 3, Cols: 2, Dense: []float32{3, 4.5, 0.1, 0, -2, -2}}
	p, err := loaded.Predict(context.Background(), b, algorithms.PredictOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantCluster := []float32{1, 0, 2}
	wantDist := []float64{0.5, 0.1, math.Sqrt2}
	if p.Rows != 3 || len(p.Outputs) != 2 || p.Outputs[0].Name != "closest_cluster" || p.Outputs[1].Name != "distance_to_cluster" {
		t.Fatalf("outputs: %+v", p)
	}
	for i := range wantCluster {
		if p.Outputs[0].Values[i] != wantCluster[i] {
			t.Errorf("row %d: closest_cluster %v, want %v", i, p.Outputs[0].Values[i], wantCluster[i])
		}
		if d := float64(p.Outputs[1].Values[i]); math.Abs(d-wantDist[i]) > 1e-6 {
			t.Errorf("row %d: distance_to_cluster %v, want %v", i, d, wantDist[i])
		}
	}
	// Sparse rows give the same answers.
	sb := &data.Batch{Rows: 3, Cols: 2, Indptr: []int{0, 2, 3, 5}, Indices: []int32{0, 1, 0, 0, 1}, Values: []float32{3, 4.5, 0.1, -2, -2}}
	sp, err := loaded.Predict(context.Background(), sb, algorithms.PredictOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range wantCluster {
		if sp.Outputs[0].Values[i] != p.Outputs[0].Values[i] || sp.Outputs[1].Values[i] != p.Outputs[1].Values[i] {
			t.Errorf("row %d: sparse answer differs from dense", i)
		}
	}
	if _, err := loaded.Predict(context.Background(), &data.Batch{Rows: 1, Cols: 3, Dense: []float32{1, 2, 3}}, algorithms.PredictOptions{}); err == nil || !algorithms.ClientError(err) {
		t.Errorf("wrong width: got %v, want a client error", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := (Algorithm{}).Load(dir); err == nil {
		t.Error("empty dir: want an error")
	}
	if err := os.WriteFile(filepath.Join(dir, "model_algo-1"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (Algorithm{}).Load(dir); err == nil {
		t.Error("junk file: want an error")
	}
}

func TestSchemaDefaults(t *testing.T) {
	v, err := Algorithm{}.Schema().Parse(map[string]any{"feature_dim": "784", "k": "10"})
	if err != nil {
		t.Fatal(err)
	}
	p := ParamsFrom(v)
	want := Params{FeatureDim: 784, K: 10, Epochs: 1, EvalMetrics: []string{"msd"}, ExtraCenterFactor: 10,
		HalfLifeTimeSize: 0, InitMethod: "random", LloydInitMethod: "kmeans++", LloydMaxIter: 300,
		LloydNumTrials: autoLloydTrials, LloydTol: 0.0001, MiniBatchSize: 5000}
	if strings.Join(p.EvalMetrics, ",") != "msd" {
		t.Errorf("eval_metrics %v", p.EvalMetrics)
	}
	p.EvalMetrics, want.EvalMetrics = nil, nil
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got %+v\nwant %+v", p, want)
	}
	names := []string{}
	for _, prm := range (Algorithm{}).Schema().Params {
		names = append(names, prm.Name)
	}
	sort.Strings(names)
	if len(names) != 12 {
		t.Errorf("%d hyperparameters, want the 12 documented: %v", len(names), names)
	}
}
