// Package serve is the SageMaker serving runtime: gin handlers, carried by a
// fasthttp connection layer (conn.go), that answer GET /ping, POST
// /invocations and GET /execution-parameters for any algorithms.Model, as
// SageMaker's serving container contract asks
// (port 8080 or SAGEMAKER_BIND_TO_PORT, a SAGEMAKER_MAX_PAYLOAD_IN_MB body
// limit, readiness only once the model is loaded, graceful stop on SIGTERM).
//
// /invocations reads as four steps: bound the body, decode it (after
// negotiating Accept, so a bad Accept costs no prediction), predict, encode.
// Errors become statuses in one place (errors.go): 415 for a missing or
// unsupported Content-Type, 406 for an unsupported Accept, 413 above the
// payload limit, 400 for malformed input, 500 otherwise, each with a JSON
// body {"error": "..."}.
package serve

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/valyala/fasthttp"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/compute"
)

func init() {
	gin.SetMode(gin.ReleaseMode)
}

// Defaults of the serving contract.
const (
	// DefaultPort is the port SageMaker sends requests to.
	DefaultPort = 8080
	// DefaultMaxPayloadMB is the body limit when SAGEMAKER_MAX_PAYLOAD_IN_MB
	// is not set to a positive integer.
	DefaultMaxPayloadMB = 6
	// DefaultShutdownTimeout leaves a margin inside the 30 s SageMaker waits
	// between SIGTERM and SIGKILL.
	DefaultShutdownTimeout = 25 * time.Second

	idleTimeout = 120 * time.Second
)

// requestReadTimeout bounds a request from its first byte to its end, unless
// its body is large (a variable for tests).
var requestReadTimeout = 10 * time.Second

// The environment variables the runtime reads.
const (
	EnvBindToPort   = "SAGEMAKER_BIND_TO_PORT"
	EnvMaxPayloadMB = "SAGEMAKER_MAX_PAYLOAD_IN_MB"
)

// Options configure the server.
type Options struct {
	// Root is the ml root (/opt/ml); Run loads the model from Root/model.
	Root string
	// Port is the port to listen on; 0 means 8080. SAGEMAKER_BIND_TO_PORT,
	// when set, wins over it.
	Port int
	// Addr is the host to bind; "" binds all interfaces.
	Addr string
	// Log receives log lines (start, model load, shutdown, 500s, panics);
	// nil means os.Stderr.
	Log io.Writer
	// Listener, when not nil, is served instead of listening on Addr:Port.
	Listener net.Listener
	// ShutdownTimeout bounds how long requests in flight may take to finish
	// after ctx is cancelled; 0 means 25 s.
	ShutdownTimeout time.Duration
}

// Server holds the handler's state: the model (nil until loaded), the
// payload limit and the log.
type Server struct {
	model   atomic.Pointer[modelBox]
	limit   int64  // body limit in bytes
	limitMB int    // the same in MB, as /execution-parameters reports it
	params  []byte // the /execution-parameters body
	log     *log.Logger
	engine  *gin.Engine
}

// maxTransforms is MaxConcurrentTransforms for a host of cores: one
// request per core, within the 1 to 100 that CreateTransformJob accepts.
func maxTransforms(cores int) int { return min(max(cores, 1), 100) }

// modelBox lets an interface value live behind an atomic.Pointer.
type modelBox struct{ m algorithms.Model }

// NewServer returns a Server with no model: /ping answers 503 until
// SetModel. It reads SAGEMAKER_MAX_PAYLOAD_IN_MB now.
func NewServer(opts Options) *Server {
	w := opts.Log
	if w == nil {
		w = os.Stderr
	}
	s := &Server{log: log.New(w, "serve: ", log.LstdFlags|log.LUTC)}
	var warning string
	s.limitMB, warning = maxPayloadMB()
	if warning != "" {
		s.log.Print(warning)
	}
	s.limit = int64(s.limitMB) << 20
	s.params = fmt.Appendf(nil, `{"MaxConcurrentTransforms":%d,"BatchStrategy":"MULTI_RECORD","MaxPayloadInMB":%d}`,
		maxTransforms(runtime.NumCPU()), s.limitMB)

	e := gin.New()
	e.RedirectTrailingSlash = false
	e.HandleMethodNotAllowed = true
	e.Use(s.errorMiddleware, gin.CustomRecoveryWithWriter(nil, s.recoverPanic))
	e.GET("/ping", s.ping)
	e.POST("/invocations", s.invocations)
	e.GET("/execution-parameters", s.executionParameters)
	e.NoRoute(notFound)
	e.NoMethod(methodNotAllowed)
	s.engine = e
	return s
}

// maxPayloadMB is SAGEMAKER_MAX_PAYLOAD_IN_MB when it is a positive integer,
// else DefaultMaxPayloadMB. (SageMaker's 0, "arbitrarily large, chunked",
// is documented as unsupported by the built-in algorithms.)
func maxPayloadMB() (mb int, warning string) {
	v, ok := os.LookupEnv(EnvMaxPayloadMB)
	if !ok {
		return DefaultMaxPayloadMB, ""
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 1<<20 {
		return n, ""
	}
	return DefaultMaxPayloadMB, fmt.Sprintf("%s=%q is not a whole number of MB from 1 to 1048575; using %d", EnvMaxPayloadMB, v, DefaultMaxPayloadMB)
}

// SetModel makes m the model that /invocations uses and /ping reports
// ready. It is safe to call while requests are served.
func (s *Server) SetModel(m algorithms.Model) {
	s.model.Store(&modelBox{m: m})
}

// loaded returns the model, or nil before SetModel.
func (s *Server) loaded() algorithms.Model {
	if b := s.model.Load(); b != nil {
		return b.m
	}
	return nil
}

// Handler returns the gin engine answering /ping, /invocations and
// /execution-parameters; other paths get a JSON 404, other methods a JSON
// 405.
func (s *Server) Handler() http.Handler { return s.engine }

// ping answers 200 with an empty body once the model is loaded, else 503.
func (s *Server) ping(c *gin.Context) {
	if s.loaded() == nil {
		_ = c.Error(errModelLoading)
		return
	}
	c.Status(http.StatusOK)
}

// executionParameters answers batch transform's GET /execution-parameters.
func (s *Server) executionParameters(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", s.params)
}

// Run serves the model in Root/model until ctx is cancelled (SIGTERM), then
// shuts down gracefully: it stops accepting connections, lets requests in
// flight finish within ShutdownTimeout, and returns nil. It starts
// listening before it loads the model, so /ping answers 503 while algo.Load
// runs. It returns an error when the port cannot be bound, when
// SAGEMAKER_BIND_TO_PORT is not a port number, when the model fails to
// load, when serving fails, or when requests are still running at the
// shutdown deadline. Run closes opts.Listener when it returns.
func Run(ctx context.Context, algo algorithms.Algorithm, opts Options) error {
	s := NewServer(opts)
	if sel := compute.Selected(); sel.Err != nil {
		return fmt.Errorf("serve: compute device: %w", sel.Err)
	} else if sel.Message != "" {
		s.log.Printf("%s", sel.Message)
	}
	ln := opts.Listener
	if ln == nil {
		port, err := bindPort(opts.Port)
		if err != nil {
			return err
		}
		ln, err = net.Listen("tcp", net.JoinHostPort(opts.Addr, strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	srv := s.newConnServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lingerListener{ln}) }()
	s.log.Printf("listening on %s, payload limit %d MB", ln.Addr(), s.limitMB)

	dir := filepath.Join(opts.Root, "model")
	loaded := make(chan error, 1)
	go func() {
		start := time.Now()
		m, err := algo.Load(dir)
		if err == nil {
			s.SetModel(m)
			s.log.Printf("%s model loaded from %s in %v", algo.Name(), dir, time.Since(start).Round(time.Millisecond))
		}
		loaded <- err
	}()

	timeout := opts.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	for {
		select {
		case err := <-loaded:
			if err == nil {
				loaded = nil // keep serving
				continue
			}
			err = fmt.Errorf("serve: loading the %s model from %s: %w", algo.Name(), dir, err)
			s.log.Print(err)
			shutdown(srv, timeout)
			return err
		case err := <-served:
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
			s.log.Printf("shutting down: %v", context.Cause(ctx))
			if err := shutdown(srv, timeout); err != nil {
				return fmt.Errorf("serve: shutdown: %w", err)
			}
			s.log.Print("stopped")
			return nil
		}
	}
}

// shutdown stops srv gracefully: it closes the listener and idle
// connections and waits up to timeout for requests in flight to finish.
// Connections still busy then are left to the process's exit.
func shutdown(srv *fasthttp.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return srv.ShutdownWithContext(ctx)
}

// bindPort is SAGEMAKER_BIND_TO_PORT when set, else port, else 8080.
func bindPort(port int) (int, error) {
	if v := os.Getenv(EnvBindToPort); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			return 0, fmt.Errorf("serve: %s=%q is not a port number", EnvBindToPort, v)
		}
		return p, nil
	}
	if port == 0 {
		return DefaultPort, nil
	}
	return port, nil
}
