package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// The connection layer. fasthttp reads requests and writes responses; the
// gin engine (Handler) answers them, as it would under net/http. On a
// 2-core host with the load generator beside it, net/http's per-request
// machinery (a background read goroutine per request, its deadline dance,
// more scheduler wake-ups) kept 1-row requests to about 14k/s with a p99
// over 2 ms at 4 connections; fasthttp's worker pool carries the same
// handler at 18.3-19.9k/s with a p99 of 0.89-1.02 ms (the measurements in
// benchmarks/README.md and docs/DECISIONS.md).

const (
	// connBufferSize is each connection's read and write buffer. A request
	// header must fit in it (431 otherwise); 64 KiB is far above the 1 KiB
	// SageMaker allows for custom attributes, and a 100-row response goes
	// out in one write.
	connBufferSize = 64 << 10
	// bodyReadTimeout bounds reading a large or chunked body, instead of
	// requestReadTimeout: an hour, the longest InvocationsTimeoutInSeconds
	// a transform job may set. It only guards against a client gone silent.
	bodyReadTimeout = time.Hour
	// largeBody is the declared length above which a body gets
	// bodyReadTimeout.
	largeBody = 1 << 20
)

// newConnServer returns the fasthttp server that carries s's connections.
// Bodies over the payload limit, headers over connBufferSize and
// unparseable requests are answered by readError before any handler runs.
func (s *Server) newConnServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:        s.serveConn,
		ErrorHandler:   s.readError,
		HeaderReceived: bodyTimeout,
		ExpectHandler:  s.expect,
		// From a request's first byte (the idle wait before it is
		// IdleTimeout) to its end; bodyTimeout extends it for large bodies.
		ReadTimeout:                  requestReadTimeout,
		IdleTimeout:                  idleTimeout,
		MaxRequestBodySize:           int(s.limit),
		ReadBufferSize:               connBufferSize,
		WriteBufferSize:              connBufferSize,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		Logger:                       connLogger{s.log},
	}
}

// connLogger passes fasthttp's log lines to the server's log, except the
// one for a connection ended by an error reading or writing it: a request
// that could not be read has had readError's answer, a client that went
// away needs none, and client errors are not logged (they are the hot path
// of a misconfigured batch job).
type connLogger struct{ log *log.Logger }

// connErrorFormat is the format of fasthttp's line for such a connection.
const connErrorFormat = "error when serving connection %q<->%q: %v"

func (l connLogger) Printf(format string, args ...any) {
	if format == connErrorFormat {
		return
	}
	l.log.Printf(format, args...)
}

// lingerTime is how long a closing connection keeps reading what the
// client still sends, as net/http's rstAvoidanceDelay.
const lingerTime = 500 * time.Millisecond

// lingerListener's TCP connections close as net/http closes one after an
// answer the client may not have read yet: FIN first, then what the client
// still sends is read and dropped for up to lingerTime, then the close. A
// plain close with unread input sends a reset, which can destroy the 413
// for a body over the limit before the client, still sending it, reads it.
type lingerListener struct{ net.Listener }

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		return &lingerConn{TCPConn: tc}, nil
	}
	return c, err
}

type lingerConn struct {
	*net.TCPConn
	once sync.Once
}

// Close half-closes at once and finishes the close in the background, so
// that no server goroutine waits on the client.
func (c *lingerConn) Close() error {
	c.once.Do(func() {
		if c.CloseWrite() != nil {
			c.TCPConn.Close()
			return
		}
		go func() {
			c.SetReadDeadline(time.Now().Add(lingerTime))
			io.Copy(io.Discard, c.TCPConn)
			c.TCPConn.Close()
		}()
	})
	return nil
}

// bodyTimeout gives a large or chunked body bodyReadTimeout to arrive.
func bodyTimeout(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if n := h.ContentLength(); n > largeBody || n < 0 {
		return fasthttp.RequestConfig{ReadTimeout: bodyReadTimeout}
	}
	return fasthttp.RequestConfig{}
}

// expect answers Expect: 100-continue: a declared body over the payload
// limit gets its 413 at once, so the client does not send it first (curl
// 7.88 asks before sending a body over 1 MiB); any other gets 100 Continue.
// fasthttp sets the status itself and closes the connection after a
// refusal; the JSON body is set here.
func (s *Server) expect(ctx *fasthttp.RequestCtx) int {
	if n := ctx.Request.Header.ContentLength(); n > 0 && int64(n) > s.limit {
		status := http.StatusRequestEntityTooLarge
		connError(ctx, status, messageOf(nil, status, s.limit))
		return status
	}
	return fasthttp.StatusContinue
}

// readError answers a request that could not be read, with the same JSON
// body as every other error; fasthttp closes the connection after it.
func (s *Server) readError(ctx *fasthttp.RequestCtx, err error) {
	var (
		small  *fasthttp.ErrSmallBuffer
		netErr net.Error
		status int
		msg    string
	)
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status = http.StatusRequestEntityTooLarge
		msg = messageOf(err, status, s.limit)
	case errors.As(err, &small):
		status = http.StatusRequestHeaderFieldsTooLarge
		msg = fmt.Sprintf("the request header exceeds %d bytes", connBufferSize)
	case errors.As(err, &netErr) && netErr.Timeout():
		status = http.StatusRequestTimeout
		msg = "the request did not arrive in time"
	default:
		status = http.StatusBadRequest
		msg = "malformed HTTP request: " + err.Error()
	}
	ctx.Response.Reset()
	connError(ctx, status, msg)
}

// connError answers status with {"error": msg}, as writeError does for
// the gin handlers.
func connError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(errorJSON(msg))
}

// exchange is one request's net/http view of a fasthttp request, pooled:
// the request, its header map, a reader over the body, and the writer.
type exchange struct {
	req  http.Request
	body bytes.Reader
	w    connWriter
}

var exchangePool = sync.Pool{New: func() any {
	return &exchange{req: http.Request{Header: make(http.Header)}, w: connWriter{header: make(http.Header)}}
}}

// serveConn runs the gin engine on one request read by fasthttp. Strings
// are copied out of fasthttp's buffers, which the next request on the
// connection reuses; the body is read in place, as handlers consume it
// before they return.
func (s *Server) serveConn(ctx *fasthttp.RequestCtx) {
	uri := string(ctx.RequestURI())
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		connError(ctx, http.StatusBadRequest, fmt.Sprintf("malformed request target %q", uri))
		return
	}
	x := exchangePool.Get().(*exchange)
	defer x.release()

	h := x.req.Header
	for k, v := range ctx.Request.Header.All() {
		switch string(k) {
		case "Host", "Content-Length", "Transfer-Encoding":
			// carried by Request.Host and ContentLength, as net/http does
		default:
			key := string(k)
			h[key] = append(h[key], string(v))
		}
	}
	proto, minor := "HTTP/1.1", 1
	if !ctx.Request.Header.IsHTTP11() {
		proto, minor = "HTTP/1.0", 0
	}
	body := ctx.Request.Body()
	// RemoteAddr stays empty: no handler reads it, and formatting it was 3
	// of a 1-row request's 22 allocations (BenchmarkServeConn).
	x.req = http.Request{
		Method:        string(ctx.Method()),
		URL:           u,
		Proto:         proto,
		ProtoMajor:    1,
		ProtoMinor:    minor,
		Header:        h,
		Body:          http.NoBody,
		ContentLength: int64(len(body)),
		Host:          string(ctx.Host()),
		RequestURI:    uri,
	}
	if len(body) > 0 {
		x.body.Reset(body)
		x.req.Body = readCloser{&x.body}
	}
	x.w.ctx = ctx
	s.engine.ServeHTTP(&x.w, &x.req)
	x.w.finish()
}

func (x *exchange) release() {
	clear(x.req.Header)
	h := x.req.Header
	x.req = http.Request{Header: h}
	x.body.Reset(nil)
	x.w.reset()
	exchangePool.Put(x)
}

// readCloser is a body that needs no closing.
type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// connWriter is the http.ResponseWriter over a fasthttp response: headers
// are copied when the status is written, as net/http fixes them then, and
// the body goes to the response's buffer, which fasthttp writes after the
// handler returns.
type connWriter struct {
	ctx         *fasthttp.RequestCtx
	header      http.Header
	wroteHeader bool
}

func (w *connWriter) Header() http.Header { return w.header }

// WriteHeader fixes the status and headers; later calls are ignored, as in
// net/http. fasthttp sets Date and Content-Length itself.
func (w *connWriter) WriteHeader(status int) {
	if w.wroteHeader || status < 200 {
		return
	}
	w.wroteHeader = true
	resp := &w.ctx.Response
	resp.SetStatusCode(status)
	for k, vv := range w.header {
		switch k {
		case "Date", "Content-Length":
		default:
			for _, v := range vv {
				resp.Header.Add(k, v)
			}
		}
	}
}

func (w *connWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ctx.Write(p)
}

// Flush is a no-op: the whole response is written when the handler returns.
func (w *connWriter) Flush() {}

// finish completes a response the handler left without a status (200, as
// in net/http) and gives a non-empty body without a Content-Type the type
// net/http would sniff.
func (w *connWriter) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	resp := &w.ctx.Response
	if b := resp.Body(); len(b) > 0 && len(resp.Header.ContentType()) == 0 {
		resp.Header.SetContentType(http.DetectContentType(b))
	}
}

func (w *connWriter) reset() {
	clear(w.header)
	w.ctx = nil
	w.wroteHeader = false
}
