package trainer

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// TestWrappedObjectLargerThanRecordLimit reads a CSV object that SageMaker
// wrapped in one RecordIO record larger than recordio.DefaultMaxRecordSize,
// in File and Pipe mode: it streams, and every row arrives.
func TestWrappedObjectLargerThanRecordLimit(t *testing.T) {
	// Rows "label,i,0.25,...,0.25" of 10 features; the big object lacks a
	// final newline, so its last row must not run into the small object's.
	var block []byte
	for i := range 10 {
		block = fmt.Appendf(block, "%d,%d%s\n", i%2, i, strings.Repeat(",0.25", 9))
	}
	blocks := recordio.DefaultMaxRecordSize/len(block) + 1
	big := bytes.Repeat(block, blocks)
	big = big[:len(big)-1]
	if len(big) <= recordio.DefaultMaxRecordSize {
		t.Fatalf("object of %d bytes is within the limit", len(big))
	}
	wrapped := wrapRecords(t, string(big), "1,2"+strings.Repeat(",0.25", 9))
	rows := 10*blocks + 1
	want := []float64{float64(45*blocks+2) / float64(rows)}
	for range 9 {
		want = append(want, 0.25)
	}

	hp := map[string]string{"feature_dim": "10", "mini_batch_size": "5000"}
	for _, mode := range []string{FileMode, PipeMode} {
		t.Run(mode, func(t *testing.T) {
			ch := trainertest.Channel{ContentType: "text/csv", Mode: mode}
			if mode == FileMode {
				ch.Files = map[string][]byte{"wrapped": wrapped}
			}
			root := trainertest.NewOptML(t, hp, map[string]trainertest.Channel{"train": ch})
			writeConfig(t, root, "inputdataconfig.json", fmt.Sprintf(
				`{"train": {"ContentType": "text/csv", "TrainingInputMode": %q, "RecordWrapperType": "RecordIO"}}`, mode))
			if mode == PipeMode {
				trainertest.ServePipe(t, root, "train", 0, wrapped)
			}
			code, _ := run(t, context.Background(), &fakeAlgo{}, root)
			if code != 0 {
				f, _ := trainertest.Failure(t, root)
				t.Fatalf("exit code %d (%s), want 0", code, f)
			}
			// Save prints the means with %g: 6 significant digits.
			wantModel(t, root, rows, want, 1e-5)
		})
	}
}

// TestByteOrderMark: a UTF-8 byte order mark at the start of each CSV file
// (Excel's "CSV UTF-8"), of each S3 object in a pipe (SageMaker streams
// the objects one after the other) and of each RecordIO-wrapped object is
// skipped, not read as part of the first value; a file too short to hold
// one is read whole.
func TestByteOrderMark(t *testing.T) {
	bom := "\xef\xbb\xbf"
	hp := map[string]string{"feature_dim": "2"}
	for _, tc := range []struct {
		mode    string
		wrapped bool
	}{{FileMode, false}, {PipeMode, false}, {FileMode, true}, {PipeMode, true}} {
		name := tc.mode
		if tc.wrapped {
			name += " RecordIO-wrapped"
		}
		t.Run(name, func(t *testing.T) {
			ch := trainertest.Channel{ContentType: "text/csv", Mode: tc.mode}
			pipe := []byte(bom + "0,1,2\n" + bom + "1,3,4\n")
			if tc.wrapped {
				pipe = wrapRecords(t, bom+"0,1,2", bom+"1,3,4\n")
			}
			if tc.mode == FileMode {
				ch.Files = map[string][]byte{"a.csv": []byte(bom + "0,1,2\n"), "b.csv": []byte(bom + "1,3,4\n"), "c.csv": []byte("\n"), "d.csv": nil}
				if tc.wrapped {
					ch.Files = map[string][]byte{"a": pipe}
				}
			}
			root := trainertest.NewOptML(t, hp, map[string]trainertest.Channel{"train": ch})
			if tc.wrapped {
				writeConfig(t, root, "inputdataconfig.json", fmt.Sprintf(
					`{"train": {"ContentType": "text/csv", "TrainingInputMode": %q, "RecordWrapperType": "RecordIO"}}`, tc.mode))
			}
			if tc.mode == PipeMode {
				trainertest.ServePipe(t, root, "train", 0, pipe)
			}
			code, _ := run(t, context.Background(), &fakeAlgo{}, root)
			if code != 0 {
				f, _ := trainertest.Failure(t, root)
				t.Fatalf("exit code %d (%s), want 0", code, f)
			}
			wantModel(t, root, 2, []float64{2, 3}, 0)
		})
	}
}
