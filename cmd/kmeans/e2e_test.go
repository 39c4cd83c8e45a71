package main_test

// End-to-end tests of the real kmeans binary: TestMain builds it once with
// `go build` (CGO_ENABLED=0 unless the environment says otherwise, as the
// image is built), and every test execs it on a temporary ml root made by
// trainertest.NewOptML, as SageMaker starts a container: `kmeans train` and
// `kmeans serve`. Data are the SDK-written fixtures in testdata/sdk (the
// first 50 Fashion-MNIST images, 784 features in 0..1).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/algorithms/kmeans"
	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/mxnet"
	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// binary is the path of the kmeans binary built by TestMain.
var binary string

const (
	featureDim  = 784
	fashionRows = 50
	// runTimeout bounds one training run; the data are tiny, so a run
	// that takes this long is hung.
	runTimeout = 30 * time.Second
)

func TestMain(m *testing.M) { os.Exit(clitest.BuildMain(m, "kmeans", &binary)) }

// ---- helpers ----

// hps returns the k-means hyperparameters every test starts from (k=3 over
// the 784-wide fashion data), with extra overriding or adding names; an
// empty value in extra deletes the name.
func hps(extra map[string]string) map[string]string {
	hp := map[string]string{"k": "3", "feature_dim": strconv.Itoa(featureDim), "mini_batch_size": "25"}
	for k, v := range extra {
		if v == "" {
			delete(hp, k)
			continue
		}
		hp[k] = v
	}
	return hp
}

// recordIOChannel is a File-mode channel holding the fashion RecordIO file.
func recordIOChannel(t testing.TB) trainertest.Channel {
	return trainertest.Channel{Files: map[string][]byte{"fashion_head50.rec": clitest.Fixture(t, "fashion_head50.rec")}}
}

// wantSuccess checks a successful training: exit 0, no failure file, and a
// loadable model_algo-1 holding one (k, 784) float32 array.
func wantSuccess(t testing.TB, root string, r clitest.Result, k int) {
	t.Helper()
	if r.Code != 0 {
		f, _ := trainertest.Failure(t, root)
		t.Fatalf("exit code %d, want 0; failure file: %q\nlog:\n%s", r.Code, f, r.Log())
	}
	if f, ok := trainertest.Failure(t, root); ok {
		t.Errorf("output/failure exists after a successful run: %q", f)
	}
	if got, want := trainertest.ModelFiles(t, root), []string{"model_algo-1"}; !equalStrings(got, want) {
		t.Fatalf("model/ holds %q, want %q", got, want)
	}
	checkModel(t, filepath.Join(root, "model", "model_algo-1"), k)
}

// checkModel checks that path is an MXNet NDArray list of one (k, 784)
// float32 array with finite values.
func checkModel(t testing.TB, path string, k int) {
	t.Helper()
	f, err := mxnet.ReadFile(path)
	if err != nil {
		t.Fatalf("mxnet.ReadFile(%s): %v", path, err)
	}
	if len(f.Arrays) != 1 || f.Names != nil {
		t.Fatalf("model holds %d arrays with names %q, want a list of 1", len(f.Arrays), f.Names)
	}
	a := f.Arrays[0]
	if a.DType != mxnet.Float32 || len(a.Shape) != 2 || a.Shape[0] != k || a.Shape[1] != featureDim {
		t.Fatalf("model array is %v %v, want float32 [%d %d]", a.DType, a.Shape, k, featureDim)
	}
	for i, v := range a.Float32 {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("model value %d is %v", i, v)
		}
	}
}

// wantClientError checks a client error: exit 2, a failure file starting
// with "ClientError:" that contains every string of want, and no model.
func wantClientError(t testing.TB, root string, r clitest.Result, want ...string) string {
	t.Helper()
	if r.Code != 2 {
		t.Errorf("exit code %d, want 2\nlog:\n%s", r.Code, r.Log())
	}
	f, ok := trainertest.Failure(t, root)
	if !ok {
		t.Fatalf("no output/failure; log:\n%s", r.Log())
	}
	if !strings.HasPrefix(f, "ClientError:") {
		t.Errorf("failure = %q, want the prefix %q", f, "ClientError:")
	}
	for _, w := range want {
		if !strings.Contains(f, w) {
			t.Errorf("failure = %q, want it to contain %q", f, w)
		}
	}
	if got := trainertest.ModelFiles(t, root); len(got) != 0 {
		t.Errorf("model/ holds %q after a failure, want nothing", got)
	}
	return f
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(math.Abs(want), math.SmallestNonzeroFloat64)
}

var (
	qualityRE = regexp.MustCompile(`#quality_metric: host=algo-1, test (\w+) <loss>=(\S+)`)
	scoreRE   = regexp.MustCompile(`#test_score \(algo-1\) : \('(\w+)', ([^)]+)\)`)
)

// testMetrics returns the test metrics of a training log by name, checking
// that every #quality_metric line has a #test_score twin with the same
// value.
func testMetrics(t testing.TB, log string) map[string]float64 {
	t.Helper()
	quality := map[string]string{}
	for _, m := range qualityRE.FindAllStringSubmatch(log, -1) {
		quality[m[1]] = m[2]
	}
	score := map[string]string{}
	for _, m := range scoreRE.FindAllStringSubmatch(log, -1) {
		score[m[1]] = m[2]
	}
	out := map[string]float64{}
	for name, q := range quality {
		s, ok := score[name]
		if !ok {
			t.Errorf("#quality_metric test %s <loss>=%s has no #test_score line", name, q)
			continue
		}
		qv, err1 := strconv.ParseFloat(q, 64)
		sv, err2 := strconv.ParseFloat(s, 64)
		if err1 != nil || err2 != nil {
			t.Errorf("test %s: unparsable values %q, %q", name, q, s)
			continue
		}
		if qv != sv {
			t.Errorf("test %s: #quality_metric %v, #test_score %v, want the same value", name, qv, sv)
		}
		out[name] = qv
	}
	for name := range score {
		if _, ok := quality[name]; !ok {
			t.Errorf("#test_score %s has no #quality_metric line", name)
		}
	}
	return out
}

// ---- training, File and Pipe mode ----

func TestTrainFileMode(t *testing.T) {
	t.Parallel()
	rec := clitest.Fixture(t, "fashion_head50.rec")
	gz := clitest.Fixture(t, "fashion_head50.rec.gz")
	csv := clitest.Fixture(t, "fashion_head50.csv")
	tests := []struct {
		name string
		ch   trainertest.Channel
	}{
		{"recordio", trainertest.Channel{Files: map[string][]byte{"part-0.rec": rec}}},
		{"recordio explicit", trainertest.Channel{ContentType: "application/x-recordio-protobuf", Files: map[string][]byte{"part-0.rec": rec}}},
		{"csv", trainertest.Channel{ContentType: "text/csv", Files: map[string][]byte{"part-0.csv": csv}}},
		{"csv label_size=1", trainertest.Channel{ContentType: "text/csv;label_size=1", Files: map[string][]byte{"part-0.csv": csv}}},
		{"gzip recordio", trainertest.Channel{Compression: "Gzip", Files: map[string][]byte{"part-0.rec.gz": gz}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := trainertest.NewOptML(t, hps(map[string]string{"eval_metrics": `["msd","ssd"]`}),
				map[string]trainertest.Channel{"train": tc.ch, "test": tc.ch})
			r := clitest.Train(t, binary, root)
			wantSuccess(t, root, r, 3)
			m := testMetrics(t, r.Log())
			msd, ok1 := m["msd"]
			ssd, ok2 := m["ssd"]
			if !ok1 || !ok2 {
				t.Fatalf("test metrics %v, want msd and ssd\nlog:\n%s", m, r.Log())
			}
			if !(msd > 0) {
				t.Errorf("test msd = %v, want > 0", msd)
			}
			// ssd is the sum and msd the mean of the same 50 squared
			// distances.
			if want := msd * fashionRows; !relClose(ssd, want, 1e-9) {
				t.Errorf("test ssd = %v, want msd*%d = %v (relative tolerance 1e-9)", ssd, fashionRows, want)
			}
		})
	}
}

// TestTrainDefaultEvalMetrics: without eval_metrics the test channel
// reports msd only.
func TestTrainDefaultEvalMetrics(t *testing.T) {
	t.Parallel()
	ch := recordIOChannel(t)
	root := trainertest.NewOptML(t, hps(nil), map[string]trainertest.Channel{"train": ch, "test": ch})
	r := clitest.Train(t, binary, root)
	wantSuccess(t, root, r, 3)
	m := testMetrics(t, r.Log())
	if _, ok := m["msd"]; !ok || len(m) != 1 {
		t.Errorf("test metrics %v, want msd only\nlog:\n%s", m, r.Log())
	}
	wantShrinkLines(t, r.Log())
}

var (
	attemptRE  = regexp.MustCompile(`local kmeans attempt #(\d+)\. Current mean square distance (\S+)`)
	trainMSDRE = regexp.MustCompile(`#quality_metric: host=algo-1, train msd <loss>=(\S+)`)
)

// wantShrinkLines checks the local Lloyd step's lines as the algorithm's
// own log writes them: a line a trial (local_lloyd_num_trials auto: 10),
// then the train msd, the least of the trials' (printed to six decimals).
func wantShrinkLines(t *testing.T, log string) {
	t.Helper()
	if !strings.Contains(log, "shrinking 30 centers into 3") {
		t.Errorf("the log lacks the shrinking line\n%s", log)
	}
	attempts := attemptRE.FindAllStringSubmatch(log, -1)
	if len(attempts) != 10 {
		t.Fatalf("%d local kmeans attempt lines, want 10\n%s", len(attempts), log)
	}
	least := math.Inf(1)
	for i, a := range attempts {
		v, err := strconv.ParseFloat(a[2], 64)
		if a[1] != strconv.Itoa(i) || err != nil {
			t.Fatalf("attempt line %d reads %q", i, a[0])
		}
		least = math.Min(least, v)
	}
	m := trainMSDRE.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("the log lacks the final train msd line\n%s", log)
	}
	if v, err := strconv.ParseFloat(m[1], 64); err != nil || math.Abs(v-least) > 5e-7 {
		t.Errorf("train msd %s, want the least attempt's %v", m[1], least)
	}
}

// TestTrainMiniBatchBelowK: mini_batch_size 2 with k=3 (K = 30 initial
// centers) draws the initial centers from the first batches, as many as K
// rows take; it was a ClientError however many rows the channel held.
func TestTrainMiniBatchBelowK(t *testing.T) {
	t.Parallel()
	root := trainertest.NewOptML(t, hps(map[string]string{"mini_batch_size": "2"}), map[string]trainertest.Channel{"train": recordIOChannel(t)})
	r := clitest.Train(t, binary, root)
	wantSuccess(t, root, r, 3)
	if !strings.Contains(r.Log(), "initialized 30 centers (k=3 x extra_center_factor=10) with random from 30 records") {
		t.Errorf("log lacks the initialization from 30 records:\n%s", r.Log())
	}
}

// TestTrainTuningObjective: a job launched by automatic model tuning for
// test:ssd reports ssd although eval_metrics (default msd) leaves it out.
func TestTrainTuningObjective(t *testing.T) {
	t.Parallel()
	ch := recordIOChannel(t)
	root := trainertest.NewOptML(t, hps(map[string]string{"_tuning_objective_metric": "test:ssd"}), map[string]trainertest.Channel{"train": ch, "test": ch})
	r := clitest.Train(t, binary, root)
	wantSuccess(t, root, r, 3)
	m := testMetrics(t, r.Log())
	if _, ok := m["ssd"]; !ok || len(m) != 2 {
		t.Errorf("test metrics %v, want msd and ssd\nlog:\n%s", m, r.Log())
	}
}

// TestTrainDeterministic: no seed hyperparameter exists, so the same data
// give the same model bytes, and CSV and RecordIO carrying the same float32
// values give the same model.
func TestTrainDeterministic(t *testing.T) {
	t.Parallel()
	models := map[string][]byte{}
	for name, ch := range map[string]trainertest.Channel{
		"recordio 1": recordIOChannel(t),
		"recordio 2": recordIOChannel(t),
		"csv":        {ContentType: "text/csv", Files: map[string][]byte{"d.csv": clitest.Fixture(t, "fashion_head50.csv")}},
	} {
		root := trainertest.NewOptML(t, hps(nil), map[string]trainertest.Channel{"train": ch})
		r := clitest.Train(t, binary, root)
		wantSuccess(t, root, r, 3)
		b, err := os.ReadFile(filepath.Join(root, "model", "model_algo-1"))
		if err != nil {
			t.Fatal(err)
		}
		models[name] = b
	}
	if !bytes.Equal(models["recordio 1"], models["recordio 2"]) {
		t.Errorf("two runs on the same RecordIO data wrote different models")
	}
	if !bytes.Equal(models["recordio 1"], models["csv"]) {
		t.Errorf("the CSV and RecordIO copies of the same data wrote different models")
	}
}

func TestTrainPipeMode(t *testing.T) {
	t.Parallel()
	rec := clitest.Fixture(t, "fashion_head50.rec")
	root := trainertest.NewOptML(t, hps(map[string]string{"epochs": "2"}),
		map[string]trainertest.Channel{"train": {Mode: "Pipe"}})
	trainertest.ServePipe(t, root, "train", 0, rec)
	trainertest.ServePipe(t, root, "train", 1, rec)
	r := clitest.Train(t, binary, root)
	wantSuccess(t, root, r, 3)
	// Each epoch logs its train msd; epoch=1 can only come from train_1.
	for _, want := range []string{"epoch=0, train msd <loss>=", "epoch=1, train msd <loss>="} {
		if !strings.Contains(r.Log(), want) {
			t.Errorf("the log lacks %q\nlog:\n%s", want, r.Log())
		}
	}
}

func TestTrainPipeModeGzip(t *testing.T) {
	t.Parallel()
	root := trainertest.NewOptML(t, hps(nil),
		map[string]trainertest.Channel{"train": {Mode: "Pipe", Compression: "Gzip"}})
	trainertest.ServePipe(t, root, "train", 0, clitest.Fixture(t, "fashion_head50.rec.gz"))
	wantSuccess(t, root, clitest.Train(t, binary, root), 3)
}

// ---- hyperparameter errors ----

func TestHyperparameterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hp   map[string]string // applied to hps(nil); "" deletes
		want []string          // substrings of the failure file
	}{
		{"missing k", map[string]string{"k": ""}, []string{`"k"`, "required"}},
		{"missing feature_dim", map[string]string{"feature_dim": ""}, []string{`"feature_dim"`, "required"}},
		{"k=0", map[string]string{"k": "0"}, []string{`"k"`, `"0"`}},
		{"k=abc", map[string]string{"k": "abc"}, []string{`"k"`, `"abc"`}},
		{"feature_dim=-1", map[string]string{"feature_dim": "-1"}, []string{`"feature_dim"`, `"-1"`}},
		{"epochs=0", map[string]string{"epochs": "0"}, []string{`"epochs"`, `"0"`}},
		{"extra_center_factor=0", map[string]string{"extra_center_factor": "0"}, []string{`"extra_center_factor"`, `"0"`}},
		{"extra_center_factor=x", map[string]string{"extra_center_factor": "x"}, []string{`"extra_center_factor"`, `"x"`}},
		{"half_life_time_size=-1", map[string]string{"half_life_time_size": "-1"}, []string{`"half_life_time_size"`, `"-1"`}},
		// "k-means" is 3 edits from "kmeans++", past the suggestion
		// threshold; the message lists the valid values instead.
		{"init_method=k-means", map[string]string{"init_method": "k-means"}, []string{`"init_method"`, `"k-means"`, `"kmeans++"`}},
		{"init_method=kmeans+", map[string]string{"init_method": "kmeans+"}, []string{`"init_method"`, `"kmeans+"`, `did you mean "kmeans++"?`}},
		{"local_lloyd_init_method=foo", map[string]string{"local_lloyd_init_method": "foo"}, []string{`"local_lloyd_init_method"`, `"foo"`}},
		{"local_lloyd_max_iter=0", map[string]string{"local_lloyd_max_iter": "0"}, []string{`"local_lloyd_max_iter"`, `"0"`}},
		{"local_lloyd_num_trials=0", map[string]string{"local_lloyd_num_trials": "0"}, []string{`"local_lloyd_num_trials"`, `"0"`}},
		{"local_lloyd_tol=1.5", map[string]string{"local_lloyd_tol": "1.5"}, []string{`"local_lloyd_tol"`, `"1.5"`}},
		{"local_lloyd_tol=-0.1", map[string]string{"local_lloyd_tol": "-0.1"}, []string{`"local_lloyd_tol"`, `"-0.1"`}},
		{"mini_batch_size=0", map[string]string{"mini_batch_size": "0"}, []string{`"mini_batch_size"`, `"0"`}},
		{"eval_metrics=[mse]", map[string]string{"eval_metrics": `["mse"]`}, []string{`"eval_metrics"`, `mse`, `did you mean "msd"?`}},
		{"unknown mini_batch_siz", map[string]string{"mini_batch_siz": "10"}, []string{`"mini_batch_siz"`, `did you mean "mini_batch_size"?`}},
		// More than any host holds: a ClientError, not Go's fatal "out of
		// memory" (exit 2 with no failure file).
		{"feature_dim=2000000000", map[string]string{"feature_dim": "2000000000"}, []string{"feature_dim = 2000000000", "needs at least", "GB of memory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := trainertest.NewOptML(t, hps(tc.hp), map[string]trainertest.Channel{"train": recordIOChannel(t)})
			wantClientError(t, root, clitest.Train(t, binary, root), tc.want...)
		})
	}
}

// TestInjectedHyperparametersAccepted: names SageMaker and the SDK inject
// are accepted and ignored.
func TestInjectedHyperparametersAccepted(t *testing.T) {
	t.Parallel()
	root := trainertest.NewOptML(t, hps(map[string]string{
		"_tuning_objective_metric": "test:msd",
		"_kvstore":                 "dist_sync",
		"force_dense":              "True",
	}), map[string]trainertest.Channel{"train": recordIOChannel(t)})
	wantSuccess(t, root, clitest.Train(t, binary, root), 3)
}

// ---- data and channel errors ----

func TestDataErrors(t *testing.T) {
	t.Parallel()
	rec := recordIOChannel(t)
	tests := []struct {
		name     string
		hp       map[string]string
		channels map[string]trainertest.Channel
		want     []string
	}{
		{"feature_dim 783 for 784-wide data", map[string]string{"feature_dim": "783"},
			map[string]trainertest.Channel{"train": rec},
			[]string{"record 0", "784", "783"}},
		{"malformed csv", map[string]string{"feature_dim": "3"},
			map[string]trainertest.Channel{"train": {ContentType: "text/csv", Files: map[string][]byte{
				"d.csv": []byte("1,0.5,0.25,0.125\n2,0.5,oops,0.125\n")}}},
			[]string{"line 2", "oops"}},
		{"ragged csv", map[string]string{"feature_dim": "3"},
			map[string]trainertest.Channel{"train": {ContentType: "text/csv", Files: map[string][]byte{
				"d.csv": []byte("1,0.5,0.25,0.125\n2,0.5\n")}}},
			[]string{"line 2"}},
		{"no train channel", nil,
			map[string]trainertest.Channel{"test": rec},
			[]string{`"train"`}},
		{"unknown channel validation", nil,
			map[string]trainertest.Channel{"train": rec, "validation": rec},
			[]string{`"validation"`}},
		{"unsupported content type", nil,
			map[string]trainertest.Channel{"train": {ContentType: "application/x-parquet", Files: rec.Files}},
			[]string{"application/x-parquet"}},
		{"k larger than the rows", map[string]string{"k": "60", "mini_batch_size": "5000"},
			map[string]trainertest.Channel{"train": rec},
			[]string{"50", "60"}},
		{"not gzip", nil,
			map[string]trainertest.Channel{"train": {Compression: "Gzip", Files: rec.Files}},
			[]string{"gzip"}},
		// Finite float32, but its square is not: the centers came out
		// empty and the job succeeded.
		{"values that overflow", map[string]string{"feature_dim": "3", "k": "2"},
			map[string]trainertest.Channel{"train": {ContentType: "text/csv", Files: map[string][]byte{
				"d.csv": []byte("0,1e20,0,0\n0,0,1,0\n0,0,0,1\n0,1,1,1\n")}}},
			[]string{"not finite", "1e19", "scale the data down"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := trainertest.NewOptML(t, hps(tc.hp), tc.channels)
			wantClientError(t, root, clitest.Train(t, binary, root), tc.want...)
		})
	}
}

// ---- SIGTERM ----

// TestTrainSIGTERM stops a Pipe-mode job whose pipe delivered 30 of 50
// records and then stalled (the writer keeps it open): the process must
// exit 143 within 5 s, write no failure file, and leave either no model or
// a complete one, never a temporary leftover.
func TestTrainSIGTERM(t *testing.T) {
	t.Parallel()
	rec := clitest.Fixture(t, "fashion_head50.rec")
	rr := recordio.NewReader(bytes.NewReader(rec))
	for i := 0; i < 30; i++ {
		if _, err := rr.Read(); err != nil {
			t.Fatalf("reading record %d of the fixture: %v", i, err)
		}
	}
	part := rec[:rr.Offset()]

	root := trainertest.NewOptML(t, hps(map[string]string{"mini_batch_size": "10"}),
		map[string]trainertest.Channel{"train": {Mode: "Pipe"}})
	fifo := trainertest.PipePath(root, "train", 0)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}

	p := clitest.Start(t, nil, binary, "train", "--ml-root", root)

	// Open the write end once the trainer opens the read end, write the
	// first 30 records and keep the pipe open.
	var w *os.File
	for deadline := time.Now().Add(5 * time.Second); w == nil; {
		f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		switch {
		case err == nil:
			w = f
		case errors.Is(err, syscall.ENXIO) && time.Now().Before(deadline):
			time.Sleep(5 * time.Millisecond)
		default:
			t.Fatalf("opening the write end of %s: %v\nlog:\n%s", fifo, err, p.Output())
		}
	}
	t.Cleanup(func() { w.Close() })
	go func() {
		// A blocking write of the 30 records; the deadline unblocks it if
		// the trainer stops reading.
		w.SetWriteDeadline(time.Now().Add(10 * time.Second))
		w.Write(part)
	}()

	// Wait for training to make progress (the centers are initialized
	// from the first mini-batch), or 300 ms.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		if strings.Contains(p.Output(), "initialized") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if code, ok := p.Exited(); ok {
		t.Fatalf("the trainer exited before SIGTERM (exit code %d) on a stalled pipe\nlog:\n%s", code, p.Output())
	}

	start := time.Now()
	p.Signal(t, syscall.SIGTERM)
	code, ok := p.Wait(5 * time.Second)
	if !ok {
		t.Fatalf("still running 5 s after SIGTERM\nlog:\n%s", p.Output())
	}
	t.Logf("exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	if code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143\nlog:\n%s", code, p.Output())
	}
	if f, ok := trainertest.Failure(t, root); ok {
		t.Errorf("output/failure after SIGTERM: %q, want none", f)
	}
	files := trainertest.ModelFiles(t, root)
	switch {
	case len(files) == 0:
		t.Logf("no model saved after SIGTERM")
	case equalStrings(files, []string{"model_algo-1"}):
		checkModel(t, filepath.Join(root, "model", "model_algo-1"), 3)
		t.Logf("an intermediate model was saved after SIGTERM")
	default:
		t.Errorf("model/ holds %q after SIGTERM, want nothing or [model_algo-1]", files)
	}
}

// ---- usage ----

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string // on stderr
	}{
		{"no args", nil, "usage: kmeans train|serve"},
		{"bogus command", []string{"bogus"}, "usage: kmeans train|serve"},
		{"extra argument", []string{"train", "extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"train", "--nope"}, "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := clitest.Run(t, nil, runTimeout, binary, tc.args...)
			if r.Code != 2 {
				t.Errorf("exit code %d, want 2", r.Code)
			}
			if !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("stderr = %q, want it to contain %q", r.Stderr, tc.want)
			}
		})
	}
}

// ---- serving ----

// trainedRoot trains k=3 on the fashion data and returns the ml root.
func trainedRoot(t testing.TB) string {
	t.Helper()
	root := trainertest.NewOptML(t, hps(nil), map[string]trainertest.Channel{"train": recordIOChannel(t)})
	wantSuccess(t, root, clitest.Train(t, binary, root), 3)
	return root
}

// prediction is one k-means answer.
type prediction struct {
	cluster  float64
	distance float64
}

// fashionRequests returns the fashion data as the four request content
// types, and the row count of each.
func fashionRequests(t testing.TB) (bodies map[string][]byte, rows map[string]int) {
	t.Helper()
	csvData := clitest.Fixture(t, "fashion_head50.csv")
	var csvNoLabel, jsonl bytes.Buffer
	var instances []string
	sc := bufio.NewScanner(bytes.NewReader(csvData))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() && n < 5 {
		line := sc.Text()
		_, features, ok := strings.Cut(line, ",") // drop the label
		if !ok {
			t.Fatalf("fixture line %q has no comma", line)
		}
		csvNoLabel.WriteString(features + "\n")
		jsonl.WriteString(`{"features":[` + features + "]}\n")
		instances = append(instances, `{"features":[`+features+"]}")
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	bodies = map[string][]byte{
		"text/csv":                        csvNoLabel.Bytes(),
		"application/json":                []byte(`{"instances":[` + strings.Join(instances, ",") + "]}"),
		"application/jsonlines":           jsonl.Bytes(),
		"application/x-recordio-protobuf": clitest.Fixture(t, "fashion_head50.rec"), // its labels are ignored
	}
	rows = map[string]int{"text/csv": n, "application/json": n, "application/jsonlines": n, "application/x-recordio-protobuf": fashionRows}
	return bodies, rows
}

var jsonClusterRE = regexp.MustCompile(`"closest_cluster":(-?[0-9.eE+-]+)`)

// decodePredictions parses a response body of the given Accept type.
func decodePredictions(t testing.TB, accept string, body []byte) []prediction {
	t.Helper()
	type row struct {
		Cluster  *float64 `json:"closest_cluster"`
		Distance *float64 `json:"distance_to_cluster"`
	}
	var rows []row
	switch accept {
	case "application/json":
		var v struct{ Predictions []row }
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("response %q: %v", body, err)
		}
		rows = v.Predictions
	case "application/jsonlines":
		for i, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
			var r row
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("response line %d %q: %v", i+1, line, err)
			}
			rows = append(rows, r)
		}
	case "application/x-recordio-protobuf":
		payloads, err := recordio.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("RecordIO response: %v", err)
		}
		var out []prediction
		for i, p := range payloads {
			var rec aialgs.Record
			if err := proto.Unmarshal(p, &rec); err != nil {
				t.Fatalf("RecordIO response record %d: %v", i, err)
			}
			get := func(key string) float64 {
				v := rec.GetLabel()[key].GetFloat32Tensor().GetValues()
				if len(v) != 1 {
					t.Fatalf("RecordIO response record %d: label %q holds %v, want one float32", i, key, v)
				}
				return float64(v[0])
			}
			out = append(out, prediction{get("closest_cluster"), get("distance_to_cluster")})
		}
		return out
	default:
		t.Fatalf("no decoder for %q", accept)
	}
	if accept != "application/x-recordio-protobuf" {
		// closest_cluster prints as the docs print it: 7.0, not 7.
		for _, m := range jsonClusterRE.FindAllStringSubmatch(string(body), -1) {
			if !regexp.MustCompile(`^\d+\.0$`).MatchString(m[1]) {
				t.Errorf("closest_cluster printed as %s, want an integer with .0", m[1])
			}
		}
	}
	out := make([]prediction, len(rows))
	for i, r := range rows {
		if r.Cluster == nil || r.Distance == nil {
			t.Fatalf("prediction %d lacks closest_cluster or distance_to_cluster: %q", i, body)
		}
		out[i] = prediction{*r.Cluster, *r.Distance}
	}
	return out
}

func TestServe(t *testing.T) {
	t.Parallel()
	const k = 3
	root := trainedRoot(t)
	s := clitest.StartServer(t, binary, root, clitest.FreePort(t), "SAGEMAKER_MAX_PAYLOAD_IN_MB=1")
	bodies, rows := fashionRequests(t)

	t.Run("invocations", func(t *testing.T) {
		byType := map[string][]prediction{}
		for _, ct := range []string{"text/csv", "application/json", "application/jsonlines", "application/x-recordio-protobuf"} {
			for _, accept := range []string{"application/json", "application/jsonlines", "application/x-recordio-protobuf"} {
				t.Run(ct+" to "+accept, func(t *testing.T) {
					r := s.Post(t, "/invocations", ct, accept, bodies[ct])
					if r.Status != http.StatusOK {
						t.Fatalf("status %d, want 200; body %q", r.Status, r.Body)
					}
					if r.ContentType != accept {
						t.Errorf("Content-Type %q, want %q", r.ContentType, accept)
					}
					p := decodePredictions(t, accept, r.Body)
					if len(p) != rows[ct] {
						t.Fatalf("%d predictions, want %d (one per row)", len(p), rows[ct])
					}
					for i, q := range p {
						if q.cluster != math.Trunc(q.cluster) || q.cluster < 0 || q.cluster >= k {
							t.Errorf("row %d: closest_cluster %v, want an integer in [0, %d)", i, q.cluster, k)
						}
						if !(q.distance > 0) || math.IsInf(q.distance, 0) {
							t.Errorf("row %d: distance_to_cluster %v, want > 0", i, q.distance)
						}
					}
					if accept == "application/json" {
						byType[ct] = p
					}
				})
			}
		}
		// The same rows sent as CSV, JSON, JSON Lines and RecordIO get the
		// same answers: the CSV text holds the float32 values exactly, so
		// the distances agree to float32 rounding.
		if len(byType) != 4 {
			t.Fatalf("JSON answers for %d content types, want 4", len(byType))
		}
		want := byType["application/x-recordio-protobuf"]
		for ct, got := range byType {
			for i := range got {
				if i >= len(want) {
					break
				}
				if got[i].cluster != want[i].cluster || !relClose(got[i].distance, want[i].distance, 1e-6) {
					t.Errorf("row %d via %s: %+v; via RecordIO: %+v", i, ct, got[i], want[i])
				}
			}
		}
	})

	t.Run("default accept", func(t *testing.T) {
		for _, accept := range []string{"", "*/*"} {
			r := s.Post(t, "/invocations", "text/csv", accept, bodies["text/csv"])
			if r.Status != http.StatusOK || r.ContentType != "application/json" {
				t.Errorf("Accept %q: status %d, Content-Type %q; want 200, application/json", accept, r.Status, r.ContentType)
			}
		}
	})

	t.Run("execution-parameters", func(t *testing.T) {
		r := s.Get(t, "/execution-parameters")
		if r.Status != http.StatusOK {
			t.Fatalf("status %d, want 200", r.Status)
		}
		var v struct {
			MaxConcurrentTransforms int
			BatchStrategy           string
			MaxPayloadInMB          int
		}
		if err := json.Unmarshal(r.Body, &v); err != nil {
			t.Fatalf("body %q: %v", r.Body, err)
		}
		if v.MaxConcurrentTransforms < 1 || v.BatchStrategy != "MULTI_RECORD" || v.MaxPayloadInMB != 1 {
			t.Errorf("got %s, want MaxConcurrentTransforms >= 1, BatchStrategy MULTI_RECORD, MaxPayloadInMB 1", r.Body)
		}
	})

	t.Run("errors", func(t *testing.T) {
		big := bytes.Repeat([]byte("0.5,"), 2<<20/4) // 2 MB > 1 MB limit
		tests := []struct {
			name        string
			contentType string
			accept      string
			body        []byte
			status      int
			want        string // in the error message
		}{
			{"unsupported content type", "text/plain", "", bodies["text/csv"], 415, "text/plain"},
			{"missing content type", "", "", bodies["text/csv"], 415, ""},
			{"unsupported accept", "text/csv", "text/html", bodies["text/csv"], 406, "text/html"},
			{"over the payload limit", "text/csv", "", big, 413, "1 MB"},
			{"csv too narrow", "text/csv", "", []byte("0.5,0.25\n"), 400, "line 1"},
			{"csv not a number", "text/csv", "", []byte(strings.Repeat("0.5,", featureDim-1) + "x\n"), 400, "line 1"},
			{"malformed json", "application/json", "", []byte(`{"instances": [`), 400, ""},
			{"truncated recordio", "application/x-recordio-protobuf", "", bodies["application/x-recordio-protobuf"][:100], 400, "record"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := s.Post(t, "/invocations", tc.contentType, tc.accept, tc.body)
				if r.Status != tc.status {
					t.Errorf("status %d, want %d; body %q", r.Status, tc.status, r.Body)
				}
				if !strings.HasPrefix(r.ContentType, "application/json") {
					t.Errorf("Content-Type %q, want application/json", r.ContentType)
				}
				var v struct{ Error string }
				if err := json.Unmarshal(r.Body, &v); err != nil || v.Error == "" {
					t.Fatalf("body %q, want {\"error\": \"...\"} (%v)", r.Body, err)
				}
				if !strings.Contains(v.Error, tc.want) {
					t.Errorf("error %q, want it to contain %q", v.Error, tc.want)
				}
			})
		}
	})

	t.Run("empty body", func(t *testing.T) {
		r := s.Post(t, "/invocations", "text/csv", "", nil)
		if r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Errorf("status %d, body %q; want 204 with no body", r.Status, r.Body)
		}
	})

	t.Run("still alive", func(t *testing.T) {
		if r := s.Get(t, "/ping"); r.Status != http.StatusOK {
			t.Errorf("/ping after the error requests: %d, want 200", r.Status)
		}
	})

	s.Stop()
}

// TestServeBindToPort: SAGEMAKER_BIND_TO_PORT wins over --port, and the
// payload limit defaults to 6 MB.
func TestServeBindToPort(t *testing.T) {
	t.Parallel()
	root := trainedRoot(t)
	// Hold the --port busy: a server that tried to bind it would exit
	// instead of answering /ping on SAGEMAKER_BIND_TO_PORT.
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	flagPort := busy.Addr().(*net.TCPAddr).Port
	envPort := clitest.FreePort(t)
	s := clitest.Serve(t, clitest.ServerConfig{Bin: binary, Root: root, Port: flagPort, ListenPort: envPort,
		Env: []string{"SAGEMAKER_BIND_TO_PORT=" + strconv.Itoa(envPort), "SAGEMAKER_MAX_PAYLOAD_IN_MB="}})
	r := s.Get(t, "/execution-parameters")
	if !bytes.Contains(r.Body, []byte(`"MaxPayloadInMB":6`)) {
		t.Errorf("/execution-parameters = %s, want MaxPayloadInMB 6", r.Body)
	}
	s.Stop()
}

// TestServeNoModel: serve on an ml root with no model exits non-zero
// instead of answering /ping.
func TestServeNoModel(t *testing.T) {
	t.Parallel()
	root := trainertest.NewOptML(t, nil, nil)
	r := clitest.Run(t, nil, 10*time.Second, binary, "serve", "--ml-root", root, "--port", strconv.Itoa(clitest.FreePort(t)))
	if r.Code == 0 {
		t.Errorf("serve without a model: exit code 0, want a non-zero exit\nlog:\n%s", r.Log())
	}
}

// TestStopInTestPass: SIGTERM while the test channel waits for its pipe,
// after training is done, exits 143 and saves the finished model.
func TestStopInTestPass(t *testing.T) {
	root := trainertest.NewOptML(t, hps(nil), map[string]trainertest.Channel{"train": recordIOChannel(t), "test": {Mode: "Pipe"}})
	clitest.StopInTestPass(t, binary, root, "mini-batch phase done", []string{"model_algo-1"}, func(dir string) error {
		_, err := kmeans.Algorithm{}.Load(dir)
		return err
	})
}
