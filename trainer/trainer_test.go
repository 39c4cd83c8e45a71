package trainer

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/hyper"
	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/cluster"
	"github.com/sagebrush-ml/sagebrush/compute"
	_ "github.com/sagebrush-ml/sagebrush/compute/cpu"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/internal/recovered"
	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// fakeAlgo computes the column means of the train channel over `epochs`
// passes; its hooks replace Train or Save to exercise failures.
type fakeAlgo struct {
	fileOnly []string
	train    func(ctx context.Context, job *algorithms.Job) (algorithms.Model, error)
	save     func(dir string) error
}

func (a *fakeAlgo) Name() string { return "fake" }

func (a *fakeAlgo) Schema() *hyper.Schema {
	return &hyper.Schema{Params: []hyper.Param{
		{Name: "feature_dim", Kind: hyper.Int, Required: true, Min: hyper.Bound(1)},
		{Name: "epochs", Kind: hyper.Int, Default: "1", Min: hyper.Bound(1)},
		{Name: "mini_batch_size", Kind: hyper.Int, Default: "7", Min: hyper.Bound(1)},
	}}
}

func (a *fakeAlgo) Channels() []algorithms.ChannelSpec {
	types := []string{data.CSV, data.RecordIOProtobuf}
	return []algorithms.ChannelSpec{
		{Name: "train", Required: true, ContentTypes: types, FileOnly: a.fileOnly},
		{Name: "test", ContentTypes: types, FileOnly: a.fileOnly},
	}
}

func (a *fakeAlgo) Load(dir string) (algorithms.Model, error) {
	return nil, errors.New("not implemented")
}

func (a *fakeAlgo) Train(ctx context.Context, job *algorithms.Job) (algorithms.Model, error) {
	if a.train != nil {
		return a.train(ctx, job)
	}
	dim := job.Hyper.Int("feature_dim")
	m := &meanModel{sums: make([]float64, dim), save: a.save}
	for epoch := range job.Hyper.Int("epochs") {
		rows, err := readAll(ctx, job, "train", epoch, func(row []float32) {
			for j, v := range row {
				m.sums[j] += float64(v)
			}
			m.rows++
		})
		if err != nil {
			return m, err
		}
		job.Metrics.EpochEnd(epoch, map[string]float64{"msd": float64(rows) / 1000})
	}
	if _, ok := job.Channels["test"]; ok {
		n, err := readAll(ctx, job, "test", 0, func([]float32) {})
		if err != nil {
			return nil, err
		}
		job.Metrics.Score("test", "msd", float64(n)/1000)
	}
	job.Metrics.Logf("read %d rows", m.rows)
	return m, nil
}

// readAll reads one pass of a channel row by row and returns the number of
// rows.
func readAll(ctx context.Context, job *algorithms.Job, name string, epoch int, f func([]float32)) (int, error) {
	r, err := job.Channels[name].Open(ctx, epoch)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n := 0
	var row []float32
	for {
		b, err := r.Read(job.Hyper.Int("mini_batch_size"))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		for i := range b.Rows {
			row = b.RowTo(row, i)
			f(row)
		}
		n += b.Rows
		job.Metrics.Batch(b.Rows)
	}
}

type meanModel struct {
	sums []float64
	rows int
	save func(dir string) error
}

func (m *meanModel) FeatureDim() int { return len(m.sums) }

func (m *meanModel) Save(dir string) error {
	if m.save != nil {
		return m.save(dir)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rows %d\n", m.rows)
	for _, s := range m.sums {
		fmt.Fprintf(&b, "%g\n", s/float64(m.rows))
	}
	return os.WriteFile(filepath.Join(dir, "model_algo-1"), []byte(b.String()), 0o644)
}

func (m *meanModel) Predict(context.Context, *data.Batch, algorithms.PredictOptions) (*data.Predictions, error) {
	return nil, errors.New("not implemented")
}

// readModel parses model_algo-1 as meanModel.Save writes it.
func readModel(t *testing.T, root string) (rows int, means []float64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "model", "model_algo-1"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	rows, _ = strconv.Atoi(lines[1])
	for _, l := range lines[2:] {
		v, _ := strconv.ParseFloat(l, 64)
		means = append(means, v)
	}
	return rows, means
}

// wantModel checks that model_algo-1 counts rows rows with column means
// within tol of want.
func wantModel(t *testing.T, root string, rows int, want []float64, tol float64) {
	t.Helper()
	got, means := readModel(t, root)
	if got != rows {
		t.Errorf("rows %d, want %d", got, rows)
	}
	if len(means) != len(want) {
		t.Fatalf("%d means, want %d", len(means), len(want))
	}
	for j := range want {
		if math.Abs(means[j]-want[j]) > tol {
			t.Errorf("mean[%d] = %g, want %g", j, means[j], want[j])
		}
	}
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "sdk", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fashionMeans are the column means of fashion_head50.csv's features
// (label first), computed directly from the text.
func fashionMeans(t *testing.T) []float64 {
	var sums []float64
	lines := strings.Split(strings.TrimSpace(string(testdata(t, "fashion_head50.csv"))), "\n")
	for _, l := range lines {
		f := strings.Split(strings.TrimSpace(l), ",")[1:]
		if sums == nil {
			sums = make([]float64, len(f))
		}
		for j, s := range f {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			sums[j] += v
		}
	}
	for j := range sums {
		sums[j] /= float64(len(lines))
	}
	return sums
}

// wrapRecords wraps each object in one RecordIO record, as SageMaker does
// for RecordWrapperType RecordIO.
func wrapRecords(t *testing.T, objects ...string) []byte {
	var buf bytes.Buffer
	w := recordio.NewWriter(&buf)
	for _, o := range objects {
		if err := w.Write([]byte(o)); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// run runs the fake algorithm on root and returns the exit code and the log.
func run(t *testing.T, ctx context.Context, algo algorithms.Algorithm, root string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := Run(ctx, algo, Options{Root: root, Stdout: &out, Stderr: io.Discard, PipeWait: 2 * time.Second})
	t.Logf("log:\n%s", out.String())
	return code, out.String()
}

var fashionHP = map[string]string{"feature_dim": "784"}

func TestRunSuccess(t *testing.T) {
	csv := testdata(t, "fashion_head50.csv")
	// Split the CSV into three files, the middle one without a final
	// newline, in a subdirectory, plus hidden files that must be skipped.
	lines := strings.SplitAfter(string(csv), "\n")
	partA := strings.Join(lines[:20], "")
	partB := strings.TrimSuffix(strings.Join(lines[20:35], ""), "\n")
	partC := strings.Join(lines[35:], "")
	tests := []struct {
		name     string
		hp       map[string]string
		channels map[string]trainertest.Channel
		rows     int
	}{
		{"csv", fashionHP, map[string]trainertest.Channel{
			"train": {ContentType: "text/csv", Files: map[string][]byte{"train.csv": csv}}}, 50},
		{"csv label_size=1 three epochs", map[string]string{"feature_dim": "784", "epochs": "3"}, map[string]trainertest.Channel{
			"train": {ContentType: "text/csv;label_size=1", Files: map[string][]byte{"train.csv": csv}}}, 150},
		{"recordio", fashionHP, map[string]trainertest.Channel{
			"train": {ContentType: "application/x-recordio-protobuf", Files: map[string][]byte{"train.rec": testdata(t, "fashion_head50.rec")}}}, 50},
		{"no content type is recordio", fashionHP, map[string]trainertest.Channel{
			"train": {Files: map[string][]byte{"train.rec": testdata(t, "fashion_head50.rec")}}}, 50},
		{"recordio gzip", fashionHP, map[string]trainertest.Channel{
			"train": {Compression: "Gzip", Files: map[string][]byte{"train.rec.gz": testdata(t, "fashion_head50.rec.gz")}}}, 50},
		{"csv gzip", fashionHP, map[string]trainertest.Channel{
			"train": {ContentType: "text/csv", Compression: "Gzip", Files: map[string][]byte{"train.csv.gz": gz(t, csv)}}}, 50},
		{"multiple files and hidden ones", fashionHP, map[string]trainertest.Channel{
			"train": {ContentType: "text/csv", Files: map[string][]byte{
				"a.csv":            []byte(partA),
				"b/part.csv":       []byte(partB),
				"c.csv":            []byte(partC),
				".amazon.manifest": []byte(`[{"prefix": "s3://bucket/"}, "a.csv"]`),
				".hidden/x.csv":    []byte("not,a,row\n"),
				"empty.csv":        nil,
			}}}, 50},
		{"csv wrapped in recordio records", fashionHP, map[string]trainertest.Channel{
			"train": {ContentType: "text/csv", Files: map[string][]byte{"wrapped": wrapRecords(t, partA, partB, partC)}}}, 50},
		{"recordio split across files", fashionHP, map[string]trainertest.Channel{
			"train": {Files: map[string][]byte{
				"1.rec": testdata(t, "fashion_head50.rec"),
				"2.rec": testdata(t, "fashion_head50.rec"),
			}}}, 100},
	}
	want := fashionMeans(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := trainertest.NewOptML(t, tc.hp, tc.channels)
			if strings.Contains(tc.name, "wrapped") {
				writeConfig(t, root, "inputdataconfig.json", `{"train": {"ContentType": "text/csv", "RecordWrapperType": "RecordIO"}}`)
			}
			code, _ := run(t, context.Background(), &fakeAlgo{}, root)
			if code != 0 {
				f, _ := trainertest.Failure(t, root)
				t.Fatalf("exit code %d (%s), want 0", code, f)
			}
			if f, ok := trainertest.Failure(t, root); ok {
				t.Errorf("failure file written: %s", f)
			}
			if got := trainertest.ModelFiles(t, root); len(got) != 1 || got[0] != "model_algo-1" {
				t.Errorf("model files %v, want [model_algo-1]", got)
			}
			// float32 data: the means agree to float32 precision.
			wantModel(t, root, tc.rows, want, 1e-6)
		})
	}
}

func TestEmptyChannel(t *testing.T) {
	root := trainertest.NewOptML(t, fashionHP, map[string]trainertest.Channel{"train": {ContentType: "text/csv"}})
	if code, _ := run(t, context.Background(), &fakeAlgo{}, root); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if rows, _ := readModel(t, root); rows != 0 {
		t.Errorf("rows %d, want 0", rows)
	}
}

func TestPipeMode(t *testing.T) {
	csv := testdata(t, "fashion_head50.csv")
	for _, tc := range []struct {
		name, ct, compression string
		payload               []byte
	}{
		{"csv", "text/csv", "", csv},
		{"recordio gzip", "", "Gzip", testdata(t, "fashion_head50.rec.gz")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := trainertest.NewOptML(t, map[string]string{"feature_dim": "784", "epochs": "2"}, map[string]trainertest.Channel{
				"train": {ContentType: tc.ct, Mode: "Pipe", Compression: tc.compression}})
			trainertest.ServePipe(t, root, "train", 0, tc.payload)
			trainertest.ServePipe(t, root, "train", 1, tc.payload)
			code, log := run(t, context.Background(), &fakeAlgo{}, root)
			if code != 0 {
				t.Fatalf("exit code %d, want 0", code)
			}
			if rows, _ := readModel(t, root); rows != 100 {
				t.Errorf("rows %d, want 100 (2 epochs of 50)", rows)
			}
			if !strings.Contains(log, "completed 100.0 % of epochs") {
				t.Errorf("log lacks the final progress line")
			}
		})
	}
}

func TestPipeNeverAppears(t *testing.T) {
	root := trainertest.NewOptML(t, fashionHP, map[string]trainertest.Channel{"train": {ContentType: "text/csv", Mode: "Pipe"}})
	var out bytes.Buffer
	code := Run(context.Background(), &fakeAlgo{}, Options{Root: root, Stdout: &out, PipeWait: 300 * time.Millisecond})
	if code != ExitAlgorithmError {
		t.Fatalf("exit code %d, want %d", code, ExitAlgorithmError)
	}
	f, _ := trainertest.Failure(t, root)
	if !strings.HasPrefix(f, "AlgorithmError: ") || !strings.Contains(f, "train_0") {
		t.Errorf("failure %q, want an AlgorithmError naming train_0", f)
	}
}

func TestFailures(t *testing.T) {
	csvTrain := map[string]trainertest.Channel{"train": {ContentType: "text/csv", Files: map[string][]byte{"a.csv": []byte("0,1,2\n1,3,4\n")}}}
	tests := []struct {
		name     string
		algo     *fakeAlgo
		hp       map[string]string
		channels map[string]trainertest.Channel
		setup    func(t *testing.T, root string)
		code     int
		want     []string // substrings of the failure file, after its prefix
	}{
		{name: "bad hyperparameter value", hp: map[string]string{"feature_dim": "abc"}, channels: csvTrain,
			code: 2, want: []string{"ClientError: ", "feature_dim", "abc"}},
		{name: "unknown hyperparameter", hp: map[string]string{"feature_dim": "2", "mini_batch_siz": "5"}, channels: csvTrain,
			code: 2, want: []string{"ClientError: ", "mini_batch_siz", "mini_batch_size"}},
		{name: "missing required hyperparameter", hp: map[string]string{}, channels: csvTrain,
			code: 2, want: []string{"ClientError: ", "feature_dim"}},
		{name: "hyperparameters.json with a byte order mark and a bad value", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			setup: func(t *testing.T, root string) {
				writeConfig(t, root, "hyperparameters.json", "\xef\xbb\xbf{\"feature_dim\": \"x\"}")
			},
			code: 2, want: []string{`ClientError: hyperparameter "feature_dim" = "x"`}},
		{name: "hyperparameters.json holding a list", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			setup: func(t *testing.T, root string) {
				writeConfig(t, root, "hyperparameters.json", "[\"feature_dim\", \"2\"]")
			},
			code: 2, want: []string{"ClientError: hyperparameters.json has a JSON array where an object is expected: line 1, column 1"}},
		{name: "malformed hyperparameters.json", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			setup: func(t *testing.T, root string) {
				writeConfig(t, root, "hyperparameters.json", "{\n  \"feature_dim\": 2,\n  \"k\": }\n")
			},
			code: 2, want: []string{"ClientError: hyperparameters.json is not valid JSON: line 3, column 8"}},
		// The Go types behind the files stay out of the message.
		{name: "inputdataconfig.json channel not an object", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			setup: func(t *testing.T, root string) { writeConfig(t, root, "inputdataconfig.json", `{"train": "x"}`) },
			code:  2, want: []string{"ClientError: inputdataconfig.json has a JSON string where an object is expected: line 1, column 13"}},
		{name: "resourceconfig.json hosts not a list", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			setup: func(t *testing.T, root string) {
				writeConfig(t, root, "resourceconfig.json", `{"current_host": "algo-1", "hosts": "algo-1"}`)
			},
			code: 2, want: []string{"ClientError: resourceconfig.json has a JSON string where field hosts expects a list of strings"}},
		{name: "malformed inputdataconfig.json", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			setup: func(t *testing.T, root string) { writeConfig(t, root, "inputdataconfig.json", `{"train": [}`) },
			code:  2, want: []string{"ClientError: inputdataconfig.json is not valid JSON: line 1, column"}},
		{name: "inputdataconfig.json of the wrong shape", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			setup: func(t *testing.T, root string) {
				writeConfig(t, root, "inputdataconfig.json", `{"train": {"ContentType": 5}}`)
			},
			code: 2, want: []string{"ClientError: inputdataconfig.json", "ContentType"}},
		{name: "malformed resourceconfig.json", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			setup: func(t *testing.T, root string) {
				writeConfig(t, root, "resourceconfig.json", `{"current_host": "algo-1",`)
			},
			code: 2, want: []string{"ClientError: resourceconfig.json is not valid JSON"}},
		{name: "missing required channel", hp: map[string]string{"feature_dim": "2"},
			channels: map[string]trainertest.Channel{"test": csvTrain["train"]},
			code:     2, want: []string{`ClientError: channel "train" is required but not in inputdataconfig.json`}},
		{name: "missing inputdataconfig.json", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			setup: func(t *testing.T, root string) { os.Remove(filepath.Join(root, "input/config/inputdataconfig.json")) },
			code:  2, want: []string{`ClientError: channel "train" is required`}},
		{name: "unknown channel", hp: map[string]string{"feature_dim": "2"},
			channels: map[string]trainertest.Channel{"train": csvTrain["train"], "validation": csvTrain["train"]},
			code:     2, want: []string{`ClientError: channel "validation"`, `valid channels are "train", "test"`}},
		{name: "unsupported content type", hp: map[string]string{"feature_dim": "2"},
			channels: map[string]trainertest.Channel{"train": {ContentType: "application/json", Files: map[string][]byte{"a": []byte("{}")}}},
			code:     2, want: []string{`ClientError: channel "train" has ContentType "application/json"`, "text/csv"}},
		{name: "malformed content type", hp: map[string]string{"feature_dim": "2"},
			channels: map[string]trainertest.Channel{"train": {ContentType: "text/csv; label_size", Files: map[string][]byte{"a": nil}}},
			code:     2, want: []string{`ClientError: channel "train"`}},
		{name: "file-only type in pipe mode", algo: &fakeAlgo{fileOnly: []string{data.CSV}}, hp: map[string]string{"feature_dim": "2"},
			channels: map[string]trainertest.Channel{"train": {ContentType: "text/csv", Mode: "Pipe"}},
			code:     2, want: []string{"ClientError: ", "File mode only"}},
		{name: "bad input mode", hp: map[string]string{"feature_dim": "2"},
			channels: map[string]trainertest.Channel{"train": {ContentType: "text/csv", Mode: "Stream"}},
			code:     2, want: []string{"ClientError: ", `TrainingInputMode "Stream"`}},
		{name: "bad compression", hp: map[string]string{"feature_dim": "2"},
			channels: map[string]trainertest.Channel{"train": {ContentType: "text/csv", Compression: "Zip", Files: map[string][]byte{"a": nil}}},
			code:     2, want: []string{"ClientError: ", `CompressionType "Zip"`}},
		{name: "missing channel directory", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			setup: func(t *testing.T, root string) { os.RemoveAll(filepath.Join(root, "input/data/train")) },
			code:  2, want: []string{`ClientError: channel "train"`, "does not exist"}},
		{name: "malformed csv", hp: map[string]string{"feature_dim": "2"},
			channels: map[string]trainertest.Channel{"train": {ContentType: "text/csv", Files: map[string][]byte{"a.csv": []byte("0,1,2\n1,x,4\n")}}},
			code:     2, want: []string{`ClientError: channel "train"`}},
		// Lines are counted per file: b.csv's third line, not the
		// channel's fifth (a.csv has two, one without its newline).
		{name: "malformed csv in the second file", hp: map[string]string{"feature_dim": "2"},
			channels: map[string]trainertest.Channel{"train": {ContentType: "text/csv", Files: map[string][]byte{
				"a.csv": []byte("0,1,2\n1,3,4"), "b.csv": []byte("0,1,2\n1,3,4\n1,x,4\n")}}},
			code: 2, want: []string{`ClientError: channel "train", file "b.csv": line 3, column 2: "x" is not a number`}},
		{name: "ragged csv in the second file", hp: map[string]string{"feature_dim": "2"},
			channels: map[string]trainertest.Channel{"train": {ContentType: "text/csv", Files: map[string][]byte{
				"a.csv": []byte("0,1,2\n"), "b.csv": []byte("0,1\n")}}},
			code: 2, want: []string{`ClientError: channel "train", file "b.csv": line 1 has 2 columns`}},
		{name: "wrong feature_dim", hp: map[string]string{"feature_dim": "5"}, channels: csvTrain,
			code: 2, want: []string{`ClientError: channel "train"`}},
		{name: "corrupt gzip", hp: map[string]string{"feature_dim": "2"},
			channels: map[string]trainertest.Channel{"train": {ContentType: "text/csv", Compression: "Gzip", Files: map[string][]byte{"a.csv.gz": []byte("0,1,2\n")}}},
			code:     2, want: []string{`ClientError: channel "train", file "a.csv.gz": CompressionType is Gzip`}},
		{name: "algorithm fails", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			algo: &fakeAlgo{train: func(context.Context, *algorithms.Job) (algorithms.Model, error) {
				return nil, errors.New("solver diverged:\nloss is NaN")
			}},
			code: 1, want: []string{"AlgorithmError: solver diverged: loss is NaN\n"}},
		{name: "algorithm reports a client error", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			algo: &fakeAlgo{train: func(context.Context, *algorithms.Job) (algorithms.Model, error) {
				return nil, algorithms.Errorf("k=10 is more than the 2 rows")
			}},
			code: 2, want: []string{"ClientError: k=10 is more than the 2 rows"}},
		{name: "algorithm panics", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			algo: &fakeAlgo{train: func(context.Context, *algorithms.Job) (algorithms.Model, error) {
				var s []int
				_ = s[3]
				return nil, nil
			}},
			code: 1, want: []string{"AlgorithmError: panic: runtime error: index out of range"}},
		{name: "algorithm panics on a helper goroutine", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			algo: &fakeAlgo{train: func(context.Context, *algorithms.Job) (algorithms.Model, error) {
				var g recovered.Group
				g.Go(func() { panic("boom in a helper") })
				g.Wait()
				return nil, nil
			}},
			code: 1, want: []string{"AlgorithmError: panic: boom in a helper"}},
		{name: "algorithm returns no model", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			algo: &fakeAlgo{train: func(context.Context, *algorithms.Job) (algorithms.Model, error) { return nil, nil }},
			code: 1, want: []string{"AlgorithmError: fake returned no model"}},
		{name: "save fails halfway", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			algo: &fakeAlgo{save: func(dir string) error {
				if err := os.WriteFile(filepath.Join(dir, "model_algo-1"), []byte("half"), 0o644); err != nil {
					return err
				}
				return errors.New("disk full")
			}},
			code: 1, want: []string{"AlgorithmError: saving the model: disk full"}},
		{name: "save panics", hp: map[string]string{"feature_dim": "2"}, channels: csvTrain,
			algo: &fakeAlgo{save: func(dir string) error {
				os.WriteFile(filepath.Join(dir, "model_algo-1"), []byte("half"), 0o644)
				panic("boom")
			}},
			code: 1, want: []string{"AlgorithmError: panic: boom"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := trainertest.NewOptML(t, tc.hp, tc.channels)
			if tc.setup != nil {
				tc.setup(t, root)
			}
			algo := tc.algo
			if algo == nil {
				algo = &fakeAlgo{}
			}
			code, log := run(t, context.Background(), algo, root)
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			f, ok := trainertest.Failure(t, root)
			if !ok {
				t.Fatal("no failure file")
			}
			for _, w := range tc.want {
				if !strings.Contains(f, w) {
					t.Errorf("failure %q does not contain %q", f, w)
				}
			}
			if !strings.HasPrefix(f, tc.want[0][:strings.Index(tc.want[0], ":")+2]) {
				t.Errorf("failure %q does not start with %q", f, tc.want[0])
			}
			if strings.Count(f, "\n") != 1 || !strings.HasSuffix(f, "\n") {
				t.Errorf("failure %q is not one paragraph", f)
			}
			if strings.Contains(f, "goroutine") {
				t.Errorf("failure holds a stack trace: %q", f)
			}
			if got := trainertest.ModelFiles(t, root); len(got) != 0 {
				t.Errorf("model files %v left behind, want none", got)
			}
			if !regexp.MustCompile(`(?m)^\[\d\d/\d\d/\d{4} \d\d:\d\d:\d\d ERROR \d+\] .+$`).MatchString(log) {
				t.Errorf("log lacks an ERROR line")
			}
		})
	}
}

func writeConfig(t *testing.T, root, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, "input/config", name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultsWithoutConfig(t *testing.T) {
	// No hyperparameters.json, no resourceconfig.json: defaults and a
	// single host algo-1; feature_dim is required, hence a ClientError.
	root := trainertest.NewOptML(t, nil, map[string]trainertest.Channel{"train": {ContentType: "text/csv"}})
	os.Remove(filepath.Join(root, "input/config/hyperparameters.json"))
	os.Remove(filepath.Join(root, "input/config/resourceconfig.json"))
	code, _ := run(t, context.Background(), &fakeAlgo{}, root)
	if code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	f, _ := trainertest.Failure(t, root)
	if !strings.Contains(f, "feature_dim") {
		t.Errorf("failure %q does not name feature_dim", f)
	}
}

var (
	reQuality    = regexp.MustCompile(`(?m)^\[\d\d/\d\d/\d{4} \d\d:\d\d:\d\d INFO \d+\] #quality_metric: host=algo-1, test msd <loss>=([0-9.eE+-]+)$`)
	reScore      = regexp.MustCompile(`(?m)^\[.*\] #test_score \(algo-1\) : \('msd', ([0-9.eE+-]+)\)$`)
	reTrain      = regexp.MustCompile(`(?m)#quality_metric: host=algo-1, epoch=(\d+), train msd <loss>=([0-9.eE+-]+)$`)
	reProgress   = regexp.MustCompile(`(?m)#progress_metric: host=algo-1, completed ([0-9.]+) % of epochs$`)
	reThroughput = regexp.MustCompile(`(?m)#throughput_metric: host=algo-1, train throughput=([0-9.]+) records/second$`)
	reMetrics    = regexp.MustCompile(`(?m)^#metrics (\{.*\})$`)
)

func TestMetricLines(t *testing.T) {
	csv := testdata(t, "fashion_head50.csv")
	root := trainertest.NewOptML(t, map[string]string{"feature_dim": "784", "epochs": "2"}, map[string]trainertest.Channel{
		"train": {ContentType: "text/csv", Files: map[string][]byte{"a.csv": csv}},
		"test":  {ContentType: "text/csv", Files: map[string][]byte{"a.csv": csv[:bytes.IndexByte(csv, '\n')+1]}},
	})
	var out, errOut bytes.Buffer
	code := Run(context.Background(), &fakeAlgo{}, Options{Root: root, Stdout: &out, Stderr: &errOut, Progress: true})
	if code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	log := out.String()
	t.Log(log)
	if m := reQuality.FindStringSubmatch(log); m == nil || m[1] != "0.001" {
		t.Errorf("quality metric %v, want test msd 0.001", m)
	}
	if m := reScore.FindStringSubmatch(log); m == nil || m[1] != "0.001" {
		t.Errorf("test score %v, want 0.001", m)
	}
	if m := reTrain.FindAllStringSubmatch(log, -1); len(m) != 2 || m[0][1] != "0" || m[1][1] != "1" || m[0][2] != "0.05" {
		t.Errorf("train metrics %v, want epochs 0 and 1 with msd 0.05", m)
	}
	if m := reProgress.FindAllStringSubmatch(log, -1); len(m) != 2 || m[0][1] != "50.0" || m[1][1] != "100.0" {
		t.Errorf("progress %v, want 50.0 and 100.0", m)
	}
	if m := reThroughput.FindAllStringSubmatch(log, -1); len(m) != 2 {
		t.Errorf("throughput lines %v, want 2", m)
	}
	ms := reMetrics.FindAllStringSubmatch(log, -1)
	if len(ms) != 3 {
		t.Fatalf("%d #metrics lines, want 3", len(ms))
	}
	var last struct {
		Metrics   map[string]struct{ Sum, Count, Min, Max float64 }
		StartTime float64
		EndTime   float64
	}
	if err := json.Unmarshal([]byte(ms[2][1]), &last); err != nil {
		t.Fatal(err)
	}
	if s, ok := last.Metrics["test_msd"]; !ok || s.Sum != 0.001 || s.Count != 1 || s.Min != 0.001 || s.Max != 0.001 {
		t.Errorf("#metrics %s, want test_msd 0.001", ms[2][1])
	}
	if last.EndTime < last.StartTime || last.StartTime < 1.7e9 {
		t.Errorf("times %v..%v", last.StartTime, last.EndTime)
	}
	for _, w := range []string{"arguments provided", `"feature_dim":"784"`, `"mini_batch_size":"7"`, "read 100 rows"} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q", w)
		}
	}
	if p := errOut.String(); !strings.Contains(p, "epoch 1/2") || !strings.HasSuffix(p, "\r\x1b[K") {
		t.Errorf("progress display %q, want epoch 1/2 and cleared at the end", p)
	}
	if strings.Contains(log, "records/s ") || strings.Contains(log, "\r") {
		t.Errorf("progress leaked into the log")
	}
}

func TestLogFormat(t *testing.T) {
	var out bytes.Buffer
	l := newLogger(&out)
	l.tid = 140026520049408
	now := time.Date(2026, 11, 21, 10, 15, 33, 123e6, time.UTC)
	l.now = func() time.Time { return now }
	m := newMetrics(l, "algo-1", 0)
	m.start = now.Add(-32667 * time.Millisecond)
	m.Score("test", "msd", 0.0133)
	m.EpochEnd(3, map[string]float64{"msd": 1.5e-7})
	m.Logf("hello %d", 7)
	want := `[11/21/2026 10:15:33 INFO 140026520049408] #quality_metric: host=algo-1, test msd <loss>=0.0133
[11/21/2026 10:15:33 INFO 140026520049408] #test_score (algo-1) : ('msd', 0.0133)
#metrics {"Metrics": {"test_msd": {"sum": 0.0133, "count": 1, "min": 0.0133, "max": 0.0133}}, "EndTime": 1795256133.123, "StartTime": 1795256100.456}
[11/21/2026 10:15:33 INFO 140026520049408] #progress_metric: host=algo-1, completed epoch 3
[11/21/2026 10:15:33 INFO 140026520049408] #quality_metric: host=algo-1, epoch=3, train msd <loss>=1.5e-07
#metrics {"Metrics": {"train_msd": {"sum": 1.5e-07, "count": 1, "min": 1.5e-07, "max": 1.5e-07}}, "EndTime": 1795256133.123, "StartTime": 1795256133.123}
[11/21/2026 10:15:33 INFO 140026520049408] hello 7
`
	if got := out.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// holdWriter opens the FIFO's write end and holds it without writing until
// the test ends.
func holdWriter(t *testing.T, path string) {
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			if err == nil {
				<-stop
				w.Close()
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
}

func TestSIGTERM(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, root string)
	}{
		{"fifo never appears", func(*testing.T, string) {}},
		{"fifo without a writer", func(t *testing.T, root string) {
			if err := syscall.Mkfifo(trainertest.PipePath(root, "train", 0), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"fifo without data", func(t *testing.T, root string) { holdWriter(t, trainertest.PipePath(root, "train", 0)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := trainertest.NewOptML(t, fashionHP, map[string]trainertest.Channel{"train": {ContentType: "text/csv", Mode: "Pipe"}})
			tc.setup(t, root)
			ctx, cancel := context.WithCancel(context.Background())
			opened := make(chan struct{})
			algo := &fakeAlgo{train: func(ctx context.Context, job *algorithms.Job) (algorithms.Model, error) {
				close(opened)
				_, err := readAll(ctx, job, "train", 0, func([]float32) {})
				return &meanModel{sums: make([]float64, 784)}, err
			}}
			go func() {
				<-opened
				time.Sleep(200 * time.Millisecond)
				cancel()
			}()
			var out bytes.Buffer
			start := time.Now()
			code := Run(ctx, algo, Options{Root: root, Stdout: &out, PipeWait: time.Minute})
			t.Log(out.String())
			if code != ExitStopped {
				t.Errorf("exit code %d, want %d", code, ExitStopped)
			}
			if d := time.Since(start); d > 1200*time.Millisecond {
				t.Errorf("Run took %v after the cancellation", d-200*time.Millisecond)
			}
			if f, ok := trainertest.Failure(t, root); ok {
				t.Errorf("failure file written: %q", f)
			}
			// The fake returns its model with the error: it is saved as the
			// intermediate model.
			if got := trainertest.ModelFiles(t, root); len(got) != 1 || got[0] != "model_algo-1" {
				t.Errorf("model files %v, want the intermediate model_algo-1", got)
			}
			if !strings.Contains(out.String(), "training stopped by SIGTERM") {
				t.Errorf("log lacks the stop line")
			}
		})
	}
}

func TestCancelledBeforeStart(t *testing.T) {
	root := trainertest.NewOptML(t, fashionHP, map[string]trainertest.Channel{"train": {ContentType: "text/csv", Mode: "Pipe"}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _ := run(t, ctx, &fakeAlgo{}, root)
	if code != ExitStopped {
		t.Errorf("exit code %d, want %d", code, ExitStopped)
	}
	if _, ok := trainertest.Failure(t, root); ok {
		t.Error("failure file written")
	}
	if got := trainertest.ModelFiles(t, root); len(got) != 0 {
		t.Errorf("model files %v, want none", got)
	}
}

func TestMultiHost(t *testing.T) {
	defer func(f func(context.Context, string) ([]string, error), w, r time.Duration) {
		lookupHost, resolveWait, resolveRetry = f, w, r
	}(lookupHost, resolveWait, resolveRetry)
	resolveWait, resolveRetry = 300*time.Millisecond, 20*time.Millisecond
	t.Setenv(cluster.PortEnv, strconv.Itoa(clitest.FreePort(t)))
	calls := 0
	lookupHost = func(_ context.Context, host string) ([]string, error) {
		calls++
		if host == "algo-2" && calls >= 3 { // resolves on the third try
			return []string{"10.0.0.2"}, nil
		}
		return nil, errors.New("no such host")
	}
	csvTrain := map[string]trainertest.Channel{"train": {ContentType: "text/csv", Files: map[string][]byte{"a.csv": []byte("0,1,2\n")}}}

	root := trainertest.NewOptML(t, map[string]string{"feature_dim": "2"}, csvTrain)
	trainertest.WriteResourceConfig(t, root, "algo-1", []string{"algo-2", "algo-1"})
	var hosts []string
	algo := &fakeAlgo{train: func(ctx context.Context, job *algorithms.Job) (algorithms.Model, error) {
		hosts = append(hosts, job.Cluster.CurrentHost)
		hosts = append(hosts, job.Cluster.Hosts...)
		return &meanModel{sums: []float64{0, 0}}, nil
	}}
	code, log := run(t, context.Background(), algo, root)
	if code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if got := strings.Join(hosts, " "); got != "algo-1 algo-1 algo-2" {
		t.Errorf("cluster %q, want current algo-1 of algo-1 algo-2", got)
	}
	if !strings.Contains(log, "host algo-2 resolves to [10.0.0.2]") {
		t.Errorf("log lacks the resolved host")
	}

	root = trainertest.NewOptML(t, map[string]string{"feature_dim": "2"}, csvTrain)
	trainertest.WriteResourceConfig(t, root, "algo-1", []string{"algo-1", "algo-3"})
	if code, _ := run(t, context.Background(), &fakeAlgo{}, root); code != 1 {
		t.Errorf("unresolvable host: exit code %d, want 1", code)
	}
	if f, _ := trainertest.Failure(t, root); !strings.Contains(f, `host "algo-3"`) {
		t.Errorf("failure %q does not name algo-3", f)
	}

	root = trainertest.NewOptML(t, map[string]string{"feature_dim": "2"}, csvTrain)
	trainertest.WriteResourceConfig(t, root, "algo-9", []string{"algo-1", "algo-2"})
	if code, _ := run(t, context.Background(), &fakeAlgo{}, root); code != 2 {
		t.Errorf("current host not in hosts: exit code %d, want 2", code)
	}

	// A host that does not lead trains but leaves the model to the leader
	// (model_algo-1 is the job's, as SageMaker's built-ins write it).
	lookupHost = func(context.Context, string) ([]string, error) { return []string{"10.0.0.1"}, nil }
	root = trainertest.NewOptML(t, map[string]string{"feature_dim": "2"}, csvTrain)
	trainertest.WriteResourceConfig(t, root, "algo-2", []string{"algo-1", "algo-2"})
	code, log = run(t, context.Background(), &fakeAlgo{}, root)
	if code != 0 || !strings.Contains(log, "training completed; the leading host algo-1 saves the model") {
		t.Errorf("second host: exit code %d, want 0 and the leader named\n%s", code, log)
	}
	if got := trainertest.ModelFiles(t, root); len(got) != 0 {
		t.Errorf("second host wrote %v, want no model", got)
	}
	if !strings.Contains(log, "does not merge hosts") {
		t.Errorf("the log does not say that the algorithm trains each host alone:\n%s", log)
	}
}

// mergingAlgo is a fakeAlgo that merges hosts (algorithms.HostMerger).
type mergingAlgo struct{ fakeAlgo }

func (*mergingAlgo) MergesHosts() bool { return true }

// TestMultiHostPort: an algorithm that merges hosts has its leader listen
// on SAGEBRUSH_CLUSTER_PORT; a value that is no port is a ClientError
// naming the variable, before any training.
func TestMultiHostPort(t *testing.T) {
	defer func(f func(context.Context, string) ([]string, error)) { lookupHost = f }(lookupHost)
	lookupHost = func(context.Context, string) ([]string, error) { return []string{"10.0.0.2"}, nil }
	csvTrain := map[string]trainertest.Channel{"train": {ContentType: "text/csv", Files: map[string][]byte{"a.csv": []byte("0,1,2\n")}}}
	trained := false
	algo := &mergingAlgo{fakeAlgo{train: func(ctx context.Context, job *algorithms.Job) (algorithms.Model, error) {
		trained = true
		if job.Peers == nil || !job.Peers.Leader() || job.Peers.Size() != 2 {
			t.Errorf("peers %v, want the leader of 2 hosts", job.Peers)
		}
		return &meanModel{sums: []float64{0, 0}}, nil
	}}}

	port := clitest.FreePort(t)
	t.Setenv(cluster.PortEnv, strconv.Itoa(port))
	root := trainertest.NewOptML(t, map[string]string{"feature_dim": "2"}, csvTrain)
	trainertest.WriteResourceConfig(t, root, "algo-1", []string{"algo-1", "algo-2"})
	code, log := run(t, context.Background(), algo, root)
	if want := fmt.Sprintf("algo-1 merges them into one model (port %d)", port); code != 0 || !trained || !strings.Contains(log, want) {
		t.Errorf("exit code %d, trained %v; want 0 and the log to say %q\n%s", code, trained, want, log)
	}

	t.Setenv(cluster.PortEnv, "http")
	trained = false
	root = trainertest.NewOptML(t, map[string]string{"feature_dim": "2"}, csvTrain)
	trainertest.WriteResourceConfig(t, root, "algo-1", []string{"algo-1", "algo-2"})
	if code, _ := run(t, context.Background(), algo, root); code != ExitClientError || trained {
		t.Errorf("bad port: exit code %d, trained %v; want %d before training", code, trained, ExitClientError)
	}
	if f, _ := trainertest.Failure(t, root); !strings.Contains(f, `SAGEBRUSH_CLUSTER_PORT="http" is not a TCP port`) {
		t.Errorf("failure %q does not name the variable and its value", f)
	}
}

func TestStaleTempDirRemoved(t *testing.T) {
	root := trainertest.NewOptML(t, fashionHP, map[string]trainertest.Channel{
		"train": {ContentType: "text/csv", Files: map[string][]byte{"a.csv": testdata(t, "fashion_head50.csv")}}})
	if err := os.MkdirAll(filepath.Join(root, "model", ".tmp-123", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _ := run(t, context.Background(), &fakeAlgo{}, root); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if got := trainertest.ModelFiles(t, root); len(got) != 1 || got[0] != "model_algo-1" {
		t.Errorf("model files %v, want [model_algo-1]", got)
	}
}

// TestMetricKind: losses are logged as <loss>, accuracy-like metrics as
// <score>, as the built-in algorithms' logs have them.
func TestMetricKind(t *testing.T) {
	for name, want := range map[string]string{
		"msd": "loss", "ssd": "loss", "mse": "loss", "rmse": "loss", "objective_loss": "loss",
		"absolute_loss": "loss", "accuracy": "score", "binary_classification_accuracy": "score",
		"binary_f_beta": "score", "precision": "score", "recall": "score", "macro_f_beta": "score",
		// the linear learner's own log names: "_objective" is a loss
		"mse_objective": "loss", "binary_classification_cross_entropy_objective": "loss", "hinge_loss_objective": "loss",
		"roc_auc_score": "score", "binary_f_1.000": "score",
	} {
		if got := kindOf(name); got != want {
			t.Errorf("kindOf(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestComputeSelection: the device choice made at start (package gpu's
// probing) is logged, and a forced device that could not be had fails the
// job as an AlgorithmError before any work.
func TestComputeSelection(t *testing.T) {
	t.Cleanup(func() { compute.SetSelection(compute.Selection{}) })
	root := trainertest.NewOptML(t, fashionHP, map[string]trainertest.Channel{"train": {ContentType: "text/csv"}})

	compute.SetSelection(compute.Selection{Message: "compute: no GPU (test); using the CPU engine"})
	code, log := run(t, context.Background(), &fakeAlgo{}, root)
	if code != 0 || !strings.Contains(log, "compute: no GPU (test); using the CPU engine") {
		t.Fatalf("exit %d; the log must carry the selection message:\n%s", code, log)
	}

	root = trainertest.NewOptML(t, fashionHP, map[string]trainertest.Channel{"train": {ContentType: "text/csv"}})
	compute.SetSelection(compute.Selection{Err: errors.New("SAGEBRUSH_DEVICE=gpu, but no GPU is usable")})
	if code, _ := run(t, context.Background(), &fakeAlgo{}, root); code != ExitAlgorithmError {
		t.Fatalf("exit code %d, want %d", code, ExitAlgorithmError)
	}
	msg, ok := trainertest.Failure(t, root)
	if !ok || !strings.HasPrefix(msg, "AlgorithmError: compute device: SAGEBRUSH_DEVICE=gpu") {
		t.Errorf("failure file %q, want an AlgorithmError naming the device", msg)
	}
	if files := trainertest.ModelFiles(t, root); len(files) != 0 {
		t.Errorf("model files %v, want none", files)
	}
}
