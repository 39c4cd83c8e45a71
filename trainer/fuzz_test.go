package trainer

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// FuzzConfigFiles runs a whole training job of the fake algorithm with
// arbitrary bytes for the three config files SageMaker writes: it ends
// with exit 0 and a model, or a failure file and exit 1 or 2; never a
// panic, never an exit without the file that says why.
func FuzzConfigFiles(f *testing.F) {
	f.Add([]byte(`{"feature_dim": "2", "epochs": "2"}`),
		[]byte(`{"train": {"ContentType": "text/csv", "TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None", "CompressionType": "None"}}`),
		[]byte(`{"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}`))
	f.Add([]byte(`{"feature_dim": 2, "_tuning_objective_metric": "x"}`),
		[]byte(`{"train": {"ContentType": "application/x-recordio-protobuf"}, "test": {"ContentType": "text/csv;label_size=0"}}`),
		[]byte(``))
	f.Add([]byte("\xef\xbb\xbf{}"), []byte(`{"train": {"TrainingInputMode": "Pipe"}}`), []byte(`{"hosts": []}`))
	csv := []byte("0,1,2\n1,3,4\n2,5,6\n")
	f.Fuzz(func(t *testing.T, hp, idc, rc []byte) {
		var res struct{ Hosts []string }
		if json.Unmarshal(rc, &res) == nil && len(res.Hosts) > 1 {
			return // a multi-host job waits for hosts that are not coming: not what a fuzzer should wait for
		}
		root := trainertest.NewOptML(t, map[string]string{"feature_dim": "2"}, map[string]trainertest.Channel{
			"train": {ContentType: "text/csv", Files: map[string][]byte{"a.csv": csv}},
			"test":  {ContentType: "text/csv", Files: map[string][]byte{"b.csv": csv}},
		})
		for name, b := range map[string][]byte{"hyperparameters.json": hp, "inputdataconfig.json": idc, "resourceconfig.json": rc} {
			if err := os.WriteFile(filepath.Join(root, "input/config", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		code := Run(ctx, &fakeAlgo{}, Options{Root: root, Stdout: io.Discard, Stderr: io.Discard, PipeWait: 50 * time.Millisecond})
		failure, ferr := os.ReadFile(filepath.Join(root, "output", "failure"))
		t.Logf("exit %d, failure %q", code, failure)
		switch code {
		case ExitOK:
			if ferr == nil {
				t.Fatalf("exit 0 with a failure file: %q", failure)
			}
			if entries, _ := os.ReadDir(filepath.Join(root, "model")); len(entries) == 0 {
				t.Fatal("exit 0 without a model")
			}
		case ExitAlgorithmError, ExitClientError:
			if ferr != nil || len(failure) == 0 {
				t.Fatalf("exit %d without a failure file (%v)", code, ferr)
			}
		default:
			t.Fatalf("exit %d (failure %q)", code, failure)
		}
	})
}
