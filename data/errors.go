package data

import (
	"fmt"
	"strings"
)

// ParseError is malformed input: where it is and what is wrong. Line and
// Column are 1-based (0 when unknown); Record is the 0-based index of the
// record (RecordIO) or instance (JSON) named by What ("record" or
// "instance"; empty when the position is given by Line alone). Err, when set,
// is the underlying error (e.g. a *recordio.ParseError or a protobuf error).
//
// Error() reads e.g. `line 12, column 3: "abc" is not a number`,
// `instance 2: "features" must be an array of numbers` or
// `record 5: no features["values"]`.
type ParseError struct {
	Line   int
	Record int
	Column int
	Msg    string

	What string // "record", "instance" or "" (Record unused)
	Err  error
}

func (e *ParseError) Error() string {
	var sb strings.Builder
	if e.What != "" {
		fmt.Fprintf(&sb, "%s %d", e.What, e.Record)
	}
	if e.Line > 0 {
		if sb.Len() > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "line %d", e.Line)
	}
	if e.Column > 0 {
		if sb.Len() > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "column %d", e.Column)
	}
	if sb.Len() > 0 {
		sb.WriteString(": ")
	}
	sb.WriteString(e.Msg)
	return sb.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// ClientError marks malformed input as the caller's fault.
func (e *ParseError) ClientError() bool { return true }

// DimensionError is a row whose width does not match the feature dimension:
// a dense vector of Got values where Want (feature_dim) are expected, a
// sparse key Got >= Want (Key), or a sparse tensor whose shape holds Got >
// Want elements (Shape). Record is the 0-based record (or instance) index. For
// CSV, Line is the 1-based line, Got and Want count all columns and
// LabelSize says how many of them are labels.
type DimensionError struct {
	Record    int
	Got, Want int
	Key       bool

	Shape     bool
	Line      int
	LabelSize int
}

func (e *DimensionError) Error() string {
	switch {
	case e.Line > 0:
		if e.LabelSize > 0 {
			return fmt.Sprintf("line %d has %s; expected %d (%d label + %d features)",
				e.Line, count(e.Got, "column"), e.Want, e.LabelSize, e.Want-e.LabelSize)
		}
		return fmt.Sprintf("line %d has %s; expected %d", e.Line, count(e.Got, "column"), e.Want)
	case e.Key:
		return fmt.Sprintf("record %d: sparse key %d is out of range for feature_dim %d", e.Record, e.Got, e.Want)
	case e.Shape:
		return fmt.Sprintf("record %d: sparse tensor shape has %d elements; feature_dim is %d", e.Record, e.Got, e.Want)
	}
	return fmt.Sprintf("record %d has %s; feature_dim is %d", e.Record, count(e.Got, "feature"), e.Want)
}

// count is "1 column", "2 columns".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// ClientError marks a dimension mismatch as the caller's fault.
func (e *DimensionError) ClientError() bool { return true }

// UnsupportedMediaTypeError is a Content-Type this package cannot decode
// (HTTP 415). Type is the offending value as given ("" when missing).
type UnsupportedMediaTypeError struct {
	Type      string
	Supported []string
}

func (e *UnsupportedMediaTypeError) Error() string {
	if e.Type == "" {
		return "content type is missing: expected one of " + strings.Join(e.Supported, ", ")
	}
	return fmt.Sprintf("content type %q is not supported: expected one of %s", e.Type, strings.Join(e.Supported, ", "))
}

// ClientError marks an unsupported content type as the caller's fault.
func (e *UnsupportedMediaTypeError) ClientError() bool { return true }

// NotAcceptableError is an Accept header naming no supported response type
// (HTTP 406).
type NotAcceptableError struct {
	Accept    string
	Supported []string
	// Malformed is the entry that named a supported type with a parameter
	// that is not name=value, when no entry was acceptable.
	Malformed string
}

func (e *NotAcceptableError) Error() string {
	if e.Malformed != "" {
		return fmt.Sprintf("accept %q has a malformed parameter in %q: expected name=value, as in %s; verbose=true", e.Accept, e.Malformed, JSON)
	}
	return fmt.Sprintf("accept %q is not supported: expected one of %s", e.Accept, strings.Join(e.Supported, ", "))
}

// ClientError marks an unsupported Accept as the caller's fault.
func (e *NotAcceptableError) ClientError() bool { return true }

// Supported content types, in the order error messages list them.
var (
	requestTypes  = []string{CSV, JSON, JSONLines, RecordIOProtobuf}
	trainingTypes = []string{CSV, RecordIOProtobuf}
	responseTypes = []string{JSON, JSONLines, RecordIOProtobuf}
)
