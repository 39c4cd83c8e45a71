package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/internal/recovered"
)

// This file is where the handlers' errors become HTTP statuses. Handlers
// call c.Error(err) and return; errorMiddleware, which runs outermost,
// answers with the status statusOf picks and a JSON body {"error": "..."}.
// Requests fasthttp cannot read never reach a handler: conn.go's readError
// and expect answer them (413, 431, 408, 400) with the same body, the 413
// with messageOf's words.

// errModelLoading is returned by /invocations (and answered by /ping) while
// the model is not loaded yet.
var errModelLoading = errors.New("model is loading")

// supportedContentTypes lists the request types, for error messages.
var supportedContentTypes = strings.Join([]string{data.CSV, data.JSON, data.JSONLines, data.RecordIOProtobuf}, ", ")

// contentTypeError is a request whose Content-Type header is missing or
// does not parse; it is answered with 415.
type contentTypeError struct {
	Value string // the header as sent; empty when missing
	Err   error  // the parse error; nil when missing
}

func (e *contentTypeError) Error() string {
	if e.Err == nil {
		return "the Content-Type header is required; supported types are " + supportedContentTypes
	}
	return fmt.Sprintf("Content-Type: %v; supported types are %s", e.Err, supportedContentTypes)
}

func (e *contentTypeError) Unwrap() error     { return e.Err }
func (e *contentTypeError) ClientError() bool { return true }

// acceptError wraps whatever negotiating the Accept header returned, so
// that a malformed Accept (a *data.MediaTypeError) is a 406 and not a 415.
type acceptError struct{ Err error }

func (e *acceptError) Error() string     { return e.Err.Error() }
func (e *acceptError) Unwrap() error     { return e.Err }
func (e *acceptError) ClientError() bool { return true }

// panicError is a panic recovered in a handler.
type panicError struct{ Value any }

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// statusOf maps an error to its HTTP status, one case per status. The
// order matters where one error matches several: the Accept wrapper before
// the media-type errors, and typed 4xx before the generic client error.
func statusOf(err error) int {
	var (
		accept        *acceptError
		notAcceptable *data.NotAcceptableError
		contentType   *contentTypeError
		unsupported   *data.UnsupportedMediaTypeError
		mediaType     *data.MediaTypeError
		tooLarge      *http.MaxBytesError
	)
	switch {
	case errors.Is(err, errModelLoading):
		return http.StatusServiceUnavailable
	case errors.As(err, &accept), errors.As(err, &notAcceptable):
		return http.StatusNotAcceptable
	case errors.As(err, &contentType), errors.As(err, &unsupported), errors.As(err, &mediaType):
		return http.StatusUnsupportedMediaType
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	case algorithms.ClientError(err):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// messageOf is the one-sentence body text for err answered with status.
func messageOf(err error, status int, limit int64) string {
	switch status {
	case http.StatusRequestEntityTooLarge:
		return fmt.Sprintf("the request body exceeds the payload limit of %d bytes (%d MB, set by SAGEMAKER_MAX_PAYLOAD_IN_MB)", limit, limit>>20)
	case http.StatusInternalServerError:
		return "internal error: " + err.Error()
	default:
		return err.Error()
	}
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error string `json:"error"`
}

// writeError answers with status and {"error": msg}.
func writeError(c *gin.Context, status int, msg string) {
	c.Data(status, "application/json", errorJSON(msg))
}

// errorJSON is the body {"error": msg}.
func errorJSON(msg string) []byte {
	b, err := json.Marshal(errorBody{Error: msg})
	if err != nil { // a string always marshals
		panic(err)
	}
	return b
}

// errorMiddleware runs the handlers, then maps the last error they recorded
// to a status and a JSON body. Server errors (500) are logged; client errors
// are not, as they are the hot path of a misconfigured batch job.
func (s *Server) errorMiddleware(c *gin.Context) {
	c.Next()
	last := c.Errors.Last()
	if last == nil || c.Writer.Written() {
		return
	}
	status := statusOf(last.Err)
	msg := messageOf(last.Err, status, s.limit)
	if status == http.StatusInternalServerError {
		s.log.Printf("%s %s: %d: %s", c.Request.Method, c.Request.URL.Path, status, msg)
	}
	writeError(c, status, msg)
}

// recoverPanic is the gin.CustomRecovery handler: it logs the panic with its
// stack and records it as an error, which errorMiddleware answers with a 500
// (the stack never reaches the body).
func (s *Server) recoverPanic(c *gin.Context, rec any) {
	rec, stack := recovered.Unwrap(rec) // a helper goroutine's panic carried here: its own stack
	s.log.Printf("%s %s: panic: %v\n%s", c.Request.Method, c.Request.URL.Path, rec, stack)
	_ = c.Error(&panicError{Value: rec})
	c.Abort()
}

// notFound answers unknown paths.
func notFound(c *gin.Context) {
	writeError(c, http.StatusNotFound, fmt.Sprintf("no such path %q; the paths are /ping, /invocations and /execution-parameters", c.Request.URL.Path))
}

// methodNotAllowed answers a known path asked with the wrong method; gin
// has already set the Allow header.
func methodNotAllowed(c *gin.Context) {
	writeError(c, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
}
