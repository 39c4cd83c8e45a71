package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sagebrush-ml/sagebrush/benchmarks/harness"
)

// tarball builds an npm-like tarball with n[d] images of digit d, every
// pixel of digit d's images equal to d/10.
func tarball(t *testing.T, n [10]int) *bytes.Buffer {
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	tw := tar.NewWriter(z)
	add := func(name string, body []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))})
		tw.Write(body)
	}
	add("package/package.json", []byte(`{"name":"mnist"}`))
	for d := 9; d >= 0; d-- { // out of order on purpose
		data := make([]float64, n[d]*pixels)
		for i := range data {
			data[i] = float64(d) / 10
		}
		b, _ := json.Marshal(map[string]any{"data": data})
		add(fmt.Sprintf("package/src/digits/%d.json", d), b)
	}
	tw.Close()
	z.Close()
	return &buf
}

func TestReadDigitsTarball(t *testing.T) {
	n := [10]int{2, 1, 1, 1, 1, 1, 1, 1, 1, 3}
	ds, err := harness.ReadMNISTTarball(tarball(t, n))
	if err != nil {
		t.Fatal(err)
	}
	if ds.N() != 13 || ds.Dim != pixels {
		t.Fatalf("n=%d dim=%d", ds.N(), ds.Dim)
	}
	wantLabels := []int{0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9}
	for i, l := range wantLabels {
		if ds.Labels[i] != l || ds.Row(i)[100] != float32(l)/10 {
			t.Fatalf("row %d: label %d pixel %v, want %d", i, ds.Labels[i], ds.Row(i)[100], l)
		}
	}
	n[4] = 0 // a digit file with no data is an error
	if _, err := harness.ReadMNISTTarball(tarball(t, n)); err == nil {
		t.Error("empty digit file accepted")
	}
}

func TestCentroidImage(t *testing.T) {
	c := make([]float32, 2*pixels)
	c[0] = 1              // tile 0, top-left pixel white
	c[pixels+27] = 2      // tile 1, top-right pixel, clamped to white
	c[pixels+28*27] = -.5 // clamped to black
	img := centroidImage(c, 2, 28, 4)
	if b := img.Bounds(); b.Dx() != 2*28*4+4 || b.Dy() != 28*4 {
		t.Fatalf("bounds %v", b)
	}
	if img.GrayAt(3, 3).Y != 255 || img.GrayAt(4, 4).Y != 0 {
		t.Error("tile 0 scaling wrong")
	}
	x1 := 28*4 + 4 // tile 1 starts after the gap
	if img.GrayAt(x1+27*4, 0).Y != 255 || img.GrayAt(x1, 27*4).Y != 0 || img.GrayAt(28*4, 0).Y != 96 {
		t.Error("tile 1 or gap wrong")
	}
}
