package main_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/mxnet"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// blobs is n CSV rows (label 0) around each of centers, N(0, 0.3²) per
// feature.
func blobs(rng *rand.Rand, n int, centers ...[2]float64) []byte {
	var b strings.Builder
	for i := 0; i < n; i++ {
		for _, c := range centers {
			fmt.Fprintf(&b, "0,%g,%g\n", c[0]+0.3*rng.NormFloat64(), c[1]+0.3*rng.NormFloat64())
		}
	}
	return []byte(b.String())
}

// TestTrainMultiHost trains on two hosts whose shards hold different
// clusters (ShardedByS3Key can split data so): the leader's model must
// find all four, which neither shard alone holds, and only the leader
// writes a model.
func TestTrainMultiHost(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	truth := [][2]float64{{0, 0}, {10, 0}, {0, 10}, {10, 10}}
	shards := [][]byte{blobs(rng, 100, truth[0], truth[1]), blobs(rng, 100, truth[2], truth[3])}
	roots := clitest.HostRoots(t, map[string]string{"k": "4", "feature_dim": "2", "mini_batch_size": "50", "epochs": "2"}, shards, nil)
	codes, logs := clitest.TrainHosts(t, binary, roots)
	clitest.HostsSucceeded(t, roots, codes, logs)
	if got := trainertest.ModelFiles(t, roots[1]); len(got) != 0 {
		t.Errorf("the second host wrote %q; only the leader writes the model", got)
	}
	if got := trainertest.ModelFiles(t, roots[0]); len(got) != 1 || got[0] != "model_127.0.0.1" {
		t.Fatalf("the leader wrote %q, want [model_127.0.0.1]", got)
	}
	if !strings.Contains(logs[0], "mini-batch phase done on 2 hosts") || !strings.Contains(logs[1], "training completed; the leading host 127.0.0.1 saves the model") || strings.Contains(logs[1], "model saved to") {
		t.Errorf("the logs do not tell of the merge:\n%s\n%s", logs[0], logs[1])
	}
	// The leader reduces every host's centers: its log has the local
	// Lloyd step's lines, as a single host's does; the other host's not.
	msd := "#quality_metric: host=127.0.0.1, train msd <loss>="
	if !strings.Contains(logs[0], "shrinking 80 centers into 4") || !strings.Contains(logs[0], msd) || strings.Contains(logs[1], "shrinking") {
		t.Errorf("the local Lloyd step's lines belong to the leader alone:\n%s\n%s", logs[0], logs[1])
	}
	f, err := mxnet.ReadFile(filepath.Join(roots[0], "model", "model_127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Arrays[0].AsFloat32()
	for _, c := range truth {
		best := math.Inf(1)
		for j := 0; j+1 < len(got); j += 2 {
			best = min(best, math.Hypot(float64(got[j])-c[0], float64(got[j+1])-c[1]))
		}
		if best > 0.5 {
			t.Errorf("no center within 0.5 of %v (nearest %.3f); centers %v", c, best, got)
		}
	}
}

// TestTrainMultiHostBadShard: a record of the wrong width on the second
// host fails that host with a ClientError naming the record, and the
// leader with the same reason, naming the host; neither writes a model.
func TestTrainMultiHostBadShard(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	shards := [][]byte{blobs(rng, 20, [2]float64{0, 0}, [2]float64{5, 5}), []byte("0,1,2\n0,1,2,3\n")}
	roots := clitest.HostRoots(t, map[string]string{"k": "2", "feature_dim": "2", "mini_batch_size": "10"}, shards, nil)
	codes, logs := clitest.TrainHosts(t, binary, roots)
	clitest.HostsFailed(t, roots, codes, logs, "127.0.0.2", "shard.csv")
}

// TestTrainMultiHostEmptyShard: a host given no records (ShardedByS3Key
// with fewer files than hosts) takes part with none, and the model is the
// other host's clusters.
func TestTrainMultiHostEmptyShard(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	truth := [][2]float64{{0, 0}, {10, 10}}
	roots := clitest.HostRoots(t, map[string]string{"k": "2", "feature_dim": "2", "mini_batch_size": "20"},
		[][]byte{nil, blobs(rng, 50, truth...)}, nil)
	codes, logs := clitest.TrainHosts(t, binary, roots)
	clitest.HostsSucceeded(t, roots, codes, logs)
	if !strings.Contains(logs[0], "mini-batch phase done on 2 hosts: 20 centers from 100 records") {
		t.Errorf("the leader's log does not count the second host's records alone:\n%s", logs[0])
	}
	f, err := mxnet.ReadFile(filepath.Join(roots[0], "model", "model_127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Arrays[0].AsFloat32()
	for _, c := range truth {
		if d := min(math.Hypot(float64(got[0])-c[0], float64(got[1])-c[1]), math.Hypot(float64(got[2])-c[0], float64(got[3])-c[1])); d > 0.5 {
			t.Errorf("no center within 0.5 of %v; centers %v", c, got)
		}
	}
}

// TestTrainMultiHostNoRecords: when no host has a record, both fail with
// the leader's ClientError.
func TestTrainMultiHostNoRecords(t *testing.T) {
	roots := clitest.HostRoots(t, map[string]string{"k": "2", "feature_dim": "2"}, [][]byte{nil, nil}, nil)
	codes, logs := clitest.TrainHosts(t, binary, roots)
	clitest.HostsFailed(t, roots, codes, logs, "", "the train channels of all 2 hosts hold no records")
}

// TestTrainMultiHostSmallShard: a host with fewer rows than k takes part
// with what it has (ShardedByS3Key can leave a host a small file); the job
// fails only when all hosts together hold fewer than k rows.
func TestTrainMultiHostSmallShard(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	truth := [][2]float64{{0, 0}, {10, 0}, {0, 10}, {10, 10}}
	small := blobs(rng, 1, truth[0], truth[1], truth[2]) // 3 rows, k = 4
	hp := map[string]string{"k": "4", "feature_dim": "2", "mini_batch_size": "20"}
	roots := clitest.HostRoots(t, hp, [][]byte{small, blobs(rng, 30, truth...)}, nil)
	codes, logs := clitest.TrainHosts(t, binary, roots)
	clitest.HostsSucceeded(t, roots, codes, logs)
	if !strings.Contains(logs[0], "from 123 records") {
		t.Errorf("the leader's log does not count both hosts' records:\n%s", logs[0])
	}

	roots = clitest.HostRoots(t, hp, [][]byte{small, nil}, nil)
	codes, logs = clitest.TrainHosts(t, binary, roots)
	clitest.HostsFailed(t, roots, codes, logs, "", "the train channels of all 2 hosts hold 3 records but k is 4")
}
