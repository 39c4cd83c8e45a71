package main

// Cold start: from starting `bin/<algo> serve` to its first 200 from
// GET /ping, with the model each algorithm's benchmark trained.

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sagebrush-ml/sagebrush/benchmarks/harness"
)

const coldStartRuns = 5

// ColdStart is one algorithm's cold start.
type ColdStart struct {
	Algorithm  string    `json:"algorithm"`
	Model      string    `json:"model,omitempty"` // model directory used
	ModelBytes int64     `json:"model_bytes,omitempty"`
	MedianMs   float64   `json:"median_ms,omitempty"`
	EachMs     []float64 `json:"each_ms,omitempty"`
	Skipped    string    `json:"skipped,omitempty"`
	Met        bool      `json:"met"`
}

// findModel returns the ml root of the first work directory of the
// benchmark (benchmarks/work/<name>, then <name>-* in order) holding a
// model, "" when none. A directory of another benchmark whose name extends
// this one (kmeans-sparse under kmeans) is not this one's.
func findModel(workDir, name string) string {
	dirs, _ := filepath.Glob(filepath.Join(workDir, name+"-*", "ml"))
	slices.Sort(dirs)
	dirs = slices.DeleteFunc(dirs, func(d string) bool {
		base := filepath.Base(filepath.Dir(d))
		for _, o := range benchmarks {
			if strings.HasPrefix(o.Name, name+"-") && (base == o.Name || strings.HasPrefix(base, o.Name+"-")) {
				return true
			}
		}
		return false
	})
	dirs = append([]string{filepath.Join(workDir, name, "ml")}, dirs...)
	for _, d := range dirs {
		if ents, err := os.ReadDir(filepath.Join(d, "model")); err == nil && len(ents) > 0 {
			return d
		}
	}
	return ""
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

func runColdStart(e *env) []ColdStart {
	var out []ColdStart
	for _, b := range benchmarks {
		cs := ColdStart{Algorithm: b.Name}
		bin := abs(filepath.Join(e.BinDir, b.binary()))
		root := findModel(e.WorkDir, b.Name)
		switch {
		case !exists(bin):
			cs.Skipped = "no " + bin
		case root == "":
			cs.Skipped = "no trained model under " + filepath.Join(e.WorkDir, b.Name+"[-*]/ml/model") + " (run its benchmark first)"
		default:
			cs.Model = filepath.Join(root, "model")
			cs.ModelBytes = dirSize(cs.Model)
			for range coldStartRuns {
				d, err := coldStartOnce(bin, abs(root))
				if err != nil {
					cs.Skipped = err.Error()
					break
				}
				cs.EachMs = append(cs.EachMs, float64(d.Microseconds())/1000)
			}
			if len(cs.EachMs) == coldStartRuns {
				cs.Skipped = ""
				cs.MedianMs = median(cs.EachMs)
				cs.Met = cs.MedianMs < 100
			}
		}
		if cs.Skipped != "" {
			fmt.Printf("   %-15s skipped: %s\n", cs.Algorithm, cs.Skipped)
		} else {
			fmt.Printf("   %-15s median %.1f ms to the first 200 from /ping (each %v), model %d bytes\n", cs.Algorithm, cs.MedianMs, cs.EachMs, cs.ModelBytes)
		}
		out = append(out, cs)
	}
	return out
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// coldStartOnce starts `bin serve` and polls /ping every millisecond with
// one keep-alive client until it answers 200; the time from just before
// the fork to that answer.
func coldStartOnce(bin, root string) (time.Duration, error) {
	port, err := harness.FreePort()
	if err != nil {
		return 0, err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/ping"
	client := &http.Client{Timeout: 100 * time.Millisecond, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	cmd := exec.Command(bin, "serve", "--ml-root", root, "--port", strconv.Itoa(port))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	for time.Since(start) < 30*time.Second {
		select {
		case err := <-done:
			done <- err
			return 0, fmt.Errorf("serve exited before /ping answered 200: %v", err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("no 200 from /ping within 30 s")
}

func coldStartMarkdown(b *strings.Builder, cs []ColdStart) {
	fmt.Fprintf(b, "\n## Cold start: process start to the first 200 from /ping\n\n")
	fmt.Fprintf(b, "`bin/<algo> serve` on the model its benchmark trained, /ping polled every 1 ms by one keep-alive client; median of %d starts. Target < 100 ms.\n\n", coldStartRuns)
	fmt.Fprintf(b, "| algorithm | model bytes | median ms | each ms | < 100 ms |\n|---|---|---|---|---|\n")
	for _, c := range cs {
		if c.Skipped != "" {
			fmt.Fprintf(b, "| %s | | | skipped: %s | |\n", c.Algorithm, c.Skipped)
			continue
		}
		each := make([]string, len(c.EachMs))
		for i, v := range c.EachMs {
			each[i] = strconv.FormatFloat(v, 'f', 1, 64)
		}
		fmt.Fprintf(b, "| %s | %d | %.1f | %s | %s |\n", c.Algorithm, c.ModelBytes, c.MedianMs, strings.Join(each, ", "), met(c.Met))
	}
}
