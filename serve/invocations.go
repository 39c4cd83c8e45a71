package serve

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/data"
)

// customAttributes is the header SageMaker forwards verbatim; /invocations
// echoes it back.
const customAttributes = "X-Amzn-Sagemaker-Custom-Attributes"

// maxPooled is the largest buffer returned to a pool; rarer, larger ones are
// left to the garbage collector so an odd huge request does not pin memory.
const maxPooled = 8 << 20

// bodyPool holds request body buffers; outPool holds response buffers.
var (
	bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	outPool  = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
)

// invocations answers POST /invocations: bound the body, negotiate Accept,
// decode, predict, encode. Each failing step records its error for
// errorMiddleware and returns.
func (s *Server) invocations(c *gin.Context) {
	req := c.Request
	if v := req.Header[customAttributes]; len(v) > 0 {
		c.Writer.Header()[customAttributes] = v
	}
	model := s.loaded()
	if model == nil {
		_ = c.Error(errModelLoading)
		return
	}

	// Bound the body. A declared length above the limit fails before
	// reading; otherwise the MaxBytesReader stops an undeclared one.
	if req.ContentLength > s.limit {
		_ = c.Error(&http.MaxBytesError{Limit: s.limit})
		return
	}
	req.Body = http.MaxBytesReader(c.Writer, req.Body, s.limit)

	// Negotiate the response type before anything costly.
	accept, err := data.NegotiateAccept(headerValue(req.Header, "Accept"))
	if err != nil {
		_ = c.Error(&acceptError{Err: err})
		return
	}

	body := bodyPool.Get().(*bytes.Buffer)
	defer putBody(body)
	body.Reset()
	if req.ContentLength > 0 {
		body.Grow(int(req.ContentLength) + bytes.MinRead)
	}
	if _, err := body.ReadFrom(req.Body); err != nil {
		_ = c.Error(err)
		return
	}
	if body.Len() == 0 {
		c.Status(http.StatusNoContent)
		return
	}

	// Decode.
	ctHeader := req.Header.Get("Content-Type")
	if strings.TrimSpace(ctHeader) == "" {
		_ = c.Error(&contentTypeError{})
		return
	}
	ct, err := data.ParseMediaType(ctHeader)
	if err != nil {
		_ = c.Error(&contentTypeError{Value: ctHeader, Err: err})
		return
	}
	batch, err := data.DecodeRequest(ct, body.Bytes(), model.FeatureDim())
	if err != nil {
		_ = c.Error(err)
		return
	}

	// Predict.
	pred, err := model.Predict(req.Context(), batch, algorithms.PredictOptions{Accept: accept})
	if err != nil {
		_ = c.Error(err)
		return
	}

	// Encode. The batch's buffers go back to data's pool after: no model
	// keeps them, or returns predictions that alias them.
	defer data.Recycle(batch)
	outp := outPool.Get().(*[]byte)
	defer putOut(outp)
	out, err := data.EncodeResponse((*outp)[:0], accept, pred)
	*outp = out
	if err != nil {
		_ = c.Error(err)
		return
	}
	h := c.Writer.Header()
	h["Content-Type"] = []string{data.ResponseContentType(accept)}
	// The connection layer lets fasthttp set it; under net/http (the
	// engine's tests, ServeHTTP) this is the header.
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	c.Writer.WriteHeader(http.StatusOK)
	_, _ = c.Writer.Write(out)
}

// headerValue joins a header's values with ", ", as if sent on one line;
// one value (the usual case) is returned without allocating.
func headerValue(h http.Header, key string) string {
	v := h[key]
	switch len(v) {
	case 0:
		return ""
	case 1:
		return v[0]
	default:
		return strings.Join(v, ", ")
	}
}

func putBody(b *bytes.Buffer) {
	if b.Cap() <= maxPooled {
		bodyPool.Put(b)
	}
}

func putOut(b *[]byte) {
	if cap(*b) <= maxPooled {
		*b = (*b)[:0]
		outPool.Put(b)
	}
}
