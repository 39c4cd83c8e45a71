package harness

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestWaitPing: a server that answers 200 after a few tries is waited for;
// one that never does times out; a process that exits ends the wait at
// once with ErrExited.
func TestWaitPing(t *testing.T) {
	tries := 0
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tries++; tries < 3 {
			http.Error(w, "loading", http.StatusServiceUnavailable)
		}
	}))
	defer ready.Close()
	if err := WaitPing(ready.URL+"/ping", 5*time.Second, nil); err != nil || tries != 3 {
		t.Errorf("ready after 3 tries: %v after %d", err, tries)
	}

	never := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "loading", http.StatusServiceUnavailable)
	}))
	defer never.Close()
	err := WaitPing(never.URL+"/ping", 50*time.Millisecond, nil)
	if err == nil || errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "503") {
		t.Errorf("never ready: %v, want a timeout naming the last status", err)
	}

	exited := make(chan error, 1)
	exited <- errors.New("exit status 2")
	start := time.Now()
	err = WaitPing(never.URL+"/ping", 5*time.Second, exited)
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "exit status 2") || time.Since(start) > time.Second {
		t.Errorf("exited: %v after %v", err, time.Since(start))
	}
}
