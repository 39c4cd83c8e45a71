package main_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/knn"
	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// leaderModel is the files the leading host writes.
var leaderModel = []string{"model_127.0.0.1", "model_127.0.0.1.json", "model_127.0.0.1.labels"}

// region is n CSV rows of label l around (c, c), N(0, 0.5²) per feature.
func region(rng *rand.Rand, n int, c float64, l int) []byte {
	var b strings.Builder
	for range n {
		fmt.Fprintf(&b, "%d,%g,%g\n", l, c+0.5*rng.NormFloat64(), c+0.5*rng.NormFloat64())
	}
	return []byte(b.String())
}

// hostRoots makes one ml root per host of clitest.TwoHosts, each with hp, its
// shard as a CSV train channel and, when test is not nil, a CSV test
// channel.
func hostRoots(t *testing.T, hp map[string]string, shards [][]byte, test []byte) []string {
	var extra map[string]trainertest.Channel
	if test != nil {
		extra = map[string]trainertest.Channel{"test": {ContentType: "text/csv", Files: map[string][]byte{"test.csv": test}}}
	}
	return clitest.HostRoots(t, hp, shards, extra)
}

// predict loads the leader's model and predicts a label for each point.
func predict(t *testing.T, root string, points ...[2]float32) []float32 {
	t.Helper()
	m, err := knn.Algorithm{}.Load(filepath.Join(root, "model"))
	if err != nil {
		t.Fatal(err)
	}
	b := &data.Batch{Rows: len(points), Cols: 2}
	for _, p := range points {
		b.Dense = append(b.Dense, p[0], p[1])
	}
	p, err := m.Predict(context.Background(), b, algorithms.PredictOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Outputs[0].Values
}

// TestTrainMultiHost trains on two hosts whose shards hold one region and
// one label each (ShardedByS3Key can split data so): the leader's index
// holds sample_size rows, half from each host, so its model classifies
// points of both regions, which neither shard alone could; every host
// scores its test channel with that model, and only the leader writes it.
func TestTrainMultiHost(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	shards := [][]byte{region(rng, 100, 0, 0), region(rng, 80, 10, 1)}
	test := append(region(rng, 20, 0, 0), region(rng, 20, 10, 1)...)
	hp := map[string]string{"feature_dim": "2", "k": "3", "predictor_type": "classifier", "sample_size": "60", "mini_batch_size": "25"}
	for _, typ := range []string{knn.IndexFlat, knn.IndexIVFFlat} {
		t.Run(typ, func(t *testing.T) {
			hp["index_type"] = typ
			roots := hostRoots(t, hp, shards, test)
			codes, logs := clitest.TrainHosts(t, binary, roots)
			clitest.HostsSucceeded(t, roots, codes, logs)
			if got := trainertest.ModelFiles(t, roots[1]); len(got) != 0 {
				t.Errorf("the second host wrote %q; only the leader writes the model", got)
			}
			if got := trainertest.ModelFiles(t, roots[0]); !slices.Equal(got, leaderModel) {
				t.Fatalf("the leader wrote %q, want %q", got, leaderModel)
			}
			if !strings.Contains(logs[0], "merged the samples of 2 hosts: 60 rows of 180 records seen (rows per host: 30, 30; sample_size=60)") ||
				!strings.Contains(logs[1], "received the sample the leading host merged from 2 hosts: 60 rows of 180 records seen (this host's: 30 rows of 80 records)") ||
				!strings.Contains(logs[1], "training completed; the leading host 127.0.0.1 saves the model") {
				t.Errorf("the logs do not tell of the merge:\n%s\n%s", logs[0], logs[1])
			}
			for i, h := range clitest.TwoHosts {
				if want := "#test_score (" + h + ") : ('accuracy', 1.0)"; !strings.Contains(logs[i], want) {
					t.Errorf("host %s: log lacks %q:\n%s", h, want, logs[i])
				}
			}
			got := predict(t, roots[0], [2]float32{0, 0}, [2]float32{0.5, -0.3}, [2]float32{10, 10}, [2]float32{9.6, 10.4})
			if want := []float32{0, 0, 1, 1}; !slices.Equal(got, want) {
				t.Errorf("the leader's model predicts %v, want %v (both hosts' regions)", got, want)
			}
		})
	}
}

// TestTrainMultiHostEmptyShard: a host given no records (ShardedByS3Key
// with fewer files than hosts) takes part with none, and the model is the
// other host's sample.
func TestTrainMultiHostEmptyShard(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	shard := append(region(rng, 30, 0, 0), region(rng, 30, 10, 1)...)
	roots := hostRoots(t, map[string]string{"feature_dim": "2", "k": "1", "predictor_type": "classifier", "sample_size": "200"},
		[][]byte{nil, shard}, nil)
	codes, logs := clitest.TrainHosts(t, binary, roots)
	clitest.HostsSucceeded(t, roots, codes, logs)
	if !strings.Contains(logs[0], "merged the samples of 2 hosts: 60 rows of 60 records seen (rows per host: 0, 60; sample_size=200)") {
		t.Errorf("the leader's log does not count the second host's records alone:\n%s", logs[0])
	}
	if got := trainertest.ModelFiles(t, roots[0]); !slices.Equal(got, leaderModel) {
		t.Fatalf("the leader wrote %q, want %q", got, leaderModel)
	}
	if got, want := predict(t, roots[0], [2]float32{0, 0}, [2]float32{10, 10}), []float32{0, 1}; !slices.Equal(got, want) {
		t.Errorf("the leader's model predicts %v, want %v", got, want)
	}
}

// TestTrainMultiHostNoRecords: when no host has a record, both fail with
// the leader's ClientError and neither writes a model.
func TestTrainMultiHostNoRecords(t *testing.T) {
	roots := hostRoots(t, map[string]string{"feature_dim": "2", "k": "1", "predictor_type": "classifier", "sample_size": "10"}, [][]byte{nil, nil}, nil)
	codes, logs := clitest.TrainHosts(t, binary, roots)
	clitest.HostsFailed(t, roots, codes, logs, "", "the train channels of all 2 hosts hold no records")
}

// TestTrainMultiHostBadShard: rows of the wrong width (3 features for
// feature_dim 2) on the second host fail that host with a ClientError
// naming its file, and the leader with the same reason, naming the host;
// neither writes a model.
func TestTrainMultiHostBadShard(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	shards := [][]byte{region(rng, 20, 0, 0), []byte("1,1,2,3\n1,4,5,6\n")}
	roots := hostRoots(t, map[string]string{"feature_dim": "2", "k": "1", "predictor_type": "classifier", "sample_size": "10"}, shards, nil)
	codes, logs := clitest.TrainHosts(t, binary, roots)
	clitest.HostsFailed(t, roots, codes, logs, "127.0.0.2", "shard.csv", "4 columns")
}
