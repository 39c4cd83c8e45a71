package data

import (
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
)

// The content types of SageMaker's built-in algorithms.
const (
	CSV              = "text/csv"
	JSON             = "application/json"
	JSONLines        = "application/jsonlines"
	RecordIOProtobuf = "application/x-recordio-protobuf"
)

// MediaType is a parsed Content-Type or Accept value: the lower-cased type and
// its parameters (keys lower-cased), e.g. text/csv;label_size=1 or
// application/json;verbose=true.
type MediaType struct {
	Type   string
	Params map[string]string
}

// ParseMediaType parses a single media type with its parameters. A repeated
// parameter, a parameter without a type, or a malformed parameter is an
// error. The empty string parses as the zero MediaType.
func ParseMediaType(s string) (MediaType, error) {
	if strings.TrimSpace(s) == "" {
		return MediaType{}, nil
	}
	if plainMediaType(s) {
		return MediaType{Type: s}, nil
	}
	t, params, err := mime.ParseMediaType(s)
	if err != nil {
		return MediaType{}, &MediaTypeError{Value: s, Err: err}
	}
	return MediaType{Type: t, Params: params}, nil
}

// plainMediaType reports whether s is a bare lower-case type/subtype (no
// parameters, no spaces), which mime.ParseMediaType would return as it is
// with no parameters: the usual header, answered without its parse (a
// map allocation and a lower-casing copy a request).
func plainMediaType(s string) bool {
	slash := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '+', c == '_':
		case c == '/' && slash < 0:
			slash = i
		default:
			return false
		}
	}
	return slash > 0 && slash < len(s)-1
}

// String formats the media type as it would appear in a header.
func (m MediaType) String() string {
	if m.Type == "" {
		return ""
	}
	return mime.FormatMediaType(m.Type, m.Params)
}

// LabelSize returns the label_size parameter, or def when it is absent.
func (m MediaType) LabelSize(def int) (int, error) {
	v, ok := m.Params["label_size"]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, &MediaTypeError{Value: m.String(), Err: fmt.Errorf("label_size %q is not a non-negative integer", v)}
	}
	return n, nil
}

// Verbose reports whether the verbose parameter is true (any case).
func (m MediaType) Verbose() bool {
	return strings.EqualFold(strings.TrimSpace(m.Params["verbose"]), "true")
}

// MediaTypeError is a Content-Type or Accept value that does not parse.
type MediaTypeError struct {
	Value string
	Err   error
}

func (e *MediaTypeError) Error() string {
	if errors.Is(e.Err, mime.ErrInvalidMediaParameter) {
		// The example is the parameter this type takes: CSV's label_size,
		// or verbose (k-NN's answers) for the others.
		example := CSV + ";label_size=1"
		t, _, _ := strings.Cut(strings.ToLower(e.Value), ";")
		switch t = strings.TrimSpace(t); t {
		case JSON, JSONLines, RecordIOProtobuf:
			example = t + ";verbose=true"
		}
		return fmt.Sprintf("media type %q is malformed: each parameter after the type must be name=value, as in %s", e.Value, example)
	}
	return fmt.Sprintf("media type %q is malformed: %s", e.Value, strings.TrimPrefix(e.Err.Error(), "mime: "))
}
func (e *MediaTypeError) Unwrap() error     { return e.Err }
func (e *MediaTypeError) ClientError() bool { return true }
