package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/benchmarks/loadgen"
)

func TestMarkdown(t *testing.T) {
	side := func(name string, msd, s float64) Side {
		return Side{Name: name, Quality: map[string]float64{"test msd": msd}, TimeS: s, PeakMB: 100}
	}
	r := &Report{Date: "2026-01-02", Rows: []Row{{
		Algorithm: "k-means", Dataset: "toy", Config: "defaults", Headline: true,
		Hyper: map[string]string{"k": "2"}, Metrics: []string{"test msd"},
		Ours: side("ours", 1.5, 1), Peer: side("peer", 1, 2),
		Targets: []Target{{Name: "msd", Met: false}, {Name: "time", Met: true}},
	}}}
	md := r.Markdown()
	for _, want := range []string{"| ours test msd | peer test msd | ratio |", "| 1.5000 | 1.0000 | 1.500 |", "| 1.00 | 2.00 | 0.500 |", "**not met** | met |", `{"k":"2"}`} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestWriteMerges: a run of one algorithm keeps the rows and sections a
// previous run of the same day wrote for others, each kept row with the
// start and load of the run that measured it.
func TestWriteMerges(t *testing.T) {
	dir := t.TempDir()
	first := &Report{Date: "2026-11-21", Started: "2026-11-21T01:00:00Z", Machine: Machine{LoadAvg: "3.00 2.00 1.00"}, Repeat: 3,
		Rows: []Row{{Algorithm: "kmeans", Config: "a"}, {Algorithm: "pca", Config: "b"}}, ColdStart: []ColdStart{{}}}
	if _, _, err := first.Write(dir); err != nil {
		t.Fatal(err)
	}
	second := &Report{Date: "2026-11-21", Started: "2026-11-21T05:00:00Z", Repeat: 1, Rows: []Row{{Algorithm: "pca", Config: "c"}}}
	jsonPath, mdPath, err := second.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != 2 || got.Rows[0].Algorithm != "kmeans" || got.Rows[1].Config != "c" || len(got.ColdStart) != 1 {
		t.Errorf("merged report: %+v", got)
	}
	if run := got.Rows[0].Run; run == nil || *run != (RunInfo{Started: "2026-11-21T01:00:00Z", LoadAvg: "3.00 2.00 1.00", Repeat: 3}) || got.Rows[1].Run != nil {
		t.Errorf("runs of the merged rows: %+v, %+v", got.Rows[0].Run, got.Rows[1].Run)
	}
	md, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Measured in an earlier run: started 2026-11-21T01:00:00Z, load average 3.00 2.00 1.00, medians over 3 run(s)."; !strings.Contains(string(md), want) {
		t.Errorf("markdown lacks %q:\n%s", want, md)
	}
}

// TestRepeatedAndInterleaved: repeats merge to the median time and the
// largest peak, keep every time, and interleaving alternates the sides
// after one untimed run of ours.
func TestRepeatedAndInterleaved(t *testing.T) {
	e := &env{Repeat: 3}
	var order []string
	times := []float64{3, 1, 2}
	n := 0
	side := func(name string) func(*env) (*Side, error) {
		return func(e *env) (*Side, error) {
			if e.Repeat != 1 {
				t.Errorf("%s run with Repeat %d, want 1", name, e.Repeat)
			}
			order = append(order, name)
			n++
			return &Side{Name: name, TimeS: times[n%3], PeakMB: float64(n)}, nil
		}
	}
	ours, peer, err := interleaved(e, side("ours"), side("peer"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ","); got != "ours,ours,peer,ours,peer,ours,peer" {
		t.Errorf("order %s", got)
	}
	if ours.TimeS != 2 || peer.TimeS != 2 || ours.PeakMB != 6 || peer.PeakMB != 7 {
		t.Errorf("ours %v/%v, peer %v/%v: want the median 2 and the largest peaks 6 and 7", ours.TimeS, ours.PeakMB, peer.TimeS, peer.PeakMB)
	}
	if got := ours.Extra["wall_seconds_each"].([]float64); len(got) != 3 || ours.Extra["interleaved"] != true {
		t.Errorf("ours extra %v", ours.Extra)
	}
	order = nil
	s, err := repeated(e, func() (*Side, error) { return side("peer")(&env{Repeat: 1}) }, "fit_seconds_each")
	if err != nil || len(order) != 3 || len(s.Extra["fit_seconds_each"].([]float64)) != 3 || s.Extra["interleaved"] != nil {
		t.Errorf("repeated: %v %v %v", err, order, s.Extra)
	}
}

// TestServingTargets: the 1-row targets compare with the peer's best load,
// and the p99 target takes ours' busiest load whose p99 is under 2 ms.
func TestServingTargets(t *testing.T) {
	load := func(server, body string, conns int, rps, p99 float64) ServingLoad {
		return ServingLoad{Server: server, Body: body, Conns: conns, Result: &loadgen.Result{RPS: rps, P99Ms: p99}}
	}
	rep := &ServingReport{Concurrency: 32, Loads: []ServingLoad{
		load(srvOurs, body1, 32, 18000, 9),
		load(srvOurs, body100, 32, 1700, 50),
		load(srvOurs, sweepName(1), 1, 5000, 0.6),
		load(srvOurs, sweepName(4), 4, 15000, 1.9),
		load(srvOurs, sweepName(8), 8, 16000, 4),
		load(srvPeer, body1, 32, 1400, 30),
		load(srvPeer, body100, 32, 120, 270),
		load(srvPeer, sweepName(4), 4, 1450, 5),
	}}
	got := map[string]Target{}
	for _, tg := range servingTargets(rep) {
		got[tg.Name] = tg
	}
	slo := got["1 row: ≥ 10× peer req/s with p99 < 2 ms"]
	if !slo.Met || !strings.Contains(slo.Detail, "15000 req/s at 4 connections") || !strings.Contains(slo.Detail, "best 1450") {
		t.Errorf("p99 target: %+v", slo)
	}
	if tp := got["1 row: ≥ 10× peer req/s"]; !tp.Met || !strings.Contains(tp.Detail, "18000 req/s at 32 connections") {
		t.Errorf("throughput target: %+v", tp)
	}
	if tp := got["100 rows: ≥ 10× peer req/s"]; !tp.Met {
		t.Errorf("100-row target: %+v", tp)
	}
	if tp := got["1 row, 32 connections: p99 < 2 ms (informational: queueing at saturation)"]; tp.Met || tp.Name == "" {
		t.Errorf("saturated p99: %+v", tp)
	}

	// Ours' only load under 2 ms is too slow: not met.
	rep.Loads[3].Result.P99Ms = 2.5
	for _, tg := range servingTargets(rep) {
		if tg.Name == slo.Name && (tg.Met || !strings.Contains(tg.Detail, "5000 req/s at 1 connection,")) {
			t.Errorf("p99 target with 1 connection under 2 ms: %+v", tg)
		}
	}
	if _, err := parseSweep("1,x"); err == nil {
		t.Error("parseSweep accepted x")
	}
	if got, err := parseSweep("4, 1,4,8"); err != nil || !slices.Equal(got, []int{4, 1, 8}) {
		t.Errorf("parseSweep(\"4, 1,4,8\") = %v, %v; want [4 1 8], each count once", got, err)
	}
}

// TestServingChart: the serving chart, with the p99-against-load panel,
// is drawn from the loads.
func TestServingChart(t *testing.T) {
	load := func(server, body string, conns int, rps, p99 float64) ServingLoad {
		return ServingLoad{Server: server, Body: body, Conns: conns, Result: &loadgen.Result{RPS: rps, P99Ms: p99}}
	}
	r := &Report{Date: "2026-01-02", Serving: &ServingReport{Concurrency: 32, Loads: []ServingLoad{
		load(srvOurs, body1, 32, 18000, 9), load(srvOurs, sweepName(1), 1, 5000, 0.6), load(srvOurs, sweepName(4), 4, 15000, 1.9),
		load(srvPeer, body1, 32, 1400, 30), load(srvPeer, sweepName(4), 4, 1450, 5), load(srvOurs, body100, 32, 1700, 50),
	}}}
	dir := t.TempDir()
	paths, err := writeCharts(r, dir)
	if err != nil || len(paths) != 1 || !strings.HasSuffix(paths[0], "2026-01-02-serving.png") {
		t.Fatalf("charts %v, %v", paths, err)
	}
	if fi, err := os.Stat(paths[0]); err != nil || fi.Size() < 1000 {
		t.Errorf("serving chart: %v %v", fi, err)
	}
	if p, err := latencyPanel(r.Serving); err != nil || p == nil {
		t.Errorf("latency panel: %v %v", p, err)
	}
}

func TestMedianLoad(t *testing.T) {
	spec := loadSpec{name: body1, body: body1, conc: 4}
	var rs []roundResult
	for _, f := range [][2]float64{{900, 3}, {1200, 1}, {1000, 2}} {
		rs = append(rs, roundResult{spec: spec, res: &loadgen.Result{RPS: f[0], P99Ms: f[1]}})
	}
	l := medianLoad(srvOurs, rs)
	if l.Result.RPS != 1000 || l.Result.P99Ms != 2 || l.Conns != 4 || l.Body != body1 {
		t.Errorf("median load %+v, want the 1000 req/s round", l)
	}
	if !slices.Equal(l.RoundsRPS, []float64{900, 1200, 1000}) || !slices.Equal(l.RoundsP99Ms, []float64{3, 1, 2}) {
		t.Errorf("rounds %v %v, want them in the order run", l.RoundsRPS, l.RoundsP99Ms)
	}
	// An even count reports the lower of the middle two.
	if l := medianLoad(srvOurs, rs[:2]); l.Result.RPS != 900 {
		t.Errorf("median of two rounds %v, want the lower (900)", l.Result.RPS)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"k-means":          "k-means",
		"k-means (sparse)": "k-means-sparse",
		"PCA regular":      "pca-regular",
		"k-NN":             "k-nn",
		" (x) ":            "x",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFindModel: the cold start takes a benchmark's own trained model,
// its plain directory first, and never another benchmark's whose name
// extends it.
func TestFindModel(t *testing.T) {
	work := t.TempDir()
	model := func(dir string) {
		if err := os.MkdirAll(filepath.Join(work, dir, "ml", "model"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, dir, "ml", "model", "model_algo-1"), []byte("m"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	model("kmeans-sparse")
	if got := findModel(work, "kmeans"); got != "" {
		t.Errorf("kmeans took %q, kmeans-sparse's model", got)
	}
	if got := findModel(work, "kmeans-sparse"); got != filepath.Join(work, "kmeans-sparse", "ml") {
		t.Errorf("kmeans-sparse: %q", got)
	}
	model("kmeans-2")
	model("kmeans-1")
	if got := findModel(work, "kmeans"); got != filepath.Join(work, "kmeans-1", "ml") {
		t.Errorf("kmeans: %q, want kmeans-1's", got)
	}
	model("kmeans")
	if got := findModel(work, "kmeans"); got != filepath.Join(work, "kmeans", "ml") {
		t.Errorf("kmeans: %q, want its own directory first", got)
	}
}
