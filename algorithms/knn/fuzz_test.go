package knn

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/algorithmstest"
	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// FuzzLoad feeds arbitrary model files to Load, the way serve reads a model
// a user brings: a corrupt file must be refused with an error, and a model
// that loads must answer a request without panicking.
func FuzzLoad(f *testing.F) {
	const d = 8
	xs, ls := blobs(300, d, 4, 21)
	for _, c := range []map[string]any{
		{"index_type": IndexFlat},
		{"index_type": IndexIVFFlat, "faiss_index_ivf_nlists": "4"},
		{"index_type": IndexIVFPQ, "faiss_index_ivf_nlists": "4", "faiss_index_pq_m": "4"},
		{"index_type": IndexFlat, "dimension_reduction_type": "fjlt", "dimension_reduction_target": "4", "index_metric": "COSINE"},
		{"index_type": IndexIVFFlat, "faiss_index_ivf_nlists": "3", "dimension_reduction_type": "sign", "dimension_reduction_target": "5", "predictor_type": "regressor"},
	} {
		hp := map[string]any{"feature_dim": "8", "k": "3", "predictor_type": "classifier", "sample_size": "300"}
		for k, v := range c {
			hp[k] = v
		}
		mod := algorithmstest.Train(f, Algorithm{}, hp, map[string]algorithms.Channel{"train": &memChannel{x: xs, labels: ls, d: d}})
		dir := f.TempDir()
		if err := mod.Save(dir); err != nil {
			f.Fatal(err)
		}
		var files [3][]byte
		for i, ext := range []string{".json", "", ".labels"} {
			b, err := os.ReadFile(filepath.Join(dir, "model_algo-1"+ext))
			if err != nil {
				f.Fatal(err)
			}
			files[i] = b
		}
		f.Add(files[0], files[1], files[2])
	}
	f.Fuzz(func(t *testing.T, js, params, labels []byte) {
		var meta Metadata
		if json.Unmarshal(pythonLiterals(js), &meta) == nil {
			if r := meta.DimensionReduction; r != nil && int64(r.InputDim)*int64(r.TargetDim) > 1<<22 {
				return // Load may allocate what the host holds (CheckMemory): not what a fuzzer should wait for
			}
		}
		// The bytes go straight to what Load does after reading its three
		// files: through the file system the fuzzer ran 70 inputs a second.
		meta, err := parseMetadata("model_algo-1", js)
		if err != nil {
			return
		}
		ix, err := mxnet.Read(bytes.NewReader(params))
		if err != nil {
			return
		}
		m, err := assemble("model_algo-1", meta, ix, labels)
		if err != nil {
			return
		}
		algorithmstest.Answers(t, m, 3)
	})
}

// TestLoadRefusesInconsistent edits a saved model in the ways FuzzLoad
// found panics: each must be refused with an error that names the fault.
func TestLoadRefusesInconsistent(t *testing.T) {
	xs, ls := blobs(300, 8, 4, 22)
	hp := map[string]any{"feature_dim": "8", "k": "3", "predictor_type": "classifier", "sample_size": "300",
		"index_type": IndexIVFPQ, "faiss_index_ivf_nlists": "4", "faiss_index_pq_m": "4",
		"dimension_reduction_type": "fjlt", "dimension_reduction_target": "4"}
	j, _ := job(t, hp, map[string]algorithms.Channel{"train": &memChannel{x: xs, labels: ls, d: 8}})
	mod, err := Algorithm{}.Train(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		meta func(m map[string]any)
		arrs func(f *mxnet.File)
		want string
	}{
		{name: "index_dim below the projection", want: "index_dim 2 does not follow from rows of 4 values",
			meta: func(m map[string]any) { m["index_dim"] = 2 }},
		{name: "index_dim beyond the projection", want: "index_dim 9 does not follow from rows of 4 values",
			meta: func(m map[string]any) { m["index_dim"] = 9 }},
		{name: "empty index", want: "the index holds no rows",
			arrs: func(f *mxnet.File) {
				off, _ := f.Get("list_offsets")
				clear(off.Int64)
				ids, _ := f.Get("ids")
				ids.Shape, ids.Int64 = []int{0}, nil
				codes, _ := f.Get("codes")
				codes.Shape, codes.Int64 = []int{0, codes.Shape[1]}, nil
			}},
		{name: "projection of another width", want: "dimension_reduction input_dim 9 and target_dim 4 do not fit feature_dim 8",
			meta: func(m map[string]any) { m["dimension_reduction"].(map[string]any)["input_dim"] = 9 }},
		{name: "projection beyond memory", want: "dimension_reduction sign needs at least",
			meta: func(m map[string]any) {
				m["feature_dim"] = 1 << 42
				r := m["dimension_reduction"].(map[string]any)
				r["type"], r["input_dim"] = "sign", 1<<42
			}},
		{name: "unknown projection", want: `type "gaussian" is not sign or fjlt`,
			meta: func(m map[string]any) { m["dimension_reduction"].(map[string]any)["type"] = "gaussian" }},
		{name: "no index_dim", want: "must be positive",
			meta: func(m map[string]any) { delete(m, "index_dim") }},
		{name: "float list offsets", want: `"list_offsets" holds float32`,
			arrs: func(f *mxnet.File) {
				a, _ := f.Get("list_offsets")
				*a = *mxnet.NewFloat32(make([]float32, a.Size()), a.Shape...)
			}},
		{name: "negative code", want: "code -1 out of range",
			arrs: func(f *mxnet.File) {
				a, _ := f.Get("codes") // as int32, which holds a negative code
				a.DType, a.Int64[0] = mxnet.Int32, -1
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := mod.Save(dir); err != nil {
				t.Fatal(err)
			}
			base := filepath.Join(dir, "model_algo-1")
			if c.meta != nil {
				js, _ := os.ReadFile(base + ".json")
				var m map[string]any
				if err := json.Unmarshal(js, &m); err != nil {
					t.Fatal(err)
				}
				c.meta(m)
				js, _ = json.Marshal(m)
				os.WriteFile(base+".json", js, 0o644)
			}
			if c.arrs != nil {
				f, err := mxnet.ReadFile(base)
				if err != nil {
					t.Fatal(err)
				}
				c.arrs(f)
				if err := mxnet.WriteFile(base, f); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Algorithm{}.Load(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load: %v; want an error with %q", err, c.want)
			}
		})
	}
}
