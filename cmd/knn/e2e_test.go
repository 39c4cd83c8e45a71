package main_test

// End-to-end tests of the real knn binary, as SageMaker starts it: TestMain
// builds it once, and each test execs `knn train` / `knn serve` on a
// temporary ml root (trainertest.NewOptML). Data: the SDK-written fixture
// testdata/sdk/fashion_head50.* (50 labelled Fashion-MNIST images, 784
// features in 0..1).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/algorithms/knn"
	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

var binary string

func TestMain(m *testing.M) { os.Exit(clitest.BuildMain(m, "knn", &binary)) }

// train runs `knn train --ml-root root`, given 60 s rather than
// clitest.TrainTimeout: the IVF indexes train k-means of their own.
func train(t testing.TB, root string) clitest.Result {
	t.Helper()
	return clitest.Run(t, nil, 60*time.Second, binary, "train", "--ml-root", root)
}

func hps(extra map[string]string) map[string]string {
	hp := map[string]string{"feature_dim": "784", "k": "3", "predictor_type": "classifier", "sample_size": "50", "mini_batch_size": "20"}
	for k, v := range extra {
		hp[k] = v
	}
	return hp
}

func channels(t testing.TB) map[string]trainertest.Channel {
	rec := trainertest.Channel{Files: map[string][]byte{"fashion_head50.rec": clitest.Fixture(t, "fashion_head50.rec")}}
	csv := trainertest.Channel{ContentType: "text/csv", Files: map[string][]byte{"fashion_head50.csv": clitest.Fixture(t, "fashion_head50.csv")}}
	return map[string]trainertest.Channel{"train": rec, "test": csv}
}

// TestTrain trains each index type: exit 0, the three artifact files, and
// the documented test score line. With k=1 and the test rows indexed, a
// Flat classifier is exactly right.
func TestTrain(t *testing.T) {
	for _, tc := range []struct {
		name string
		hp   map[string]string
		acc  string
	}{
		{"flat k=1", map[string]string{"k": "1"}, "('accuracy', 1.0)"}, // Python's float repr
		{"ivfflat", map[string]string{"index_type": "faiss.IVFFlat"}, "('accuracy', "},
		{"ivfpq sign", map[string]string{"index_type": "faiss.IVFPQ", "faiss_index_pq_m": "8", "dimension_reduction_type": "sign", "dimension_reduction_target": "60", "faiss_index_ivf_nlists": "4"}, "('accuracy', "},
		{"regressor cosine", map[string]string{"predictor_type": "regressor", "index_metric": "COSINE"}, "('mse', "},
		// sample_size only bounds the sample: 10⁸ rows of 784 would be
		// 314 GB, the channel holds 50.
		{"sample_size far above the rows", map[string]string{"sample_size": "100000000"}, "('accuracy', "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := trainertest.NewOptML(t, hps(tc.hp), channels(t))
			r := train(t, root)
			if r.Code != 0 {
				f, _ := trainertest.Failure(t, root)
				t.Fatalf("exit %d, failure %q\n%s", r.Code, f, r.Log())
			}
			if got, want := trainertest.ModelFiles(t, root), []string{"model_algo-1", "model_algo-1.json", "model_algo-1.labels"}; !slices.Equal(got, want) {
				t.Fatalf("model/ holds %q, want %q", got, want)
			}
			if !strings.Contains(r.Log(), "#test_score (algo-1) : "+tc.acc) {
				t.Errorf("log lacks %q:\n%s", "#test_score (algo-1) : "+tc.acc, r.Log())
			}
		})
	}
}

func TestHyperparameterErrors(t *testing.T) {
	for _, tc := range []struct {
		hp   map[string]string
		want string
	}{
		{map[string]string{"index_type": "faiss.IVFPQ", "index_metric": "COSINE"}, "index_metric"},
		{map[string]string{"dimension_reduction_type": "sign"}, "dimension_reduction_target"},
		{map[string]string{"faiss_index_pq_m": "7"}, "faiss_index_pq_m"},
		{map[string]string{"feature_dim": "10"}, "feature_dim"},
		// More than any host holds: a ClientError, not Go's fatal "out of
		// memory" (exit 2 with no failure file).
		{map[string]string{"feature_dim": "2000000000"}, "needs at least"},
	} {
		root := trainertest.NewOptML(t, hps(tc.hp), channels(t))
		r := train(t, root)
		f, _ := trainertest.Failure(t, root)
		if r.Code != 2 || !strings.HasPrefix(f, "ClientError:") || !strings.Contains(f, tc.want) {
			t.Errorf("%v: exit %d, failure %q; want exit 2 and a ClientError naming %s", tc.hp, r.Code, f, tc.want)
		}
		if got := trainertest.ModelFiles(t, root); len(got) != 0 {
			t.Errorf("%v: model/ holds %q after a failure", tc.hp, got)
		}
	}
}

// TestServeIVFLargeK: an IVFFlat index of 50 rows in 16 lists, k=40: the
// 8 lists probed by default hold about 25 rows, so the search probes more
// until it has 40 neighbours. The verbose answer holds 40 finite, ascending
// distances (it was a 500: +Inf does not encode in JSON).
func TestServeIVFLargeK(t *testing.T) {
	root := trainertest.NewOptML(t, hps(map[string]string{"index_type": "faiss.IVFFlat", "faiss_index_ivf_nlists": "16", "k": "40"}), channels(t))
	if r := train(t, root); r.Code != 0 {
		t.Fatalf("train exit %d\n%s", r.Code, r.Log())
	}
	s := clitest.Serve(t, clitest.ServerConfig{Bin: binary, Root: root, StartTimeout: 10 * time.Second, StopTimeout: 10 * time.Second})
	row, _, _ := bytes.Cut(clitest.Fixture(t, "fashion_head50.csv"), []byte("\n"))
	_, feats, _ := bytes.Cut(row, []byte(","))
	r := s.Post(t, "/invocations", "text/csv", "application/json;verbose=true", feats)
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var env struct {
		Predictions []struct {
			Distances []float64 `json:"distances"`
			Labels    []float64 `json:"labels"`
		}
	}
	if err := json.Unmarshal(r.Body, &env); err != nil || len(env.Predictions) != 1 {
		t.Fatalf("%v: %s", err, r.Body)
	}
	p := env.Predictions[0]
	if len(p.Distances) != 40 || len(p.Labels) != 40 || !slices.IsSorted(p.Distances) || p.Distances[0] > 1e-3 {
		t.Errorf("verbose answer %d distances %v, %d labels; want 40 ascending from ~0", len(p.Distances), p.Distances, len(p.Labels))
	}
}

// TestServe trains k=3 (Flat), serves it, and checks predicted_label in
// every response type and the verbose distances/labels.
func TestServe(t *testing.T) {
	root := trainertest.NewOptML(t, hps(nil), channels(t))
	if r := train(t, root); r.Code != 0 {
		t.Fatalf("train exit %d\n%s", r.Code, r.Log())
	}
	s := clitest.Serve(t, clitest.ServerConfig{Bin: binary, Root: root, StartTimeout: 10 * time.Second, StopTimeout: 10 * time.Second})

	// Three rows without labels, and their true labels.
	var body bytes.Buffer
	var labels []float64
	sc := bufio.NewScanner(bytes.NewReader(clitest.Fixture(t, "fashion_head50.csv")))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && len(labels) < 3 {
		l, feats, _ := strings.Cut(sc.Text(), ",")
		v, _ := strconv.ParseFloat(l, 64)
		labels = append(labels, v)
		body.WriteString(feats + "\n")
	}
	post := func(accept string) []byte {
		t.Helper()
		r := s.Post(t, "/invocations", "text/csv", accept, body.Bytes())
		if r.Status != 200 {
			t.Fatalf("Accept %s: %d %s", accept, r.Status, r.Body)
		}
		return r.Body
	}
	type pred struct {
		PredictedLabel *float64  `json:"predicted_label"`
		Distances      []float64 `json:"distances"`
		Labels         []float64 `json:"labels"`
	}
	check := func(accept string, preds []pred, verbose bool) {
		t.Helper()
		if len(preds) != 3 {
			t.Fatalf("%s: %d predictions, want 3", accept, len(preds))
		}
		for i, p := range preds {
			if p.PredictedLabel == nil {
				t.Fatalf("%s: row %d has no predicted_label", accept, i)
			}
			if !verbose {
				if p.Distances != nil || p.Labels != nil {
					t.Errorf("%s: row %d has verbose fields", accept, i)
				}
				continue
			}
			// Each row is in the index: its nearest neighbour is itself.
			if len(p.Distances) != 3 || len(p.Labels) != 3 || p.Distances[0] > 1e-3 || p.Labels[0] != labels[i] || !slices.IsSorted(p.Distances) {
				t.Errorf("%s: row %d verbose %+v, want 3 ascending distances from ~0 and labels starting %v", accept, i, p, labels[i])
			}
		}
	}
	for _, verbose := range []bool{false, true} {
		suffix := ""
		if verbose {
			suffix = ";verbose=true"
		}
		var env struct{ Predictions []pred }
		b := post("application/json" + suffix)
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !bytes.Contains(b, []byte(`"predicted_label":`)) || (verbose && !bytes.Contains(b, []byte(`"distances":[`))) {
			t.Errorf("json body %s", b)
		}
		check("application/json"+suffix, env.Predictions, verbose)

		var lines []pred
		for _, l := range bytes.Split(bytes.TrimSpace(post("application/jsonlines"+suffix)), []byte("\n")) {
			var p pred
			if err := json.Unmarshal(l, &p); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, p)
		}
		check("application/jsonlines"+suffix, lines, verbose)

		r := recordio.NewReader(bytes.NewReader(post("application/x-recordio-protobuf" + suffix)))
		var recs []pred
		for {
			payload, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			var rec aialgs.Record
			if err := proto.Unmarshal(payload, &rec); err != nil {
				t.Fatal(err)
			}
			var p pred
			f := func(key string) []float64 {
				v, ok := rec.Label[key]
				if !ok {
					return nil
				}
				var out []float64
				for _, x := range v.GetFloat32Tensor().GetValues() {
					out = append(out, float64(x))
				}
				return out
			}
			if pl := f("predicted_label"); len(pl) == 1 {
				p.PredictedLabel = &pl[0]
			}
			p.Distances, p.Labels = f("distances"), f("labels")
			recs = append(recs, p)
		}
		check("application/x-recordio-protobuf"+suffix, recs, verbose)
	}
}

// TestStopInTestPass: SIGTERM while the test channel waits for its pipe,
// after training is done, exits 143 and saves the finished model.
func TestStopInTestPass(t *testing.T) {
	root := trainertest.NewOptML(t, hps(nil), map[string]trainertest.Channel{"train": channels(t)["train"], "test": {Mode: "Pipe"}})
	clitest.StopInTestPass(t, binary, root, " index (", []string{"model_algo-1", "model_algo-1.json", "model_algo-1.labels"}, func(dir string) error {
		_, err := knn.Algorithm{}.Load(dir)
		return err
	})
}
