package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sagebrush-ml/sagebrush/algorithms/kmeans"
	"github.com/sagebrush-ml/sagebrush/cli"
	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	_ "github.com/sagebrush-ml/sagebrush/compute/cpu"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// TestProfiles: SAGEBRUSH_CPUPROFILE and SAGEBRUSH_MEMPROFILE make a run
// write a CPU or an allocation profile (a gzip-compressed pprof protobuf)
// once the command has finished.
func TestProfiles(t *testing.T) {
	for _, env := range []string{"SAGEBRUSH_CPUPROFILE", "SAGEBRUSH_MEMPROFILE"} {
		t.Run(env, func(t *testing.T) {
			root := trainertest.NewOptML(t, map[string]string{"feature_dim": "784", "k": "3", "mini_batch_size": "10"},
				map[string]trainertest.Channel{"train": {Files: map[string][]byte{"data.rec": clitest.Fixture(t, "fashion_head50.rec")}}})
			path := filepath.Join(t.TempDir(), "run.prof")
			t.Setenv(env, path)
			var out, errb bytes.Buffer
			if code := cli.Run(context.Background(), kmeans.Algorithm{}, []string{"train", "--ml-root", root}, &out, &errb); code != 0 {
				t.Fatalf("exit code %d\n%s%s", code, out.String(), errb.String())
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
				t.Errorf("profile is %d bytes and not gzip: not a pprof profile", len(b))
			}
		})
	}
}

// TestUsage: a missing or unknown command, a stray argument and an unknown
// flag are usage errors (exit 2) that say what is expected.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"bogus"}, {"train", "extra"}, {"serve", "--nope"}} {
		var out, errb bytes.Buffer
		if code := cli.Run(context.Background(), kmeans.Algorithm{}, args, &out, &errb); code != 2 {
			t.Errorf("%q: exit code %d, want 2", args, code)
		}
		if errb.Len() == 0 {
			t.Errorf("%q: nothing on stderr", args)
		}
	}
}
