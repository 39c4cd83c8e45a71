package main_test

// End-to-end test of `linear-learner serve`: a model trained by the binary
// answers /invocations in JSON, JSON Lines and RecordIO-protobuf with the
// scores and labels of the in-process model, predicted_label printed as an
// integer in JSON (as the real endpoint prints it) and score as the full
// float32.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/linearlearner"
	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// serve starts `linear-learner serve` on root and waits for /ping; it is
// stopped (SIGTERM, exit 0 expected) at cleanup.
func serve(t *testing.T, root string) *clitest.Server {
	t.Helper()
	return clitest.Serve(t, clitest.ServerConfig{Bin: binary, Root: root, StartTimeout: 10 * time.Second})
}

func invoke(t *testing.T, s *clitest.Server, accept string, body []byte) []byte {
	t.Helper()
	r := s.Post(t, "/invocations", "text/csv", accept, body)
	if r.Status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", accept, r.Status, r.Body)
	}
	if !strings.HasPrefix(r.ContentType, accept) {
		t.Errorf("Content-Type %q, want %q", r.ContentType, accept)
	}
	return r.Body
}

// served is one row of a response: the score's numbers as printed (JSON)
// or as float32 (RecordIO), and the label.
type served struct {
	scores []string
	label  string
}

var (
	labelRE = regexp.MustCompile(`"predicted_label":\s*([^,}\s]+)`)
	scoreRE = regexp.MustCompile(`"score":\s*(\[[^\]]*\]|[^,}\s]+)`)
)

func parseJSONRow(t *testing.T, obj string) served {
	t.Helper()
	var s served
	if m := labelRE.FindStringSubmatch(obj); m != nil {
		s.label = m[1]
	}
	m := scoreRE.FindStringSubmatch(obj)
	if m == nil {
		t.Fatalf("no score in %s", obj)
	}
	for _, v := range strings.Split(strings.Trim(m[1], "[]"), ",") {
		s.scores = append(s.scores, strings.TrimSpace(v))
	}
	return s
}

func decodeServed(t *testing.T, accept string, body []byte) []served {
	t.Helper()
	var out []served
	switch accept {
	case "application/json":
		var v struct{ Predictions []json.RawMessage }
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		for _, p := range v.Predictions {
			out = append(out, parseJSONRow(t, string(p)))
		}
	case "application/jsonlines":
		for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
			out = append(out, parseJSONRow(t, line))
		}
	case "application/x-recordio-protobuf":
		payloads, err := recordio.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range payloads {
			var rec aialgs.Record
			if err := proto.Unmarshal(p, &rec); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			var s served
			for _, v := range rec.GetLabel()["score"].GetFloat32Tensor().GetValues() {
				s.scores = append(s.scores, strconv.FormatFloat(float64(v), 'g', -1, 32))
			}
			if l := rec.GetLabel()["predicted_label"].GetFloat32Tensor().GetValues(); len(l) == 1 {
				s.label = strconv.FormatFloat(float64(l[0]), 'g', -1, 32)
			}
			out = append(out, s)
		}
	}
	return out
}

func TestServe(t *testing.T) {
	for _, tc := range []struct {
		name string
		hp   map[string]string
		k    int // score width
	}{
		{"binary", map[string]string{"predictor_type": "binary_classifier"}, 1},
		{"multiclass", map[string]string{"predictor_type": "multiclass_classifier", "num_classes": "3"}, 3},
		{"regressor", map[string]string{"predictor_type": "regressor"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hp := map[string]string{"feature_dim": "3", "mini_batch_size": "100", "epochs": "3", "num_models": "2"}
			for k, v := range tc.hp {
				hp[k] = v
			}
			root := trainertest.NewOptML(t, hp, map[string]trainertest.Channel{
				"train": {ContentType: "text/csv", Files: map[string][]byte{"d.csv": csvData(1000, 21)}}})
			if r := clitest.Train(t, binary, root); r.Code != 0 {
				t.Fatalf("train exit %d\n%s", r.Code, r.Log())
			}
			m, err := linearlearner.Algorithm{}.Load(filepath.Join(root, "model"))
			if err != nil {
				t.Fatal(err)
			}
			// Rows without labels; the model's own predictions are the reference.
			rows := [][]float32{{2, 10, 0}, {-2, 10, 0}, {0.1, 9.3, -1.7}, {0.3333333, 11.1, 0.5}}
			var csv bytes.Buffer
			b := &data.Batch{Rows: len(rows), Cols: 3}
			for _, r := range rows {
				fmt.Fprintf(&csv, "%g,%g,%g\n", r[0], r[1], r[2])
				b.Dense = append(b.Dense, r...)
			}
			want, err := m.Predict(context.Background(), b, algorithms.PredictOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := serve(t, root)
			for _, accept := range []string{"application/json", "application/jsonlines", "application/x-recordio-protobuf"} {
				body := invoke(t, s, accept, csv.Bytes())
				if accept != "application/x-recordio-protobuf" {
					t.Logf("%s: %s", accept, body)
				}
				got := decodeServed(t, accept, body)
				if len(got) != len(rows) {
					t.Fatalf("%s: %d predictions, want %d", accept, len(got), len(rows))
				}
				for i, g := range got {
					if len(g.scores) != tc.k {
						t.Fatalf("%s row %d: score %v, want %d numbers", accept, i, g.scores, tc.k)
					}
					for k, s := range g.scores {
						v, err := strconv.ParseFloat(s, 32)
						w := want.Outputs[0].Values[i*tc.k+k]
						// Full float32: the printed number reads back as the very float32.
						if err != nil || float32(v) != w {
							t.Errorf("%s row %d: score %s, want %v", accept, i, s, w)
						}
						if accept != "application/x-recordio-protobuf" && tc.k == 1 && len(s) < 5 && v != 0 && v != 1 {
							t.Errorf("%s row %d: score printed as %s: digits lost", accept, i, s)
						}
					}
					if tc.name == "regressor" {
						if g.label != "" {
							t.Errorf("%s row %d: a regressor answered predicted_label %s", accept, i, g.label)
						}
						continue
					}
					wl := strconv.Itoa(int(want.Outputs[1].Values[i]))
					if g.label != wl {
						t.Errorf("%s row %d: predicted_label %q, want %s (an integer in JSON)", accept, i, g.label, wl)
					}
				}
			}
		})
	}
}
