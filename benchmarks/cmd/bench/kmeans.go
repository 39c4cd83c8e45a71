package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sagebrush-ml/sagebrush/benchmarks/harness"
)

// kmeansHeadline is the configuration: the documented defaults
// plus these. Variants (--variant) are trained on top of it.
var kmeansHeadline = map[string]string{"feature_dim": "784", "k": "10", "mini_batch_size": "5000"}

// fashionMNIST locates the IDX files of Debian's dataset-fashion-mnist
// (FASHION_MNIST_DIR overrides): train and t10k images and labels.
func fashionMNIST() (map[string]string, error) {
	want := []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}
	var candidates []string
	if dir := os.Getenv("FASHION_MNIST_DIR"); dir != "" {
		for _, w := range want {
			m, _ := filepath.Glob(filepath.Join(dir, w+"*"))
			candidates = append(candidates, m...)
		}
	} else if out, err := exec.Command("dpkg", "-L", "dataset-fashion-mnist").Output(); err == nil {
		candidates = strings.Fields(string(out))
	} else {
		return nil, fmt.Errorf("dpkg -L dataset-fashion-mnist: %v (install it: apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR)", err)
	}
	found := map[string]string{}
	for _, c := range candidates {
		base := strings.TrimSuffix(filepath.Base(c), ".gz")
		for _, w := range want {
			if base == w {
				found[w] = c
			}
		}
	}
	for _, w := range want {
		if found[w] == "" {
			return nil, fmt.Errorf("Fashion-MNIST: no %s file found (dataset-fashion-mnist installed?)", w)
		}
	}
	return found, nil
}

// convertCached writes d as <dir>/<name>.rec (RecordIO-protobuf) and
// <dir>/<name>.csv (label first) unless both exist already.
func convertCached(dir, name string, d *harness.Dataset) (rec, csv string, err error) {
	rec, csv = filepath.Join(dir, name+".rec"), filepath.Join(dir, name+".csv")
	for path, ct := range map[string]string{rec: harness.RecordIOProtobuf, csv: harness.TextCSV} {
		if _, err := os.Stat(path); err == nil {
			continue
		}
		fmt.Printf("   converting %s (%d rows) -> %s\n", name, d.N(), path)
		if err := harness.WriteChannelFile(path, ct, d); err != nil {
			return "", "", err
		}
	}
	return rec, csv, nil
}

// loadFashion returns Fashion-MNIST's train and test sets, read from the
// IDX files once per run: every benchmark (and the serving section) uses
// them, and decompressing them again each time cost about a second.
func (e *env) loadFashion() (train, test *harness.Dataset, err error) {
	if e.fashionTrain != nil {
		return e.fashionTrain, e.fashionTest, nil
	}
	files, err := fashionMNIST()
	if err != nil {
		return nil, nil, err
	}
	if train, err = harness.LoadIDX(files["train-images-idx3-ubyte"], files["train-labels-idx1-ubyte"]); err != nil {
		return nil, nil, err
	}
	if test, err = harness.LoadIDX(files["t10k-images-idx3-ubyte"], files["t10k-labels-idx1-ubyte"]); err != nil {
		return nil, nil, err
	}
	e.fashionTrain, e.fashionTest, e.fashionFiles = train, test, files
	return train, test, nil
}

func kmeansFashionMNIST(e *env) ([]Row, error) {
	train, test, err := e.loadFashion()
	if err != nil {
		return nil, err
	}
	fmt.Printf("   Fashion-MNIST: %d train, %d test rows of %d pixels (/255)\n", train.N(), test.N(), train.Dim)
	dataDir := filepath.Join(e.DataDir, "fashion-mnist")
	trainRec, _, err := convertCached(dataDir, "train", train)
	if err != nil {
		return nil, err
	}
	testRec, _, err := convertCached(dataDir, "test", test)
	if err != nil {
		return nil, err
	}

	// The peer, once: every row compares against the same fit.
	fmt.Printf("   peer: scikit-learn KMeans (%s)\n", e.Python)
	peer, err := repeated(e, func() (*Side, error) { return sklearnKMeans(e, e.fashionFiles) }, "fit_seconds_each")
	if err != nil {
		return nil, err
	}
	fmt.Printf("   peer: fit %.2fs, test msd %.4f, NMI %.4f\n", peer.TimeS, peer.Quality["test msd"], peer.Quality["test NMI"])

	configs := []map[string]string{kmeansHeadline}
	names := []string{"defaults"}
	for _, v := range e.Variants {
		h, err := withVariant(kmeansHeadline, v)
		if err != nil {
			return nil, err
		}
		configs = append(configs, h)
		names = append(names, v)
	}
	var rows []Row
	for i, h := range configs {
		dir := filepath.Join(e.WorkDir, fmt.Sprintf("kmeans-%d", i))
		ours, err := kmeansOurs(e, dir, h, trainRec, testRec, test.Labels, func(srv *harness.Server) ([]int, error) {
			return srv.Assign(test, 1000, harness.RecordIOProtobuf, "application/jsonlines")
		})
		if err != nil {
			return rows, fmt.Errorf("config %s: %w", names[i], err)
		}
		fmt.Printf("   ours [%s]: wall %.2fs, test msd %.4f, NMI %.4f, peak RSS %.0f MB\n",
			names[i], ours.TimeS, ours.Quality["test msd"], ours.Quality["test NMI"], ours.PeakMB)
		msdRatio := ours.Quality["test msd"] / peer.Quality["test msd"]
		timeRatio := ours.TimeS / peer.TimeS
		rows = append(rows, Row{
			Algorithm: "k-means", Dataset: "Fashion-MNIST (60k train / 10k test, 784, /255)",
			Config: names[i], Headline: i == 0, Hyper: h,
			Metrics: []string{"test msd", "test NMI"},
			Ours:    *ours, Peer: *peer,
			Targets: []Target{
				{Name: "msd ≤ 1.02× peer", Met: msdRatio <= 1.02, Detail: fmt.Sprintf("test msd %.4f vs %.4f, ratio %.4f", ours.Quality["test msd"], peer.Quality["test msd"], msdRatio)},
				{Name: "wall ≤ ¼ peer fit", Met: timeRatio <= 0.25, Detail: fmt.Sprintf("%.2fs vs %.2fs, ratio %.3f", ours.TimeS, peer.TimeS, timeRatio)},
			},
		})
	}
	return rows, nil
}

// kmeansOurs trains bin/kmeans with hyperparameters h on a fresh ml root
// under dir (train and test channels, RecordIO-protobuf, File mode), then
// serves the model and has assign send the test rows through /invocations
// for their NMI against labels.
func kmeansOurs(e *env, dir string, h map[string]string, trainRec, testRec string, labels []int, assign func(*harness.Server) ([]int, error)) (*Side, error) {
	bin := abs(filepath.Join(e.BinDir, "kmeans"))
	root := abs(filepath.Join(dir, "ml"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	err := harness.LayoutRoot(root, h, []harness.Channel{
		{Name: "train", ContentType: harness.RecordIOProtobuf, Files: []string{trainRec}},
		{Name: "test", ContentType: harness.RecordIOProtobuf, Files: []string{testRec}},
	})
	if err != nil {
		return nil, err
	}
	// Train Repeat times: the median wall time, the largest peak RSS,
	// every test msd kept.
	var msds []float64
	walls, peakKB, err := trainRepeats(e, bin, root, dir, func(res *harness.TrainResult, log string) error {
		msd, ok := res.Metrics["test msd"]
		if !ok {
			return fmt.Errorf("no `test msd` metric line in the training log %s", log)
		}
		msds = append(msds, msd)
		return nil
	})
	if err != nil {
		return nil, err
	}
	msd := msds[len(msds)-1] // the model served below

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
	clusters, err := assign(srv)
	if stopErr := srv.Stop(15 * time.Second); err == nil && stopErr != nil {
		err = fmt.Errorf("stopping the server: %w", stopErr)
	}
	if err != nil {
		return nil, err
	}
	return &Side{
		Name:    "sagebrush kmeans",
		Quality: map[string]float64{"test msd": msd, "test NMI": harness.NMI(labels, clusters)},
		TimeS:   median(walls),
		Timed:   "median over the repeats of the wall time of the whole `bin/kmeans train` process (start, reading both RecordIO channels, training, test-channel evaluation, model write); test msd from its log, NMI of the test rows' clusters as `serve` assigns them (RecordIO in, JSON Lines out)",
		PeakMB:  float64(peakKB) / 1024,
		Extra:   map[string]any{"wall_seconds_each": walls, "test_msd_each": msds},
	}, nil
}

func safeLog(r *harness.TrainResult) string {
	if r == nil {
		return ""
	}
	return r.Log
}

// sklearnKMeans runs peers/kmeans_sklearn.py on the same IDX files.
func sklearnKMeans(e *env, files map[string]string) (*Side, error) {
	return sklearnKMeansArgs(e,
		"--train-images", files["train-images-idx3-ubyte"],
		"--test-images", files["t10k-images-idx3-ubyte"],
		"--test-labels", files["t10k-labels-idx1-ubyte"],
		"--k", "10", "--seed", "0")
}

// sklearnKMeansArgs runs peers/kmeans_sklearn.py with args.
func sklearnKMeansArgs(e *env, args ...string) (*Side, error) {
	var out struct {
		Peer       string         `json:"peer"`
		Version    string         `json:"version"`
		FitSeconds float64        `json:"fit_seconds"`
		TestMSD    float64        `json:"test_msd"`
		TestNMI    float64        `json:"test_nmi"`
		MaxRSSKB   int64          `json:"max_rss_kb"`
		Params     map[string]any `json:"params"`
		NIter      int            `json:"n_iter"`
		TrainMSD   float64        `json:"train_msd"`
		Numpy      string         `json:"numpy"`
	}
	rssKB, err := runPeer(e, &out, "kmeans_sklearn.py", args...)
	if err != nil {
		return nil, err
	}
	peak := float64(rssKB) / 1024
	return &Side{
		Name:    "sklearn",
		Quality: map[string]float64{"test msd": out.TestMSD, "test NMI": out.TestNMI},
		TimeS:   out.FitSeconds,
		Timed:   "median over the repeats of scikit-learn " + out.Version + " KMeans.fit alone (data already in memory as float32); peak RSS of the whole Python process",
		PeakMB:  peak,
		Extra:   map[string]any{"version": out.Version, "numpy": out.Numpy, "params": out.Params, "n_iter": out.NIter, "train_msd": out.TrainMSD},
	}, nil
}

// median of xs (not empty); the mean of the middle two for an even count.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
