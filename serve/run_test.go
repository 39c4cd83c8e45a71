package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagebrush-ml/sagebrush/cli/clitest"
	"github.com/sagebrush-ml/sagebrush/compute"
)

// startRun runs Run in the background and returns its result channel.
func startRun(t *testing.T, ctx context.Context, algo *fakeAlgo, opts Options) <-chan error {
	t.Helper()
	if opts.Log == nil {
		opts.Log = &lockedWriter{w: io.Discard}
	}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, algo, opts) }()
	return done
}

// waitPing polls GET /ping on base until it answers want or 10 s pass.
func waitPing(t *testing.T, client *http.Client, base string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last := 0
	for time.Now().Before(deadline) {
		resp, err := client.Get(base + "/ping")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			last = resp.StatusCode
			if last == want {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("/ping never answered %d (last %d)", want, last)
}

// post sends a CSV body to /invocations and returns the status and body.
func post(client *http.Client, base, body string) (int, string, error) {
	resp, err := client.Post(base+"/invocations", "text/csv", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestRunLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	model := &fakeModel{started: make(chan struct{}, 1)}
	algo := &fakeAlgo{model: model, release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startRun(t, ctx, algo, Options{Root: t.TempDir(), Listener: ln, ShutdownTimeout: 5 * time.Second})
	client := &http.Client{Timeout: 10 * time.Second}

	// Listening before the model is loaded: 503, then 200 once Load returns.
	waitPing(t, client, base, http.StatusServiceUnavailable)
	close(algo.release)
	waitPing(t, client, base, http.StatusOK)

	status, body, err := post(client, base, "1,2,3\n4,0,6")
	if err != nil || status != http.StatusOK || !strings.Contains(body, `"predictions"`) {
		t.Fatalf("invocations: %d %q %v, want 200 with predictions", status, body, err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body, err := post(client, base, fmt.Sprintf("%d,1,1\n", i))
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("status %d: %s", status, body)
			}
			if err == nil && !strings.Contains(body, strconv.Itoa(i+2)) {
				err = fmt.Errorf("request %d: body %s lacks sum %d", i, body, i+2)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// A request in flight when ctx is cancelled still completes.
	slow := make(chan error, 1)
	go func() {
		status, body, err := post(client, base, fmt.Sprintf("%d,0,0", rowSlow))
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("status %d: %s", status, body)
		}
		slow <- err
	}()
	<-model.started
	// Connections the client dialed but never used count as busy for 5 s
	// in http.Server.Shutdown (StateNew); close them, as a real client's
	// would be by then.
	client.CloseIdleConnections()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err := <-slow; err != nil {
		t.Errorf("in-flight request: %v", err)
	}
	if _, err := client.Get(base + "/ping"); err == nil {
		t.Errorf("server still answers after Run returned")
	}
}

func TestRunLoadFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	loadErr := errors.New("model_algo-1 is truncated")
	var logs bytes.Buffer
	done := startRun(t, context.Background(), &fakeAlgo{err: loadErr},
		Options{Root: "/nonexistent", Listener: ln, Log: &lockedWriter{w: &logs}})
	select {
	case err := <-done:
		if !errors.Is(err, loadErr) || !strings.Contains(err.Error(), "/nonexistent/model") {
			t.Errorf("Run returned %v, want the load error naming /nonexistent/model", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after a failed load")
	}
	if !strings.Contains(logs.String(), "truncated") {
		t.Errorf("log %q does not mention the load error", logs.String())
	}
}

func TestRunBindToPort(t *testing.T) {
	port := clitest.FreePort(t)
	t.Setenv(EnvBindToPort, strconv.Itoa(port))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Port names another free port; the environment wins.
	done := startRun(t, ctx, &fakeAlgo{model: &fakeModel{}},
		Options{Root: t.TempDir(), Addr: "127.0.0.1", Port: clitest.FreePort(t)})
	client := &http.Client{Timeout: 5 * time.Second}
	waitPing(t, client, "http://127.0.0.1:"+strconv.Itoa(port), http.StatusOK)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
}

func TestRunBadPort(t *testing.T) {
	for _, tc := range []struct{ name, env string }{
		{"not a number", "eighty"},
		{"out of range", "70000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvBindToPort, tc.env)
			err := Run(context.Background(), &fakeAlgo{model: &fakeModel{}}, Options{Addr: "127.0.0.1", Log: io.Discard})
			if err == nil || !strings.Contains(err.Error(), EnvBindToPort) {
				t.Errorf("Run returned %v, want an error naming %s", err, EnvBindToPort)
			}
		})
	}
	t.Run("port taken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		t.Setenv(EnvBindToPort, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		if err := Run(context.Background(), &fakeAlgo{model: &fakeModel{}}, Options{Addr: "127.0.0.1", Log: io.Discard}); err == nil {
			t.Error("Run on a taken port returned nil")
		}
	})
}

// TestRunComputeSelectionFails: a forced device that could not be had stops
// the server before it listens.
func TestRunComputeSelectionFails(t *testing.T) {
	t.Cleanup(func() { compute.SetSelection(compute.Selection{}) })
	compute.SetSelection(compute.Selection{Err: errors.New("SAGEBRUSH_DEVICE=gpu, but no GPU is usable")})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Run(context.Background(), &fakeAlgo{}, Options{Root: t.TempDir(), Listener: ln, Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "compute device: SAGEBRUSH_DEVICE=gpu") {
		t.Fatalf("Run returned %v, want the device error", err)
	}
}
