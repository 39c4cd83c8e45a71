// Package trainertest builds SageMaker ml roots (/opt/ml trees) in temporary
// directories for tests of the training runtime and of the algorithms'
// binaries, and serves Pipe-mode FIFOs.
package trainertest

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Channel describes one input channel of a job.
type Channel struct {
	ContentType string // omitted from inputdataconfig.json when empty
	Mode        string // "File" (default) or "Pipe"
	Compression string // CompressionType: "", "None" or "Gzip"
	// Files are the File-mode files by path relative to the channel
	// directory (subdirectories are created); the directory is created
	// even when Files is empty. Pipe-mode data is served by ServePipe.
	Files map[string][]byte
}

// NewOptML builds an ml root under t.TempDir() with
// input/config/{hyperparameters,inputdataconfig,resourceconfig}.json (a
// single host "algo-1"), input/data/<channel>/ for File-mode channels,
// model/ and output/, and returns its path.
func NewOptML(t testing.TB, hp map[string]string, channels map[string]Channel) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"input/config", "input/data", "model", "output"} {
		mkdir(t, filepath.Join(root, d))
	}
	if hp == nil {
		hp = map[string]string{}
	}
	writeJSON(t, filepath.Join(root, "input/config/hyperparameters.json"), hp)
	idc := make(map[string]map[string]string, len(channels))
	for name, c := range channels {
		e := map[string]string{
			"TrainingInputMode":  "File",
			"S3DistributionType": "FullyReplicated",
			"RecordWrapperType":  "None",
		}
		if c.Mode != "" {
			e["TrainingInputMode"] = c.Mode
		}
		if c.ContentType != "" {
			e["ContentType"] = c.ContentType
		}
		if c.Compression != "" {
			e["CompressionType"] = c.Compression
		}
		idc[name] = e
		if e["TrainingInputMode"] == "Pipe" {
			continue
		}
		dir := filepath.Join(root, "input/data", name)
		mkdir(t, dir)
		for rel, b := range c.Files {
			p := filepath.Join(dir, filepath.FromSlash(rel))
			mkdir(t, filepath.Dir(p))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeJSON(t, filepath.Join(root, "input/config/inputdataconfig.json"), idc)
	WriteResourceConfig(t, root, "algo-1", []string{"algo-1"})
	return root
}

// WriteResourceConfig (re)writes input/config/resourceconfig.json of root.
func WriteResourceConfig(t testing.TB, root, current string, hosts []string) {
	t.Helper()
	writeJSON(t, filepath.Join(root, "input/config/resourceconfig.json"),
		map[string]any{"current_host": current, "hosts": hosts})
}

// ServePipe creates the FIFO <root>/input/data/<channel>_<epoch> and, from
// a goroutine, writes data into it once a reader opens it, then closes it
// (the end of the epoch). A reader that closes early is fine. The goroutine
// is stopped when the test ends.
func ServePipe(t testing.TB, root, channel string, epoch int, data []byte) {
	t.Helper()
	path := PipePath(root, channel, epoch)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo %s: %v", path, err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var w *os.File
		for w == nil {
			// Opening the write end without a reader fails with ENXIO;
			// poll until the trainer opens the read end.
			f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			switch {
			case err == nil:
				w = f
			case errors.Is(err, syscall.ENXIO):
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			default:
				return
			}
		}
		defer w.Close()
		go func() {
			<-stop
			w.SetWriteDeadline(time.Now())
		}()
		w.Write(data)
	}()
	t.Cleanup(func() {
		close(stop)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("trainertest: the writer of %s did not stop", path)
		}
	})
}

// PipePath is the Pipe-mode FIFO of channel for epoch under root.
func PipePath(root, channel string, epoch int) string {
	return filepath.Join(root, "input/data", channel+"_"+strconv.Itoa(epoch))
}

// Failure returns the contents of output/failure and whether it exists.
func Failure(t testing.TB, root string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "output", "failure"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

// ModelFiles returns the names of the entries of model/, sorted.
func ModelFiles(t testing.TB, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "model"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func mkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
