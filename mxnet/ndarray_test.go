package mxnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.params golden files from Write")

// builder assembles NDArray files by hand, field by field, following the
// layout in MXNet's src/ndarray/ndarray.cc (NDArray::Save and the list
// Save), independently of Write.
type builder struct{ bytes.Buffer }

func (b *builder) u32(v uint32) *builder {
	binary.Write(&b.Buffer, binary.LittleEndian, v)
	return b
}

func (b *builder) u64(v uint64) *builder {
	binary.Write(&b.Buffer, binary.LittleEndian, v)
	return b
}

func (b *builder) i64(v int64) *builder { return b.u64(uint64(v)) }

func (b *builder) f32s(vs ...float32) *builder {
	binary.Write(&b.Buffer, binary.LittleEndian, vs)
	return b
}

func (b *builder) header(count uint64) *builder { return b.u64(0x112).u64(0).u64(count) }

// v2f32 appends a V2 dense float32 array on cpu(0).
func (b *builder) v2f32(shape []int64, vs ...float32) *builder {
	b.u32(0xF993FAC9).u32(0).u32(uint32(len(shape)))
	for _, s := range shape {
		b.i64(s)
	}
	b.u32(1).u32(0).u32(0)
	return b.f32s(vs...)
}

func (b *builder) names(ns ...string) *builder {
	b.u64(uint64(len(ns)))
	for _, n := range ns {
		b.u64(uint64(len(n)))
		b.WriteString(n)
	}
	return b
}

// kmeansList is what SageMaker k-means saves: a list of one (k, d) float32
// array, here (2, 3).
func kmeansList() (*File, []byte) {
	vals := []float32{1, 2, 3, -0.5, 0.25, 1e-3}
	f := &File{Arrays: []*NDArray{NewFloat32(vals, 2, 3)}}
	var b builder
	b.header(1).v2f32([]int64{2, 3}, vals...).names()
	return f, b.Bytes()
}

// pcaDict is what SageMaker PCA saves: a dict of mean (1, d), v (d, k), s (k).
func pcaDict() (*File, []byte) {
	mean := []float32{0.5, -1, 2}
	v := []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}
	s := []float32{3.5, 1.25}
	f := &File{
		Arrays: []*NDArray{NewFloat32(mean, 1, 3), NewFloat32(v, 3, 2), NewFloat32(s, 2)},
		Names:  []string{"mean", "v", "s"},
	}
	var b builder
	b.header(3).
		v2f32([]int64{1, 3}, mean...).
		v2f32([]int64{3, 2}, v...).
		v2f32([]int64{2}, s...).
		names("mean", "v", "s")
	return f, b.Bytes()
}

var goldens = []struct {
	name string
	make func() (*File, []byte)
}{
	{"kmeans_list", kmeansList},
	{"pca_dict", pcaDict},
}

// firstDiff describes where got and want first differ, or returns "".
func firstDiff(got, want []byte) string {
	n := min(len(got), len(want))
	for i := range n {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at offset %#x: got %#02x, want %#02x", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("lengths differ from offset %#x: got %d bytes, want %d", n, len(got), len(want))
	}
	return ""
}

func TestGolden(t *testing.T) {
	for _, tc := range goldens {
		t.Run(tc.name, func(t *testing.T) {
			f, want := tc.make()
			var buf bytes.Buffer
			if err := Write(&buf, f); err != nil {
				t.Fatal(err)
			}
			if d := firstDiff(buf.Bytes(), want); d != "" {
				t.Errorf("Write differs from hand-built bytes: %s", d)
			}
			path := filepath.Join("testdata", tc.name+".params")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if d := firstDiff(buf.Bytes(), golden); d != "" {
				t.Errorf("Write differs from %s: %s", path, d)
			}
			got, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := fileDiff(got, f); d != "" {
				t.Errorf("ReadFile(%s): %s", path, d)
			}
		})
	}
}

func TestGet(t *testing.T) {
	f, _ := pcaDict()
	v, ok := f.Get("v")
	if !ok || !equalInts(v.Shape, []int{3, 2}) {
		t.Fatalf("Get(v) = %v, %v; want shape (3,2)", v, ok)
	}
	if _, ok := f.Get("nope"); ok {
		t.Error("Get(nope) found an array")
	}
	l, _ := kmeansList()
	if _, ok := l.Get("mean"); ok {
		t.Error("Get on a list found an array")
	}
}

// fileDiff compares two Files exactly (floats by bits) and describes the
// first difference, or returns "".
func fileDiff(got, want *File) string {
	if len(got.Arrays) != len(want.Arrays) {
		return fmt.Sprintf("got %d arrays, want %d", len(got.Arrays), len(want.Arrays))
	}
	if (got.Names == nil) != (want.Names == nil) || len(got.Names) != len(want.Names) {
		return fmt.Sprintf("got names %q, want %q", got.Names, want.Names)
	}
	for i := range got.Names {
		if got.Names[i] != want.Names[i] {
			return fmt.Sprintf("name %d: got %q, want %q", i, got.Names[i], want.Names[i])
		}
	}
	for i, g := range got.Arrays {
		w := want.Arrays[i]
		if !equalInts(g.Shape, w.Shape) || g.DType != w.DType {
			return fmt.Sprintf("array %d: got %v %v, want %v %v", i, g.DType, g.Shape, w.DType, w.Shape)
		}
		if len(g.Float32) != len(w.Float32) || len(g.Float64) != len(w.Float64) || len(g.Int64) != len(w.Int64) {
			return fmt.Sprintf("array %d: value counts differ", i)
		}
		for j := range g.Float32 {
			if math.Float32bits(g.Float32[j]) != math.Float32bits(w.Float32[j]) {
				return fmt.Sprintf("array %d value %d: got %v, want %v", i, j, g.Float32[j], w.Float32[j])
			}
		}
		for j := range g.Float64 {
			if math.Float64bits(g.Float64[j]) != math.Float64bits(w.Float64[j]) {
				return fmt.Sprintf("array %d value %d: got %v, want %v", i, j, g.Float64[j], w.Float64[j])
			}
		}
		for j := range g.Int64 {
			if g.Int64[j] != w.Int64[j] {
				return fmt.Sprintf("array %d value %d: got %v, want %v", i, j, g.Int64[j], w.Int64[j])
			}
		}
	}
	return ""
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func roundTrip(t *testing.T, f *File) *File {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return got
}

func TestRoundTripDTypes(t *testing.T) {
	nan16 := f16ToF32(0x7e01) // a NaN with a payload
	tests := []struct {
		name string
		a    *NDArray
	}{
		{"float32", &NDArray{Shape: []int{2, 2}, DType: Float32, Float32: []float32{1, -2, float32(math.Inf(1)), float32(math.NaN())}}},
		{"float64", &NDArray{Shape: []int{3}, DType: Float64, Float64: []float64{math.Pi, -0.0, 1e300}}},
		{"float16", &NDArray{Shape: []int{2, 3}, DType: Float16, Float32: []float32{1, -2, 65504, 1.0 / (1 << 24), nan16, float32(math.Inf(-1))}}},
		{"uint8", &NDArray{Shape: []int{3}, DType: Uint8, Int64: []int64{0, 128, 255}}},
		{"int32", &NDArray{Shape: []int{1, 3}, DType: Int32, Int64: []int64{math.MinInt32, 0, math.MaxInt32}}},
		{"int8", &NDArray{Shape: []int{3}, DType: Int8, Int64: []int64{-128, -1, 127}}},
		{"int64", &NDArray{Shape: []int{3}, DType: Int64, Int64: []int64{math.MinInt64, 42, math.MaxInt64}}},
		{"zero size", &NDArray{Shape: []int{0, 4}, DType: Float32, Float32: []float32{}}},
		{"empty (none)", &NDArray{}},
		{"large", NewFloat32(make([]float32, 100_003), 100_003)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &File{Arrays: []*NDArray{tc.a}, Names: []string{"x"}}
			if d := fileDiff(roundTrip(t, f), f); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestFloat16(t *testing.T) {
	// Encodings from IEEE 754 binary16 (numpy.float16(x).view(numpy.uint16)).
	tests := []struct {
		f float32
		h uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {0.1, 0x2e66},
		{1.0 / (1 << 24), 0x0001}, {1.0 / (1 << 14), 0x0400}, {0, 0}, {float32(math.Copysign(0, -1)), 0x8000},
		{1e6, 0x7c00}, {1e-9, 0}, {65520, 0x7c00}, {1 + 1.0/2048, 0x3c00}, {1 + 3.0/2048, 0x3c02},
	}
	for _, tc := range tests {
		if got := f32ToF16(tc.f); got != tc.h {
			t.Errorf("f32ToF16(%g) = %#04x, want %#04x", tc.f, got, tc.h)
		}
	}
	// Every half value survives half -> float32 -> half.
	for h := range 1 << 16 {
		if got := f32ToF16(f16ToF32(uint16(h))); got != uint16(h) {
			t.Fatalf("f32ToF16(f16ToF32(%#04x)) = %#04x", h, got)
		}
	}
}

func TestOlderVersions(t *testing.T) {
	want := &File{Arrays: []*NDArray{NewFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3), {}}}
	wantScalar := &File{Arrays: []*NDArray{NewFloat32([]float32{7}, 1)}}
	dims := func(b *builder, ds ...int64) {
		for _, d := range ds {
			b.i64(d)
		}
	}
	tests := []struct {
		name  string
		build func(b *builder)
		want  *File
	}{
		{"V1", func(b *builder) {
			b.header(2)
			b.u32(0xF993FAC8).u32(2)
			dims(b, 2, 3)
			b.u32(1).u32(0).u32(0).f32s(1, 2, 3, 4, 5, 6)
			b.u32(0xF993FAC8).u32(0) // empty
			b.names()
		}, want},
		{"V3", func(b *builder) {
			b.header(2)
			b.u32(0xF993FACA).u32(0).u32(2)
			dims(b, 2, 3)
			b.u32(2).u32(1).u32(0).f32s(1, 2, 3, 4, 5, 6) // saved from gpu(1)
			b.u32(0xF993FACA).u32(0).u32(0xFFFFFFFF)      // unknown shape: empty
			b.names()
		}, want},
		{"V3 unknown dim", func(b *builder) {
			b.header(2)
			b.u32(0xF993FACA).u32(0).u32(2)
			dims(b, 2, 3)
			b.u32(1).u32(0).u32(0).f32s(1, 2, 3, 4, 5, 6)
			b.u32(0xF993FACA).u32(0).u32(2)
			dims(b, 4, -1) // shape_is_known is false: empty, nothing follows
			b.names()
		}, want},
		{"V3 scalar", func(b *builder) {
			b.header(1)
			b.u32(0xF993FACA).u32(0).u32(0)
			b.u32(1).u32(0).u32(0).f32s(7)
			b.names()
		}, wantScalar},
		{"legacy", func(b *builder) {
			b.header(2)
			b.u32(2).u32(2).u32(3) // ndim, uint32 dims
			b.u32(1).u32(0).u32(0).f32s(1, 2, 3, 4, 5, 6)
			b.u32(0) // empty
			b.names()
		}, want},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b builder
			tc.build(&b)
			got, err := Read(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if d := fileDiff(got, tc.want); d != "" {
				t.Error(d)
			}
			if d := fileDiff(roundTrip(t, got), tc.want); d != "" {
				t.Errorf("after rewriting as V2: %s", d)
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	for _, tc := range goldens {
		_, full := tc.make()
		for n := range len(full) {
			_, err := Read(bytes.NewReader(full[:n]))
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s cut to %d bytes: err = %v, want a FormatError wrapping io.ErrUnexpectedEOF", tc.name, n, err)
			}
			if fe.Offset > int64(n) || !fe.ClientError() {
				t.Fatalf("%s cut to %d bytes: offset %d past the end", tc.name, n, fe.Offset)
			}
		}
	}
}

func TestReadErrors(t *testing.T) {
	_, list := kmeansList()
	patch := func(off int, v uint32) []byte {
		b := bytes.Clone(list)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	const arr = 24 // offset of the first array in a file
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"file magic", patch(0, 0x113), "mxnet: offset 0: bad file magic 0x113, want 0x112"},
		{"array magic", patch(arr, 0x12345678), "mxnet: array 0 at offset 24: unknown array magic 0x12345678"},
		{"sparse", patch(arr+4, 2), "mxnet: array 0 at offset 28: storage type 2 (csr) is not supported"},
		{"ndim", patch(arr+8, 33), "array 0 at offset 32: ndim 33 exceeds the limit of 32"},
		{"negative ndim", patch(arr+8, 0xFFFFFFFE), "array 0 at offset 32: ndim -2 is negative"},
		{"negative dim", patch(arr+12, 0xFFFFFFFD) /* low half of -3; high half below */, ""},
		{"type flag", patch(arr+36, 7), "array 0 at offset 60: type flag 7 is not supported"},
		{"names", patch(len(list)-8, 2), "offset 88: 2 names for 1 arrays"},
		{"trailing", append(bytes.Clone(list), 0), "offset 96: unexpected data after the last name"},
		{"count", (&builder{}).header(1 << 40).Bytes(), "offset 16: array count 1099511627776 is too large"},
	}
	// Make the "negative dim" case a true -3 (both halves).
	neg := tests[5].in
	binary.LittleEndian.PutUint64(neg[arr+12:], uint64(math.MaxUint64-2))
	tests[5].want = "mxnet: array 0 at offset 36: dimension -3 is negative"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.in))
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FormatError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestReadBounded checks that corrupt sizes fail without allocating for them.
func TestReadBounded(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *builder)
		want  string
	}{
		{"too many elements", func(b *builder) {
			b.header(1).u32(0xF993FAC9).u32(0).u32(2).i64(1 << 31).i64(2)
		}, "array 0 at offset 32: shape [2147483648 2] has more than 2147483648 elements"},
		{"huge dim", func(b *builder) {
			b.header(1).u32(0xF993FAC9).u32(0).u32(1).i64(1 << 40)
		}, "array 0 at offset 36: dimension 1099511627776 exceeds the limit"},
		{"data shorter than shape", func(b *builder) {
			b.header(1).u32(0xF993FAC9).u32(0).u32(2).i64(1<<15).i64(1<<15).u32(1).u32(0).u32(1).f32s(1, 2)
		}, "array 0 at offset 64: input ends in data (1073741824 float64 values, 8589934592 bytes)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b builder
			tc.build(&b)
			allocs := testing.AllocsPerRun(1, func() { Read(bytes.NewReader(b.Bytes())) })
			_, err := Read(bytes.NewReader(b.Bytes()))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
			if allocs > 100 {
				t.Errorf("%v allocations", allocs)
			}
		})
	}
	// A name length far beyond the input.
	var b builder
	b.header(1).v2f32([]int64{1}, 1).u64(1).u64(1 << 19).WriteString("abc")
	_, err := Read(bytes.NewReader(b.Bytes()))
	if err == nil || !strings.Contains(err.Error(), "name 0 at offset 76: input ends in name (524288 bytes)") {
		t.Errorf("long name: err = %v", err)
	}
	b.Reset()
	b.header(1).v2f32([]int64{1}, 1).u64(1).u64(1 << 40)
	if _, err := Read(bytes.NewReader(b.Bytes())); err == nil || !strings.Contains(err.Error(), "name 0 at offset 68: name length 1099511627776 exceeds") {
		t.Errorf("huge name: err = %v", err)
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		f    *File
		want string
	}{
		{"names", &File{Arrays: []*NDArray{NewFloat32([]float32{1}, 1)}, Names: []string{}}, "mxnet: 0 names for 1 arrays"},
		{"size", &File{Arrays: []*NDArray{{Shape: []int{2, 2}, Float32: []float32{1}}}}, "array 0: 1 values for shape [2 2] (4 elements)"},
		{"field", &File{Arrays: []*NDArray{{Shape: []int{1}, DType: Float64, Float32: []float32{1}}}}, "float64 array holds values in a field other than its own"},
		{"uint8 range", &File{Arrays: []*NDArray{{Shape: []int{2}, DType: Uint8, Int64: []int64{1, 256}}}}, "value 256 at index 1 is out of range for uint8"},
		{"dtype", &File{Arrays: []*NDArray{{Shape: []int{1}, DType: 9, Int64: []int64{1}}}}, "unsupported DType(9)"},
		{"negative", &File{Arrays: []*NDArray{{Shape: []int{-1}}}}, "negative dimension"},
		{"no shape", &File{Arrays: []*NDArray{{Float32: []float32{1}}}}, "1 values but no shape"},
		{"nil", &File{Arrays: []*NDArray{nil}}, "nil array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tc.f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model_algo-1")
	f, want := pcaDict()
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := firstDiff(got, want); d != "" {
		t.Error(d)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir"), f); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

func TestNDArrayHelpers(t *testing.T) {
	a := &NDArray{Shape: []int{2, 2}, DType: Int32, Int64: []int64{1, -2, 3, 4}}
	if a.Size() != 4 {
		t.Errorf("Size = %d, want 4", a.Size())
	}
	if got := a.AsFloat32(); len(got) != 4 || got[1] != -2 {
		t.Errorf("AsFloat32 = %v", got)
	}
	if (&NDArray{}).Size() != 0 {
		t.Error("empty array has a nonzero Size")
	}
	d := &NDArray{Shape: []int{1}, DType: Float64, Float64: []float64{0.5}}
	if got := d.AsFloat32(); got[0] != 0.5 {
		t.Errorf("AsFloat32 = %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("NewFloat32 with a wrong length did not panic")
		}
	}()
	NewFloat32([]float32{1, 2}, 3)
}

func FuzzNDArray(f *testing.F) {
	for _, tc := range goldens {
		_, b := tc.make()
		f.Add(b)
	}
	var b builder
	b.header(3).u32(0xF993FAC8).u32(1).i64(2).u32(1).u32(0).u32(2).u32(0x3c00bc00)
	b.u32(0xF993FACA).u32(0).u32(0).u32(1).u32(0).u32(3).u32(0xFF)
	b.u32(1).u32(2).u32(1).u32(0).u32(5).u32(0x80ff)
	b.names("a", "", "c")
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<20 {
			return
		}
		got, err := Read(bytes.NewReader(in))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a *FormatError: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, got); err != nil {
			t.Fatalf("Write of what Read returned: %v", err)
		}
		again, err := Read(&buf)
		if err != nil {
			t.Fatalf("Read of what Write wrote: %v", err)
		}
		if d := fileDiff(again, got); d != "" {
			t.Fatal(d)
		}
	})
}
