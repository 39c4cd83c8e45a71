package main_test

// End-to-end tests of the real linear-learner binary: TestMain builds it
// once, and each test execs `linear-learner train` on a temporary ml root
// made by trainertest.NewOptML, as SageMaker starts a container.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/linearlearner"
	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	_ "github.com/sagebrush-ml/sagebrush/compute/cpu"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
	"github.com/sagebrush-ml/sagebrush/recordio/recordiotest"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

var binary string

func TestMain(m *testing.M) { os.Exit(clitest.BuildMain(m, "linear-learner", &binary)) }

// csvData is n rows "label,x0,x1,x2" of a noisy linear binary problem.
func csvData(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for range n {
		x := []float64{rng.NormFloat64(), 10 + 5*rng.NormFloat64(), rng.NormFloat64()}
		y := 0
		if 2*x[0]-(x[1]-10)/5+0.3*rng.NormFloat64() > 0 {
			y = 1
		}
		fmt.Fprintf(&b, "%d,%g,%g,%g\n", y, x[0], x[1], x[2])
	}
	return b.Bytes()
}

// csvChannel is a File-mode text/csv channel of one file.
func csvChannel(b []byte) trainertest.Channel {
	return trainertest.Channel{ContentType: "text/csv", Files: map[string][]byte{"part-0.csv": b}}
}

// trainOK trains on root and stops the test unless training succeeded.
func trainOK(t *testing.T, root string) clitest.Result {
	t.Helper()
	r := clitest.Train(t, binary, root)
	if r.Code != 0 {
		f, _ := trainertest.Failure(t, root)
		t.Fatalf("exit %d, failure %q\n%s", r.Code, f, r.Log())
	}
	return r
}

func TestTrainAndLoad(t *testing.T) {
	hp := map[string]string{"feature_dim": "3", "predictor_type": "binary_classifier", "mini_batch_size": "100", "epochs": "5", "num_models": "4"}
	root := trainertest.NewOptML(t, hp, map[string]trainertest.Channel{
		"train": csvChannel(csvData(2000, 1)), "validation": csvChannel(csvData(500, 2)), "test": csvChannel(csvData(500, 3))})
	r := trainOK(t, root)
	for _, want := range []string{
		"#quality_metric: host=algo-1, epoch=0, train objective_loss <loss>=",
		"#quality_metric: host=algo-1, epoch=0, validation objective_loss <loss>=",
		"#quality_metric: host=algo-1, validation binary_classification_accuracy <score>=",
		"#quality_metric: host=algo-1, test binary_classifier_accuracy <score>=", // the guide's name
		"#quality_metric: host=algo-1, test binary_f_beta <score>=",
		"#test_score (algo-1) : ('objective_loss', ",
	} {
		if !strings.Contains(r.Log(), want) {
			t.Errorf("the log lacks %q\n%s", want, r.Log())
		}
	}
	if got := trainertest.ModelFiles(t, root); len(got) != 1 || got[0] != "model_algo-1" {
		t.Fatalf("model files %q", got)
	}
	wantSeparates(t, root)
	wantRealLogNames(t, r.Log())
}

// wantRealLogNames checks the lines a binary job adds in the names the
// algorithm's own log uses (from real SageMaker training logs): each the
// same value as its counterpart, roc_auc_score a probability, and the
// selected model's settings as JSON.
func wantRealLogNames(t *testing.T, log string) {
	t.Helper()
	value := func(line string) string {
		i := strings.Index(log, line)
		if i < 0 {
			t.Fatalf("the log lacks %q\n%s", line, log)
		}
		v, _, _ := strings.Cut(log[i+len(line):], "\n")
		return v
	}
	for _, ch := range []string{"validation", "test"} {
		pre := "#quality_metric: host=algo-1, " + ch + " "
		if a, b := value(pre+"binary_f_beta <score>="), value(pre+"binary_f_1.000 <score>="); a != b {
			t.Errorf("%s binary_f_1.000 = %s, binary_f_beta = %s", ch, b, a)
		}
		if a, b := value(pre+"objective_loss <loss>="), value(pre+"binary_classification_cross_entropy_objective <loss>="); a != b {
			t.Errorf("%s binary_classification_cross_entropy_objective = %s, objective_loss = %s", ch, b, a)
		}
		// csvData's classes are told apart by x0: the ranking is all but perfect.
		if auc, err := strconv.ParseFloat(value(pre+"roc_auc_score <score>="), 64); err != nil || auc < 0.95 || auc > 1 {
			t.Errorf("%s roc_auc_score %v (%v), want in [0.95, 1]", ch, auc, err)
		}
	}
	value("#quality_metric: host=algo-1, epoch=0, train binary_classification_cross_entropy_objective <loss>=")
	// No criterion given: early stopping watches the best model's
	// validation loss, which the epoch's validation line reports.
	if a, b := value("#early_stopping_criteria_metric: host=algo-1, epoch=0, criteria=binary_classification_cross_entropy_objective, value="),
		value("#quality_metric: host=algo-1, epoch=0, validation objective_loss <loss>="); a != b {
		t.Errorf("early_stopping_criteria_metric value %s at epoch 0, the validation loss %s", a, b)
	}
	value("Epoch 0: Loss improved. Updating best model") // the first epoch always improves on +Inf
	var best map[string]any
	if err := json.Unmarshal([]byte(value("Best model found for hyperparameters: ")), &best); err != nil {
		t.Fatalf("the Best model found line is not JSON: %v", err)
	}
	for _, k := range []string{"optimizer", "learning_rate", "l1", "wd", "lr_scheduler_step", "lr_scheduler_factor", "lr_scheduler_minimum_lr"} {
		if _, ok := best[k]; !ok {
			t.Errorf("the Best model found line lacks %q: %v", k, best)
		}
	}
	if best["optimizer"] != "adam" {
		t.Errorf("optimizer %v in the Best model found line, want adam (auto)", best["optimizer"])
	}
}

// wantSeparates loads the model of root and checks that it tells csvData's
// classes apart: x0 = 2 is clearly positive, x0 = -2 clearly negative.
func wantSeparates(t *testing.T, root string) {
	t.Helper()
	m, err := linearlearner.Algorithm{}.Load(filepath.Join(root, "model"))
	if err != nil {
		t.Fatal(err)
	}
	b := &data.Batch{Rows: 2, Cols: 3, Dense: []float32{2, 10, 0, -2, 10, 0}}
	p, err := m.Predict(context.Background(), b, algorithms.PredictOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l := p.Outputs[1].Values; l[0] != 1 || l[1] != 0 {
		t.Errorf("predicted_label %v, want [1 0] (scores %v)", l, p.Outputs[0].Values)
	}
}

// TestAutomaticModelTuning: a training job launched by a tuning job
// carries _tuning_objective_metric; the internal tuning is then off (one
// model, whatever num_models says) and the objective is in the log.
func TestAutomaticModelTuning(t *testing.T) {
	hp := map[string]string{"feature_dim": "3", "predictor_type": "binary_classifier", "mini_batch_size": "100", "epochs": "3",
		"num_models": "8", "_tuning_objective_metric": "validation:binary_f_beta"}
	root := trainertest.NewOptML(t, hp, map[string]trainertest.Channel{"train": csvChannel(csvData(1000, 1)), "validation": csvChannel(csvData(300, 2))})
	r := trainOK(t, root)
	for _, want := range []string{
		"automatic model tuning (objective validation:binary_f_beta): the internal tuning is off",
		", models in parallel: 1,",
		"selected model 0 of 1 ",
		"#quality_metric: host=algo-1, validation binary_f_beta <score>=",
	} {
		if !strings.Contains(r.Log(), want) {
			t.Errorf("the log lacks %q\n%s", want, r.Log())
		}
	}
}

func TestClientErrors(t *testing.T) {
	good := trainertest.Channel{ContentType: "text/csv", Files: map[string][]byte{"d.csv": csvData(100, 4)}}
	for _, tc := range []struct {
		name string
		hp   map[string]string
		want string
	}{
		{"no predictor_type", map[string]string{"feature_dim": "3"}, "predictor_type"},
		{"bad loss", map[string]string{"feature_dim": "3", "predictor_type": "regressor", "loss": "logistic"}, "invalid for predictor_type"},
		{"wrong feature_dim", map[string]string{"feature_dim": "5", "predictor_type": "regressor"}, "expected 6 (1 label + 5 features)"},
		{"feature_dim beyond memory", map[string]string{"feature_dim": "2000000000", "predictor_type": "binary_classifier"}, "needs at least"},
		{"diverged regressor", map[string]string{"feature_dim": "3", "predictor_type": "regressor", "learning_rate": "1e30"}, "training diverged"},
		{"diverged binary", map[string]string{"feature_dim": "3", "predictor_type": "binary_classifier", "wd": "1e40"}, "training diverged"},
		{"multiclass labels", map[string]string{"feature_dim": "3", "predictor_type": "multiclass_classifier", "num_classes": strconv.Itoa(3), "accuracy_top_k": "1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := trainertest.NewOptML(t, tc.hp, map[string]trainertest.Channel{"train": good})
			r := clitest.Train(t, binary, root)
			if tc.want == "" { // labels 0/1 are valid multiclass labels
				if r.Code != 0 {
					t.Errorf("exit %d\n%s", r.Code, r.Log())
				}
				return
			}
			f, _ := trainertest.Failure(t, root)
			if r.Code != 2 || !strings.HasPrefix(f, "ClientError:") || !strings.Contains(f, tc.want) {
				t.Errorf("exit %d, failure %q, want 2 and ClientError containing %q", r.Code, f, tc.want)
			}
			if got := trainertest.ModelFiles(t, root); len(got) != 0 {
				t.Errorf("model files %q after a failure", got)
			}
		})
	}
}

// TestStopInTestPass: SIGTERM while the test channel waits for its pipe,
// after training is done, exits 143 and saves the finished model.
func TestStopInTestPass(t *testing.T) {
	root := trainertest.NewOptML(t, map[string]string{"feature_dim": "3", "predictor_type": "binary_classifier", "mini_batch_size": "100", "epochs": "2"}, map[string]trainertest.Channel{"train": csvChannel(csvData(500, 1)), "test": {Mode: "Pipe"}})
	clitest.StopInTestPass(t, binary, root, "selected model", []string{"model_algo-1"}, func(dir string) error {
		_, err := linearlearner.Algorithm{}.Load(dir)
		return err
	})
}

// sparseRecords is n labelled sparse RecordIO-protobuf records (as the
// SDK's write_spmatrix_to_sparse_tensor writes them) of d features: one of
// features 0-19 (the label: 1 for 0-9) and four of 200 others spread over
// the rest.
func sparseRecords(t *testing.T, n, d int, seed uint64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	var recs []*aialgs.Record
	for range n {
		cue := rng.IntN(20)
		keys := []uint64{uint64(cue)}
		for range 4 {
			keys = append(keys, uint64(20+rng.IntN(200)*((d-20)/200)))
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		vals := make([]float32, len(keys))
		for i := range vals {
			vals[i] = 1
		}
		y := float32(0)
		if cue < 10 {
			y = 1
		}
		recs = append(recs, &aialgs.Record{
			Features: map[string]*aialgs.Value{"values": recordiotest.Float32(vals, keys, []uint64{uint64(d)})},
			Label:    map[string]*aialgs.Value{"values": recordiotest.Float32([]float32{y}, nil, nil)},
		})
	}
	return recordiotest.Records(t, recs...)
}

// TestTrainSparseRecordIO trains on sparse RecordIO-protobuf of 200,000
// features (five stored a record) in File and Pipe mode: the test channel
// scores the cue features' problem to test accuracy 1 (within 0.02), and
// the model, on raw features, predicts from the cue alone. (Every reader
// opened on such a channel used to reserve room for 1,000 dense rows,
// 800 MB zeroed: the job took 9 s, now well under one.)
func TestTrainSparseRecordIO(t *testing.T) {
	const d = 200_000
	for _, mode := range []string{"File", "Pipe"} {
		t.Run(mode, func(t *testing.T) {
			hp := map[string]string{"feature_dim": strconv.Itoa(d), "predictor_type": "binary_classifier", "num_models": "8"}
			rec := func(b []byte) trainertest.Channel {
				return trainertest.Channel{ContentType: "application/x-recordio-protobuf", Mode: mode, Files: map[string][]byte{"part-0.rec": b}}
			}
			train, test := sparseRecords(t, 5000, d, 1), sparseRecords(t, 1000, d, 2)
			root := trainertest.NewOptML(t, hp, map[string]trainertest.Channel{"train": rec(train), "test": rec(test)})
			if mode == "Pipe" {
				// One pass of each: later epochs replay the cached first.
				trainertest.ServePipe(t, root, "train", 0, train)
				trainertest.ServePipe(t, root, "test", 0, test)
			}
			r := trainOK(t, root)
			const key = "test binary_classification_accuracy <score>="
			i := strings.Index(r.Log(), key)
			if i < 0 {
				t.Fatalf("the log lacks %q\n%s", key, r.Log())
			}
			acc, err := strconv.ParseFloat(strings.Fields(r.Log()[i+len(key):])[0], 64)
			if err != nil || acc < 0.98 {
				t.Errorf("test accuracy %v (%v), want ≥ 0.98\n%s", acc, err, r.Log())
			}
			m, err := linearlearner.Algorithm{}.Load(filepath.Join(root, "model"))
			if err != nil {
				t.Fatal(err)
			}
			b := &data.Batch{Rows: 2, Cols: d, Dense: make([]float32, 2*d)}
			b.Dense[3], b.Dense[d+13] = 1, 1 // cue 3 (positive), cue 13 (negative)
			p, err := m.Predict(context.Background(), b, algorithms.PredictOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if l := p.Outputs[1].Values; l[0] != 1 || l[1] != 0 {
				t.Errorf("predicted_label %v for cues 3 and 13, want [1 0] (scores %v)", l, p.Outputs[0].Values)
			}
		})
	}
}
