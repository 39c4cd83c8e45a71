package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
	"github.com/sagebrush-ml/sagebrush/algorithms/kmeans"
	"github.com/sagebrush-ml/sagebrush/algorithms/knn"
	"github.com/sagebrush-ml/sagebrush/algorithms/linearlearner"
	"github.com/sagebrush-ml/sagebrush/algorithms/pca"
	_ "github.com/sagebrush-ml/sagebrush/compute/cpu" // the backend the binaries install
	"github.com/sagebrush-ml/sagebrush/data"
)

// rowsChannel is an in-memory labelled training channel.
type rowsChannel struct {
	x []float32
	y []float32
	d int
}

func (c *rowsChannel) Name() string { return "train" }
func (c *rowsChannel) Open(context.Context, int) (data.BatchReadCloser, error) {
	return &rowsReader{c: c}, nil
}

type rowsReader struct {
	c    *rowsChannel
	done bool
}

func (r *rowsReader) Read(int) (*data.Batch, error) {
	if r.done {
		return nil, io.EOF
	}
	r.done = true
	return &data.Batch{Rows: len(r.c.y), Cols: r.c.d, LabelSize: 1, Dense: r.c.x, Labels: r.c.y}, nil
}
func (r *rowsReader) Close() error { return nil }

// realModels trains a small model of each algorithm (and each predictor
// type) on d-wide rows.
func realModels(t *testing.T, d int) map[string]algorithms.Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 3))
	const n = 60
	x, y := make([]float32, n*d), make([]float32, n)
	for i := range y {
		y[i] = float32(i % 2)
		for j := 0; j < d; j++ {
			x[i*d+j] = float32(rng.NormFloat64()) + 3*y[i]
		}
	}
	ch := &rowsChannel{x: x, y: y, d: d}
	fd := fmt.Sprint(d)
	jobs := []struct {
		name string
		algo algorithms.Algorithm
		hp   map[string]any
	}{
		{"kmeans", kmeans.Algorithm{}, map[string]any{"feature_dim": fd, "k": "3"}},
		{"pca", pca.Algorithm{}, map[string]any{"feature_dim": fd, "num_components": "2"}},
		{"knn classifier", knn.Algorithm{}, map[string]any{"feature_dim": fd, "k": "5", "predictor_type": "classifier", "sample_size": "60"}},
		{"knn regressor ivfpq", knn.Algorithm{}, map[string]any{"feature_dim": fd, "k": "5", "predictor_type": "regressor", "sample_size": "60",
			"index_type": "faiss.IVFPQ", "faiss_index_pq_m": "2", "faiss_index_ivf_nlists": "3"}},
		{"linear binary", linearlearner.Algorithm{}, map[string]any{"feature_dim": fd, "predictor_type": "binary_classifier", "epochs": "2"}},
		{"linear multiclass", linearlearner.Algorithm{}, map[string]any{"feature_dim": fd, "predictor_type": "multiclass_classifier", "num_classes": "3", "epochs": "2"}},
		{"linear regressor", linearlearner.Algorithm{}, map[string]any{"feature_dim": fd, "predictor_type": "regressor", "epochs": "2"}},
	}
	models := map[string]algorithms.Model{}
	for _, j := range jobs {
		models[j.name] = algorithmstest.Train(t, j.algo, j.hp, map[string]algorithms.Channel{"train": ch})
	}
	return models
}

// requestsPerModel is how many requests TestRealModelsDrawnRequests draws
// for each model: 100,000 once (2026-11-22) met no 5xx.
const requestsPerModel = 1000

// TestRealModelsDrawnRequests sends drawn requests (seeded) to a server
// holding each real model: every content type, Accept types with
// and without verbose=true, rows of the model's width and of others,
// values that do not parse or overflow, sparse rows with keys out of
// range, empty bodies. Each answer is 200 (204 for an empty body), or a
// 4xx with a JSON error body; never a 5xx, which would be a model failing
// on input it accepted.
func TestRealModelsDrawnRequests(t *testing.T) {
	const d = 4
	rng := rand.New(rand.NewPCG(9, 9))
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	value := func() string {
		return pick("1", "-2.5", "0", "3e2", "1e40", "nan", "inf", "x", "")
	}
	row := func() []string {
		w := d
		switch rng.IntN(6) {
		case 0:
			w = rng.IntN(2 * d)
		}
		r := make([]string, w)
		for j := range r {
			if rng.IntN(8) == 0 {
				r[j] = value()
			} else {
				r[j] = fmt.Sprint(rng.IntN(9) - 4)
			}
		}
		return r
	}
	jsonNum := func(s string) string {
		if s == "" || s == "x" || s == "nan" || s == "inf" {
			return `"` + s + `"`
		}
		return s
	}
	models := realModels(t, d)
	for _, name := range slices.Sorted(maps.Keys(models)) { // the draws in one order
		m := models[name]
		s := NewServer(Options{Log: io.Discard})
		s.SetModel(m)
		h := s.Handler()
		statuses := map[int]int{}
		for range requestsPerModel {
			var body strings.Builder
			ct := pick(data.CSV, data.CSV+"; label_size=1", data.JSON, data.JSONLines, data.RecordIOProtobuf, "text/plain", "")
			nrows := rng.IntN(4)
			switch ct {
			case data.CSV, data.CSV + "; label_size=1", "text/plain", "":
				for range nrows {
					body.WriteString(strings.Join(row(), ",") + "\n")
				}
			case data.JSON, data.JSONLines:
				var insts []string
				for range nrows {
					r := row()
					for j := range r {
						r[j] = jsonNum(r[j])
					}
					inst := `{"features": [` + strings.Join(r, ",") + `]}`
					if rng.IntN(3) == 0 {
						keys := []string{fmt.Sprint(rng.IntN(2 * d)), fmt.Sprint(rng.IntN(d))}
						inst = fmt.Sprintf(`{"data": {"features": {"keys": [%s], "shape": [%d], "values": [1, %s]}}}`,
							strings.Join(keys, ","), d, jsonNum(value()))
					}
					insts = append(insts, inst)
				}
				if ct == data.JSON {
					body.WriteString(`{"instances": [` + strings.Join(insts, ",") + `]}`)
				} else {
					body.WriteString(strings.Join(insts, "\n"))
				}
			case data.RecordIOProtobuf:
				rows := make([][]float32, nrows)
				for i := range rows {
					w := d
					if rng.IntN(5) == 0 {
						w = rng.IntN(2 * d)
					}
					rows[i] = make([]float32, w)
					for j := range rows[i] {
						rows[i][j] = float32(rng.NormFloat64())
					}
				}
				b := recordIOBody(t, rows, rng.IntN(2) == 0)
				if rng.IntN(6) == 0 && len(b) > 0 {
					b = b[:rng.IntN(len(b))] // cut short
				}
				body.Write(b)
			}
			accept := pick("", "*/*", data.JSON, data.JSONLines, data.RecordIOProtobuf, data.JSON+"; verbose=true",
				data.JSONLines+"; verbose=true", data.CSV, "image/png")
			headers := []string{}
			if ct != "" {
				headers = append(headers, "Content-Type", ct)
			}
			if accept != "" {
				headers = append(headers, "Accept", accept)
			}
			w := do(h, http.MethodPost, "/invocations", []byte(body.String()), headers...)
			statuses[w.Code]++
			switch {
			case w.Code == http.StatusOK, w.Code == http.StatusNoContent && body.Len() == 0: // DECISIONS: an empty body
			case w.Code >= 400 && w.Code < 500:
				var e map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
					t.Errorf("%s: %d answer is not JSON: %q", name, w.Code, w.Body.String())
				}
			default:
				t.Errorf("%s: Content-Type %q, Accept %q, body %q: status %d, %s", name, ct, accept, body.String(), w.Code, w.Body.String())
			}
		}
		t.Logf("%s: %v", name, statuses)
		if statuses[http.StatusOK] == 0 {
			t.Errorf("%s: no request succeeded: %v", name, statuses)
		}
	}
}
