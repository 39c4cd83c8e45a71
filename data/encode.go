package data

import (
	"errors"
	"fmt"
	"math"
	"mime"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sagebrush-ml/sagebrush/recordio"
)

// NegotiateAccept picks the response type for an Accept header value: a
// comma-separated list of media ranges with optional q= weights. The
// highest-weighted supported entry wins (on a tie, a named type over a
// wildcard, then the earlier entry); "",
// "*/*" and "application/*" mean application/json. The result keeps the
// entry's parameters other than q (e.g. application/json;verbose=true).
// Supported: application/json, application/jsonlines and
// application/x-recordio-protobuf; when no entry names one (or all have
// q=0, or none parses), the error is a *NotAcceptableError.
func NegotiateAccept(accept string) (MediaType, error) {
	if strings.TrimSpace(accept) == "" {
		return MediaType{Type: JSON}, nil
	}
	switch accept { // one supported type as it is (the usual header)
	case JSON, JSONLines, RecordIOProtobuf:
		return MediaType{Type: accept}, nil
	}
	type cand struct {
		mt       MediaType
		q        float64
		wildcard bool
	}
	var best *cand
	var malformed string
	for _, entry := range splitAccept(accept) {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		t, params, err := mime.ParseMediaType(entry)
		if err != nil {
			// A type we answer with a parameter that is not name=value
			// ("application/json; verbose"): if nothing else is
			// acceptable, the error names it rather than the type.
			if errors.Is(err, mime.ErrInvalidMediaParameter) && malformed == "" && answerable(t) {
				malformed = strings.TrimSpace(entry)
			}
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(qs), 64)
			if err != nil || f < 0 || f > 1 || math.IsNaN(f) {
				continue
			}
			q = f
			delete(params, "q")
		}
		if q == 0 {
			continue
		}
		if !answerable(t) {
			continue
		}
		wild := false
		if !strings.HasPrefix(t, "application/") || t == "application/*" {
			t, wild = JSON, true
		}
		if len(params) == 0 {
			params = nil
		}
		if best == nil || q > best.q || (q == best.q && best.wildcard && !wild) {
			best = &cand{MediaType{Type: t, Params: params}, q, wild}
		}
	}
	if best == nil {
		return MediaType{}, &NotAcceptableError{Accept: accept, Supported: responseTypes, Malformed: malformed}
	}
	return best.mt, nil
}

// answerable reports whether an Accept entry of media type t would name a
// response type, parameters aside.
func answerable(t string) bool {
	switch t {
	case "*", "*/*", "application/*":
		return true
	}
	return slices.Contains(responseTypes, t)
}

// splitAccept splits at commas outside quoted strings.
func splitAccept(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// ResponseContentType returns the Content-Type header value for a
// negotiated accept type: its base type without parameters
// (application/json for the zero MediaType).
func ResponseContentType(accept MediaType) string {
	if accept.Type == "" {
		return JSON
	}
	return accept.Type
}

// PythonJSONNonFinite is how Python's json.dumps writes v when v is not
// finite (NaN, Infinity, -Infinity); ok is false for a finite v.
func PythonJSONNonFinite(v float64) (s string, ok bool) {
	switch {
	case math.IsNaN(v):
		return "NaN", true
	case math.IsInf(v, 1):
		return "Infinity", true
	case math.IsInf(v, -1):
		return "-Infinity", true
	}
	return "", false
}

// AppendPythonFloat appends Python's repr of v: the shortest text that
// reads back to v, in fixed notation with at least one fraction digit
// ("7.0", "0.0001", "123456789012345.0") when the decimal exponent is in
// [-4, 16), else in exponent notation with a signed exponent of at least two
// digits ("1e-05", "1.5e+16"). NaN and infinities are "nan", "inf", "-inf".
func AppendPythonFloat(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "nan"...)
	case math.IsInf(v, 1):
		return append(dst, "inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-inf"...)
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], v, 'e', -1, 64) // -d.ddde±XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
		dst = append(dst, '-')
	}
	ei := slices.Index(e, 'e')
	mant, exp := e[:ei], e[ei+1:]
	x, _ := strconv.Atoi(string(exp)) // small; no allocation for short strings
	var digits [24]byte
	nd := copy(digits[:], mant[:1])
	if len(mant) > 2 {
		nd += copy(digits[nd:], mant[2:])
	}
	d := digits[:nd]
	decpt := x + 1 // value = 0.d * 10^decpt
	if decpt > -4 && decpt <= 16 {
		switch {
		case decpt <= 0:
			dst = append(dst, "0."...)
			for i := 0; i < -decpt; i++ {
				dst = append(dst, '0')
			}
			dst = append(dst, d...)
		case decpt >= len(d):
			dst = append(dst, d...)
			for i := len(d); i < decpt; i++ {
				dst = append(dst, '0')
			}
			dst = append(dst, ".0"...)
		default:
			dst = append(dst, d[:decpt]...)
			dst = append(dst, '.')
			dst = append(dst, d[decpt:]...)
		}
		return dst
	}
	dst = append(dst, d[0])
	if len(d) > 1 {
		dst = append(dst, '.')
		dst = append(dst, d[1:]...)
	}
	dst = append(dst, 'e')
	if x < 0 {
		dst = append(dst, '-')
		x = -x
	} else {
		dst = append(dst, '+')
	}
	if x < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(x), 10)
}

// checkPredictions validates the shape of p's outputs.
func checkPredictions(p *Predictions) error {
	for _, o := range p.Outputs {
		want := p.Rows
		if o.Width > 0 {
			want = p.Rows * o.Width
		}
		if o.Width < 0 || len(o.Values) != want {
			return fmt.Errorf("data: output %q holds %d values; %d rows of width %d need %d", o.Name, len(o.Values), p.Rows, o.Width, want)
		}
	}
	return nil
}

// appendNumber appends one output value as Kind k says. A non-finite
// float is written as Python's json.dumps writes it (Infinity, -Infinity,
// NaN), as SageMaker's own containers answer: finite float32 inputs can
// overflow (a distance of 1e20-sized features), and that is no server error.
func appendNumber(dst []byte, o *Output, v float32) ([]byte, error) {
	if !finite(v) {
		if o.Kind == Int {
			return dst, fmt.Errorf("data: output %q of kind Int has the value %v", o.Name, v)
		}
		s, _ := PythonJSONNonFinite(float64(v))
		return append(dst, s...), nil
	}
	if o.Kind == Int {
		if v != float32(math.Trunc(float64(v))) || math.Abs(float64(v)) > 1<<53 {
			return dst, fmt.Errorf("data: output %q of kind Int has the non-integer value %v", o.Name, v)
		}
		return strconv.AppendInt(dst, int64(v), 10), nil
	}
	return AppendPythonFloat(dst, float64(v)), nil
}

// appendJSONRow appends row i as a compact JSON object.
func appendJSONRow(dst []byte, p *Predictions, i int) ([]byte, error) {
	dst = append(dst, '{')
	for j := range p.Outputs {
		o := &p.Outputs[j]
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, o.Name)
		dst = append(dst, ':')
		var err error
		if o.Width == 0 {
			if dst, err = appendNumber(dst, o, o.Values[i]); err != nil {
				return dst, err
			}
			continue
		}
		dst = append(dst, '[')
		for k, v := range o.Values[i*o.Width : (i+1)*o.Width] {
			if k > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendNumber(dst, o, v); err != nil {
				return dst, err
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// EncodeResponse appends p encoded as accept's type to dst and returns it.
//
//   - application/json: {"<Envelope, default predictions>":[{...},...]},
//     one object per row with the outputs as keys in Outputs order, written
//     compactly (no spaces): {"predictions":[{"closest_cluster":7.0,"distance_to_cluster":3.5}]}.
//     SageMaker's Python writes ", " and ": " separators; both parse the same.
//   - application/jsonlines: one such object per row, each line ending in \n.
//   - application/x-recordio-protobuf: one RecordIO-framed aialgs.data.Record
//     per row with empty features and each output in the label map as a
//     Float32Tensor (Width values for a vector, one for a scalar).
//
// Numbers of Kind Float are Python's repr of the float32 widened to float64
// (7.0, 23.40593910217285); Kind Int are integers. A NaN or infinite value in
// JSON, a non-integral Int, or outputs of the wrong length are errors (the
// model's fault); an unsupported accept type is a *NotAcceptableError.
func EncodeResponse(dst []byte, accept MediaType, p *Predictions) ([]byte, error) {
	if err := checkPredictions(p); err != nil {
		return dst, err
	}
	var err error
	switch ResponseContentType(accept) {
	case JSON:
		env := p.Envelope
		if env == "" {
			env = "predictions"
		}
		dst = append(dst, '{')
		dst = appendJSONString(dst, env)
		dst = append(dst, ':', '[')
		for i := 0; i < p.Rows; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendJSONRow(dst, p, i); err != nil {
				return dst, err
			}
		}
		return append(dst, ']', '}'), nil
	case JSONLines:
		for i := 0; i < p.Rows; i++ {
			if dst, err = appendJSONRow(dst, p, i); err != nil {
				return dst, err
			}
			dst = append(dst, '\n')
		}
		return dst, nil
	case RecordIOProtobuf:
		return appendRecordIO(dst, p)
	}
	return dst, &NotAcceptableError{Accept: accept.String(), Supported: responseTypes}
}

// appendWriter is an io.Writer appending to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// appendRecordIO writes one Record per row, by hand with protowire:
// Record.label (field 2) entries {key (1), value (2): Value{float32_tensor
// (2): Float32Tensor{values (1), packed}}}.
func appendRecordIO(dst []byte, p *Predictions) ([]byte, error) {
	w := &appendWriter{b: dst}
	rw := recordio.NewWriter(w)
	var rec []byte
	for i := 0; i < p.Rows; i++ {
		rec = rec[:0]
		for j := range p.Outputs {
			o := &p.Outputs[j]
			vals := o.Values[i : i+1]
			if o.Width > 0 {
				vals = o.Values[i*o.Width : (i+1)*o.Width]
			}
			packed := 4 * len(vals)
			tensor := protowire.SizeTag(1) + protowire.SizeBytes(packed)
			value := protowire.SizeTag(2) + protowire.SizeBytes(tensor)
			entry := protowire.SizeTag(1) + protowire.SizeBytes(len(o.Name)) +
				protowire.SizeTag(2) + protowire.SizeBytes(value)
			rec = protowire.AppendTag(rec, 2, protowire.BytesType)
			rec = protowire.AppendVarint(rec, uint64(entry))
			rec = protowire.AppendTag(rec, 1, protowire.BytesType)
			rec = protowire.AppendString(rec, o.Name)
			rec = protowire.AppendTag(rec, 2, protowire.BytesType)
			rec = protowire.AppendVarint(rec, uint64(value))
			rec = protowire.AppendTag(rec, 2, protowire.BytesType)
			rec = protowire.AppendVarint(rec, uint64(tensor))
			rec = protowire.AppendTag(rec, 1, protowire.BytesType)
			rec = protowire.AppendVarint(rec, uint64(packed))
			for _, v := range vals {
				rec = protowire.AppendFixed32(rec, math.Float32bits(v))
			}
		}
		if err := rw.Write(rec); err != nil {
			return w.b, err
		}
	}
	return w.b, nil
}
