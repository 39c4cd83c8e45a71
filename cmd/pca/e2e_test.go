package main_test

// End-to-end tests of the real pca binary: TestMain builds it once, and
// every test execs it on a temporary ml root made by trainertest.NewOptML,
// as SageMaker starts a container. Data are the SDK-written fixtures in
// testdata/sdk (the first 50 Fashion-MNIST images, 784 features in 0..1).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/algorithms/pca"
	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/mxnet"
	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

var binary string

const (
	featureDim = 784
	components = 5
)

func TestMain(m *testing.M) { os.Exit(clitest.BuildMain(m, "pca", &binary)) }

func hps(extra map[string]string) map[string]string {
	hp := map[string]string{"feature_dim": strconv.Itoa(featureDim), "num_components": strconv.Itoa(components), "mini_batch_size": "20"}
	for k, v := range extra {
		if v == "" {
			delete(hp, k)
			continue
		}
		hp[k] = v
	}
	return hp
}

func recordIOChannel(t testing.TB) trainertest.Channel {
	return trainertest.Channel{Files: map[string][]byte{"fashion_head50.rec": clitest.Fixture(t, "fashion_head50.rec")}}
}

// artifact is the model file's arrays.
type artifact struct{ s, v, mean []float32 }

// wantModel checks a successful run and SageMaker's artifact layout: an
// MXNet NDArray dict s (k), v (784, k), mean (1, 784), float32, s
// ascending.
func wantModel(t testing.TB, root string, r clitest.Result) artifact {
	t.Helper()
	if r.Code != 0 {
		f, _ := trainertest.Failure(t, root)
		t.Fatalf("exit code %d, want 0; failure %q\nlog:\n%s", r.Code, f, r.Log())
	}
	f, err := mxnet.ReadFile(filepath.Join(root, "model", "model_algo-1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.Names, ",") != "s,v,mean" {
		t.Fatalf("model names %q, want s, v, mean", f.Names)
	}
	shapes := [][]int{{components}, {featureDim, components}, {1, featureDim}}
	for i, a := range f.Arrays {
		if a.DType != mxnet.Float32 || fmt.Sprint(a.Shape) != fmt.Sprint(shapes[i]) {
			t.Errorf("%s is %v %v, want float32 %v", f.Names[i], a.DType, a.Shape, shapes[i])
		}
		for _, v := range a.Float32 {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s holds %v", f.Names[i], v)
			}
		}
	}
	s := f.Arrays[0].Float32
	for i := 1; i < len(s); i++ {
		if s[i] < s[i-1] {
			t.Errorf("s = %v, want ascending", s)
		}
	}
	return artifact{s, f.Arrays[1].Float32, f.Arrays[2].Float32}
}

func close32(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol*math.Max(1, math.Abs(float64(b[i]))) {
			return false
		}
	}
	return true
}

// TestTrain: File and Pipe mode, RecordIO and CSV (label column dropped),
// both modes; the same data give the same model whatever the transport.
func TestTrain(t *testing.T) {
	t.Parallel()
	rec, csv := clitest.Fixture(t, "fashion_head50.rec"), clitest.Fixture(t, "fashion_head50.csv")
	for _, mode := range []string{"regular", "randomized"} {
		t.Run(mode, func(t *testing.T) {
			hp := hps(map[string]string{"algorithm_mode": mode})
			file := trainertest.NewOptML(t, hp, map[string]trainertest.Channel{"train": recordIOChannel(t), "test": recordIOChannel(t)})
			r := clitest.Train(t, binary, file)
			want := wantModel(t, file, r)
			if !strings.Contains(r.Log(), "test: 50 records, mean squared reconstruction error") {
				t.Errorf("no test reconstruction line in the log:\n%s", r.Log())
			}
			csvRoot := trainertest.NewOptML(t, hp, map[string]trainertest.Channel{"train": {ContentType: "text/csv", Files: map[string][]byte{"a.csv": csv}}})
			got := wantModel(t, csvRoot, clitest.Train(t, binary, csvRoot))
			if !close32(got.s, want.s, 1e-5) || !close32(got.v, want.v, 1e-4) || !close32(got.mean, want.mean, 1e-6) {
				t.Errorf("CSV-trained model differs from the RecordIO-trained one")
			}
			pipe := trainertest.NewOptML(t, hp, map[string]trainertest.Channel{"train": {Mode: "Pipe"}})
			trainertest.ServePipe(t, pipe, "train", 0, rec)
			got = wantModel(t, pipe, clitest.Train(t, binary, pipe))
			if !close32(got.s, want.s, 0) || !close32(got.v, want.v, 0) {
				t.Errorf("Pipe-mode model differs from the File-mode one")
			}
		})
	}
}

// TestSubtractMeanFalse: the stored mean is zero.
func TestSubtractMeanFalse(t *testing.T) {
	t.Parallel()
	root := trainertest.NewOptML(t, hps(map[string]string{"subtract_mean": "False"}), map[string]trainertest.Channel{"train": recordIOChannel(t)})
	a := wantModel(t, root, clitest.Train(t, binary, root))
	for i, v := range a.mean {
		if v != 0 {
			t.Fatalf("mean[%d] = %v with subtract_mean=False, want 0", i, v)
		}
	}
}

func TestHyperparameterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hp   map[string]string
		want string
	}{
		{"missing num_components", hps(map[string]string{"num_components": ""}), `"num_components"`},
		{"missing feature_dim", hps(map[string]string{"feature_dim": ""}), `"feature_dim"`},
		{"num_components above feature_dim", hps(map[string]string{"num_components": "785"}), "feature_dim (784)"},
		{"bad algorithm_mode", hps(map[string]string{"algorithm_mode": "exact"}), "algorithm_mode"},
		{"bad extra_components", hps(map[string]string{"extra_components": "-3"}), "extra_components"},
		{"bad subtract_mean", hps(map[string]string{"subtract_mean": "maybe"}), "subtract_mean"},
		{"misspelled name", hps(map[string]string{"num_component": "3"}), "num_component"},
		{"feature_dim differs from data", hps(map[string]string{"feature_dim": "700", "num_components": "3"}), ""},
		// A scatter matrix larger than any host: a ClientError, not Go's
		// fatal "out of memory" (exit 2 with no failure file).
		{"feature_dim too large for memory", hps(map[string]string{"feature_dim": "2000000"}), "randomized mode needs far less"},
		// Randomized, but a sketch of 1,200,000 columns: computed exactly
		// (Params.Sketches), so the scatter matrix is what must fit.
		{"wide sketch too large for memory", hps(map[string]string{"feature_dim": "2000000", "num_components": "600000", "algorithm_mode": "randomized"}), "more than a quarter of the features, so computed exactly"},
		// Finite float32, but its square is not: the model was NaNs
		// (regular) or the job panicked (randomized).
		{"values that overflow, regular", map[string]string{"feature_dim": "4", "num_components": "2", "mini_batch_size": "10"}, "not finite"},
		// A sketch of one column of four features: narrow enough to be kept.
		{"values that overflow, randomized", map[string]string{"feature_dim": "4", "num_components": "1", "extra_components": "0", "mini_batch_size": "10", "algorithm_mode": "randomized"}, "not finite"},
	}
	overflow := trainertest.Channel{ContentType: "text/csv", Files: map[string][]byte{"d.csv": []byte("0,1e20,0,0,0\n0,0,1,0,0\n0,0,0,1,0\n0,1,1,1,1\n")}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := recordIOChannel(t)
			if strings.HasPrefix(tc.name, "values that overflow") {
				ch = overflow
			}
			root := trainertest.NewOptML(t, tc.hp, map[string]trainertest.Channel{"train": ch})
			r := clitest.Train(t, binary, root)
			if r.Code != 2 {
				t.Errorf("exit code %d, want 2\n%s", r.Code, r.Log())
			}
			f, ok := trainertest.Failure(t, root)
			if !ok || !strings.HasPrefix(f, "ClientError:") || !strings.Contains(f, tc.want) {
				t.Errorf("failure %q, want ClientError: naming %q", f, tc.want)
			}
			if m := trainertest.ModelFiles(t, root); len(m) != 0 {
				t.Errorf("model/ holds %q after a failure", m)
			}
		})
	}
}

// ---- serving ----

// decode returns the projections of a response body.
func decode(t testing.TB, accept string, body []byte) [][]float64 {
	t.Helper()
	type row struct {
		Projection []float64 `json:"projection"`
	}
	var rows []row
	switch accept {
	case "application/json":
		var v struct {
			Projections []row `json:"projections"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Projections == nil {
			t.Fatalf("response %.200q: want {\"projections\": [...]} (%v)", body, err)
		}
		rows = v.Projections
	case "application/jsonlines":
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r row
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			rows = append(rows, r)
		}
	case "application/x-recordio-protobuf":
		payloads, err := recordio.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var out [][]float64
		for _, p := range payloads {
			var rec aialgs.Record
			if err := proto.Unmarshal(p, &rec); err != nil {
				t.Fatal(err)
			}
			if len(rec.GetFeatures()) != 0 {
				t.Errorf("RecordIO response has features %v, want none", rec.GetFeatures())
			}
			var v []float64
			for _, x := range rec.GetLabel()["projection"].GetFloat32Tensor().GetValues() {
				v = append(v, float64(x))
			}
			out = append(out, v)
		}
		return out
	}
	out := make([][]float64, len(rows))
	for i, r := range rows {
		out[i] = r.Projection
	}
	return out
}

func TestServe(t *testing.T) {
	t.Parallel()
	root := trainertest.NewOptML(t, hps(nil), map[string]trainertest.Channel{"train": recordIOChannel(t)})
	a := wantModel(t, root, clitest.Train(t, binary, root))
	s := clitest.StartServer(t, binary, root, clitest.FreePort(t))

	// Three rows as every request type; the expected projection is
	// (x − mean)·v from the artifact, in float64.
	csvData := clitest.Fixture(t, "fashion_head50.csv")
	lines := strings.SplitN(string(csvData), "\n", 4)[:3]
	var csvBody, jsonl bytes.Buffer
	var inst []string
	var want [][]float64
	for _, line := range lines {
		_, feats, _ := strings.Cut(line, ",")
		csvBody.WriteString(feats + "\n")
		jsonl.WriteString(`{"features":[` + feats + "]}\n")
		inst = append(inst, `{"data":{"features":{"values":[`+feats+"]}}}")
		var x []float64
		for _, f := range strings.Split(feats, ",") {
			v, _ := strconv.ParseFloat(f, 64)
			x = append(x, v)
		}
		p := make([]float64, components)
		for c := range p {
			for j := range x {
				p[c] += (x[j] - float64(a.mean[j])) * float64(a.v[j*components+c])
			}
		}
		want = append(want, p)
	}
	bodies := map[string][]byte{
		"text/csv":                        csvBody.Bytes(),
		"application/json":                []byte(`{"instances":[` + strings.Join(inst, ",") + "]}"),
		"application/jsonlines":           jsonl.Bytes(),
		"application/x-recordio-protobuf": clitest.Fixture(t, "fashion_head50.rec"),
	}
	for ct, body := range bodies {
		for _, accept := range []string{"application/json", "application/jsonlines", "application/x-recordio-protobuf"} {
			t.Run(ct+" to "+accept, func(t *testing.T) {
				r := s.Post(t, "/invocations", ct, accept, body)
				if r.Status != 200 || r.ContentType != accept {
					t.Fatalf("status %d, Content-Type %q; want 200, %q; body %.200q", r.Status, r.ContentType, accept, r.Body)
				}
				got := decode(t, accept, r.Body)
				if ct == "application/x-recordio-protobuf" {
					if len(got) != 50 {
						t.Fatalf("%d projections, want 50", len(got))
					}
					got = got[:3]
				}
				if len(got) != 3 {
					t.Fatalf("%d projections, want 3", len(got))
				}
				for i := range got {
					if len(got[i]) != components {
						t.Fatalf("row %d: projection of %d values, want %d", i, len(got[i]), components)
					}
					for c := range got[i] {
						if math.Abs(got[i][c]-want[i][c]) > 1e-4 {
							t.Errorf("row %d projection[%d] = %v, want %v", i, c, got[i][c], want[i][c])
						}
					}
				}
			})
		}
	}
	t.Run("json layout", func(t *testing.T) {
		b := s.Post(t, "/invocations", "text/csv", "", bodies["text/csv"]).Body
		if !bytes.HasPrefix(b, []byte(`{"projections":[{"projection":[`)) {
			t.Errorf("body %.80q, want {\"projections\":[{\"projection\":[...", b)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			ct     string
			body   string
			status int
		}{
			{"text/plain", "1,2", 415},
			{"text/csv", "0.5,0.25\n", 400},
		} {
			if r := s.Post(t, "/invocations", tc.ct, "", []byte(tc.body)); r.Status != tc.status {
				t.Errorf("%s %q: status %d, want %d (%s)", tc.ct, tc.body, r.Status, tc.status, r.Body)
			}
		}
		if r := s.Post(t, "/invocations", "text/csv", "text/html", bodies["text/csv"]); r.Status != 406 {
			t.Errorf("Accept text/html: status %d, want 406", r.Status)
		}
	})
}

// TestStopInTestPass: SIGTERM while the test channel waits for its pipe,
// after training is done, exits 143 and saves the finished model.
func TestStopInTestPass(t *testing.T) {
	root := trainertest.NewOptML(t, hps(nil), map[string]trainertest.Channel{"train": recordIOChannel(t), "test": {Mode: "Pipe"}})
	clitest.StopInTestPass(t, binary, root, "pass over ", []string{"model_algo-1"}, func(dir string) error {
		_, err := pca.Algorithm{}.Load(dir)
		return err
	})
}
