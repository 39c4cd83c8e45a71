package mxnet

import (
	"archive/zip"
	"bytes"
	"testing"
)

// TestZipRoundTrip: WriteZip's stored members read back by ReadZip, the
// same entries give the same bytes, and deflated members read too.
func TestZipRoundTrip(t *testing.T) {
	entries := []ZipEntry{{"manifest.json", []byte(`{"version": 1}`)}, {"mx-mod-0000.params", []byte{0, 1, 2, 3}}, {"empty", nil}}
	var a, b bytes.Buffer
	if err := WriteZip(&a, entries); err != nil {
		t.Fatal(err)
	}
	if err := WriteZip(&b, entries); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same entries gave different bytes")
	}
	files, err := ReadZip(a.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if got, ok := files[e.Name]; !ok || !bytes.Equal(got, e.Data) {
			t.Errorf("%s: %q, want %q", e.Name, got, e.Data)
		}
	}
	var d bytes.Buffer
	zw := zip.NewWriter(&d)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "x", Method: zip.Deflate})
	w.Write(bytes.Repeat([]byte("abc"), 1000))
	zw.Close()
	if files, err := ReadZip(d.Bytes()); err != nil || len(files["x"]) != 3000 {
		t.Errorf("deflated member: %d bytes, %v", len(files["x"]), err)
	}
	for _, bad := range [][]byte{nil, []byte("PK"), a.Bytes()[:a.Len()/2]} {
		if _, err := ReadZip(bad); err == nil {
			t.Errorf("ReadZip(%q) did not fail", bad)
		}
	}
}

// FuzzReadZip: ReadZip never panics on arbitrary bytes, and what it reads
// from an archive it accepted round-trips through WriteZip.
func FuzzReadZip(f *testing.F) {
	var a bytes.Buffer
	WriteZip(&a, []ZipEntry{{"manifest.json", []byte(`{}`)}, {"p.params", []byte{1, 2}}})
	f.Add(a.Bytes())
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Fuzz(func(t *testing.T, b []byte) {
		files, err := ReadZip(b)
		if err != nil {
			return
		}
		var entries []ZipEntry
		for name, data := range files {
			entries = append(entries, ZipEntry{name, data})
		}
		var out bytes.Buffer
		if err := WriteZip(&out, entries); err != nil {
			return // names zip cannot write back
		}
		again, err := ReadZip(out.Bytes())
		if err != nil || len(again) != len(files) {
			t.Fatalf("round trip: %d members, %v; want %d", len(again), err, len(files))
		}
	})
}
