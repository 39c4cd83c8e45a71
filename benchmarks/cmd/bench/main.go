// Command bench runs the project's algorithms against their peers on real
// data and writes benchmarks/results/<date>.{json,md}. Run it from the
// repository root (make bench does):
//
//	go run ./benchmarks/cmd/bench [--bin-dir bin] [--only kmeans] [--variant k=v,k=v]...
//
// Each benchmark (see benchmarks, below) trains through the algorithm's
// binary on a local ml root, scores the test set through `serve`, runs the
// peer in the same run, and returns rows for the report. A new algorithm
// slots in as one more entry in benchmarks and one file like kmeans.go.
package main

import (
	"flag"
	"fmt"
	"github.com/sagebrush-ml/sagebrush/benchmarks/harness"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// env is what every benchmark gets.
type env struct {
	BinDir   string   // where bin/<algo> lives
	DataDir  string   // cached converted data sets
	WorkDir  string   // ml roots and logs
	Python   string   // the peers' interpreter
	PeersDir string   // benchmarks/peers
	Variants []string // extra hyperparameter sets, "k=v,k=v"
	Verbose  bool     // echo training logs
	Repeat   int      // runs of each side; times are medians

	fashionTrain, fashionTest *harness.Dataset  // loaded once per run (loadFashion)
	fashionFiles              map[string]string // their IDX files, for the peers
}

// benchmark is one algorithm on one data set against one peer.
type benchmark struct {
	Name string
	Bin  string // the binary under --bin-dir, when not Name
	Run  func(e *env) ([]Row, error)
}

// binary is the name of the benchmark's binary under --bin-dir.
func (b benchmark) binary() string {
	if b.Bin != "" {
		return b.Bin
	}
	return b.Name
}

var benchmarks = []benchmark{
	{Name: "kmeans", Run: kmeansFashionMNIST},
	{Name: "kmeans-sparse", Bin: "kmeans", Run: kmeansSparse},
	{Name: "pca", Run: pcaFashionMNIST},
	{Name: "linear-learner", Run: linearLearnerBench},
	{Name: "knn", Run: knnFashionMNIST},
}

type variantsFlag []string

func (v *variantsFlag) String() string     { return strings.Join(*v, " ") }
func (v *variantsFlag) Set(s string) error { *v = append(*v, s); return nil }

func main() {
	e := &env{}
	var variants variantsFlag
	flag.StringVar(&e.BinDir, "bin-dir", "bin", "directory of the algorithm binaries")
	flag.StringVar(&e.DataDir, "data", "benchmarks/data", "cache of converted data sets")
	flag.StringVar(&e.WorkDir, "work", "benchmarks/work", "ml roots and logs")
	flag.StringVar(&e.Python, "python", "/usr/bin/python3", "Python with scikit-learn (Debian's)")
	flag.StringVar(&e.PeersDir, "peers", "benchmarks/peers", "peer scripts")
	results := flag.String("results", "benchmarks/results", "where <date>.json and <date>.md go")
	only := flag.String("only", "", "comma-separated benchmark names to run (default all)")
	flag.Var(&variants, "variant", "also train with these hyperparameters over the headline ones, e.g. init_method=kmeans++,epochs=10 (repeatable)")
	flag.BoolVar(&e.Verbose, "v", false, "echo the training logs")
	flag.IntVar(&e.Repeat, "repeat", 1, "run each side this many times and report the median time")
	flag.Parse()
	e.Variants = variants
	e.Repeat = max(e.Repeat, 1)

	started := time.Now()
	var rows []Row
	failed := false
	for _, b := range benchmarks {
		if *only != "" && !contains(strings.Split(*only, ","), b.Name) {
			continue
		}
		fmt.Printf("== benchmark %s\n", b.Name)
		r, err := b.Run(e)
		rows = append(rows, r...)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", b.Name, err)
			failed = true
		}
	}
	rep := &Report{Repeat: e.Repeat, Date: started.Format("2006-01-02"), Started: started.Format(time.RFC3339), Machine: machineInfo(), Rows: rows}
	failed = runExtras(e, rep, *results) || failed // serving, cold start, kernels, charts (extras.go)
	if len(rows) > 0 || rep.hasExtras() {
		jsonPath, mdPath, err := rep.Write(*results)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		fmt.Println()
		fmt.Print(rep.Markdown())
		fmt.Printf("\nwrote %s and %s\n", jsonPath, mdPath)
	}
	if failed || (len(rows) == 0 && !rep.hasExtras()) {
		os.Exit(1)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

// abs makes a path absolute (binaries and ml roots are handed to children).
func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
