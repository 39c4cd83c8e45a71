package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/sagebrush-ml/sagebrush/benchmarks/harness"
	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// pcaComponents is the configuration: 50 components on
// Fashion-MNIST, the documented defaults otherwise (mini_batch_size is the
// SDK's 500).
const pcaComponents = 50

// pcaFashionMNIST trains bin/pca in regular and randomized mode and
// compares each with scikit-learn's PCA (full and randomized solvers,
// fitted in the same run): explained variance ratio of the 50 components
// and the test reconstruction error.
func pcaFashionMNIST(e *env) ([]Row, error) {
	train, test, err := e.loadFashion()
	if err != nil {
		return nil, err
	}
	fmt.Printf("   Fashion-MNIST: %d train, %d test rows of %d pixels (/255)\n", train.N(), test.N(), train.Dim)
	trainRec, _, err := convertCached(filepath.Join(e.DataDir, "fashion-mnist"), "train", train)
	if err != nil {
		return nil, err
	}
	totalVar := totalVariance(train)

	fmt.Printf("   peer: scikit-learn PCA full and randomized (%s)\n", e.Python)
	peers := map[string]*Side{}
	times := map[string][]float64{}
	for range e.Repeat {
		ps, err := sklearnPCA(e, e.fashionFiles)
		if err != nil {
			return nil, err
		}
		for solver, p := range ps {
			times[solver] = append(times[solver], p.TimeS)
			if old := peers[solver]; old != nil {
				p.PeakMB = max(p.PeakMB, old.PeakMB)
			}
			peers[solver] = p
		}
	}
	for solver, p := range peers {
		p.TimeS = median(times[solver])
		p.Extra["fit_seconds_each"] = times[solver]
		fmt.Printf("   peer %s: fit %.2fs, EVR %.6f, test reconstruction error %.4f\n", solver, p.TimeS, p.Quality["EVR"], p.Quality["test recon err"])
	}
	full, randomized := peers["full"], peers["randomized"]

	var rows []Row
	for _, mode := range []string{"regular", "randomized"} {
		h := map[string]string{"feature_dim": strconv.Itoa(train.Dim), "num_components": strconv.Itoa(pcaComponents),
			"mini_batch_size": "500", "algorithm_mode": mode}
		ours, err := pcaOurs(e, filepath.Join(e.WorkDir, "pca-"+mode), h, trainRec, test, totalVar)
		if err != nil {
			return rows, fmt.Errorf("%s mode: %w", mode, err)
		}
		fmt.Printf("   ours [%s]: wall %.2fs (fit %.2fs), EVR %.6f, test reconstruction error %.4f, peak RSS %.0f MB\n",
			mode, ours.TimeS, ours.Extra["fit_seconds"], ours.Quality["EVR"], ours.Quality["test recon err"], ours.PeakMB)
		rel := func(q string, p *Side) float64 { return math.Abs(ours.Quality[q]/p.Quality[q] - 1) }
		row := Row{
			Algorithm: "PCA " + mode, Dataset: "Fashion-MNIST (60k train / 10k test, 784, /255)",
			Config: "num_components=50", Headline: true, Hyper: h,
			Metrics: []string{"test recon err", "EVR"},
			Ours:    *ours,
		}
		if mode == "regular" {
			row.Peer = *full
			tr := ours.TimeS / full.TimeS
			row.Targets = []Target{
				{Name: "EVR within 0.1% of full", Met: rel("EVR", full) <= 0.001, Detail: fmt.Sprintf("%.6f vs %.6f, rel diff %.2e", ours.Quality["EVR"], full.Quality["EVR"], rel("EVR", full))},
				{Name: "recon err within 0.1% of full", Met: rel("test recon err", full) <= 0.001, Detail: fmt.Sprintf("%.5f vs %.5f, rel diff %.2e", ours.Quality["test recon err"], full.Quality["test recon err"], rel("test recon err", full))},
				{Name: "wall ≤ ½ full fit", Met: tr <= 0.5, Detail: fmt.Sprintf("%.2fs vs %.2fs, ratio %.3f", ours.TimeS, full.TimeS, tr)},
			}
		} else {
			row.Peer = *randomized
			tr := ours.TimeS / randomized.TimeS
			ratio := ours.Quality["test recon err"] / randomized.Quality["test recon err"]
			row.Targets = []Target{
				{Name: "recon err within 1% of randomized", Met: math.Abs(ratio-1) <= 0.01, Detail: fmt.Sprintf("%.5f vs %.5f, ratio %.5f (vs full: %.5f)", ours.Quality["test recon err"], randomized.Quality["test recon err"], ratio, ours.Quality["test recon err"]/full.Quality["test recon err"])},
				{Name: "wall ≤ ½ randomized fit", Met: tr <= 0.5, Detail: fmt.Sprintf("%.2fs vs %.2fs, ratio %.3f (fit alone %.2fs, ratio %.3f)", ours.TimeS, randomized.TimeS, tr, ours.Extra["fit_seconds"], ours.Extra["fit_seconds"].(float64)/randomized.TimeS)},
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// totalVariance is Σ_j Σ_i (x_ij − mean_j)², in float64.
func totalVariance(d *harness.Dataset) float64 {
	n := d.N()
	mean := make([]float64, d.Dim)
	for i := 0; i < n; i++ {
		for j, v := range d.Row(i) {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	var t float64
	for i := 0; i < n; i++ {
		for j, v := range d.Row(i) {
			e := float64(v) - mean[j]
			t += e * e
		}
	}
	return t
}

// fitLine is our trainer's timing line.
var fitLine = regexp.MustCompile(`pass over (\d+) records in ([0-9.]+)s, decomposition in ([0-9.]+)s`)

// pcaOurs trains bin/pca with hyperparameters h on a fresh ml root under
// dir (train channel, RecordIO-protobuf, File mode), reads the explained
// variance ratio off the artifact (Σ s² over the train set's total
// variance), then serves the model and computes the test reconstruction
// error from the projections it answers: ‖x − mean‖² − ‖projection‖²
// (v has orthonormal columns), in float64.
func pcaOurs(e *env, dir string, h map[string]string, trainRec string, test *harness.Dataset, totalVar float64) (*Side, error) {
	bin := abs(filepath.Join(e.BinDir, "pca"))
	root := abs(filepath.Join(dir, "ml"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	err := harness.LayoutRoot(root, h, []harness.Channel{{Name: "train", ContentType: harness.RecordIOProtobuf, Files: []string{trainRec}}})
	if err != nil {
		return nil, err
	}
	var fits []float64
	walls, peakKB, err := trainRepeats(e, bin, root, dir, func(res *harness.TrainResult, log string) error {
		m := fitLine.FindStringSubmatch(res.Log)
		if m == nil {
			return fmt.Errorf("no timing line in %s", log)
		}
		pass, _ := strconv.ParseFloat(m[2], 64)
		dec, _ := strconv.ParseFloat(m[3], 64)
		fits = append(fits, pass+dec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	f, err := mxnet.ReadFile(filepath.Join(root, "model", "model_algo-1"))
	if err != nil {
		return nil, err
	}
	sArr, ok1 := f.Get("s")
	meanArr, ok2 := f.Get("mean")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("model_algo-1 lacks s or mean (names %q)", f.Names)
	}
	var explained float64
	for _, s := range sArr.AsFloat32() {
		explained += float64(s) * float64(s)
	}
	mean := meanArr.AsFloat32()

	port, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	srv, err := harness.StartServe(bin, root, port, logf, 60*time.Second)
	if err != nil {
		return nil, err
	}
	sse, err := servedReconstruction(srv, test, mean, 1000)
	if stopErr := srv.Stop(15 * time.Second); err == nil && stopErr != nil {
		err = fmt.Errorf("stopping the server: %w", stopErr)
	}
	if err != nil {
		return nil, err
	}
	return &Side{
		Name:    "sagebrush pca",
		Quality: map[string]float64{"EVR": explained / totalVar, "test recon err": sse / float64(test.N())},
		TimeS:   median(walls),
		Timed:   "median over the repeats of the wall time of the whole `bin/pca train` process (start, reading the RecordIO train channel, the pass, the eigendecomposition, model write); EVR = Σ s² of the artifact over the train set's total variance; test reconstruction error from the projections `serve` answers (RecordIO in, JSON Lines out)",
		PeakMB:  float64(peakKB) / 1024,
		Extra:   map[string]any{"wall_seconds_each": walls, "fit_seconds": median(fits), "fit_seconds_each": fits},
	}, nil
}

// servedReconstruction posts the rows of d to /invocations in chunks
// (RecordIO-protobuf, Accept application/jsonlines) and returns
// Σ ‖x − mean‖² − ‖projection‖² over the rows.
func servedReconstruction(s *harness.Server, d *harness.Dataset, mean []float32, chunk int) (float64, error) {
	var sse float64
	var buf bytes.Buffer
	for lo := 0; lo < d.N(); lo += chunk {
		hi := min(lo+chunk, d.N())
		buf.Reset()
		if err := harness.AppendRecordIO(&buf, d, lo, hi, false); err != nil {
			return 0, err
		}
		req, err := http.NewRequest(http.MethodPost, s.URL+"/invocations", bytes.NewReader(buf.Bytes()))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", harness.RecordIOProtobuf)
		req.Header.Set("Accept", "application/jsonlines")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("/invocations rows %d..%d: %s: %s", lo, hi-1, resp.Status, bytes.TrimSpace(body))
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		i := lo
		for sc.Scan() {
			var p struct {
				Projection []float64 `json:"projection"`
			}
			if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
				return 0, fmt.Errorf("response line %d: %w", i-lo+1, err)
			}
			if i >= hi {
				return 0, fmt.Errorf("more projections than the %d rows sent", hi-lo)
			}
			var xx, pp float64
			for j, v := range d.Row(i) {
				e := float64(v) - float64(mean[j])
				xx += e * e
			}
			for _, v := range p.Projection {
				pp += v * v
			}
			sse += xx - pp
			i++
		}
		if err := sc.Err(); err != nil {
			return 0, err
		}
		if i != hi {
			return 0, fmt.Errorf("%d projections for %d rows", i-lo, hi-lo)
		}
	}
	return sse, nil
}

// sklearnPCA runs peers/pca_sklearn.py on the same IDX files and returns
// its full and randomized results.
func sklearnPCA(e *env, files map[string]string) (map[string]*Side, error) {
	var out struct {
		Version string `json:"version"`
		Numpy   string `json:"numpy"`
		Results map[string]struct {
			FitSeconds float64        `json:"fit_seconds"`
			EVR        float64        `json:"explained_variance_ratio"`
			TestErr    float64        `json:"test_reconstruction_error"`
			SVHead     []float64      `json:"singular_values_head"`
			Params     map[string]any `json:"params"`
		} `json:"results"`
	}
	rssKB, err := runPeer(e, &out, "pca_sklearn.py",
		"--train-images", files["train-images-idx3-ubyte"],
		"--test-images", files["t10k-images-idx3-ubyte"],
		"--k", strconv.Itoa(pcaComponents), "--seed", "0")
	if err != nil {
		return nil, err
	}
	sides := map[string]*Side{}
	for solver, r := range out.Results {
		sides[solver] = &Side{
			Name:    "sklearn " + solver,
			Quality: map[string]float64{"EVR": r.EVR, "test recon err": r.TestErr},
			TimeS:   r.FitSeconds,
			Timed:   "median over the repeats of scikit-learn " + out.Version + " PCA(svd_solver=" + solver + ").fit alone (data already in memory as float32); peak RSS of the whole Python process (both solvers)",
			PeakMB:  float64(rssKB) / 1024,
			Extra:   map[string]any{"version": out.Version, "numpy": out.Numpy, "params": r.Params, "singular_values_head": r.SVHead},
		}
	}
	if sides["full"] == nil || sides["randomized"] == nil {
		return nil, fmt.Errorf("pca_sklearn.py output lacks the full or randomized result: %v", slices.Sorted(maps.Keys(out.Results)))
	}
	return sides, nil
}
