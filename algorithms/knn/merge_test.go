package knn

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/cluster/clustertest"
	"github.com/sagebrush-ml/sagebrush/data"
)

func TestSampleRoundTrip(t *testing.T) {
	xs := []float32{1, 2, 3, -4, float32(math.Inf(1)), 6e-39}
	labels := []float32{7, 8}
	b := encodeSample(xs, labels, 15, 3)
	if len(b) != headerBytes+4*(6+2) {
		t.Fatalf("encoded %d bytes, want %d", len(b), headerBytes+4*8)
	}
	gx, gl, seen, err := decodeSample(b, 3)
	if err != nil || !slices.Equal(gx, xs) || !slices.Equal(gl, labels) || seen != 15 {
		t.Fatalf("decoded %v %v seen %d, %v; want %v %v seen 15", gx, gl, seen, err, xs, labels)
	}
	// An empty host's sample.
	gx, gl, seen, err = decodeSample(encodeSample(nil, nil, 0, 3), 3)
	if err != nil || len(gx) != 0 || len(gl) != 0 || seen != 0 {
		t.Fatalf("empty sample decoded %v %v %d, %v", gx, gl, seen, err)
	}
	// A reservoir's X may hold room past its rows: only n × d are sent.
	if got := encodeSample(append(xs, 99, 99, 99), labels, 15, 3); !bytes.Equal(got, b) {
		t.Errorf("spare room was encoded")
	}

	for _, tc := range []struct {
		name string
		b    []byte
		d    int
		want string
	}{
		{"short header", b[:10], 3, "shorter than the 24-byte header"},
		{"other width", b, 2, "rows of 3 dimensions, where this job's have 2"},
		{"truncated", b[:len(b)-1], 3, "want 16 bytes per row"},
		{"trailing byte", append(slices.Clip(b), 0), 3, "want 16 bytes per row"},
		{"seen below rows", encodeSample(xs, labels, 1, 3), 3, "2 rows sampled from 1 records"},
		{"seen beyond int64", append(binaryHeader(2, 3, math.MinInt64), b[headerBytes:]...), 3, "a count of 9223372036854775808 is beyond int64"},
		{"no width", b, 0, "a row width of 0 is not positive"},
		{"huge row count", append(binaryHeader(1<<62, 3, 1<<62), b[headerBytes:]...), 3, "in 32 bytes"},
	} {
		if _, _, _, err := decodeSample(tc.b, tc.d); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestMergeSamples: the leader's merge is the hosts' rows, then their
// labels, in host order; a malformed part names its host.
func TestMergeSamples(t *testing.T) {
	p := Params{FeatureDim: 2, SampleSize: 4}
	parts := [][]byte{
		encodeSample([]float32{1, 2, 3, 4}, []float32{10, 11}, 5, 2),
		encodeSample(nil, nil, 0, 2),
		encodeSample([]float32{5, 6}, []float32{12}, 1, 2),
	}
	m := &fakeMetrics{}
	b, err := mergeSamples(parts, p.FeatureDim, p, m)
	if err != nil {
		t.Fatal(err)
	}
	if want := encodeSample([]float32{1, 2, 3, 4, 5, 6}, []float32{10, 11, 12}, 6, 2); !bytes.Equal(b, want) {
		t.Errorf("merged %x, want %x", b, want)
	}
	parts[2] = encodeSample([]float32{5, 6, 7}, []float32{12}, 1, 3)
	if _, err := mergeSamples(parts, p.FeatureDim, p, m); err == nil || !strings.Contains(err.Error(), "the sample of host 3: rows of 3 dimensions, where this job's have 2") {
		t.Errorf("error %v, want one naming host 3 and its features", err)
	}
}

// TestMergeTooLarge: a merged sample above what one message between hosts
// carries is a client error naming sample_size, before anything is sent.
func TestMergeTooLarge(t *testing.T) {
	defer func(m int) { maxMessage = m }(maxMessage)
	p := Params{FeatureDim: 2, SampleSize: 4}
	parts := [][]byte{
		encodeSample([]float32{1, 2, 3, 4}, []float32{10, 11}, 5, 2),
		encodeSample([]float32{5, 6}, []float32{12}, 1, 2),
	}
	maxMessage = headerBytes + 4*3*3 - 1 // the three rows' merged sample, less a byte
	_, err := mergeSamples(parts, p.FeatureDim, p, &fakeMetrics{})
	if err == nil || !algorithms.ClientError(err) || !strings.Contains(err.Error(), "sample_size = 4: the merged sample of 2 hosts (3 rows of 2 dimensions)") {
		t.Errorf("error %v, want the client error of a merged sample too large", err)
	}
}

func binaryHeader(rows, d int, seen int64) []byte { return appendHeader(nil, rows, d, seen) }

// FuzzDecodeSample feeds arbitrary bytes to the decoder of another host's
// sample: an error or a well-formed result, never a panic, and what
// decodes encodes back to the same bytes.
func FuzzDecodeSample(f *testing.F) {
	f.Add(encodeSample([]float32{1, 2, 3, 4, 5, 6}, []float32{0, 1}, 9, 3), 3)
	f.Add(encodeSample(nil, nil, 0, 3), 3)
	f.Add(encodeSample(nil, nil, 7, 1), 1)
	f.Add([]byte{1, 2, 3}, 3)
	f.Fuzz(func(t *testing.T, b []byte, d int) {
		if d > 1<<12 {
			return
		}
		xs, labels, seen, err := decodeSample(b, d)
		if err != nil {
			return
		}
		if d < 1 || len(xs) != len(labels)*d || seen < int64(len(labels)) {
			t.Fatalf("decoded %d values and %d labels of feature_dim %d from %d seen", len(xs), len(labels), d, seen)
		}
		if got := encodeSample(xs, labels, seen, d); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
	})
}

// trainHosts trains one model per shard at once, as the hosts of one job
// (clustertest.Train), and returns each host's model (nil on error), error
// and log.
func trainHosts(t *testing.T, hp map[string]any, shards, tests []*memChannel) ([]algorithms.Model, []error, []*fakeMetrics) {
	t.Helper()
	jobs, metrics := make([]*algorithms.Job, len(shards)), make([]*fakeMetrics, len(shards))
	for i, shard := range shards {
		chans := map[string]algorithms.Channel{"train": shard}
		if tests != nil {
			chans["test"] = tests[i]
		}
		jobs[i], metrics[i] = job(t, hp, chans)
	}
	models, errs := clustertest.Train(t, context.Background(), Algorithm{}, jobs)
	return models, errs, metrics
}

// region is n rows of label l at (c, c, ..., c) ± 0.5 in d dims.
func region(n, d int, c, l float32) *memChannel {
	ch := &memChannel{x: make([]float32, n*d), labels: make([]float32, n), d: d}
	for i := range n {
		for j := range d {
			ch.x[i*d+j] = c + float32((i*7+j*3)%11)/10 - 0.5
		}
		ch.labels[i] = l
	}
	return ch
}

// TestTrainMergesHosts: two hosts hold one region each; every host's model
// indexes the same merged sample (sample_size split between them, the
// leader's rows first), so that both regions are classified right on
// every host, and the hosts' model files are byte for byte the same.
func TestTrainMergesHosts(t *testing.T) {
	const d = 8
	for _, typ := range []string{IndexFlat, IndexIVFFlat, IndexIVFPQ} {
		t.Run(typ, func(t *testing.T) {
			hp := map[string]any{"feature_dim": "8", "k": "3", "predictor_type": "classifier", "sample_size": "101",
				"mini_batch_size": "30", "index_type": typ, "faiss_index_ivf_nlists": "4"}
			if typ == IndexIVFPQ {
				hp["faiss_index_pq_m"] = "4"
			}
			shards := []*memChannel{region(200, d, 0, 0), region(150, d, 10, 1)}
			test := region(40, d, 0, 0)
			test.x = append(test.x, region(40, d, 10, 1).x...)
			test.labels = append(test.labels, region(40, d, 10, 1).labels...)
			models, errs, metrics := trainHosts(t, hp, shards, []*memChannel{test, test})
			for i, err := range errs {
				if err != nil {
					t.Fatalf("host %d: %v", i+1, err)
				}
				if acc := metrics[i].scores["test:accuracy"]; acc != 1 {
					t.Errorf("host %d: test:accuracy %v, want 1 (both regions)", i+1, acc)
				}
			}
			m := models[0].(*Model)
			if m.meta.NTotal != 101 {
				t.Errorf("ntotal %d, want sample_size 101 (51 + 50)", m.meta.NTotal)
			}
			if want := append(slices.Repeat([]float32{0}, 51), slices.Repeat([]float32{1}, 50)...); !slices.Equal(m.labels, want) {
				t.Errorf("labels %v, want 51 of the leader's then 50 of the other's", m.labels)
			}
			if !slices.Contains(metrics[0].logs, "merged the samples of %d hosts: %d rows of %d records seen (rows per host: %s; sample_size=%d)") ||
				!slices.Contains(metrics[1].logs, "received the sample the leading host merged from %d hosts: %d rows of %d records seen (this host's: %d rows of %d records)") {
				t.Errorf("logs do not tell of the merge:\n%q\n%q", metrics[0].logs, metrics[1].logs)
			}
			dirs := []string{t.TempDir(), t.TempDir()}
			for i, dir := range dirs {
				if err := models[i].Save(dir); err != nil {
					t.Fatal(err)
				}
			}
			for _, suffix := range []string{"", ".labels", ".json"} {
				// model_<host>: each host names its files.
				f1, f2 := "model_"+clustertest.Hosts[0]+suffix, "model_"+clustertest.Hosts[1]+suffix
				a, err1 := os.ReadFile(filepath.Join(dirs[0], f1))
				b, err2 := os.ReadFile(filepath.Join(dirs[1], f2))
				if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
					t.Errorf("%s and %s differ (%v, %v)", f1, f2, err1, err2)
				}
			}
		})
	}
}

// TestTrainMergesHostsEmpty: a host without records takes part with none;
// when no host has any, every host fails with the leader's ClientError.
func TestTrainMergesHostsEmpty(t *testing.T) {
	const d = 4
	hp := map[string]any{"feature_dim": "4", "k": "1", "predictor_type": "classifier", "sample_size": "40"}
	models, errs, _ := trainHosts(t, hp, []*memChannel{region(0, d, 0, 0), region(30, d, 10, 1)}, nil)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("host %d: %v", i+1, err)
		}
	}
	if m := models[0].(*Model); m.meta.NTotal != 20 {
		t.Errorf("ntotal %d, want the other host's share, 20", m.meta.NTotal)
	}
	b := &data.Batch{Rows: 1, Cols: d, Dense: []float32{10, 10, 10, 10}}
	if p, err := models[0].Predict(context.Background(), b, algorithms.PredictOptions{}); err != nil || p.Outputs[0].Values[0] != 1 {
		t.Errorf("predicted %v, %v; want label 1", p, err)
	}

	_, errs, _ = trainHosts(t, hp, []*memChannel{region(0, d, 0, 0), region(0, d, 0, 0)}, nil)
	for i, err := range errs {
		if err == nil || !algorithms.ClientError(err) || !strings.Contains(err.Error(), "the train channels of all 2 hosts hold no records") {
			t.Errorf("host %d: %v; want the ClientError of no records", i+1, err)
		}
	}
}
