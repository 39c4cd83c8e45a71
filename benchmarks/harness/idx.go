// Package harness holds what the demo and the benchmarks share: reading the
// MNIST IDX format, writing SageMaker channels (RecordIO-protobuf, CSV) with
// the project's writer, laying out a local ml root, running a binary's
// `train` and `serve`, scoring through /invocations, and the clustering
// scores (NMI, purity).
package harness

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
)

// Dataset is dense float32 rows with one integer label per row.
type Dataset struct {
	Dim    int
	X      []float32 // N*Dim values, row-major
	Labels []int     // N labels
}

// N returns the number of rows.
func (d *Dataset) N() int { return len(d.Labels) }

// Row returns row i (not copied).
func (d *Dataset) Row(i int) []float32 { return d.X[i*d.Dim : (i+1)*d.Dim] }

// Subset returns the rows idx, copied, in that order.
func (d *Dataset) Subset(idx []int) *Dataset {
	out := &Dataset{Dim: d.Dim, X: make([]float32, 0, len(idx)*d.Dim), Labels: make([]int, 0, len(idx))}
	for _, i := range idx {
		out.X = append(out.X, d.Row(i)...)
		out.Labels = append(out.Labels, d.Labels[i])
	}
	return out
}

// IDX magic numbers: 0x08 is unsigned byte data, the last byte the number
// of dimensions.
const (
	idxImages = 0x00000803
	idxLabels = 0x00000801
)

// openMaybeGzip opens path, decompressing when the name ends in .gz.
func openMaybeGzip(path string) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return bufio.NewReader(f), f.Close, nil
	}
	z, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return z, f.Close, nil
}

// ParseIDXImages reads an IDX3 unsigned-byte image file: magic 0x00000803,
// count, rows, cols (big-endian uint32), then count*rows*cols bytes.
func ParseIDXImages(r io.Reader) (count, rows, cols int, pixels []byte, err error) {
	var hdr [4]uint32
	if err = binary.Read(r, binary.BigEndian, &hdr); err != nil {
		return 0, 0, 0, nil, fmt.Errorf("idx images header: %w", err)
	}
	if hdr[0] != idxImages {
		return 0, 0, 0, nil, fmt.Errorf("idx images: magic 0x%08x, want 0x%08x", hdr[0], idxImages)
	}
	count, rows, cols = int(hdr[1]), int(hdr[2]), int(hdr[3])
	if rows <= 0 || cols <= 0 || rows*cols > 1<<20 || count > 1<<24 {
		return 0, 0, 0, nil, fmt.Errorf("idx images: implausible shape %d×%d×%d", count, rows, cols)
	}
	pixels = make([]byte, count*rows*cols)
	if _, err = io.ReadFull(r, pixels); err != nil {
		return 0, 0, 0, nil, fmt.Errorf("idx images: %d images of %d×%d: %w", count, rows, cols, err)
	}
	return count, rows, cols, pixels, nil
}

// ParseIDXLabels reads an IDX1 unsigned-byte label file: magic 0x00000801,
// count, then count bytes.
func ParseIDXLabels(r io.Reader) ([]int, error) {
	var hdr [2]uint32
	if err := binary.Read(r, binary.BigEndian, &hdr); err != nil {
		return nil, fmt.Errorf("idx labels header: %w", err)
	}
	if hdr[0] != idxLabels {
		return nil, fmt.Errorf("idx labels: magic 0x%08x, want 0x%08x", hdr[0], idxLabels)
	}
	if hdr[1] > 1<<24 {
		return nil, fmt.Errorf("idx labels: implausible count %d", hdr[1])
	}
	b := make([]byte, hdr[1])
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("idx labels: %d labels: %w", hdr[1], err)
	}
	out := make([]int, len(b))
	for i, v := range b {
		out[i] = int(v)
	}
	return out, nil
}

// LoadIDX reads an image file and a label file (plain or .gz) into a
// Dataset with pixels scaled to [0,1] (byte/255, as float32).
func LoadIDX(imagesPath, labelsPath string) (*Dataset, error) {
	r, closeImages, err := openMaybeGzip(imagesPath)
	if err != nil {
		return nil, err
	}
	defer closeImages()
	n, rows, cols, px, err := ParseIDXImages(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", imagesPath, err)
	}
	lr, closeLabels, err := openMaybeGzip(labelsPath)
	if err != nil {
		return nil, err
	}
	defer closeLabels()
	labels, err := ParseIDXLabels(lr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", labelsPath, err)
	}
	if len(labels) != n {
		return nil, fmt.Errorf("%s has %d images but %s has %d labels", imagesPath, n, labelsPath, len(labels))
	}
	d := &Dataset{Dim: rows * cols, X: make([]float32, len(px)), Labels: labels}
	for i, p := range px {
		d.X[i] = float32(p) / 255
	}
	return d, nil
}
