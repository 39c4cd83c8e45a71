package mxnet

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestReadFileMapped: a file of at least mapMinBytes is mapped, and what it
// gives equals what reading gives; writing to the array (the mapping is
// private) never reaches the file.
func TestReadFileMapped(t *testing.T) {
	n := mapMinBytes/4 + 1000
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(i%1000) * 0.5
	}
	rows := n / 1000
	file := &File{
		Arrays: []*NDArray{NewFloat32(data[:rows*1000], rows, 1000), NewFloat32([]float32{1, 2, 3}, 3)},
		Names:  []string{"x", "s"},
	}
	path := filepath.Join(t.TempDir(), "big")
	if err := WriteFile(path, file); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Read(bytes.NewReader(before))
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range want.Arrays {
		g := got.Arrays[i].AsFloat32()
		w := a.AsFloat32()
		if len(g) != len(w) || got.Names[i] != want.Names[i] {
			t.Fatalf("array %d: %d values named %q, want %d named %q", i, len(g), got.Names[i], len(w), want.Names[i])
		}
		for j := range w {
			if g[j] != w[j] {
				t.Fatalf("array %d value %d: mapped %v, read %v", i, j, g[j], w[j])
			}
		}
	}
	got.Arrays[0].Float32[0] = 12345
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("writing to a mapped array changed the file")
	}
}
