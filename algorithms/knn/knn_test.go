package knn

import (
	"cmp"
	"context"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/compute/cpu"
	"github.com/sagebrush-ml/sagebrush/data"
)

// memChannel is an in-memory channel of dense labelled rows.
type memChannel struct {
	x      []float32
	labels []float32
	d      int
	sparse bool // batches as CSR of the rows' nonzeros
}

func (c *memChannel) Name() string { return "mem" }
func (c *memChannel) Open(ctx context.Context, epoch int) (data.BatchReadCloser, error) {
	return &memReader{c: c}, nil
}

type memReader struct {
	c   *memChannel
	pos int
	b   data.Batch
}

func (r *memReader) Read(n int) (*data.Batch, error) {
	rows := len(r.c.labels)
	if r.pos >= rows {
		return nil, io.EOF
	}
	end := min(r.pos+n, rows)
	r.b = data.Batch{Rows: end - r.pos, Cols: r.c.d, LabelSize: 1,
		Dense:  r.c.x[r.pos*r.c.d : end*r.c.d],
		Labels: r.c.labels[r.pos:end]}
	if r.c.sparse {
		rows := make([][]float32, end-r.pos)
		for i := range rows {
			rows[i] = r.c.x[(r.pos+i)*r.c.d : (r.pos+i+1)*r.c.d]
		}
		r.b = *algorithmstest.CSR(r.c.d, rows)
		r.b.LabelSize, r.b.Labels = 1, r.c.labels[r.pos:end]
	}
	r.pos = end
	return &r.b, nil
}
func (r *memReader) Close() error { return nil }

type fakeMetrics struct {
	scores map[string]float64
	logs   []string
}

func (m *fakeMetrics) Logf(format string, args ...any)  { m.logs = append(m.logs, format) }
func (m *fakeMetrics) Batch(rows int)                   {}
func (m *fakeMetrics) EpochEnd(int, map[string]float64) {}
func (m *fakeMetrics) Score(channel, name string, v float64) {
	if m.scores == nil {
		m.scores = map[string]float64{}
	}
	m.scores[channel+":"+name] = v
}

// blobs draws n labelled rows around c random centers in d dims (label =
// center index), sd 1 around centers spread by 8.
func blobs(n, d, c int, seed uint64) (x, labels []float32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	centers := make([]float32, c*d)
	for i := range centers {
		centers[i] = float32(rng.NormFloat64() * 8)
	}
	x = make([]float32, n*d)
	labels = make([]float32, n)
	for i := range n {
		l := rng.IntN(c)
		labels[i] = float32(l)
		for j := range d {
			x[i*d+j] = centers[l*d+j] + float32(rng.NormFloat64())
		}
	}
	return x, labels
}

func randMatrix(rng *rand.Rand, rows, cols int) compute.Matrix {
	m := compute.NewMatrix(rows, cols)
	for i := range m.Data {
		m.Data[i] = float32(rng.NormFloat64())
	}
	return m
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

func TestSchema(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		hp := map[string]any{"feature_dim": "20", "k": "5", "predictor_type": "classifier", "sample_size": "100"}
		for k, v := range extra {
			if v == nil {
				delete(hp, k)
			} else {
				hp[k] = v
			}
		}
		return hp
	}
	v, err := schema.Parse(base(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := ParamsFrom(v)
	want := Params{FeatureDim: 20, K: 5, PredictorType: "classifier", SampleSize: 100, Metric: "L2", IndexType: IndexFlat, MiniBatchSize: 5000}
	if p != want {
		t.Errorf("defaults: got %+v, want %+v", p, want)
	}
	for _, tc := range []struct {
		name string
		hp   map[string]any
		want string // substring of the error; "" = valid
	}{
		{"missing k", base(map[string]any{"k": nil}), `"k" is required`},
		{"missing sample_size", base(map[string]any{"sample_size": nil}), `sample_size`},
		{"bad predictor", base(map[string]any{"predictor_type": "binary"}), `predictor_type`},
		{"k zero", base(map[string]any{"k": "0"}), `"k"`},
		{"target without type is ignored", base(map[string]any{"dimension_reduction_target": "5"}), ""},
		{"type without target", base(map[string]any{"dimension_reduction_type": "sign"}), `dimension_reduction_target`},
		{"target too big", base(map[string]any{"dimension_reduction_type": "fjlt", "dimension_reduction_target": "20"}), `less than feature_dim (20)`},
		{"reduction ok", base(map[string]any{"dimension_reduction_type": "fjlt", "dimension_reduction_target": "19"}), ""},
		{"pq_m not allowed", base(map[string]any{"faiss_index_pq_m": "5"}), `faiss_index_pq_m`},
		{"pq_m ok", base(map[string]any{"faiss_index_pq_m": "4", "index_type": IndexIVFPQ}), ""},
		{"ivfpq cosine", base(map[string]any{"index_type": IndexIVFPQ, "index_metric": "COSINE"}), `not supported with index_type faiss.IVFPQ`},
		{"ivfpq ip", base(map[string]any{"index_type": IndexIVFPQ, "index_metric": "INNER_PRODUCT"}), `not supported`},
		{"ivfflat cosine", base(map[string]any{"index_type": IndexIVFFlat, "index_metric": "COSINE"}), ""},
		{"bad index", base(map[string]any{"index_type": "faiss.HNSW"}), `index_type`},
		{"nlists auto", base(map[string]any{"faiss_index_ivf_nlists": "auto"}), ""},
		{"nlists int", base(map[string]any{"faiss_index_ivf_nlists": "7"}), ""},
		{"nlists zero", base(map[string]any{"faiss_index_ivf_nlists": "0"}), `faiss_index_ivf_nlists`},
		{"unknown", base(map[string]any{"mini_batch_siz": "10"}), `mini_batch_size`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := schema.Parse(tc.hp)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !algorithms.ClientError(err) {
				t.Fatalf("got %v, want a client error containing %q", err, tc.want)
			}
		})
	}
	if got := AutoNLists(60000); got != 245 {
		t.Errorf("AutoNLists(60000) = %d, want 245 (round(sqrt))", got)
	}
	if got := DefaultPQM(784); got != 56 {
		t.Errorf("DefaultPQM(784) = %d, want 56", got)
	}
}

// TestReservoirUniform: each of 1000 streamed rows lands in a 100-row
// sample with probability 0.1. Over 2000 samples (fixed seed) the
// inclusion counts of 10 blocks of 100 rows are compared with their
// expectation (20,000 each) by a chi-square test: 9 degrees of freedom,
// 27.88 is the 0.999 quantile. Early and late rows must be alike.
func TestReservoirUniform(t *testing.T) {
	const n, size, trials, blocks = 1000, 100, 2000, 10
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, n)
	labels := make([]float32, n)
	for i := range labels {
		x[i], labels[i] = float32(i), float32(i)
	}
	counts := make([]float64, blocks)
	for range trials {
		r := NewReservoir(size, 1, rng)
		for lo := 0; lo < n; lo += 64 { // mini-batches of 64
			hi := min(lo+64, n)
			r.Offer(&data.Batch{Rows: hi - lo, Cols: 1, Dense: x[lo:hi], Labels: labels[lo:hi], LabelSize: 1})
		}
		if r.Len() != size || r.Seen != n {
			t.Fatalf("reservoir holds %d of %d seen, want %d of %d", r.Len(), r.Seen, size, n)
		}
		for i, l := range r.Labels {
			if r.X[i] != l {
				t.Fatalf("row %v kept with label %v", r.X[i], l)
			}
			counts[int(l)/(n/blocks)]++
		}
	}
	want := float64(trials*size) / blocks
	var chi2 float64
	for _, c := range counts {
		chi2 += (c - want) * (c - want) / want
	}
	if chi2 > 27.88 {
		t.Errorf("chi-square %.2f over %v, want <= 27.88 (uniform at p=0.001)", chi2, counts)
	}
	// Fewer rows than the sample size: all kept.
	r := NewReservoir(size, 1, rng)
	r.Offer(&data.Batch{Rows: 10, Cols: 1, Dense: x[:10], Labels: labels[:10], LabelSize: 1})
	if r.Len() != 10 {
		t.Errorf("10 rows into a 100-row reservoir: holds %d", r.Len())
	}
}

// bruteForce returns the k nearest by the backend's PairwiseL2 (or -Gemm)
// row, sorted by (distance, index).
func bruteForce(x, y compute.Matrix, k int, ip bool) ([]float32, []int32) {
	be := compute.Current()
	d := compute.NewMatrix(x.Rows, y.Rows)
	if ip {
		be.Gemm(false, true, -1, x, y, 0, d)
	} else {
		be.PairwiseL2(d, x, y, nil)
	}
	dist, ids := make([]float32, x.Rows*k), make([]int32, x.Rows*k)
	for i := range x.Rows {
		row := d.Row(i)
		order := make([]int32, y.Rows)
		for j := range order {
			order[j] = int32(j)
		}
		slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(row[a], row[b]) })
		for p := range k {
			ids[i*k+p], dist[i*k+p] = order[p], row[order[p]]
		}
	}
	return dist, ids
}

// TestFlatEqualsBruteForce: Flat search is exact, bit for bit.
func TestFlatEqualsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	be := compute.Current()
	y, q := randMatrix(rng, 3000, 64), randMatrix(rng, 300, 64)
	for _, ip := range []bool{false, true} {
		f := NewFlat(64, ip)
		f.Add(be, compute.MatrixOf(1000, 64, y.Data))
		f.Add(be, compute.MatrixOf(2000, 64, y.Data[1000*64:]))
		const k = 10
		dist, ids := make([]float32, q.Rows*k), make([]int32, q.Rows*k)
		f.Search(be, q, k, dist, ids, SearchParams{})
		wd, wi := bruteForce(q, y, k, ip)
		if !slices.Equal(ids, wi) || !slices.Equal(dist, wd) {
			t.Fatalf("ip=%t: Flat search differs from brute force", ip)
		}
	}
}

// recall is the fraction of the true k nearest found.
func recall(got, want []int32, k int) float64 {
	hit := 0
	for i := 0; i < len(want); i += k {
		for _, w := range want[i : i+k] {
			if slices.Contains(got[i:i+k], w) {
				hit++
			}
		}
	}
	return float64(hit) / float64(len(want))
}

// TestIVFRecall: on 4000 clustered rows (32 dims, 40 blobs) with 63 lists
// (auto), recall@10 against exact search is at least 0.9 at nprobe=8
// (faiss's tests expect about this at nprobe/nlist = 1/8 on clustered
// data), and scanning every list gives exactly the Flat answer.
func TestIVFRecall(t *testing.T) {
	be := compute.Current()
	xs, _ := blobs(4000, 32, 40, 1)
	qs, _ := blobs(200, 32, 40, 1)
	x, q := compute.MatrixOf(4000, 32, xs), compute.MatrixOf(200, 32, qs)
	const k = 10
	wd, wi := bruteForce(q, x, k, false)
	ivf := NewIVFFlat(32, AutoNLists(4000), false)
	if err := ivf.Train(be, x, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Fatal(err)
	}
	ivf.Add(be, x)
	dist, ids := make([]float32, q.Rows*k), make([]int32, q.Rows*k)
	ivf.Search(be, q, k, dist, ids, SearchParams{NProbe: 8})
	if r := recall(ids, wi, k); r < 0.9 {
		t.Errorf("IVFFlat nlist=%d nprobe=8 recall@10 = %.3f, want >= 0.9", ivf.NList(), r)
	}
	ivf.Search(be, q, k, dist, ids, SearchParams{NProbe: ivf.NList()})
	// Scanning every list finds the exact neighbours. The distances are bit
	// for bit the Flat ones with gonum's BLAS (one full dot product per
	// element); OpenBLAS rounds by tile shape, and lists are tiled
	// differently from the whole index, so there a float32 tolerance holds
	// and only near-ties may swap.
	if cpu.Engine() == "gonum" {
		if !slices.Equal(ids, wi) || !slices.Equal(dist, wd) {
			t.Errorf("IVFFlat with nprobe = nlist differs from exact search")
		}
	} else {
		for i := range dist {
			// ‖q‖²+‖x‖²−2q·x cancels: float32 rounding is relative to the
			// norms (hundreds here), not to the distance.
			if d := math.Abs(float64(dist[i] - wd[i])); d > 1e-3+1e-4*math.Abs(float64(wd[i])) {
				t.Fatalf("IVFFlat with nprobe = nlist: slot %d distance %v, exact %v", i, dist[i], wd[i])
			}
		}
		if r := recall(ids, wi, k); r < 0.99 {
			t.Errorf("IVFFlat with nprobe = nlist: recall@10 %.3f against exact search, want >= 0.99", r)
		}
	}
	pq := NewIVFPQ(32, 16, 8)
	if err := pq.Train(be, x, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Fatal(err)
	}
	pq.Add(be, x)
	pq.Search(be, q, k, dist, ids, SearchParams{NProbe: 4})
	if r := recall(ids, wi, k); r < 0.5 {
		t.Errorf("IVFPQ nlist=16 m=8 nprobe=4 recall@10 = %.3f, want >= 0.5", r)
	}
}

// TestIVFShortLists: when the probed lists hold fewer than k rows (1,000
// rows in 32 lists, nprobe 2, k 200), the search probes more lists until it
// has k real neighbours: no id -1, no infinite distance, ascending, each
// row once.
func TestIVFShortLists(t *testing.T) {
	be := compute.Current()
	xs, _ := blobs(1000, 16, 20, 3)
	qs, _ := blobs(50, 16, 20, 4)
	x, q := compute.MatrixOf(1000, 16, xs), compute.MatrixOf(50, 16, qs)
	const k = 200
	for _, ix := range []*IVF{NewIVFFlat(16, 32, false), NewIVFPQ(16, 32, 4)} {
		if err := ix.Train(be, x, rand.New(rand.NewPCG(1, 2))); err != nil {
			t.Fatal(err)
		}
		ix.Add(be, x)
		dist, ids := make([]float32, q.Rows*k), make([]int32, q.Rows*k)
		ix.Search(be, q, k, dist, ids, SearchParams{NProbe: 2})
		for i := range q.Rows {
			row, rd := ids[i*k:(i+1)*k], dist[i*k:(i+1)*k]
			if slices.Contains(row, -1) || slices.ContainsFunc(rd, func(d float32) bool { return math.IsInf(float64(d), 0) }) {
				t.Fatalf("pq=%t query %d: empty slots in %v", ix.pq != nil, i, row)
			}
			if !slices.IsSorted(rd) {
				t.Fatalf("pq=%t query %d: distances not ascending", ix.pq != nil, i)
			}
			seen := map[int32]bool{}
			for _, id := range row {
				if seen[id] {
					t.Fatalf("pq=%t query %d: id %d twice", ix.pq != nil, i, id)
				}
				seen[id] = true
			}
		}
	}
}

// TestIVFFewerRowsThanK: an index of 40 rows asked for k=60 returns every
// row (ascending, each once) and then empty slots (id -1), from whatever
// nprobe: all lists are probed at once.
func TestIVFFewerRowsThanK(t *testing.T) {
	be := compute.Current()
	xs, _ := blobs(40, 8, 4, 5)
	qs, _ := blobs(5, 8, 4, 6)
	x, q := compute.MatrixOf(40, 8, xs), compute.MatrixOf(5, 8, qs)
	const k = 60
	for _, ix := range []*IVF{NewIVFFlat(8, 8, false), NewIVFPQ(8, 8, 2)} {
		if err := ix.Train(be, x, rand.New(rand.NewPCG(1, 2))); err != nil {
			t.Fatal(err)
		}
		ix.Add(be, x)
		dist, ids := make([]float32, q.Rows*k), make([]int32, q.Rows*k)
		ix.Search(be, q, k, dist, ids, SearchParams{NProbe: 1})
		for i := range q.Rows {
			row, rd := ids[i*k:(i+1)*k], dist[i*k:(i+1)*k]
			real := slices.Clone(row[:40])
			slices.Sort(real)
			for j, id := range real {
				if id != int32(j) {
					t.Fatalf("pq=%t query %d: the first 40 ids are not the 40 rows: %v", ix.pq != nil, i, row[:40])
				}
			}
			if !slices.IsSorted(rd[:40]) {
				t.Fatalf("pq=%t query %d: distances not ascending", ix.pq != nil, i)
			}
			for _, id := range row[40:] {
				if id != -1 {
					t.Fatalf("pq=%t query %d: slot past the 40 rows holds id %d, want -1", ix.pq != nil, i, id)
				}
			}
		}
	}
}

// TestIVFAddInPartsAndSave: an IVFFlat built by two Adds holds and
// finds what one Add of the same rows does (the first Add lays the lists
// out in one array, the second must not write into a neighbour), and the
// saved file of either loads back to the same search results.
func TestIVFAddInPartsAndSave(t *testing.T) {
	be := compute.Current()
	xs, _ := blobs(3000, 16, 20, 3)
	qs, _ := blobs(100, 16, 20, 3)
	x, q := compute.MatrixOf(3000, 16, xs), compute.MatrixOf(100, 16, qs)
	const k, nlist = 5, 24
	build := func(parts ...int) *IVF {
		ivf := NewIVFFlat(16, nlist, false)
		if err := ivf.Train(be, x, rand.New(rand.NewPCG(5, 6))); err != nil {
			t.Fatal(err)
		}
		lo := 0
		for _, hi := range parts {
			ivf.Add(be, compute.MatrixOf(hi-lo, 16, xs[lo*16:hi*16]))
			lo = hi
		}
		return ivf
	}
	search := func(ix Index) ([]float32, []int32) {
		dist, ids := make([]float32, q.Rows*k), make([]int32, q.Rows*k)
		ix.Search(be, q, k, dist, ids, SearchParams{NProbe: nlist})
		return dist, ids
	}
	one, two := build(3000), build(1700, 3000)
	if one.vecs == nil || two.vecs != nil {
		t.Fatalf("vecs after one Add: %v, after two: %v; want set, then cleared", one.vecs != nil, two.vecs != nil)
	}
	d1, i1 := search(one)
	d2, i2 := search(two)
	if !slices.Equal(i1, i2) || !slices.Equal(d1, d2) {
		t.Fatalf("two Adds find other neighbours than one Add of the same rows")
	}
	for _, ix := range []*IVF{one, two} {
		f, err := indexFile(ix)
		if err != nil {
			t.Fatal(err)
		}
		back, err := loadIndex(f, Metadata{IndexType: IndexIVFFlat, IndexMetric: "L2", IndexDim: 16, NLists: nlist})
		if err != nil {
			t.Fatal(err)
		}
		d, i := search(back)
		if !slices.Equal(i, i1) || !slices.Equal(d, d1) {
			t.Fatalf("saved and loaded index finds other neighbours")
		}
	}
}

// TestPQDistanceBound: the asymmetric distance is the exact distance to
// the reconstruction, so by the triangle inequality
// |√adc - √true| <= ‖x - decode(code(x))‖ for every query and row.
func TestPQDistanceBound(t *testing.T) {
	be := compute.Current()
	rng := rand.New(rand.NewPCG(5, 5))
	xs, _ := blobs(2000, 16, 10, 2)
	x := compute.MatrixOf(2000, 16, xs)
	pq := &PQ{D: 16, M: 4, DSub: 4}
	pq.Train(be, x, rng)
	codes := pq.Encode(be, x)
	q := randMatrix(rng, 20, 16)
	tab := make([]float32, q.Rows*pq.M*pq.KSub)
	pq.Tables(be, tab, q)
	rec := make([]float32, 16)
	var relErr float64
	for i := range x.Rows {
		code := codes[i*pq.M : (i+1)*pq.M]
		pq.Decode(rec, code)
		var qe float64
		for j, v := range x.Row(i) {
			qe += (float64(v) - float64(rec[j])) * (float64(v) - float64(rec[j]))
		}
		qe = math.Sqrt(qe)
		for r := range q.Rows {
			var adc, exact float64
			for j, c := range code {
				adc += float64(tab[(r*pq.M+j)*pq.KSub+int(c)])
			}
			for j, v := range x.Row(i) {
				e := float64(q.Row(r)[j]) - float64(v)
				exact += e * e
			}
			if d := math.Abs(math.Sqrt(adc) - math.Sqrt(exact)); d > qe+1e-3*(1+math.Sqrt(exact)) {
				t.Fatalf("row %d query %d: |√adc - √exact| = %.4f exceeds the reconstruction error %.4f", i, r, d, qe)
			}
			relErr += math.Abs(adc-exact) / exact
		}
	}
	if m := relErr / float64(x.Rows*q.Rows); m > 0.2 {
		t.Errorf("mean relative ADC error %.3f, want <= 0.2", m)
	}
}

// TestReduction: both projections keep squared distances within 35% on
// average at target 64 from 200 dims (JL: relative error ~ sqrt(2/64)),
// and rebuild identically from their metadata.
// TestFJLTTargetPastInput: IVFPQ raises the target to a multiple of
// faiss_index_pq_m, which can pass a feature_dim that is a power of two
// (16 features, target 15, m 12: 24). Training panicked there; now the
// transform is padded to hold the target, the model answers, and it loads
// back to the same answers.
func TestFJLTTargetPastInput(t *testing.T) {
	xs, ls := blobs(600, 16, 4, 31)
	tx, _ := blobs(50, 16, 4, 32)
	j, _ := job(t, map[string]any{"feature_dim": "16", "k": "3", "predictor_type": "classifier", "sample_size": "600",
		"index_type": IndexIVFPQ, "faiss_index_ivf_nlists": "4", "faiss_index_pq_m": "12",
		"dimension_reduction_type": "fjlt", "dimension_reduction_target": "15"},
		map[string]algorithms.Channel{"train": &memChannel{x: xs, labels: ls, d: 16}})
	mod, err := Algorithm{}.Train(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	if r := mod.(*Model).Metadata().DimensionReduction; r == nil || r.TargetDim != 24 || r.pad != 32 {
		t.Fatalf("reduction %+v; want target 24 on a 32-point transform", r)
	}
	b := &data.Batch{Rows: 50, Cols: 16, Dense: tx}
	want, err := mod.Predict(context.Background(), b, algorithms.PredictOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := mod.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Algorithm{}.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Predict(context.Background(), b, algorithms.PredictOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Outputs[0].Values, want.Outputs[0].Values) {
		t.Errorf("loaded model predicts %v, trained one %v", got.Outputs[0].Values, want.Outputs[0].Values)
	}
}

func TestReduction(t *testing.T) {
	be := compute.Current()
	rng := rand.New(rand.NewPCG(9, 9))
	x := randMatrix(rng, 50, 200)
	for _, typ := range []string{"sign", "fjlt"} {
		r := newReduction(typ, reductionSeed, 200, 64)
		y := compute.NewMatrix(50, 64)
		r.Apply(be, y, x)
		var ratio float64
		for i := 1; i < 50; i++ {
			var a, b float64
			for j := range 200 {
				e := float64(x.Row(i)[j] - x.Row(0)[j])
				a += e * e
			}
			for j := range 64 {
				e := float64(y.Row(i)[j] - y.Row(0)[j])
				b += e * e
			}
			ratio += math.Abs(b/a - 1)
		}
		if m := ratio / 49; m > 0.35 {
			t.Errorf("%s: mean |ratio-1| of squared distances %.3f, want <= 0.35", typ, m)
		}
		r2 := &Reduction{Type: typ, Seed: reductionSeed, InputDim: 200, TargetDim: 64}
		r2.build()
		y2 := compute.NewMatrix(50, 64)
		r2.Apply(be, y2, x)
		if !slices.Equal(y.Data, y2.Data) {
			t.Errorf("%s: rebuilt projection differs", typ)
		}
	}
}

func TestVote(t *testing.T) {
	for _, tc := range []struct {
		pred   string
		labels []float32
		want   float32
	}{
		{"classifier", []float32{2, 1, 1}, 1},
		{"classifier", []float32{3, 1, 3, 1}, 1}, // tie: smallest label
		{"classifier", []float32{5}, 5},
		{"regressor", []float32{1, 2, 6}, 3},
	} {
		if got := vote(tc.pred, tc.labels); got != tc.want {
			t.Errorf("vote(%s, %v) = %v, want %v", tc.pred, tc.labels, got, tc.want)
		}
	}
}

// TestTrainPredict trains every index type and metric on labelled blobs,
// checks the test score, round-trips the model through Save/Load and
// compares predictions, verbose outputs included.
func TestTrainPredict(t *testing.T) {
	const d = 24
	xs, ls := blobs(3000, d, 6, 11)
	tx, tl := blobs(300, d, 6, 11)
	// Regression target: a smooth function of the blob.
	rs, rt := make([]float32, len(ls)), make([]float32, len(tl))
	for i, l := range ls {
		rs[i] = 10 * l
	}
	for i, l := range tl {
		rt[i] = 10 * l
	}
	cases := []map[string]any{
		{"index_type": IndexFlat},
		{"index_type": IndexFlat, "index_metric": "COSINE"},
		{"index_type": IndexFlat, "index_metric": "INNER_PRODUCT", "k": "1"},
		{"index_type": IndexIVFFlat},
		{"index_type": IndexIVFFlat, "index_metric": "COSINE", "faiss_index_ivf_nlists": "10"},
		{"index_type": IndexIVFPQ, "faiss_index_pq_m": "8"},
		{"index_type": IndexIVFPQ, "faiss_index_pq_m": "16"}, // 24 padded to 32
		{"index_type": IndexFlat, "dimension_reduction_type": "sign", "dimension_reduction_target": "12"},
		{"index_type": IndexIVFPQ, "dimension_reduction_type": "fjlt", "dimension_reduction_target": "10", "faiss_index_pq_m": "4"},
		{"index_type": IndexFlat, "predictor_type": "regressor"},
		{"index_type": IndexIVFFlat, "predictor_type": "regressor", "sample_size": "1000"},
	}
	for _, c := range cases {
		hp := map[string]any{"feature_dim": "24", "k": "5", "predictor_type": "classifier", "sample_size": "5000", "mini_batch_size": "700"}
		for k, v := range c {
			hp[k] = v
		}
		name := strings.Trim(strings.ReplaceAll(strings.Join(strings.Fields(strings.Trim(strings.ReplaceAll(toString(c), "map", ""), "[]")), ","), "faiss.", ""), ",")
		t.Run(name, func(t *testing.T) {
			reg := hp["predictor_type"] == "regressor"
			trainL, testL := ls, tl
			if reg {
				trainL, testL = rs, rt
			}
			j, metrics := job(t, hp, map[string]algorithms.Channel{
				"train": &memChannel{x: xs, labels: trainL, d: d},
				"test":  &memChannel{x: tx, labels: testL, d: d},
			})
			mod, err := Algorithm{}.Train(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			if reg {
				if mse := metrics.scores["test:mse"]; !(mse < 1) {
					t.Errorf("test:mse = %v, want < 1 (labels 0..50 by blob)", mse)
				}
			} else if acc := metrics.scores["test:accuracy"]; acc < 0.95 {
				t.Errorf("test:accuracy = %v, want >= 0.95", acc)
			}
			dir := t.TempDir()
			if err := mod.Save(dir); err != nil {
				t.Fatal(err)
			}
			loaded, err := Algorithm{}.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			b := &data.Batch{Rows: 50, Cols: d, Dense: tx[:50*d]}
			verbose := algorithms.PredictOptions{Accept: data.MediaType{Type: "application/json", Params: map[string]string{"verbose": "true"}}}
			p1, err := mod.Predict(context.Background(), b, verbose)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := loaded.Predict(context.Background(), b, verbose)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p1, p2) {
				t.Fatalf("predictions differ after Save/Load")
			}
			k := mod.(*Model).meta.K
			if len(p1.Outputs) != 3 || p1.Outputs[1].Name != "distances" || p1.Outputs[1].Width != k || p1.Outputs[2].Name != "labels" {
				t.Fatalf("verbose outputs %+v", p1.Outputs)
			}
			for i := range b.Rows {
				ds := p1.Outputs[1].Values[i*k : (i+1)*k]
				if !slices.IsSorted(ds) {
					t.Fatalf("row %d distances %v not ascending", i, ds)
				}
			}
			plain, _ := loaded.Predict(context.Background(), b, algorithms.PredictOptions{})
			if len(plain.Outputs) != 1 || plain.Outputs[0].Name != "predicted_label" {
				t.Fatalf("non-verbose outputs %+v", plain.Outputs)
			}
		})
	}
}

func toString(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var s []string
	for _, k := range keys {
		s = append(s, k+"="+m[k].(string))
	}
	return strings.Join(s, " ")
}

// TestMetadataEditable: k and predictor_type read from model_algo-1.json
// at load (with SageMaker's Python literals) change predictions.
func TestMetadataEditable(t *testing.T) {
	xs, ls := blobs(500, 8, 3, 4)
	j, _ := job(t, map[string]any{"feature_dim": "8", "k": "3", "predictor_type": "classifier", "sample_size": "500"},
		map[string]algorithms.Channel{"train": &memChannel{x: xs, labels: ls, d: 8}})
	mod, err := Algorithm{}.Train(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := mod.Save(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model_algo-1.json")
	js, _ := os.ReadFile(path)
	js = []byte(strings.Replace(strings.Replace(string(js), `"k": 3`, `"k": 7`, 1), `"normalize": false`, `"normalize": False`, 1))
	os.WriteFile(path, js, 0o644)
	loaded, err := Algorithm{}.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k := loaded.(*Model).Metadata().K; k != 7 {
		t.Errorf("k after editing the metadata = %d, want 7", k)
	}
	for _, name := range []string{"model_algo-1", "model_algo-1.labels", "model_algo-1.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("artifact %s missing: %v", name, err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, "model_algo-1.labels")); fi.Size() != 4*500 {
		t.Errorf("labels file is %d bytes, want %d (500 float32)", fi.Size(), 4*500)
	}
}

func TestNoLabels(t *testing.T) {
	j, _ := job(t, map[string]any{"feature_dim": "2", "k": "1", "predictor_type": "classifier", "sample_size": "5"},
		map[string]algorithms.Channel{"train": &noLabels{}})
	_, err := Algorithm{}.Train(context.Background(), j)
	if err == nil || !algorithms.ClientError(err) || !strings.Contains(err.Error(), "label") {
		t.Fatalf("got %v, want a client error about labels", err)
	}
	// The first record lacks one: not "after the 0-th".
	if !strings.Contains(err.Error(), "from record 0 on have no label") {
		t.Errorf("got %q, want it to say the records from record 0 on", err)
	}
}

type noLabels struct{ done bool }

func (c *noLabels) Name() string { return "train" }
func (c *noLabels) Open(context.Context, int) (data.BatchReadCloser, error) {
	return &noLabelsReader{}, nil
}

type noLabelsReader struct{ done bool }

func (r *noLabelsReader) Read(int) (*data.Batch, error) {
	if r.done {
		return nil, io.EOF
	}
	r.done = true
	return &data.Batch{Rows: 1, Cols: 2, Dense: []float32{1, 2}}, nil
}
func (r *noLabelsReader) Close() error { return nil }
