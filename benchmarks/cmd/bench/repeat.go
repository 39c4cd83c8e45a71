package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
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

// interleaved runs ours and the peer alternately, once each per repeat
// (ours, peer, ours, peer, ...), so that a change in the machine's speed
// during the benchmark (another tenant's load coming or going) falls on
// both sides alike instead of on whichever ran later. Ours runs once more
// first, untimed: its wall time covers reading the channels, which the
// peer's fit time leaves out, and the first read after other benchmarks
// ran 10-35% slower. Each side is merged over its timed runs by mergeRuns.
func interleaved(e *env, ours, peer func(*env) (*Side, error)) (*Side, *Side, error) {
	one := *e
	one.Repeat = 1
	if _, err := ours(&one); err != nil {
		return nil, nil, err
	}
	var o, p []*Side
	for range e.Repeat {
		s, err := ours(&one)
		if err != nil {
			return nil, nil, err
		}
		o = append(o, s)
		if s, err = peer(&one); err != nil {
			return nil, nil, err
		}
		p = append(p, s)
	}
	so, sp := mergeRuns(o, "wall_seconds_each"), mergeRuns(p, "fit_seconds_each")
	so.Extra["interleaved"], sp.Extra["interleaved"] = true, true
	return so, sp, nil
}

// repeated runs one side e.Repeat times in a row and merges the runs
// (mergeRuns).
func repeated(e *env, run func() (*Side, error), timesKey string) (*Side, error) {
	var runs []*Side
	for range e.Repeat {
		s, err := run()
		if err != nil {
			return nil, err
		}
		runs = append(runs, s)
	}
	return mergeRuns(runs, timesKey), nil
}

// mergeRuns is the first run's side with the median time, the largest
// peak RSS and every run's time under timesKey in Extra.
func mergeRuns(runs []*Side, timesKey string) *Side {
	s := *runs[0]
	s.Extra = maps.Clone(s.Extra)
	if s.Extra == nil {
		s.Extra = map[string]any{}
	}
	var times []float64
	for _, r := range runs {
		times = append(times, r.TimeS)
		s.PeakMB = max(s.PeakMB, r.PeakMB)
	}
	s.TimeS = median(times)
	s.Extra[timesKey] = times
	return &s
}

// runPeer runs peers/script with args under e.Python, decodes the JSON of
// the last line it prints into out, and returns the peak RSS of the
// process in KB.
func runPeer(e *env, out any, script string, args ...string) (int64, error) {
	cmd := exec.Command(e.Python, append([]string{filepath.Join(e.PeersDir, script)}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	rssKB, err := harness.RunMeasured(cmd)
	if err != nil {
		return 0, fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	out0 := strings.TrimSpace(stdout.String())
	last := out0[strings.LastIndexByte(out0, '\n')+1:]
	if err := json.Unmarshal([]byte(last), out); err != nil {
		return 0, fmt.Errorf("%s output %q: %w", script, last, err)
	}
	return rssKB, nil
}
