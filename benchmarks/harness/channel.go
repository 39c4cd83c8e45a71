package harness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
)

// Content types of the channels and request bodies.
const (
	RecordIOProtobuf = "application/x-recordio-protobuf"
	TextCSV          = "text/csv"
)

// float32Value wraps values as an aialgs Value holding a Float32Tensor.
func float32Value(v []float32) *aialgs.Value {
	return &aialgs.Value{Value: &aialgs.Value_Float32Tensor{Float32Tensor: &aialgs.Float32Tensor{Values: v}}}
}

// AppendRecordIO appends rows [lo,hi) of d to buf as RecordIO-framed
// aialgs Records: features["values"] the row, and, when withLabels,
// label["values"] the label as one float32, as SageMaker's
// write_numpy_to_dense_tensor does.
func AppendRecordIO(buf *bytes.Buffer, d *Dataset, lo, hi int, withLabels bool) error {
	return AppendRecords(buf, hi-lo, func(i int) *aialgs.Record {
		rec := &aialgs.Record{Features: map[string]*aialgs.Value{"values": float32Value(d.Row(lo + i))}}
		if withLabels {
			rec.Label = map[string]*aialgs.Value{"values": float32Value([]float32{float32(d.Labels[lo+i])})}
		}
		return rec
	})
}

// AppendRecords appends the n records rec(0) … rec(n-1) to buf, marshalled
// and RecordIO-framed.
func AppendRecords(buf *bytes.Buffer, n int, rec func(i int) *aialgs.Record) error {
	w := recordio.NewWriter(buf)
	for i := range n {
		p, err := proto.Marshal(rec(i))
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if err := w.Write(p); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	return nil
}

// AppendCSV appends rows [lo,hi) of d to buf as CSV, the label first when
// withLabels (SageMaker's text/csv training layout), features only
// otherwise (the inference layout).
func AppendCSV(buf *bytes.Buffer, d *Dataset, lo, hi int, withLabels bool) {
	var num []byte
	for i := lo; i < hi; i++ {
		if withLabels {
			buf.WriteString(strconv.Itoa(d.Labels[i]))
			buf.WriteByte(',')
		}
		for j, v := range d.Row(i) {
			if j > 0 {
				buf.WriteByte(',')
			}
			num = strconv.AppendFloat(num[:0], float64(v), 'g', -1, 32)
			buf.Write(num)
		}
		buf.WriteByte('\n')
	}
}

// WriteChannelFile writes all of d to path as RecordIO-protobuf (with
// labels) or CSV (label first), by contentType, via a temporary file so a
// cached file is never half-written.
func WriteChannelFile(path, contentType string, d *Dataset) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var buf bytes.Buffer
	const chunk = 1000
	for lo := 0; lo < d.N() && err == nil; lo += chunk {
		hi := min(lo+chunk, d.N())
		buf.Reset()
		switch contentType {
		case RecordIOProtobuf:
			err = AppendRecordIO(&buf, d, lo, hi, true)
		case TextCSV:
			AppendCSV(&buf, d, lo, hi, true)
		default:
			err = fmt.Errorf("unsupported channel content type %q", contentType)
		}
		if err == nil {
			_, err = bw.Write(buf.Bytes())
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// Channel is one input channel of a local ml root.
type Channel struct {
	Name        string // "train", "test"
	ContentType string
	Files       []string // copied (hard-linked when possible) into the channel directory
}

// LayoutRoot creates a SageMaker ml root at root for one host, algo-1:
// input/config/{hyperparameters,inputdataconfig,resourceconfig}.json and
// input/data/<channel>/ holding each channel's files (File mode). It
// empties root's input/, model/ and output/ first.
func LayoutRoot(root string, hyper map[string]string, channels []Channel) error {
	for _, d := range []string{"input", "model", "output"} {
		if err := os.RemoveAll(filepath.Join(root, d)); err != nil {
			return err
		}
	}
	cfg := filepath.Join(root, "input", "config")
	for _, d := range []string{cfg, filepath.Join(root, "model"), filepath.Join(root, "output")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	dataCfg := map[string]any{}
	for _, ch := range channels {
		dir := filepath.Join(root, "input", "data", ch.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, src := range ch.Files {
			if err := linkOrCopy(src, filepath.Join(dir, filepath.Base(src))); err != nil {
				return err
			}
		}
		c := map[string]any{
			"ContentType":        ch.ContentType,
			"TrainingInputMode":  "File",
			"S3DistributionType": "FullyReplicated",
			"RecordWrapperType":  "None", // the files are the data; RecordIO here would mean SageMaker wrapped each object
		}
		dataCfg[ch.Name] = c
	}
	res := map[string]any{"current_host": "algo-1", "hosts": []string{"algo-1"}, "network_interface_name": "eth0"}
	for name, v := range map[string]any{"hyperparameters.json": hyper, "inputdataconfig.json": dataCfg, "resourceconfig.json": res} {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(cfg, name), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// linkOrCopy hard-links src to dst, copying where a link is impossible.
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
