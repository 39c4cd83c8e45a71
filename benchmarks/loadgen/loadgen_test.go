package loadgen

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRunKeepAliveAndClose(t *testing.T) {
	for _, closeConn := range []bool{false, true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/bad" {
				http.Error(w, "no", http.StatusTeapot)
				return
			}
			if closeConn {
				w.Header().Set("Connection", "close")
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(trivialBody)
		}))
		addr := strings.TrimPrefix(srv.URL, "http://")
		req := BuildRequest(addr, "/invocations", map[string]string{"Content-Type": "text/csv"}, []byte("1,2,3\n"))
		res, err := Run(Config{Addr: addr, Requests: [][]byte{req}, Concurrency: 4, Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != 0 || res.RPS <= 0 || res.P50Ms > res.P99Ms || res.P99Ms > res.MaxMs {
			t.Errorf("close=%v: %+v", closeConn, res)
		}
		if closeConn && res.Reconnects < res.Requests {
			t.Errorf("close=%v: %d reconnects for %d requests", closeConn, res.Reconnects, res.Requests)
		}
		if !strings.Contains(string(res.Sample), "closest_cluster") {
			t.Errorf("sample %q", res.Sample)
		}
		bad := BuildRequest(addr, "/bad", nil, nil)
		res, err = Run(Config{Addr: addr, Requests: [][]byte{bad}, Concurrency: 2, Duration: 100 * time.Millisecond})
		if err == nil || res.Errors == 0 || !strings.Contains(res.FirstError, "418") {
			t.Errorf("bad: %v %+v", err, res)
		}
		srv.Close()
	}
}

// TestServeTrivial: the ceiling server answers the generator's requests
// over keep-alive connections with its fixed body.
func TestServeTrivial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go ServeTrivial(ln)
	addr := ln.Addr().String()
	req := BuildRequest(addr, "/invocations", map[string]string{"Content-Type": "text/csv"}, []byte("1,2,3\n"))
	res, err := Run(Config{Addr: addr, Requests: [][]byte{req}, Concurrency: 2, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 || res.Reconnects > 2 || string(res.Sample) != string(trivialBody) {
		t.Errorf("%+v", res)
	}
}
