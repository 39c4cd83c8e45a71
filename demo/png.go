package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"

	"github.com/sagebrush-ml/sagebrush/mxnet"
)

// pixels is one MNIST image: 28×28.
const pixels = 28 * 28

// readCentroids reads the k×dim centroid matrix from a k-means model file
// (an MXNet NDArray list whose first array is the centers).
func readCentroids(path string) (k, dim int, c []float32, err error) {
	f, err := mxnet.ReadFile(path)
	if err != nil {
		return 0, 0, nil, err
	}
	if len(f.Arrays) == 0 || len(f.Arrays[0].Shape) != 2 {
		return 0, 0, nil, fmt.Errorf("%s: want a 2-d centroid array first", path)
	}
	a := f.Arrays[0]
	return a.Shape[0], a.Shape[1], a.AsFloat32(), nil
}

// centroidImage lays the k centroids out as side×side grayscale tiles in
// a row, each pixel scale×scale, separated by a 1-tile-pixel gap; values
// are clamped to [0,1] (white ink on black, as MNIST).
func centroidImage(c []float32, k, side, scale int) *image.Gray {
	gap := scale
	w := k*side*scale + (k-1)*gap
	img := image.NewGray(image.Rect(0, 0, w, side*scale))
	for i := range img.Pix {
		img.Pix[i] = 96 // grey gaps between tiles
	}
	for t := range k {
		x0 := t * (side*scale + gap)
		for y := range side * scale {
			for x := range side * scale {
				v := min(max(c[t*side*side+(y/scale)*side+x/scale], 0), 1)
				img.SetGray(x0+x, y, color.Gray{Y: uint8(v*255 + 0.5)})
			}
		}
	}
	return img
}

// writeCentroidsPNG writes the centroids of model to path as a PNG.
func writeCentroidsPNG(model, path string) error {
	k, dim, c, err := readCentroids(model)
	if err != nil {
		return err
	}
	if dim != pixels {
		return fmt.Errorf("%s: centroids have %d features, want %d (28×28)", model, dim, pixels)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, centroidImage(c, k, 28, 4)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
