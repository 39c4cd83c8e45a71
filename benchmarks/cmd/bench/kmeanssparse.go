package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/sagebrush-ml/sagebrush/benchmarks/harness"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
)

// The sparse k-means benchmark: wide CSR rows, the shape of bag-of-words
// or one-hot data, which SageMaker takes as sparse RecordIO-protobuf and
// scikit-learn as a CSR matrix. No such set comes from the registries we
// may use, so it is drawn here (sparseTopics), the same every run.
const (
	sparseDim    = 100_000
	sparseTopics = 10
	sparseTrain  = 20_000
	sparseTest   = 5_000
)

var kmeansSparseHyper = map[string]string{"feature_dim": strconv.Itoa(sparseDim), "k": "10", "mini_batch_size": "5000"}

// sparseRow is one CSR row: ascending distinct keys, their values, a label.
type sparseRow struct {
	keys  []uint64
	vals  []float32
	label int
}

// topicRows draws n rows: each of the sparseTopics topics owns 40 features
// scattered over the sparseDim; a row of topic t holds 6 of t's features
// with counts 1 to 3, and 4 noise features anywhere with count 1.
func topicRows(n int, seed uint64) []sparseRow {
	owner := rand.New(rand.NewPCG(1, 1)) // the topics' features: the same for train and test
	perm := owner.Perm(sparseDim)
	rng := rand.New(rand.NewPCG(seed, 7))
	rows := make([]sparseRow, n)
	for i := range rows {
		t := rng.IntN(sparseTopics)
		vals := map[uint64]float32{}
		for len(vals) < 6 {
			vals[uint64(perm[t*40+rng.IntN(40)])] = float32(1 + rng.IntN(3))
		}
		for range 4 {
			if f := uint64(rng.IntN(sparseDim)); vals[f] == 0 {
				vals[f] = 1
			}
		}
		r := sparseRow{label: t}
		for f := range vals {
			r.keys = append(r.keys, f)
		}
		slices.Sort(r.keys)
		for _, f := range r.keys {
			r.vals = append(r.vals, vals[f])
		}
		rows[i] = r
	}
	return rows
}

// appendSparseRecordIO appends rows as sparse aialgs Records (keys, values
// and shape [sparseDim], as the SDK's write_spmatrix_to_sparse_tensor
// writes them), with labels when withLabels.
func appendSparseRecordIO(buf *bytes.Buffer, rows []sparseRow, withLabels bool) error {
	return harness.AppendRecords(buf, len(rows), func(i int) *aialgs.Record {
		r := rows[i]
		t := &aialgs.Float32Tensor{Values: r.vals, Keys: r.keys, Shape: []uint64{sparseDim}}
		rec := &aialgs.Record{Features: map[string]*aialgs.Value{"values": {Value: &aialgs.Value_Float32Tensor{Float32Tensor: t}}}}
		if withLabels {
			label := &aialgs.Float32Tensor{Values: []float32{float32(r.label)}}
			rec.Label = map[string]*aialgs.Value{"values": {Value: &aialgs.Value_Float32Tensor{Float32Tensor: label}}}
		}
		return rec
	})
}

// writeSparseSet writes rows as <dir>/<name>.rec (sparse RecordIO-protobuf)
// and <dir>/<name>.svm (svmlight, zero-based, for scikit-learn's
// load_svmlight_file), each through a temporary file.
func writeSparseSet(dir, name string, rows []sparseRow) (rec, svm string, err error) {
	rec, svm = filepath.Join(dir, name+".rec"), filepath.Join(dir, name+".svm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	var rb, sb bytes.Buffer
	if err := appendSparseRecordIO(&rb, rows, true); err != nil {
		return "", "", err
	}
	bw := bufio.NewWriter(&sb)
	for _, r := range rows {
		bw.WriteString(strconv.Itoa(r.label))
		for q, f := range r.keys {
			fmt.Fprintf(bw, " %d:%g", f, r.vals[q])
		}
		bw.WriteByte('\n')
	}
	bw.Flush()
	for path, b := range map[string][]byte{rec: rb.Bytes(), svm: sb.Bytes()} {
		if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
			return "", "", err
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return "", "", err
		}
	}
	return rec, svm, nil
}

func kmeansSparse(e *env) ([]Row, error) {
	train, test := topicRows(sparseTrain, 11), topicRows(sparseTest, 12)
	dataDir := filepath.Join(e.DataDir, "sparse-topics")
	trainRec, trainSVM, err := writeSparseSet(dataDir, "train", train)
	if err != nil {
		return nil, err
	}
	testRec, testSVM, err := writeSparseSet(dataDir, "test", test)
	if err != nil {
		return nil, err
	}
	labels := make([]int, len(test))
	for i, r := range test {
		labels[i] = r.label
	}
	fmt.Printf("   sparse topics: %d train, %d test CSR rows of %d features, about 10 stored a row\n", len(train), len(test), sparseDim)

	fmt.Printf("   peer: scikit-learn KMeans on a CSR matrix (%s)\n", e.Python)
	peer, err := repeated(e, func() (*Side, error) {
		return sklearnKMeansArgs(e, "--train-svmlight", trainSVM, "--test-svmlight", testSVM, "--n-features", strconv.Itoa(sparseDim), "--k", "10", "--seed", "0")
	}, "fit_seconds_each")
	if err != nil {
		return nil, err
	}
	peer.Timed = "median over the repeats of scikit-learn " + fmt.Sprint(peer.Extra["version"]) + " KMeans.fit alone on a float32 CSR matrix (loaded from svmlight before the clock starts); peak RSS of the whole Python process"
	fmt.Printf("   peer: fit %.2fs, test msd %.4f, NMI %.4f\n", peer.TimeS, peer.Quality["test msd"], peer.Quality["test NMI"])

	dir := filepath.Join(e.WorkDir, "kmeans-sparse")
	ours, err := kmeansOurs(e, dir, kmeansSparseHyper, trainRec, testRec, labels, func(srv *harness.Server) ([]int, error) {
		var out []int
		var buf bytes.Buffer
		for lo := 0; lo < len(test); lo += 1000 {
			hi := min(lo+1000, len(test))
			buf.Reset()
			if err := appendSparseRecordIO(&buf, test[lo:hi], false); err != nil {
				return nil, err
			}
			preds, err := srv.Invoke(buf.Bytes(), harness.RecordIOProtobuf, "application/jsonlines")
			if err != nil {
				return nil, fmt.Errorf("rows %d..%d: %w", lo, hi-1, err)
			}
			for _, p := range preds {
				out = append(out, int(p.ClosestCluster))
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	ours.Timed = "median over the repeats of the wall time of the whole `bin/kmeans train` process (start, reading both sparse RecordIO channels, training, test-channel evaluation, model write); test msd from its log, NMI of the test rows' clusters as `serve` assigns them (sparse RecordIO in, JSON Lines out)"
	fmt.Printf("   ours: wall %.2fs, test msd %.4f, NMI %.4f, peak RSS %.0f MB\n", ours.TimeS, ours.Quality["test msd"], ours.Quality["test NMI"], ours.PeakMB)
	msdRatio := ours.Quality["test msd"] / peer.Quality["test msd"]
	timeRatio := ours.TimeS / peer.TimeS
	return []Row{{
		Algorithm: "k-means (sparse)", Dataset: fmt.Sprintf("sparse topics (%dk train / %dk test CSR rows, %d features, drawn: %s)", sparseTrain/1000, sparseTest/1000, sparseDim, "benchmarks/cmd/bench/kmeanssparse.go"),
		Config: "defaults", Headline: true, Hyper: kmeansSparseHyper,
		Metrics: []string{"test msd", "test NMI"},
		Ours:    *ours, Peer: *peer,
		Targets: []Target{
			{Name: "msd ≤ 1.02× peer", Met: msdRatio <= 1.02, Detail: fmt.Sprintf("test msd %.4f vs %.4f, ratio %.4f", ours.Quality["test msd"], peer.Quality["test msd"], msdRatio)},
			{Name: "wall ≤ ¼ peer fit", Met: timeRatio <= 0.25, Detail: fmt.Sprintf("%.2fs vs %.2fs, ratio %.3f", ours.TimeS, peer.TimeS, timeRatio)},
		},
	}}, nil
}
