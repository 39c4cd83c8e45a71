package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/sagebrush-ml/sagebrush/benchmarks/harness"
)

// trainRepeats trains bin on the ml root e.Repeat times, each from an
// empty model directory, keeping the latest log in dir/train.log, and
// hands each result to each (whose error, naming the log, ends the runs).
// It returns every run's wall time and the largest peak RSS.
func trainRepeats(e *env, bin, root, dir string, each func(res *harness.TrainResult, log string) error) (walls []float64, peakKB int64, err error) {
	var echo io.Writer // nil: keep the log to the file only
	if e.Verbose {
		echo = os.Stdout
	}
	logPath := filepath.Join(dir, "train.log")
	for range e.Repeat {
		os.RemoveAll(filepath.Join(root, "model"))
		os.MkdirAll(filepath.Join(root, "model"), 0o755)
		res, err := harness.Train(context.Background(), bin, root, echo)
		os.WriteFile(logPath, []byte(safeLog(res)), 0o644)
		if err != nil {
			return nil, 0, fmt.Errorf("%w (log: %s)", err, logPath)
		}
		if err := each(res, logPath); err != nil {
			return nil, 0, err
		}
		walls = append(walls, res.Wall.Seconds())
		peakKB = max(peakKB, res.MaxRSSKB)
	}
	return walls, peakKB, nil
}

// withVariant returns a copy of base with the --variant value v
// ("k=v,k=v") applied over it.
func withVariant(base map[string]string, v string) (map[string]string, error) {
	h := maps.Clone(base)
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("--variant %q: want key=value,...", v)
		}
		h[k] = val
	}
	return h, nil
}
