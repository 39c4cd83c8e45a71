package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/sagebrush-ml/sagebrush/benchmarks/harness"
)

// knnHeadline is the configuration: every training row indexed,
// k=10, classifier. Each config below adds its index_type.
var knnHeadline = map[string]string{"feature_dim": "784", "k": "10", "predictor_type": "classifier", "sample_size": "60000"}

// knnConfigs are the rows: the headline index types, then --variant sets
// (on top of the headline, e.g. index_type=faiss.IVFPQ).
var knnConfigs = []map[string]string{
	{"index_type": "faiss.Flat"},
	{"index_type": "faiss.IVFFlat"},
}

// knnSearchLine is the trainer's timing of the test channel's search and vote.
var knnSearchLine = regexp.MustCompile(`test: searched and predicted (\d+) records in ([0-9.]+)s`)

func knnFashionMNIST(e *env) ([]Row, error) {
	train, test, err := e.loadFashion()
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(e.DataDir, "fashion-mnist")
	trainRec, _, err := convertCached(dataDir, "train", train)
	if err != nil {
		return nil, err
	}
	testRec, _, err := convertCached(dataDir, "test", test)
	if err != nil {
		return nil, err
	}
	fmt.Printf("   Fashion-MNIST: %d index rows, %d queries of %d pixels (/255), k=10\n", train.N(), test.N(), train.Dim)

	fmt.Printf("   peer: scikit-learn KNeighborsClassifier (brute) and FAISS if present (%s)\n", e.Python)
	peer, err := knnPeers(e, e.fashionFiles)
	if err != nil {
		return nil, err
	}
	faiss := peer["faiss"] != nil
	fmt.Printf("   peer: sklearn predict %.2fs accuracy %.4f", num(peer, "sklearn_predict_seconds"), num(peer, "sklearn_accuracy"))
	if faiss {
		fmt.Printf("; FAISS %v Flat search %.2fs accuracy %.4f, IVFFlat search %.2fs accuracy %.4f",
			peer["faiss"], num(peer, "faiss_flat_search_seconds"), num(peer, "faiss_flat_accuracy"),
			num(peer, "faiss_ivf_search_seconds"), num(peer, "faiss_ivf_accuracy"))
	} else {
		fmt.Printf("; FAISS not present (%v)", peer["faiss_error"])
	}
	fmt.Println()
	skSide := Side{
		Name:    "sklearn",
		Quality: map[string]float64{"test accuracy": num(peer, "sklearn_accuracy")},
		TimeS:   num(peer, "sklearn_predict_seconds"),
		Timed:   "scikit-learn " + fmt.Sprint(peer["version"]) + " KNeighborsClassifier(n_neighbors=10, algorithm=\"brute\").predict on the 10,000 test rows (data in memory as float32); peak RSS of the whole Python process (FAISS runs in it too)",
		PeakMB:  num(peer, "max_rss_kb") / 1024,
		Extra:   peer,
	}

	var configs []map[string]string
	var names []string
	for _, c := range knnConfigs {
		h := maps.Clone(knnHeadline)
		maps.Copy(h, c)
		configs = append(configs, h)
		names = append(names, c["index_type"])
	}
	for _, v := range e.Variants {
		base := maps.Clone(knnHeadline)
		base["index_type"] = "faiss.Flat"
		h, err := withVariant(base, v)
		if err != nil {
			return nil, err
		}
		configs = append(configs, h)
		names = append(names, v)
	}

	var rows []Row
	var flat *Side
	for i := range names {
		h := configs[i]
		ours, err := knnOurs(e, filepath.Join(e.WorkDir, fmt.Sprintf("knn-%d", i)), h, trainRec, testRec)
		if err != nil {
			return rows, fmt.Errorf("config %s: %w", names[i], err)
		}
		fmt.Printf("   ours [%s]: test accuracy %.4f, search %.2fs, train wall %.2fs, peak RSS %.0f MB\n",
			names[i], ours.Quality["test accuracy"], ours.TimeS, ours.Extra["train_wall_seconds"], ours.PeakMB)
		acc := ours.Quality["test accuracy"]
		row := Row{
			Algorithm: "k-NN", Dataset: "Fashion-MNIST (60k index / 10k queries, 784, /255), k=10",
			Config: names[i], Headline: i < len(knnConfigs), Hyper: h,
			Metrics: []string{"test accuracy"}, Ours: *ours, Peer: skSide,
		}
		switch h["index_type"] {
		case "faiss.Flat":
			if flat == nil {
				flat = ours
			}
			skAcc := num(peer, "sklearn_accuracy")
			row.Targets = append(row.Targets, Target{Name: "accuracy = sklearn's", Met: acc == skAcc,
				Detail: fmt.Sprintf("%.4f vs %.4f", acc, skAcc)})
			if faiss {
				fs := num(peer, "faiss_flat_search_seconds")
				row.Targets = append(row.Targets, Target{Name: "search ≤ FAISS Flat's", Met: ours.TimeS <= fs,
					Detail: fmt.Sprintf("%.2fs vs FAISS IndexFlatL2 %.2fs (ratio %.2f); FAISS accuracy %.4f", ours.TimeS, fs, ours.TimeS/fs, num(peer, "faiss_flat_accuracy"))})
			} else {
				row.Targets = append(row.Targets, Target{Name: "search ≤ FAISS Flat's", Met: false, Detail: "FAISS not present"})
			}
		case "faiss.IVFFlat":
			if flat != nil {
				speed := flat.TimeS / ours.TimeS
				fa := flat.Quality["test accuracy"]
				row.Targets = append(row.Targets,
					Target{Name: "≥ 5× faster than Flat", Met: speed >= 5, Detail: fmt.Sprintf("%.2fs vs %.2fs: %.1f×", ours.TimeS, flat.TimeS, speed)},
					Target{Name: "accuracy within 0.5 pt of Flat", Met: fa-acc <= 0.005, Detail: fmt.Sprintf("%.4f vs %.4f", acc, fa)})
			}
			if faiss {
				row.Ours.Extra["faiss_ivf_same_params"] = fmt.Sprintf("FAISS IndexIVFFlat(nlist=245, nprobe=8): search %.2fs, accuracy %.4f",
					num(peer, "faiss_ivf_search_seconds"), num(peer, "faiss_ivf_accuracy"))
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func num(m map[string]any, key string) float64 {
	switch v := m[key].(type) {
	case float64:
		return v
	case json.Number:
		f, _ := v.Float64()
		return f
	}
	return 0
}

// knnOurs trains bin/knn with h on a fresh ml root under dir (train and test
// channels, RecordIO-protobuf, File mode). Its time is the test channel's
// search and vote as the trainer logs it (the whole train wall is kept too).
func knnOurs(e *env, dir string, h map[string]string, trainRec, testRec string) (*Side, error) {
	bin := abs(filepath.Join(e.BinDir, "knn"))
	root := abs(filepath.Join(dir, "ml"))
	os.RemoveAll(dir)
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
	var searches, accs []float64
	walls, peakKB, err := trainRepeats(e, bin, root, dir, func(res *harness.TrainResult, log string) error {
		acc, ok := res.Metrics["test accuracy"]
		m := knnSearchLine.FindStringSubmatch(res.Log)
		if !ok || m == nil {
			return fmt.Errorf("no `test accuracy` or search timing line in %s", log)
		}
		s, _ := strconv.ParseFloat(m[2], 64)
		searches, accs = append(searches, s), append(accs, acc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	meta, _ := os.ReadFile(filepath.Join(root, "model", "model_algo-1.json"))
	var md map[string]any
	json.Unmarshal(meta, &md)
	return &Side{
		Name:    "sagebrush knn",
		Quality: map[string]float64{"test accuracy": accs[len(accs)-1]},
		TimeS:   median(searches),
		Timed:   "median over the repeats of the search + vote time of the 10,000 test rows, as `bin/knn train` logs it while scoring the test channel (mini-batches of 5000 queries through compute's TopK kernel on the binary's engine, all cores: OpenBLAS when `make build` could link it, gonum otherwise, as the training log's `compute backend` line says)",
		PeakMB:  float64(peakKB) / 1024,
		Extra:   map[string]any{"search_seconds_each": searches, "train_wall_seconds": median(walls), "train_wall_seconds_each": walls, "model_metadata": md},
	}, nil
}

// knnPeers runs peers/knn_sklearn.py on the same IDX files.
func knnPeers(e *env, files map[string]string) (map[string]any, error) {
	var out map[string]any
	_, err := runPeer(e, &out, "knn_sklearn.py",
		"--train-images", files["train-images-idx3-ubyte"], "--train-labels", files["train-labels-idx1-ubyte"],
		"--test-images", files["t10k-images-idx3-ubyte"], "--test-labels", files["t10k-labels-idx1-ubyte"],
		"--k", "10", "--nlist", "245", "--nprobe", "8")
	if err != nil {
		return nil, err
	}
	return out, nil
}
