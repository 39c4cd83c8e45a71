// Package recordiotest writes RecordIO-protobuf bytes for tests, as the
// SageMaker SDK's writers frame them.
package recordiotest

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
)

// Records marshals recs and frames each as one RecordIO record.
func Records(t testing.TB, recs ...*aialgs.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := recordio.NewWriter(&buf)
	for _, r := range recs {
		p, err := proto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// Float32 is a Value holding a Float32Tensor of vals, with keys and
// shape when sparse (nil otherwise).
func Float32(vals []float32, keys, shape []uint64) *aialgs.Value {
	return &aialgs.Value{Value: &aialgs.Value_Float32Tensor{Float32Tensor: &aialgs.Float32Tensor{Values: vals, Keys: keys, Shape: shape}}}
}
