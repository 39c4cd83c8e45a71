package harness

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
)

func TestNMI(t *testing.T) {
	l2, l3 := math.Log(2), math.Log(3)
	for _, tc := range []struct {
		a, b []int
		want float64
	}{
		{[]int{0, 0, 1, 1}, []int{1, 1, 0, 0}, 1},         // a relabelling
		{[]int{0, 0, 1, 1}, []int{0, 1, 0, 1}, 0},         // independent
		{[]int{3, 3, 3}, []int{7, 7, 7}, 1},               // one class each (sklearn's edge case)
		{[]int{0, 0, 1, 1}, []int{0, 0, 0, 1}, 0.3437110}, // by hand below
	} {
		// Last case by hand: MI = 1/2·ln(4/3) + 1/4·ln(2/3) + 1/4·ln 2
		// = 1.5 ln2 − 0.75 ln3; H(a) = ln2; H(b) = 2 ln2 − 0.75 ln3;
		// NMI = MI / ((H(a)+H(b))/2) = (1.5 ln2 − 0.75 ln3)/(1.5 ln2 − 0.375 ln3).
		if got := NMI(tc.a, tc.b); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("NMI(%v, %v) = %.7f, want %.7f", tc.a, tc.b, got, tc.want)
		}
		if got, back := NMI(tc.a, tc.b), NMI(tc.b, tc.a); math.Abs(got-back) > 1e-12 {
			t.Errorf("NMI not symmetric: %v vs %v", got, back)
		}
	}
	if exact := (1.5*l2 - 0.75*l3) / (1.5*l2 - 0.375*l3); math.Abs(NMI([]int{0, 0, 1, 1}, []int{0, 0, 0, 1})-exact) > 1e-12 {
		t.Errorf("asymmetric NMI differs from the closed form %v", exact)
	}
}

func TestPurity(t *testing.T) {
	p, rows := Purity([]int{0, 0, 0, 1, 1, 2}, []int{5, 5, 3, 3, 3, 7})
	if math.Abs(p-5.0/6) > 1e-12 {
		t.Errorf("purity = %v, want 5/6", p)
	}
	want := []ClusterRow{{0, 3, 5, 2}, {1, 2, 3, 2}, {2, 1, 7, 1}}
	if len(rows) != len(want) {
		t.Fatalf("rows = %v", rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
}

// idxFiles writes a 3-image 2×2 IDX pair, the images gzipped.
func idxFiles(t *testing.T) (images, labels string) {
	dir := t.TempDir()
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{0x803, 3, 2, 2})
	b.Write([]byte{0, 255, 51, 102, 1, 2, 3, 4, 255, 255, 255, 0})
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b.Bytes())
	zw.Close()
	images = filepath.Join(dir, "img-idx3-ubyte.gz")
	os.WriteFile(images, z.Bytes(), 0o644)
	b.Reset()
	binary.Write(&b, binary.BigEndian, []uint32{0x801, 3})
	b.Write([]byte{7, 0, 9})
	labels = filepath.Join(dir, "lbl-idx1-ubyte")
	os.WriteFile(labels, b.Bytes(), 0o644)
	return images, labels
}

func TestLoadIDX(t *testing.T) {
	images, labels := idxFiles(t)
	d, err := LoadIDX(images, labels)
	if err != nil {
		t.Fatal(err)
	}
	if d.N() != 3 || d.Dim != 4 || len(d.X) != 12 {
		t.Fatalf("shape: n=%d dim=%d len=%d", d.N(), d.Dim, len(d.X))
	}
	if d.Row(0)[1] != 1 || d.Row(0)[2] != 0.2 || d.Row(2)[3] != 0 || d.Labels[2] != 9 {
		t.Errorf("values: %v labels %v", d.X, d.Labels)
	}
	// Wrong magic and truncation are errors.
	if _, _, _, _, err := ParseIDXImages(bytes.NewReader([]byte{0, 0, 8, 1, 0, 0, 0, 0})); err == nil {
		t.Error("label magic accepted as images")
	}
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{0x803, 2, 28, 28})
	b.Write(make([]byte, 100))
	if _, _, _, _, err := ParseIDXImages(&b); err == nil {
		t.Error("truncated images accepted")
	}
	if _, err := LoadIDX(images, images); err == nil {
		t.Error("image file accepted as labels")
	}
}

func TestChannelFiles(t *testing.T) {
	d := &Dataset{Dim: 2, X: []float32{0.5, 1, 0, 0.25}, Labels: []int{3, 4}}
	dir := t.TempDir()
	rio, csv := filepath.Join(dir, "a.rec"), filepath.Join(dir, "a.csv")
	if err := WriteChannelFile(rio, RecordIOProtobuf, d); err != nil {
		t.Fatal(err)
	}
	if err := WriteChannelFile(csv, TextCSV, d); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(csv); string(b) != "3,0.5,1\n4,0,0.25\n" {
		t.Errorf("csv = %q", b)
	}
	f, _ := os.Open(rio)
	defer f.Close()
	recs, err := recordio.NewReader(f).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("records: %d, %v", len(recs), err)
	}
	var r aialgs.Record
	if err := proto.Unmarshal(recs[1], &r); err != nil {
		t.Fatal(err)
	}
	if v := r.Features["values"].GetFloat32Tensor().GetValues(); len(v) != 2 || v[1] != 0.25 {
		t.Errorf("features = %v", v)
	}
	if v := r.Label["values"].GetFloat32Tensor().GetValues(); len(v) != 1 || v[0] != 4 {
		t.Errorf("label = %v", v)
	}
}

func TestParseMetrics(t *testing.T) {
	log := "[11/21/2026 10:15:33 INFO 1400] #quality_metric: host=algo-1, test msd <loss>=0.0133\n" +
		"[11/21/2026 10:15:33 INFO 1400] #quality_metric: host=algo-1, test ssd <loss>=12.5\nnoise\n"
	m := ParseMetrics(log)
	if m["test msd"] != 0.0133 || m["test ssd"] != 12.5 || len(m) != 2 {
		t.Errorf("metrics = %v", m)
	}
}

func TestDecodePredictions(t *testing.T) {
	p, err := DecodePredictions([]byte(`{"predictions":[{"closest_cluster":7.0,"distance_to_cluster":6.2}]}`), "application/json")
	if err != nil || len(p) != 1 || p[0].ClosestCluster != 7 {
		t.Errorf("json: %v %v", p, err)
	}
	p, err = DecodePredictions([]byte("{\"closest_cluster\":1.0,\"distance_to_cluster\":2.0}\n{\"closest_cluster\":3.0,\"distance_to_cluster\":4.0}\n"), "application/jsonlines")
	if err != nil || len(p) != 2 || p[1].ClosestCluster != 3 {
		t.Errorf("jsonlines: %v %v", p, err)
	}
}

func TestRunMeasured(t *testing.T) {
	if _, err := os.Stat(GNUTime); err != nil {
		t.Skip("no GNU time")
	}
	// A big parent must not inflate the child's figure (see RunMeasured).
	ballast := make([]byte, 256<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	kb, err := RunMeasured(exec.Command("true"))
	if err != nil {
		t.Fatal(err)
	}
	if kb <= 0 || kb > 64<<10 {
		t.Errorf("peak RSS of true = %d KiB", kb)
	}
	if _, err := RunMeasured(exec.Command("false")); err == nil {
		t.Error("exit status 1 not reported")
	}
	runtime.KeepAlive(ballast)
}
