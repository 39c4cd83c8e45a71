package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/algorithms/hyper"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/recordio"
	"github.com/sagebrush-ml/sagebrush/recordio/aialgs"
	"github.com/sagebrush-ml/sagebrush/recordio/recordiotest"
)

// Sentinel first features that make fakeModel misbehave.
const (
	rowFail   = 999 // Predict returns a plain error (500)
	rowPanic  = 666 // Predict panics (500)
	rowClient = 555 // Predict returns an algorithms.InputError (400)
	rowSlow   = -7  // Predict sleeps 200 ms (graceful shutdown)
)

// fakeModel has feature_dim 3 and answers, for each row, "sum" (Float, the
// sum of its features) and "n" (Int, the count of non-zero features).
type fakeModel struct {
	calls   atomic.Int64
	started chan struct{} // when not nil, receives once per slow Predict
}

func (m *fakeModel) FeatureDim() int       { return 3 }
func (m *fakeModel) Save(dir string) error { return nil }

func (m *fakeModel) Predict(ctx context.Context, b *data.Batch, opts algorithms.PredictOptions) (*data.Predictions, error) {
	m.calls.Add(1)
	sum := make([]float32, b.Rows)
	n := make([]float32, b.Rows)
	row := make([]float32, b.Cols)
	for i := range b.Rows {
		b.RowTo(row, i)
		switch row[0] {
		case rowFail:
			return nil, errors.New("the fake model failed")
		case rowPanic:
			panic("the fake model panicked")
		case rowClient:
			return nil, algorithms.Errorf("row %d: the fake model refuses %v", i, row[0])
		case rowSlow:
			if m.started != nil {
				m.started <- struct{}{}
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, v := range row {
			sum[i] += v
			if v != 0 {
				n[i]++
			}
		}
	}
	return &data.Predictions{Rows: b.Rows, Outputs: []data.Output{
		{Name: "sum", Kind: data.Float, Values: sum},
		{Name: "n", Kind: data.Int, Values: n},
	}}, nil
}

// fakeAlgo loads its model once release is closed (nil: at once), or fails
// with err.
type fakeAlgo struct {
	model   *fakeModel
	release chan struct{}
	err     error
}

func (a *fakeAlgo) Name() string                       { return "fake" }
func (a *fakeAlgo) Schema() *hyper.Schema              { return nil }
func (a *fakeAlgo) Channels() []algorithms.ChannelSpec { return nil }
func (a *fakeAlgo) Train(context.Context, *algorithms.Job) (algorithms.Model, error) {
	return nil, errors.New("not implemented")
}
func (a *fakeAlgo) Load(dir string) (algorithms.Model, error) {
	if a.release != nil {
		<-a.release
	}
	if a.err != nil {
		return nil, a.err
	}
	return a.model, nil
}

// The two rows every Content-Type case sends, and what the fake answers.
var (
	rows      = [][]float32{{1, 2, 3}, {4, 0, 6}}
	wantPreds = &data.Predictions{Rows: 2, Outputs: []data.Output{
		{Name: "sum", Kind: data.Float, Values: []float32{6, 10}},
		{Name: "n", Kind: data.Int, Values: []float32{3, 2}},
	}}
)

// recordIOBody frames one aialgs Record per row, dense or sparse.
func recordIOBody(t testing.TB, rows [][]float32, sparse bool) []byte {
	t.Helper()
	var recs []*aialgs.Record
	for _, row := range rows {
		tensor := &aialgs.Float32Tensor{Values: row}
		if sparse {
			tensor = &aialgs.Float32Tensor{Shape: []uint64{uint64(len(row))}}
			for j, v := range row {
				if v != 0 {
					tensor.Keys = append(tensor.Keys, uint64(j))
					tensor.Values = append(tensor.Values, v)
				}
			}
		}
		recs = append(recs, &aialgs.Record{Features: map[string]*aialgs.Value{
			"values": {Value: &aialgs.Value_Float32Tensor{Float32Tensor: tensor}},
		}})
	}
	return recordiotest.Records(t, recs...)
}

// do sends one request through h.ServeHTTP.
func do(h http.Handler, method, path string, body []byte, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// newTestServer returns a server with a loaded fake model.
func newTestServer(t *testing.T) (*Server, *fakeModel, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	s := NewServer(Options{Log: &lockedWriter{w: &logs}})
	m := &fakeModel{}
	s.SetModel(m)
	return s, m, &logs
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// String is what was written so far, when w is a fmt.Stringer (a
// strings.Builder), read under the lock the server's writes take.
func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.(fmt.Stringer).String()
}

// errorOf decodes an {"error": "..."} body, failing the test on any other.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var e map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e) != 1 || e["error"] == "" {
		t.Fatalf("error body = %q, want {\"error\": \"...\"} (%v)", w.Body, err)
	}
	return e["error"]
}

// TestMaxTransforms: one transform per core, within CreateTransformJob's
// 1 to 100 on the largest hosts.
func TestMaxTransforms(t *testing.T) {
	for cores, want := range map[int]int{1: 1, 2: 2, 96: 96, 100: 100, 128: 100, 192: 100} {
		if got := maxTransforms(cores); got != want {
			t.Errorf("maxTransforms(%d) = %d, want %d", cores, got, want)
		}
	}
}

func TestPing(t *testing.T) {
	s := NewServer(Options{Log: io.Discard})
	w := do(s.Handler(), "GET", "/ping", nil)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("before SetModel: status %d, want 503", w.Code)
	}
	if got := errorOf(t, w); got != "model is loading" {
		t.Errorf("before SetModel: error %q, want %q", got, "model is loading")
	}
	w = do(s.Handler(), "POST", "/invocations", []byte("1,2,3"), "Content-Type", "text/csv")
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("invocations before SetModel: status %d, want 503", w.Code)
	}

	s.SetModel(&fakeModel{})
	w = do(s.Handler(), "GET", "/ping", nil)
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("after SetModel: status %d body %q, want 200 and empty", w.Code, w.Body)
	}
}

func TestExecutionParameters(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    string // SAGEMAKER_MAX_PAYLOAD_IN_MB; "-" leaves it unset
		wantMB int
	}{
		{"default", "-", 6},
		{"override", "1", 1},
		{"zero means default", "0", 6},
		{"junk means default", "lots", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "-" {
				t.Setenv(EnvMaxPayloadMB, tc.env)
			}
			s, m, logs := newTestServer(t)
			// A value that is not used is said so in the log.
			if warned := strings.Contains(logs.String(), EnvMaxPayloadMB+"="); warned != (tc.env == "0" || tc.env == "lots") {
				t.Errorf("log %q: warning %v for %q", logs, warned, tc.env)
			}
			w := do(s.Handler(), "GET", "/execution-parameters", nil)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d, want 200", w.Code)
			}
			var got struct {
				MaxConcurrentTransforms int
				BatchStrategy           string
				MaxPayloadInMB          int
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if got.MaxConcurrentTransforms != min(runtime.NumCPU(), 100) || got.BatchStrategy != "MULTI_RECORD" || got.MaxPayloadInMB != tc.wantMB {
				t.Errorf("got %+v, want {%d MULTI_RECORD %d}", got, runtime.NumCPU(), tc.wantMB)
			}

			// The same number bounds /invocations: a body one byte over the
			// limit is refused before predicting, one at the limit is not.
			limit := tc.wantMB << 20
			over := csvRows(limit + 1)
			w = do(s.Handler(), "POST", "/invocations", over, "Content-Type", "text/csv")
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("%d-byte body: status %d, want 413", len(over), w.Code)
			}
			under := csvRows(limit)
			w = do(s.Handler(), "POST", "/invocations", under, "Content-Type", "text/csv")
			if w.Code != http.StatusOK {
				t.Errorf("%d-byte body: status %d (%s), want 200", len(under), w.Code, w.Body)
			}
			if m.calls.Load() != 1 {
				t.Errorf("Predict called %d times, want 1", m.calls.Load())
			}
		})
	}
}

// csvRows returns a CSV body exactly n bytes long (n >= 6) of rows
// "1,2,3", the first row's first field zero-padded ("001,2,3") to make up
// the length.
func csvRows(n int) []byte {
	const row = "1,2,3\n"
	return []byte(strings.Repeat("0", n%len(row)) + strings.Repeat(row, n/len(row)))
}

// requestBodies are the same two rows in every request format.
func requestBodies(t testing.TB) []struct {
	name, contentType string
	body              []byte
} {
	return []struct {
		name, contentType string
		body              []byte
	}{
		{"csv", "text/csv", []byte("1,2,3\n4,0,6\n")},
		{"csv label_size=0", "text/csv; label_size=0", []byte("1,2,3\n4,0,6")},
		{"json dense", "application/json", []byte(`{"instances": [{"features": [1, 2, 3]}, {"data": {"features": {"values": [4, 0, 6]}}}]}`)},
		{"json sparse", "application/json", []byte(`{"instances": [{"data": {"features": {"keys": [0, 1, 2], "shape": [3], "values": [1, 2, 3]}}}, {"data": {"features": {"keys": [0, 2], "shape": [3], "values": [4, 6]}}}]}`)},
		{"jsonlines", "application/jsonlines", []byte("{\"features\": [1, 2, 3]}\n{\"data\": {\"features\": {\"keys\": [0, 2], \"shape\": [3], \"values\": [4, 6]}}}\n")},
		{"recordio dense", "application/x-recordio-protobuf", recordIOBody(t, rows, false)},
		{"recordio sparse", "application/x-recordio-protobuf", recordIOBody(t, rows, true)},
	}
}

func TestInvocationsFormats(t *testing.T) {
	accepts := []struct {
		accept   string
		wantBase string
	}{
		{"", data.JSON},
		{"*/*", data.JSON},
		{"application/json", data.JSON},
		{"application/jsonlines", data.JSONLines},
		{"application/x-recordio-protobuf", data.RecordIOProtobuf},
	}
	s, m, _ := newTestServer(t)
	for _, in := range requestBodies(t) {
		for _, out := range accepts {
			t.Run(in.name+"/accept="+out.accept, func(t *testing.T) {
				headers := []string{"Content-Type", in.contentType}
				if out.accept != "" {
					headers = append(headers, "Accept", out.accept)
				}
				before := m.calls.Load()
				w := do(s.Handler(), "POST", "/invocations", in.body, headers...)
				if w.Code != http.StatusOK {
					t.Fatalf("status %d (%s), want 200", w.Code, w.Body)
				}
				if m.calls.Load() != before+1 {
					t.Errorf("Predict called %d times, want 1", m.calls.Load()-before)
				}
				accept, err := data.NegotiateAccept(out.accept)
				if err != nil {
					t.Fatal(err)
				}
				ct := w.Header().Get("Content-Type")
				if ct != data.ResponseContentType(accept) || !strings.HasPrefix(ct, out.wantBase) {
					t.Errorf("Content-Type %q, want %q (%s)", ct, data.ResponseContentType(accept), out.wantBase)
				}
				want, err := data.EncodeResponse(nil, accept, wantPreds)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(w.Body.Bytes(), want) {
					t.Errorf("body\n%q\nwant\n%q", w.Body, want)
				}
				if got := w.Header().Get("Content-Length"); got != fmt.Sprint(len(want)) {
					t.Errorf("Content-Length %q, want %d", got, len(want))
				}
			})
		}
	}
}

// TestInvocationsResponseShape decodes the JSON and RecordIO responses
// independently of the encoders, as the SDK's deserializers would.
func TestInvocationsResponseShape(t *testing.T) {
	s, _, _ := newTestServer(t)
	body := []byte("1,2,3\n4,0,6")

	w := do(s.Handler(), "POST", "/invocations", body, "Content-Type", "text/csv", "Accept", "application/json")
	var got struct {
		Predictions []map[string]float64 `json:"predictions"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("json body %q: %v", w.Body, err)
	}
	want := []map[string]float64{{"sum": 6, "n": 3}, {"sum": 10, "n": 2}}
	if fmt.Sprint(got.Predictions) != fmt.Sprint(want) {
		t.Errorf("json predictions %v, want %v", got.Predictions, want)
	}

	w = do(s.Handler(), "POST", "/invocations", body, "Content-Type", "text/csv", "Accept", "application/x-recordio-protobuf")
	recs, err := recordio.NewReader(w.Body).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("recordio body: %d records, %v; want 2", len(recs), err)
	}
	for i, b := range recs {
		var rec aialgs.Record
		if err := proto.Unmarshal(b, &rec); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		sum := rec.GetLabel()["sum"].GetFloat32Tensor().GetValues()
		if len(sum) != 1 || float64(sum[0]) != want[i]["sum"] {
			t.Errorf("record %d: sum %v, want [%v]", i, sum, want[i]["sum"])
		}
	}
}

func TestInvocationsErrors(t *testing.T) {
	t.Setenv(EnvMaxPayloadMB, "1")
	for _, tc := range []struct {
		name        string
		contentType string // "-" sends none
		accept      string
		body        []byte
		chunked     bool // send without Content-Length
		wantStatus  int
		wantError   []string // substrings of the error message
		wantCalls   int64
	}{
		{name: "unsupported content type", contentType: "image/png", body: []byte("1,2,3"),
			wantStatus: 415, wantError: []string{"image/png"}},
		{name: "missing content type", contentType: "-", body: []byte("1,2,3"),
			wantStatus: 415, wantError: []string{"Content-Type", "required", "text/csv", "application/x-recordio-protobuf"}},
		{name: "malformed content type", contentType: "text/csv; label_size", body: []byte("1,2,3"),
			wantStatus: 415, wantError: []string{"text/csv; label_size"}},
		{name: "unsupported accept", contentType: "text/csv", accept: "text/html", body: []byte("1,2,3"),
			wantStatus: 406, wantError: []string{"text/html"}},
		{name: "malformed accept", contentType: "text/csv", accept: "application/json; verbose", body: []byte("1,2,3"),
			wantStatus: 406, wantError: []string{`malformed parameter in "application/json; verbose"`, "verbose=true"}},
		{name: "oversize with length", contentType: "text/csv", body: csvRows(1<<20 + 1),
			wantStatus: 413, wantError: []string{"1048576"}},
		{name: "oversize chunked", contentType: "text/csv", body: csvRows(1<<20 + 1), chunked: true,
			wantStatus: 413, wantError: []string{"1048576"}},
		{name: "malformed csv", contentType: "text/csv", body: []byte("1,2,3\n4,abc,6\n"),
			wantStatus: 400, wantError: []string{"line 2", "abc"}},
		{name: "wrong feature count", contentType: "text/csv", body: []byte("1,2,3\n4,5\n"),
			wantStatus: 400, wantError: []string{"3"}},
		{name: "malformed json", contentType: "application/json", body: []byte(`{"instances": [`),
			wantStatus: 400},
		{name: "malformed recordio", contentType: "application/x-recordio-protobuf", body: []byte("not recordio"),
			wantStatus: 400},
		{name: "predict error", contentType: "text/csv", body: []byte("999,0,0"),
			wantStatus: 500, wantError: []string{"internal error", "the fake model failed"}, wantCalls: 1},
		{name: "predict client error", contentType: "text/csv", body: []byte("555,0,0"),
			wantStatus: 400, wantError: []string{"refuses"}, wantCalls: 1},
		{name: "predict panic", contentType: "text/csv", body: []byte("666,0,0"),
			wantStatus: 500, wantError: []string{"internal error", "panicked"}, wantCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, m, logs := newTestServer(t)
			req := httptest.NewRequest("POST", "/invocations", bytes.NewReader(tc.body))
			if tc.chunked {
				req.ContentLength = -1
			}
			if tc.contentType != "-" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", w.Code, w.Body, tc.wantStatus)
			}
			msg := errorOf(t, w)
			for _, sub := range tc.wantError {
				if !strings.Contains(msg, sub) {
					t.Errorf("error %q does not mention %q", msg, sub)
				}
			}
			if strings.Contains(msg, "goroutine") || strings.Contains(msg, ".go:") {
				t.Errorf("error %q shows a stack", msg)
			}
			if got := m.calls.Load(); got != tc.wantCalls {
				t.Errorf("Predict called %d times, want %d", got, tc.wantCalls)
			}
			if logged := logs.Len() > 0; logged != (tc.wantStatus == 500) {
				t.Errorf("logged %q; want a log line only for a 500", logs)
			}
			// The server keeps serving after any of these.
			w = do(s.Handler(), "POST", "/invocations", []byte("1,2,3"), "Content-Type", "text/csv")
			if w.Code != http.StatusOK {
				t.Errorf("next request: status %d (%s), want 200", w.Code, w.Body)
			}
		})
	}
}

func TestInvocationsEmptyBody(t *testing.T) {
	for _, ct := range []string{"text/csv", "application/json", ""} {
		t.Run("content-type="+ct, func(t *testing.T) {
			s, m, _ := newTestServer(t)
			w := do(s.Handler(), "POST", "/invocations", nil, "Content-Type", ct)
			if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
				t.Errorf("status %d body %q, want 204 and empty", w.Code, w.Body)
			}
			if m.calls.Load() != 0 {
				t.Errorf("Predict called %d times, want 0", m.calls.Load())
			}
		})
	}
}

func TestCustomAttributesEchoed(t *testing.T) {
	const attrs = "trace-id=abc123, c000b4f9-df62-4c85-a0bf-7c525f9104a4"
	s, _, _ := newTestServer(t)
	for _, tc := range []struct {
		name       string
		body       []byte
		wantStatus int
	}{
		{"ok", []byte("1,2,3"), 200},
		{"client error", []byte("a,b,c"), 400},
		{"empty", nil, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(s.Handler(), "POST", "/invocations", tc.body,
				"Content-Type", "text/csv", "X-Amzn-SageMaker-Custom-Attributes", attrs)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tc.wantStatus)
			}
			if got := w.Header().Get("X-Amzn-SageMaker-Custom-Attributes"); got != attrs {
				t.Errorf("custom attributes %q, want %q", got, attrs)
			}
		})
	}
	w := do(s.Handler(), "POST", "/invocations", []byte("1,2,3"), "Content-Type", "text/csv")
	if _, ok := w.Header()["X-Amzn-Sagemaker-Custom-Attributes"]; ok {
		t.Errorf("custom attributes header set without one in the request")
	}
}

func TestRoutes(t *testing.T) {
	s, _, _ := newTestServer(t)
	for _, tc := range []struct {
		method, path string
		wantStatus   int
	}{
		{"GET", "/nope", 404},
		{"POST", "/ping/", 404},
		{"GET", "/invocations", 405},
		{"POST", "/ping", 405},
		{"PUT", "/execution-parameters", 405},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := do(s.Handler(), tc.method, tc.path, nil)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tc.wantStatus)
			}
			errorOf(t, w)
			if tc.wantStatus == 405 && w.Header().Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}
}

// BenchmarkInvocations measures the handler alone (fake model, real codecs)
// for 100 CSV rows of 3 features, per Accept type.
func BenchmarkInvocations(b *testing.B) {
	s := NewServer(Options{Log: io.Discard})
	s.SetModel(&fakeModel{})
	body := []byte(strings.Repeat("1.5,16.0,14\n", 100))
	for _, accept := range []string{data.JSON, data.JSONLines, data.RecordIOProtobuf} {
		b.Run("rows=100,accept="+accept, func(b *testing.B) {
			req := httptest.NewRequest("POST", "/invocations", nil)
			req.Header.Set("Content-Type", "text/csv")
			req.Header.Set("Accept", accept)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				req.Body = io.NopCloser(bytes.NewReader(body))
				req.ContentLength = int64(len(body))
				w := httptest.NewRecorder()
				s.Handler().ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
