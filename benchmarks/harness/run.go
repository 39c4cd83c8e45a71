package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TrainResult is what one `BINARY train` run reports.
type TrainResult struct {
	Wall     time.Duration
	MaxRSSKB int64              // peak resident set of the trainer (see RunMeasured)
	Metrics  map[string]float64 // "#quality_metric" lines by name, e.g. "test msd"
	Log      string             // stdout and stderr, interleaved
}

// metricLine matches the built-in algorithms' metric log lines, e.g.
// "#quality_metric: host=algo-1, test msd <loss>=0.0133".
var metricLine = regexp.MustCompile(`#quality_metric: host=[^,]*, (.+?) <[^>]*>=(\S+)`)

// ParseMetrics returns the last value of every quality metric in log.
func ParseMetrics(log string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range metricLine.FindAllStringSubmatch(log, -1) {
		if v, err := strconv.ParseFloat(strings.TrimSpace(m[2]), 64); err == nil {
			out[m[1]] = v
		}
	}
	return out
}

// Train runs `bin train --ml-root root`, copying its output to echo (if not
// nil) as it comes. A non-zero exit is an error that quotes
// root/output/failure.
func Train(ctx context.Context, bin, root string, echo io.Writer) (*TrainResult, error) {
	cmd := exec.CommandContext(ctx, bin, "train", "--ml-root", root)
	var log bytes.Buffer
	var w io.Writer = &log
	if echo != nil {
		w = io.MultiWriter(&log, echo)
	}
	cmd.Stdout, cmd.Stderr = w, w
	start := time.Now()
	rss, err := RunMeasured(cmd)
	res := &TrainResult{Wall: time.Since(start), Log: log.String(), MaxRSSKB: rss}
	res.Metrics = ParseMetrics(res.Log)
	if err != nil {
		msg := ""
		if b, ferr := os.ReadFile(filepath.Join(root, "output", "failure")); ferr == nil {
			msg = ": " + strings.TrimSpace(string(b))
		}
		return res, fmt.Errorf("%s train failed (%v)%s", bin, err, msg)
	}
	return res, nil
}

// GNUTime is GNU time, which reports a child's peak RSS.
const GNUTime = "/usr/bin/time"

// maxRSSLine is GNU time -v's peak RSS line.
var maxRSSLine = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)

// RunMeasured runs cmd (not started) and returns its peak resident set in
// KiB. It runs cmd under `/usr/bin/time -v` when that exists: the rusage
// Go gets from wait4 is not enough, because os/exec starts children with
// vfork semantics and Linux carries the parent's own RSS high-water mark
// into the child's ru_maxrss at exec, so a big parent inflates it. GNU
// time forks a small process first, so its figure is the child's own.
// Without GNU time it falls back to that rusage (an upper bound).
func RunMeasured(cmd *exec.Cmd) (int64, error) {
	var report string
	if _, err := os.Stat(GNUTime); err == nil && cmd.Path != "" && cmd.Err == nil {
		f, err := os.CreateTemp("", "gnutime-*.txt")
		if err != nil {
			return 0, err
		}
		report = f.Name()
		f.Close()
		defer os.Remove(report)
		cmd.Args = append([]string{GNUTime, "-v", "-o", report, cmd.Path}, cmd.Args[1:]...)
		cmd.Path = GNUTime
	}
	err := cmd.Run()
	if report != "" {
		b, rerr := os.ReadFile(report)
		if m := maxRSSLine.FindSubmatch(b); rerr == nil && m != nil {
			kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
			return kb, err
		}
	}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			return ru.Maxrss, err // KiB on Linux
		}
	}
	return 0, err
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Server is a running `BINARY serve`.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	done chan error
}

// StartServe starts `bin serve --ml-root root --port port`, its output
// going to log, and waits until GET /ping answers 200 or timeout passes.
func StartServe(bin, root string, port int, log io.Writer, timeout time.Duration) (*Server, error) {
	cmd := exec.Command(bin, "serve", "--ml-root", root, "--port", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	if err := WaitPing(s.URL+"/ping", timeout, s.done); err != nil {
		if !errors.Is(err, ErrExited) {
			s.Stop(5 * time.Second)
		}
		return nil, fmt.Errorf("%s serve: %w", bin, err)
	}
	return s, nil
}

// ErrExited is WaitPing's error when the server's process exited first.
var ErrExited = errors.New("the server exited")

// WaitPing polls url every 10 ms until it answers 200, timeout passes, or
// exited (when not nil) yields the exit of the server's process.
func WaitPing(url string, timeout time.Duration, exited <-chan error) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case err := <-exited: // a nil channel never yields
			return fmt.Errorf("%w before %s answered 200: %v", ErrExited, url, err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %v (last: %v)", url, timeout, statusOrErr(resp, err))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func statusOrErr(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

// Stop sends SIGTERM and waits up to grace for the server to exit, then
// kills it. It returns the exit error of a server that did not stop cleanly.
func (s *Server) Stop(grace time.Duration) error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case err := <-s.done:
		return err
	case <-time.After(grace):
		s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("server did not exit within %v of SIGTERM; killed", grace)
	}
}

// Prediction is one k-means answer.
type Prediction struct {
	ClosestCluster    float64 `json:"closest_cluster"`
	DistanceToCluster float64 `json:"distance_to_cluster"`
}

// Invoke POSTs body to /invocations and decodes the k-means predictions
// from an application/json ({"predictions":[...]}) or
// application/jsonlines (one object a line) response.
func (s *Server) Invoke(body []byte, contentType, accept string) ([]Prediction, error) {
	req, err := http.NewRequest(http.MethodPost, s.URL+"/invocations", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/invocations: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return DecodePredictions(b, accept)
}

// DecodePredictions decodes a k-means response body of type accept.
func DecodePredictions(b []byte, accept string) ([]Prediction, error) {
	if accept == "application/jsonlines" {
		var out []Prediction
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			var p Prediction
			if err := json.Unmarshal(line, &p); err != nil {
				return nil, fmt.Errorf("jsonlines response line %d: %w", len(out)+1, err)
			}
			out = append(out, p)
		}
		return out, sc.Err()
	}
	var env struct {
		Predictions []Prediction `json:"predictions"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("json response: %w", err)
	}
	return env.Predictions, nil
}

// Assign scores every row of d through the server in chunks of chunk rows,
// each body in contentType (text/csv without labels, or RecordIO-protobuf
// without labels), and returns the closest cluster of each row.
func (s *Server) Assign(d *Dataset, chunk int, contentType, accept string) ([]int, error) {
	out := make([]int, 0, d.N())
	var buf bytes.Buffer
	for lo := 0; lo < d.N(); lo += chunk {
		hi := min(lo+chunk, d.N())
		buf.Reset()
		if contentType == TextCSV {
			AppendCSV(&buf, d, lo, hi, false)
		} else if err := AppendRecordIO(&buf, d, lo, hi, false); err != nil {
			return nil, err
		}
		preds, err := s.Invoke(buf.Bytes(), contentType, accept)
		if err != nil {
			return nil, fmt.Errorf("rows %d..%d: %w", lo, hi-1, err)
		}
		if len(preds) != hi-lo {
			return nil, fmt.Errorf("rows %d..%d: %d predictions for %d rows", lo, hi-1, len(preds), hi-lo)
		}
		for _, p := range preds {
			out = append(out, int(p.ClosestCluster))
		}
	}
	return out, nil
}
