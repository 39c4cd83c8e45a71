package data

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
)

// FuzzWireRecord checks the hand-written Record decoder against
// proto.Unmarshal: whenever the fast path accepts a payload, it must find
// exactly the tensors the generated code finds.
func FuzzWireRecord(f *testing.F) {
	for _, name := range []string{"dense_f32_labeled.rec", "dense_f64_unlabeled.rec", "dense_int_labeled.rec", "sparse_f32_labeled.rec"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "sdk", name))
		if err != nil {
			f.Fatal(err)
		}
		recs, err := recordio.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			f.Fatal(err)
		}
		for _, r := range recs {
			f.Add(r)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var w wireRecord
		feat, label, ok := w.parse(payload)
		if !ok {
			return
		}
		var rec aialgs.Record
		if err := proto.Unmarshal(payload, &rec); err != nil {
			t.Fatalf("fast path accepted what proto rejects: %v", err)
		}
		var d protoDecoder
		check := func(name string, wt wireTensor, v *aialgs.Value) {
			if wt.present != (v != nil) {
				t.Fatalf("%s: fast present=%v, proto present=%v", name, wt.present, v != nil)
			}
			if v == nil {
				return
			}
			var vals []float32
			var keys, shape []uint64
			gotVals, gotKeys, gotShape := w.convert(wt, &vals, &keys, &shape)
			wantVals, wantKeys, wantShape, msg := d.tensor(v)
			if msg != "" {
				t.Fatalf("%s: proto sees %s, fast path accepted it", name, msg)
			}
			if len(gotVals) != len(wantVals) || len(gotKeys) != len(wantKeys) || len(gotShape) != len(wantShape) {
				t.Fatalf("%s: fast %d/%d/%d values/keys/shape, proto %d/%d/%d", name, len(gotVals), len(gotKeys), len(gotShape), len(wantVals), len(wantKeys), len(wantShape))
			}
			for i := range gotVals {
				if gotVals[i] != wantVals[i] && !(gotVals[i] != gotVals[i] && wantVals[i] != wantVals[i]) {
					t.Fatalf("%s: value %d: fast %v, proto %v", name, i, gotVals[i], wantVals[i])
				}
			}
			for i := range gotKeys {
				if gotKeys[i] != wantKeys[i] {
					t.Fatalf("%s: key %d: fast %v, proto %v", name, i, gotKeys[i], wantKeys[i])
				}
			}
			for i := range gotShape {
				if gotShape[i] != wantShape[i] {
					t.Fatalf("%s: shape %d: fast %v, proto %v", name, i, gotShape[i], wantShape[i])
				}
			}
		}
		check("features", feat, rec.Features["values"])
		check("label", label, rec.Label["values"])
	})
}
