// Command gpu times the GPU backend against the CPU engine on Fashion-MNIST
// (60,000 training and 10,000 test images, 784 pixels scaled to [0, 1]),
// at the level of the compute calls each algorithm makes:
//
//   - k-means: Lloyd iterations over the training images, k = 10 and 100
//     (NearestL2 plus the center update: gpu.Backend.SegmentSums on the
//     GPU, a Go loop on the CPU).
//   - kNN: the 10,000 test images' k = 10 nearest training images
//     (TopKL2, 10000×60000), and the accuracy of the majority vote.
//   - PCA: the 784×784 scatter matrix XᵀX accumulated over mini-batches of
//     5,000 rows (Gemm with transA, beta = 1).
//
// and, with --kmeans-bin, the k-means binary's whole training run with
// SAGEBRUSH_DEVICE=cpu and =gpu. It prints one JSON document; the PyTorch
// peer is torch_peer.py beside this file (same data, same operations).
// It needs a GPU to mean anything: without one it reports why and times
// the CPU engine only.
//
//	go run ./benchmarks/gpu --repeat 3 > gpu.json
//	python3 benchmarks/gpu/torch_peer.py > torch.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sagebrush-ml/sagebrush/benchmarks/harness"
	"github.com/sagebrush-ml/sagebrush/compute"
	"github.com/sagebrush-ml/sagebrush/compute/cpu"
	"github.com/sagebrush-ml/sagebrush/gpu"
)

type result struct {
	Workload string  `json:"workload"`
	Backend  string  `json:"backend"`
	Seconds  float64 `json:"seconds"` // best of --repeat
	GFLOPs   float64 `json:"gflops,omitempty"`
	Quality  string  `json:"quality,omitempty"`
}

type report struct {
	Device  string   `json:"device"`
	NoGPU   string   `json:"no_gpu,omitempty"`
	Train   int      `json:"train_rows"`
	Test    int      `json:"test_rows"`
	Dim     int      `json:"dim"`
	Results []result `json:"results"`
}

func main() {
	dir := flag.String("data", "/usr/share/datasets/fashion-mnist", "folder with the Fashion-MNIST IDX files (train-images-idx3-ubyte.gz, ...)")
	repeat := flag.Int("repeat", 3, "runs per measurement; the best is kept")
	iters := flag.Int("iters", 10, "Lloyd iterations per k-means run")
	kmeansBin := flag.String("kmeans-bin", "", "also time this k-means binary's training (SAGEBRUSH_DEVICE=cpu and gpu)")
	work := flag.String("work", "benchmarks/work/gpu", "scratch folder for --kmeans-bin")
	flag.Parse()

	train, err := harness.LoadIDX(filepath.Join(*dir, "train-images-idx3-ubyte.gz"), filepath.Join(*dir, "train-labels-idx1-ubyte.gz"))
	if err != nil {
		fail(err)
	}
	test, err := harness.LoadIDX(filepath.Join(*dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(*dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		fail(err)
	}
	x := compute.MatrixOf(train.N(), train.Dim, train.X)
	q := compute.MatrixOf(test.N(), test.Dim, test.X)
	rep := &report{Train: x.Rows, Test: q.Rows, Dim: x.Cols}

	backends := []compute.Backend{cpu.New()}
	if g, err := gpu.Open(); err != nil {
		rep.NoGPU = err.Error()
		fmt.Fprintf(os.Stderr, "no GPU: %v; timing the CPU engine only\n", err)
	} else {
		defer g.Close()
		rep.Device = g.Device()
		g.MinWork = 0
		backends = append(backends, g)
	}

	for _, be := range backends {
		for _, k := range []int{10, 100} {
			var inertia float64
			s := best(*repeat, func() { inertia = lloyd(be, x, k, *iters) })
			flops := float64(*iters) * 2 * float64(x.Rows) * float64(k) * float64(x.Cols)
			rep.add(fmt.Sprintf("kmeans lloyd n=%d d=%d k=%d iters=%d", x.Rows, x.Cols, k, *iters), be, s, flops, fmt.Sprintf("inertia %.6g", inertia))
		}
		var acc float64
		s := best(*repeat, func() { acc = knn(be, q, x, test.Labels, train.Labels, 10) })
		rep.add(fmt.Sprintf("knn topk queries=%d index=%d d=%d k=10", q.Rows, x.Rows, x.Cols), be, s,
			2*float64(q.Rows)*float64(x.Rows)*float64(x.Cols), fmt.Sprintf("accuracy %.4f", acc))
		var trace float64
		s = best(*repeat, func() { trace = scatter(be, x, 5000) })
		rep.add(fmt.Sprintf("pca scatter n=%d d=%d batch=5000", x.Rows, x.Cols), be, s,
			2*float64(x.Rows)*float64(x.Cols)*float64(x.Cols), fmt.Sprintf("trace %.6g", trace))
	}
	if *kmeansBin != "" {
		if err := binaryRuns(rep, *kmeansBin, *work, train, *repeat); err != nil {
			fail(err)
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

func (r *report) add(workload string, be compute.Backend, s, flops float64, quality string) {
	r.Results = append(r.Results, result{Workload: workload, Backend: be.Name(), Seconds: s, GFLOPs: flops / s / 1e9, Quality: quality})
	fmt.Fprintf(os.Stderr, "%-55s %-40s %8.3fs %8.1f GFLOP/s  %s\n", workload, be.Name(), s, flops/s/1e9, quality)
}

func best(n int, f func()) float64 {
	b := math.Inf(1)
	for range max(n, 1) {
		t := time.Now()
		f()
		b = min(b, time.Since(t).Seconds())
	}
	return b
}

// lloyd runs iters Lloyd iterations from the first k rows and returns the
// final inertia (sum of squared distances to the nearest center).
func lloyd(be compute.Backend, x compute.Matrix, k, iters int) float64 {
	c := compute.NewMatrix(k, x.Cols)
	copy(c.Data, x.Data[:k*x.Cols])
	idx, dist := make([]int32, x.Rows), make([]float32, x.Rows)
	cn := make([]float32, k)
	sums, counts := compute.NewMatrix(k, x.Cols), make([]float32, k)
	var inertia float64
	for range iters {
		be.RowSquaredNorms(cn, c)
		compute.NearestL2(be, idx, dist, x, c, cn, nil)
		if g, ok := be.(*gpu.Backend); ok {
			g.SegmentSums(sums, counts, x, idx)
		} else {
			clear(sums.Data)
			clear(counts)
			for i, a := range idx {
				row := sums.Row(int(a))
				for j, v := range x.Row(i) {
					row[j] += v
				}
				counts[a]++
			}
		}
		for j := range k {
			if counts[j] > 0 {
				for l, v := range sums.Row(j) {
					c.Data[j*x.Cols+l] = v / counts[j]
				}
			}
		}
		inertia = 0
		for _, d := range dist {
			inertia += float64(d)
		}
	}
	return inertia
}

// knn classifies each query by the majority label of its k nearest
// training rows (ties to the smallest label) and returns the accuracy.
func knn(be compute.Backend, q, x compute.Matrix, qLabels, xLabels []int, k int) float64 {
	dist, idx := make([]float32, q.Rows*k), make([]int32, q.Rows*k)
	compute.TopKL2(be, dist, idx, k, q, x, nil)
	right := 0
	for i := range q.Rows {
		votes := map[int]int{}
		for _, j := range idx[i*k : (i+1)*k] {
			if j >= 0 {
				votes[xLabels[j]]++
			}
		}
		labels := make([]int, 0, len(votes))
		for l := range votes {
			labels = append(labels, l)
		}
		slices.Sort(labels)
		bestL := labels[0]
		for _, l := range labels {
			if votes[l] > votes[bestL] {
				bestL = l
			}
		}
		if bestL == qLabels[i] {
			right++
		}
	}
	return float64(right) / float64(q.Rows)
}

// scatter accumulates XᵀX over mini-batches and returns its trace.
func scatter(be compute.Backend, x compute.Matrix, batch int) float64 {
	s := compute.NewMatrix(x.Cols, x.Cols)
	for i0 := 0; i0 < x.Rows; i0 += batch {
		n := min(batch, x.Rows-i0)
		b := compute.MatrixOf(n, x.Cols, x.Data[i0*x.Cols:(i0+n)*x.Cols])
		be.Gemm(true, false, 1, b, b, 1, s)
	}
	var tr float64
	for j := range x.Cols {
		tr += float64(s.Data[j*x.Cols+j])
	}
	return tr
}

// binaryRuns trains k-means (k=10, 5 epochs, mini-batch 5000) through the
// binary on the training images, once per device.
func binaryRuns(rep *report, bin, work string, train *harness.Dataset, repeat int) error {
	root, err := filepath.Abs(work)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	file := filepath.Join(root, "train.rec")
	if err := harness.WriteChannelFile(file, "application/x-recordio-protobuf", train); err != nil {
		return err
	}
	hyper := map[string]string{"k": "10", "feature_dim": fmt.Sprint(train.Dim), "mini_batch_size": "5000", "epochs": "5"}
	for _, dev := range []string{"cpu", "gpu"} {
		mlRoot := filepath.Join(root, "ml-"+dev)
		if err := harness.LayoutRoot(mlRoot, hyper, []harness.Channel{{Name: "train", ContentType: "application/x-recordio-protobuf", Files: []string{file}}}); err != nil {
			return err
		}
		os.Setenv("SAGEBRUSH_DEVICE", dev)
		var last *harness.TrainResult
		s := best(repeat, func() {
			last, err = harness.Train(context.Background(), bin, mlRoot, nil)
		})
		if err != nil {
			return fmt.Errorf("SAGEBRUSH_DEVICE=%s %s train: %w", dev, bin, err)
		}
		rep.Results = append(rep.Results, result{Workload: "kmeans binary train k=10 epochs=5 batch=5000", Backend: "SAGEBRUSH_DEVICE=" + dev, Seconds: s,
			Quality: fmt.Sprintf("%v", last.Metrics)})
	}
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchmarks/gpu:", err)
	os.Exit(1)
}
