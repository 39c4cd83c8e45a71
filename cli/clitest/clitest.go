// Package clitest is the scaffolding of the algorithm binaries' end-to-end
// tests (cmd/*/e2e_test.go): build the binary once in TestMain, exec it
// (`BINARY train`, `BINARY serve`) with a time limit, read the SDK-written
// fixtures in testdata/sdk, and talk HTTP to a running server. The ml roots
// themselves come from trainer/trainertest.
//
// It is a normal package so that every cmd's tests can import it; only
// tests do.
package clitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sagebrush-ml/sagebrush/trainer/trainertest"
)

// BuildMain builds the main package in the current directory (the test's
// cmd directory, where `go test` runs it) into a temporary directory as
// name, sets *bin to the binary's path, runs the tests and removes the
// directory. It returns the exit code for os.Exit. The build honours
// CGO_ENABLED from the environment and defaults it to 0, as the image is
// built; under `go test -race` the binary is built with -race (and cgo).
//
//	func TestMain(m *testing.M) { os.Exit(clitest.BuildMain(m, "kmeans", &binary)) }
func BuildMain(m *testing.M, name string, bin *string) int {
	dir, err := os.MkdirTemp("", name+"-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: the go command is not on PATH:", err)
		return 1
	}
	*bin = filepath.Join(dir, name)
	args := []string{"build", "-o", *bin}
	if Race {
		args = append(args, "-race")
	}
	build := exec.Command(gobin, append(args, ".")...)
	build.Env = os.Environ()
	if _, ok := os.LookupEnv("CGO_ENABLED"); !ok && !Race {
		build.Env = append(build.Env, "CGO_ENABLED=0")
	}
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/%s: %v\n", name, err)
		return 1
	}
	return m.Run()
}

// sdkDir is the repository's testdata/sdk, found from this file's own
// location so that it works from any test directory.
var sdkDir = func() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("..", "..", "testdata", "sdk")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "sdk")
}()

// Fixture returns the bytes of testdata/sdk/name.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sdkDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Result is a finished run of a binary.
type Result struct {
	Code           int
	Stdout, Stderr string
	output         string // stdout and stderr interleaved as written
}

// Log is everything the run printed, stdout and stderr interleaved.
func (r Result) Log() string { return r.output }

// TrainTimeout bounds one Train run; the test data are tiny, so a run that
// takes this long is hung.
const TrainTimeout = 30 * time.Second

// Run execs bin with args and env (added to the environment), waits for
// it, and returns its exit code and output. The test fails at once if the
// run is still going after timeout or cannot be started.
func Run(t testing.TB, env []string, timeout time.Duration, bin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	var all syncBuffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, &all), io.MultiWriter(&stderr, &all)
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: still running after %v\nstdout:\n%s\nstderr:\n%s", bin, strings.Join(args, " "), timeout, &stdout, &stderr)
	}
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("exec %s: %v", bin, err)
		}
		code = ee.ExitCode()
	}
	return Result{Code: code, Stdout: stdout.String(), Stderr: stderr.String(), output: all.String()}
}

// Train runs `bin train --ml-root root` within TrainTimeout.
func Train(t testing.TB, bin, root string) Result {
	t.Helper()
	return Run(t, nil, TrainTimeout, bin, "train", "--ml-root", root)
}

// Process is a running binary; it is killed at the test's cleanup if it is
// still running then.
type Process struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan error // holds Wait's error once the process has exited
}

// Start execs bin with args and env (added to the environment) and returns
// at once; its stdout and stderr are collected for Output.
func Start(t testing.TB, env []string, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{out: &syncBuffer{}, exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		err := <-p.exited
		p.exited <- err
	})
	return p
}

// Output is what the process has printed so far, stdout and stderr
// interleaved.
func (p *Process) Output() string { return p.out.String() }

// Signal sends sig to the process.
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// Exited reports, without waiting, whether the process has exited, and
// if so its exit code (see Wait).
func (p *Process) Exited() (code int, ok bool) {
	select {
	case err := <-p.exited:
		p.exited <- err
		return exitCode(err), true
	default:
		return 0, false
	}
}

// Wait waits up to timeout for the process to exit. ok is false if it is
// still running; otherwise code is its exit code, -1 if a signal killed it
// or waiting for it failed.
func (p *Process) Wait(timeout time.Duration) (code int, ok bool) {
	select {
	case err := <-p.exited:
		p.exited <- err
		return exitCode(err), true
	case <-time.After(timeout):
		return 0, false
	}
}

// StopInTestPass starts `bin train --ml-root root`, whose test channel is
// in Pipe mode with no pipe ever written, waits for marker in the log
// (training is done; the test pass waits for its pipe) and sends SIGTERM.
// The process must exit 143 without a failure file, having saved the
// finished model: model/ holds want, and load reads it.
func StopInTestPass(t testing.TB, bin, root, marker string, want []string, load func(dir string) error) {
	t.Helper()
	p := Start(t, nil, bin, "train", "--ml-root", root)
	for deadline := time.Now().Add(TrainTimeout); !strings.Contains(p.Output(), marker); {
		if _, ok := p.Exited(); ok || time.Now().After(deadline) {
			t.Fatalf("the log never showed %q before SIGTERM\nlog:\n%s", marker, p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Signal(t, syscall.SIGTERM)
	code, ok := p.Wait(5 * time.Second)
	if !ok {
		t.Fatalf("still running 5 s after SIGTERM\nlog:\n%s", p.Output())
	}
	if code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143\nlog:\n%s", code, p.Output())
	}
	if f, ok := trainertest.Failure(t, root); ok {
		t.Errorf("output/failure after SIGTERM: %q, want none", f)
	}
	if got := trainertest.ModelFiles(t, root); !slices.Equal(got, want) {
		t.Fatalf("model/ holds %q after SIGTERM in the test pass, want %q\nlog:\n%s", got, want, p.Output())
	}
	if err := load(filepath.Join(root, "model")); err != nil {
		t.Errorf("the saved model does not load: %v", err)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// ServerConfig says how to start `BIN serve`.
type ServerConfig struct {
	Bin, Root string
	// Port is the --port flag; 0 picks a free port.
	Port int
	// ListenPort is where the server is expected to listen (/ping is
	// polled there); 0 means Port.
	ListenPort int
	// Env is added to the environment.
	Env []string
	// StartTimeout bounds exec to the first 200 from /ping; 0 means 5 s.
	StartTimeout time.Duration
	// StopTimeout bounds SIGTERM to exit; 0 means 5 s.
	StopTimeout time.Duration
}

// Server is a running `BIN serve`.
type Server struct {
	// URL is http://127.0.0.1:PORT, without a trailing slash.
	URL string

	t           testing.TB
	p           *Process
	stopTimeout time.Duration
	stopOnce    sync.Once
}

// StartServer execs `bin serve --ml-root root --port port` with env added
// and waits (5 s at most) for /ping to answer 200 on port. The server is
// stopped at the test's cleanup as Stop stops it.
func StartServer(t testing.TB, bin, root string, port int, env ...string) *Server {
	t.Helper()
	return Serve(t, ServerConfig{Bin: bin, Root: root, Port: port, Env: env})
}

// Serve execs `c.Bin serve --ml-root c.Root --port c.Port` and waits for
// /ping to answer 200 on c.ListenPort; the test fails at once if the
// server exits first or does not answer within c.StartTimeout. It logs the
// cold start, from exec to the first 200. The server is stopped at the
// test's cleanup as Stop stops it, unless Stop was called before.
func Serve(t testing.TB, c ServerConfig) *Server {
	t.Helper()
	if c.Port == 0 {
		c.Port = FreePort(t)
	}
	if c.ListenPort == 0 {
		c.ListenPort = c.Port
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 5 * time.Second
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 5 * time.Second
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(c.ListenPort), t: t, stopTimeout: c.StopTimeout}
	start := time.Now()
	s.p = Start(t, c.Env, c.Bin, "serve", "--ml-root", c.Root, "--port", strconv.Itoa(c.Port))
	t.Cleanup(s.Stop) // runs before Start's kill
	client := &http.Client{Timeout: time.Second}
	for deadline := start.Add(c.StartTimeout); ; {
		resp, err := client.Get(s.URL + "/ping")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if code, ok := s.p.Exited(); ok {
			s.stopOnce.Do(func() {})
			t.Fatalf("serve exited (code %d) before /ping answered 200\nlog:\n%s", code, s.p.Output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ping did not answer 200 within %v\nlog:\n%s", c.StartTimeout, s.p.Output())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("cold start: %v from exec to the first 200 from /ping", time.Since(start).Round(100*time.Microsecond))
	return s
}

// Output is what the server has printed so far.
func (s *Server) Output() string { return s.p.Output() }

// Stop sends SIGTERM and checks that the server exits 0 within the stop
// timeout; only the first call does anything.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		t := s.t
		t.Helper()
		if code, ok := s.p.Exited(); ok {
			t.Errorf("serve exited (code %d) before SIGTERM\nlog:\n%s", code, s.p.Output())
			return
		}
		if err := s.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM: %v", err)
			return
		}
		code, ok := s.p.Wait(s.stopTimeout)
		switch {
		case !ok:
			t.Errorf("serve still running %v after SIGTERM\nlog:\n%s", s.stopTimeout, s.p.Output())
		case code != 0:
			t.Errorf("serve after SIGTERM: exit code %d, want 0\nlog:\n%s", code, s.p.Output())
		}
	})
}

// Response is a server's answer.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
}

// Post sends body to path with the Content-Type and Accept headers (each
// left out when empty).
func (s *Server) Post(t testing.TB, path, contentType, accept string, body []byte) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return do(t, req)
}

// Get gets path.
func (s *Server) Get(t testing.TB, path string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) Response {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: b}
}

// TwoHosts are the hosts of the multi-host tests: loopback addresses, so
// that the second process reaches the first by its name on this machine.
var TwoHosts = []string{"127.0.0.1", "127.0.0.2"}

// HostRoots makes one ml root per shard, host i of TwoHosts, each with hp
// and its shard as the CSV train channel (file shard.csv) plus the
// channels of extra (the same on every host).
func HostRoots(t testing.TB, hp map[string]string, shards [][]byte, extra map[string]trainertest.Channel) []string {
	t.Helper()
	roots := make([]string, len(shards))
	for i := range roots {
		chans := map[string]trainertest.Channel{"train": {ContentType: "text/csv", Files: map[string][]byte{"shard.csv": shards[i]}}}
		for name, c := range extra {
			chans[name] = c
		}
		roots[i] = trainertest.NewOptML(t, hp, chans)
		trainertest.WriteResourceConfig(t, roots[i], TwoHosts[i], TwoHosts[:len(shards)])
	}
	return roots
}

// TrainHosts runs `bin train` for each host's ml root at once, the leader
// listening on a free port (SAGEBRUSH_CLUSTER_PORT, cluster.PortEnv, named
// here because cluster's own tests import this package), and returns their
// exit codes and logs.
func TrainHosts(t testing.TB, bin string, roots []string) ([]int, []string) {
	t.Helper()
	env := []string{"SAGEBRUSH_CLUSTER_PORT=" + strconv.Itoa(FreePort(t))}
	procs := make([]*Process, len(roots))
	for i := len(roots) - 1; i >= 0; i-- { // followers first: they wait for the leader
		procs[i] = Start(t, env, bin, "train", "--ml-root", roots[i])
	}
	codes, logs := make([]int, len(roots)), make([]string, len(roots))
	for i, p := range procs {
		code, ok := p.Wait(TrainTimeout)
		if !ok {
			t.Fatalf("host %s still running after %v\nlog:\n%s", TwoHosts[i], TrainTimeout, p.Output())
		}
		codes[i], logs[i] = code, p.Output()
	}
	return codes, logs
}

// HostsSucceeded stops the test unless every host of TrainHosts exited 0,
// showing the first failing host's failure file and log, and every
// following host's last line says that the leader saves the model.
func HostsSucceeded(t testing.TB, roots []string, codes []int, logs []string) {
	t.Helper()
	for i, code := range codes {
		if code != 0 {
			f, _ := trainertest.Failure(t, roots[i])
			t.Fatalf("host %s: exit %d, failure %q\nlog:\n%s", TwoHosts[i], code, f, logs[i])
		}
	}
	for i, l := range logs[1:] {
		if last := l[strings.LastIndexByte(strings.TrimRight(l, "\n"), '\n')+1:]; !strings.HasSuffix(strings.TrimSpace(last), "training completed; the leading host "+TwoHosts[0]+" saves the model") {
			t.Errorf("host %s ends its log with %q, want the line saying the leading host saves the model", TwoHosts[i+1], last)
		}
	}
}

// HostsFailed checks a job of TrainHosts that must fail with a
// ClientError: every host exits 2 with a failure file that starts
// "ClientError: " and holds each of want, and no host writes a model. When
// culprit is not empty, the leader's failure must name that host as the
// one that failed (the reason travels from the failing host to the others).
func HostsFailed(t testing.TB, roots []string, codes []int, logs []string, culprit string, want ...string) {
	t.Helper()
	for i := range roots {
		f, _ := trainertest.Failure(t, roots[i])
		ok := codes[i] == 2 && strings.HasPrefix(f, "ClientError: ")
		for _, w := range want {
			ok = ok && strings.Contains(f, w)
		}
		if !ok {
			t.Errorf("host %s: exit %d, failure %q; want exit 2 and a ClientError with %q\nlog:\n%s", TwoHosts[i], codes[i], f, want, logs[i])
		}
		if i == 0 && culprit != "" && !strings.Contains(f, "host "+culprit+" failed") {
			t.Errorf("the leader's failure %q does not name the failing host %s", f, culprit)
		}
		if got := trainertest.ModelFiles(t, roots[i]); len(got) != 0 {
			t.Errorf("host %s wrote %q after the job failed", TwoHosts[i], got)
		}
	}
}
