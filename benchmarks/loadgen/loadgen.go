// Package loadgen is a closed-loop HTTP/1.1 load generator for loopback
// serving benchmarks: Concurrency clients, each on its own keep-alive TCP
// connection, send pre-built requests back to back for a warm-up and then
// a measured window, and the run reports requests/s and latency
// percentiles of the requests that completed inside the window.
//
// It works on raw net.Conns with requests serialised once up front (no
// net/http client, no per-request allocation beyond what reading the
// response needs), so that on a small machine the generator takes as little
// CPU from the server as it can. Its own ceiling is measured by running it
// against a trivial server (ServeTrivial) and should be reported next to
// any figure it produces.
//
// A server that closes the connection after a response (Connection: close,
// as gunicorn's sync workers do) is handled by reconnecting; the time to
// reconnect counts in the next request's latency, as a client sees it.
package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Config is one run.
type Config struct {
	Addr        string        // host:port
	Requests    [][]byte      // raw HTTP/1.1 requests (see BuildRequest); client i starts at Requests[i % len] and cycles
	Concurrency int           // clients, one connection each
	Warmup      time.Duration // not measured
	Duration    time.Duration // measured window after Warmup
	// Timeout bounds one request (dial, write, read); 0 means 5 s. A
	// request that times out counts as an error.
	Timeout time.Duration
}

// Result is what a run measured in its window.
type Result struct {
	Concurrency int     `json:"concurrency"`
	DurationS   float64 `json:"duration_s"` // measured window
	WarmupS     float64 `json:"warmup_s"`
	Requests    int64   `json:"requests"` // completed with a 2xx inside the window
	Errors      int64   `json:"errors"`   // non-2xx, I/O errors or timeouts inside the window
	Reconnects  int64   `json:"reconnects"`
	RPS         float64 `json:"requests_per_s"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	MeanMs      float64 `json:"mean_ms"`
	FirstError  string  `json:"first_error,omitempty"`
	// Sample is the body of one successful response, to check it.
	Sample []byte `json:"-"`
}

// BuildRequest serialises a POST (or a GET when body is nil) of body to
// path with the given headers, keep-alive, as raw HTTP/1.1 bytes.
func BuildRequest(host, path string, headers map[string]string, body []byte) []byte {
	var b bytes.Buffer
	method := "POST"
	if body == nil {
		method = "GET"
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, host)
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, headers[k])
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// Run drives the load and returns the figures of the measured window. It
// fails only when no request at all succeeded.
func Run(cfg Config) (*Result, error) {
	if cfg.Concurrency < 1 || len(cfg.Requests) == 0 || cfg.Duration <= 0 {
		return nil, errors.New("loadgen: need Concurrency >= 1, at least one request and a positive Duration")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	start := time.Now()
	from := start.Add(cfg.Warmup)
	until := from.Add(cfg.Duration)

	workers := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{cfg: &cfg, next: i % len(cfg.Requests), from: from, until: until,
			lat: make([]int64, 0, 1<<16)}
		workers[i] = w
		wg.Add(1)
		go func() { defer wg.Done(); w.loop() }()
	}
	wg.Wait()

	res := &Result{Concurrency: cfg.Concurrency, DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds()}
	var all []int64
	for _, w := range workers {
		all = append(all, w.lat...)
		res.Errors += w.errors
		res.Reconnects += w.reconnects
		if res.FirstError == "" && w.firstErr != nil {
			res.FirstError = w.firstErr.Error()
		}
		if res.Sample == nil && w.sample != nil {
			res.Sample = w.sample
		}
	}
	res.Requests = int64(len(all))
	if len(all) == 0 {
		return res, fmt.Errorf("loadgen: no request succeeded (errors: %d, first: %s)", res.Errors, res.FirstError)
	}
	slices.Sort(all)
	var sum float64
	for _, v := range all {
		sum += float64(v)
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	pct := func(p float64) float64 {
		i := int(p*float64(len(all))+0.5) - 1
		return ms(all[min(max(i, 0), len(all)-1)])
	}
	res.RPS = float64(len(all)) / cfg.Duration.Seconds()
	res.P50Ms, res.P90Ms, res.P99Ms = pct(0.50), pct(0.90), pct(0.99)
	res.MaxMs = ms(all[len(all)-1])
	res.MeanMs = sum / float64(len(all)) / 1e6
	return res, nil
}

type worker struct {
	cfg         *Config
	next        int
	from, until time.Time

	conn       net.Conn
	br         *bufio.Reader
	lat        []int64 // ns, requests that started at/after from and ended by until
	errors     int64
	reconnects int64
	firstErr   error
	sample     []byte
	discard    []byte
}

func (w *worker) loop() {
	defer func() {
		if w.conn != nil {
			w.conn.Close()
		}
	}()
	for {
		t0 := time.Now()
		if !t0.Before(w.until) {
			return
		}
		req := w.cfg.Requests[w.next]
		w.next = (w.next + 1) % len(w.cfg.Requests)
		ok, err := w.do(req, t0)
		t1 := time.Now()
		inWindow := !t0.Before(w.from) && !t1.After(w.until)
		switch {
		case err != nil:
			if w.conn != nil {
				w.conn.Close()
				w.conn = nil
			}
			if t1.After(w.until) && isTimeout(err) {
				return // cut off by the end of the window, not an error
			}
			if inWindow {
				w.errors++
				if w.firstErr == nil {
					w.firstErr = err
				}
			}
			if errors.Is(err, errRefused) {
				time.Sleep(10 * time.Millisecond)
			}
		case !ok:
			if inWindow {
				w.errors++
			}
		case inWindow:
			w.lat = append(w.lat, t1.Sub(t0).Nanoseconds())
		}
	}
}

var errRefused = errors.New("connection failed")

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %s", e.code, e.body) }

// do sends one request and reads its response; ok is a 2xx.
func (w *worker) do(req []byte, t0 time.Time) (ok bool, err error) {
	if w.conn == nil {
		c, err := net.DialTimeout("tcp", w.cfg.Addr, w.cfg.Timeout)
		if err != nil {
			return false, fmt.Errorf("%w: %v", errRefused, err)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		w.conn = c
		w.reconnects++
		if w.br == nil {
			w.br = bufio.NewReaderSize(c, 64<<10)
		} else {
			w.br.Reset(c)
		}
	}
	deadline := t0.Add(w.cfg.Timeout)
	if deadline.After(w.until.Add(time.Second)) {
		// Do not let a stuck request hold the run past its end.
		deadline = w.until.Add(time.Second)
	}
	w.conn.SetDeadline(deadline)
	if _, err := w.conn.Write(req); err != nil {
		return false, err
	}
	code, closeConn, body, err := w.readResponse()
	if err != nil {
		return false, err
	}
	if closeConn {
		w.conn.Close()
		w.conn = nil
	}
	if code < 200 || code > 299 {
		if w.firstErr == nil && !t0.Before(w.from) {
			w.firstErr = &statusError{code: code, body: string(body[:min(len(body), 200)])}
		}
		return false, nil
	}
	if w.sample == nil {
		w.sample = bytes.Clone(body)
	}
	return true, nil
}

// readResponse reads one response: status code, whether the server will
// close the connection, and the body (valid until the next call).
func (w *worker) readResponse() (code int, closeConn bool, body []byte, err error) {
	line, err := w.br.ReadSlice('\n')
	if err != nil {
		return 0, false, nil, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, nil, fmt.Errorf("bad status line %q", line)
	}
	code, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, nil, fmt.Errorf("bad status line %q", line)
	}
	http10 := line[7] == '0'
	closeConn = http10
	length, chunked := -1, false
	for {
		h, err := w.br.ReadSlice('\n')
		if err != nil {
			return 0, false, nil, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, found := bytes.Cut(h, []byte(":"))
		if !found {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case asciiEq(k, "content-length"):
			length, err = strconv.Atoi(string(v))
			if err != nil {
				return 0, false, nil, fmt.Errorf("bad Content-Length %q", v)
			}
		case asciiEq(k, "transfer-encoding"):
			chunked = strings.Contains(strings.ToLower(string(v)), "chunked")
		case asciiEq(k, "connection"):
			lv := strings.ToLower(string(v))
			if strings.Contains(lv, "close") {
				closeConn = true
			} else if strings.Contains(lv, "keep-alive") {
				closeConn = false
			}
		}
	}
	switch {
	case chunked:
		body, err = w.readChunked()
	case length >= 0:
		body, err = w.readN(length)
	default: // until EOF
		body, err = io.ReadAll(w.br)
		closeConn = true
	}
	return code, closeConn, body, err
}

func (w *worker) readN(n int) ([]byte, error) {
	if cap(w.discard) < n {
		w.discard = make([]byte, n)
	}
	b := w.discard[:n]
	_, err := io.ReadFull(w.br, b)
	return b, err
}

func (w *worker) readChunked() ([]byte, error) {
	var out []byte
	for {
		line, err := w.br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		s := strings.TrimSpace(string(line))
		if i := strings.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
		n, err := strconv.ParseInt(s, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			for { // trailers
				t, err := w.br.ReadSlice('\n')
				if err != nil {
					return nil, err
				}
				if len(bytes.TrimSpace(t)) == 0 {
					return out, nil
				}
			}
		}
		chunk := make([]byte, n+2)
		if _, err := io.ReadFull(w.br, chunk); err != nil {
			return nil, err
		}
		out = append(out, chunk[:n]...)
	}
}

func asciiEq(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// trivialBody is the trivial server's answer to every request.
var trivialBody = []byte(`{"predictions":[{"closest_cluster":0.0,"distance_to_cluster":0.0}]}`)

// ServeTrivial answers every request on ln 200 with a short fixed JSON body
// after reading the request: the server side of the generator's ceiling
// measurement. It runs on fasthttp, as the servers it is a ceiling for do
// (serve/conn.go); net/http costs more per request on loopback.
func ServeTrivial(ln net.Listener) error {
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/json")
			ctx.SetBody(trivialBody)
		},
		NoDefaultServerHeader: true,
		ReadBufferSize:        64 << 10,
		WriteBufferSize:       64 << 10,
	}
	return srv.Serve(ln)
}
