package main_test

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/mxnet"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// readArtifact reads the model file of host in root.
func readArtifact(t *testing.T, root, host string) artifact {
	t.Helper()
	f, err := mxnet.ReadFile(filepath.Join(root, "model", "model_"+host))
	if err != nil {
		t.Fatal(err)
	}
	return artifact{f.Arrays[0].Float32, f.Arrays[1].Float32, f.Arrays[2].Float32}
}

// sameComponents reports how far got is from want: the largest difference
// of singular values relative to the largest, and the smallest |cos|
// between matching directions.
func sameComponents(got, want artifact) (ds, cos float64) {
	top := float64(want.s[len(want.s)-1])
	cos = 1
	for c := range want.s {
		ds = max(ds, math.Abs(float64(got.s[c]-want.s[c]))/top)
		var dot float64
		for i := 0; i < featureDim; i++ {
			dot += float64(got.v[i*components+c]) * float64(want.v[i*components+c])
		}
		cos = min(cos, math.Abs(dot))
	}
	return ds, cos
}

// TestTrainMultiHost: two hosts, each with part of the rows, give the model
// one host gives on all of them, in both modes; only the leader writes it,
// and every host scores its test channel with it.
func TestTrainMultiHost(t *testing.T) {
	t.Parallel()
	lines := bytes.SplitAfter(clitest.Fixture(t, "fashion_head50.csv"), []byte("\n"))
	all := bytes.Join(lines, nil)
	shards := [][]byte{bytes.Join(lines[:30], nil), bytes.Join(lines[30:], nil)}
	test := map[string]trainertest.Channel{"test": {ContentType: "text/csv", Files: map[string][]byte{"t.csv": all}}}
	for _, mode := range []string{"regular", "randomized"} {
		t.Run(mode, func(t *testing.T) {
			hp := hps(map[string]string{"algorithm_mode": mode})
			one := trainertest.NewOptML(t, hp, map[string]trainertest.Channel{"train": {ContentType: "text/csv", Files: map[string][]byte{"a.csv": all}}})
			want := wantModel(t, one, clitest.Train(t, binary, one))

			roots := clitest.HostRoots(t, hp, shards, test)
			codes, logs := clitest.TrainHosts(t, binary, roots)
			clitest.HostsSucceeded(t, roots, codes, logs)
			for i := range codes {
				if !strings.Contains(logs[i], "test: 50 records, mean squared reconstruction error") {
					t.Errorf("host %s did not score its test channel:\n%s", clitest.TwoHosts[i], logs[i])
				}
			}
			if got := trainertest.ModelFiles(t, roots[1]); len(got) != 0 {
				t.Errorf("the second host wrote %q; only the leader writes the model", got)
			}
			if !strings.Contains(logs[0], "pass over 50 records") || !strings.Contains(logs[1], "20 on this host") {
				t.Errorf("the logs do not tell of the merge:\n%s\n%s", logs[0], logs[1])
			}
			if mode == "randomized" && !strings.Contains(logs[0], "Q₀ from the first 50 rows of all hosts") {
				t.Errorf("the leader's log does not tell of the shared Q₀:\n%s", logs[0])
			}
			ds, cos := sameComponents(readArtifact(t, roots[0], clitest.TwoHosts[0]), want)
			if ds > 1e-5 || cos < 1-1e-4 {
				t.Errorf("two hosts' model differs from one host's on all rows: singular values by %.3g of the largest, |cos| down to %.6f", ds, cos)
			}
		})
	}
}

// TestTrainMultiHostBadShard: a row of the wrong width on the second host
// fails both hosts with a ClientError, the leader's naming the host; no
// model is written.
func TestTrainMultiHostBadShard(t *testing.T) {
	t.Parallel()
	lines := bytes.SplitAfter(clitest.Fixture(t, "fashion_head50.csv"), []byte("\n"))
	for _, mode := range []string{"regular", "randomized"} {
		t.Run(mode, func(t *testing.T) {
			roots := clitest.HostRoots(t, hps(map[string]string{"algorithm_mode": mode}),
				[][]byte{bytes.Join(lines[:30], nil), []byte("0,1,2,3\n")}, nil)
			codes, logs := clitest.TrainHosts(t, binary, roots)
			clitest.HostsFailed(t, roots, codes, logs, "127.0.0.2", "shard.csv\": line 1 has 4 columns")
		})
	}
}
