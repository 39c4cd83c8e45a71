package trainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/sagebrush-ml/sagebrush/data"
)

// ConfigError is a problem with one of the files under input/config: it
// is missing something, or is not valid JSON. It is a client error.
type ConfigError struct {
	File string // base name, e.g. "inputdataconfig.json"
	Msg  string // the full sentence
}

func (e *ConfigError) Error() string { return e.Msg }

// ClientError reports that the problem lies with the job's configuration.
func (e *ConfigError) ClientError() bool { return true }

// channelConfig is one entry of inputdataconfig.json.
type channelConfig struct {
	ContentType        string `json:"ContentType"`
	TrainingInputMode  string `json:"TrainingInputMode"`
	S3DistributionType string `json:"S3DistributionType"`
	RecordWrapperType  string `json:"RecordWrapperType"`
	CompressionType    string `json:"CompressionType"`
}

// resourceConfig is resourceconfig.json.
type resourceConfig struct {
	CurrentHost string   `json:"current_host"`
	Hosts       []string `json:"hosts"`
}

// readConfigFile returns the bytes of R/input/config/name, or nil when the
// file does not exist.
func readConfigFile(root, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(root, "input", "config", name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return bytes.TrimPrefix(b, data.BOM), nil // as a Windows editor saves it
}

// decodeJSON decodes b into v, turning syntax and type errors into a
// *ConfigError that names the file and the line and column of the problem.
func decodeJSON(name string, b []byte, v any) error {
	err := json.Unmarshal(b, v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(b, syn.Offset)
		return &ConfigError{File: name, Msg: fmt.Sprintf("%s is not valid JSON: line %d, column %d (byte offset %d): %s",
			name, line, col, syn.Offset, syn.Error())}
	case errors.As(err, &typ):
		line, col := position(b, typ.Offset)
		where := jsonKind(typ.Type) + " is expected"
		if typ.Field != "" {
			where = "field " + typ.Field + " expects " + jsonKind(typ.Type)
		}
		return &ConfigError{File: name, Msg: fmt.Sprintf("%s has a JSON %s where %s: line %d, column %d (byte offset %d)",
			name, typ.Value, where, line, col, typ.Offset)}
	}
	return &ConfigError{File: name, Msg: fmt.Sprintf("%s is not valid JSON: %v", name, err)}
}

// jsonKind names the JSON a Go type decodes from ("an object", "a list of
// strings"), for messages a user reads: not "trainer.channelConfig".
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "a list of strings"
		}
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// position converts a byte offset into a 1-based line and column.
func position(b []byte, off int64) (line, col int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	if off < 0 {
		off = 0
	}
	before := b[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col == 0 {
		col = 1
	}
	return line, col
}

// readHyperparameters returns the bytes of hyperparameters.json (nil when
// missing) after checking that they are well-formed JSON, and the
// hyperparameters as given, for the log.
func readHyperparameters(root string) ([]byte, map[string]any, error) {
	const name = "hyperparameters.json"
	b, err := readConfigFile(root, name)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return b, nil, err
	}
	var m map[string]any // a list or a string is an error, not "no hyperparameters"
	if err := decodeJSON(name, b, &m); err != nil {
		return nil, nil, err
	}
	return b, m, nil
}

// readInputDataConfig reads inputdataconfig.json; a missing file means no
// channels.
func readInputDataConfig(root string) (map[string]channelConfig, error) {
	const name = "inputdataconfig.json"
	b, err := readConfigFile(root, name)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return nil, err
	}
	var m map[string]channelConfig
	if err := decodeJSON(name, b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// readResourceConfig reads resourceconfig.json; a missing file means a
// single host "algo-1". The hosts come back sorted and include the current
// host.
func readResourceConfig(root string) (resourceConfig, error) {
	const name = "resourceconfig.json"
	rc := resourceConfig{CurrentHost: "algo-1"}
	b, err := readConfigFile(root, name)
	if err != nil {
		return rc, err
	}
	if len(bytes.TrimSpace(b)) > 0 {
		rc = resourceConfig{}
		if err := decodeJSON(name, b, &rc); err != nil {
			return rc, err
		}
	}
	if rc.CurrentHost == "" {
		if len(rc.Hosts) > 0 {
			return rc, &ConfigError{File: name, Msg: name + ` has no "current_host"`}
		}
		rc.CurrentHost = "algo-1"
	}
	if len(rc.Hosts) == 0 {
		rc.Hosts = []string{rc.CurrentHost}
	}
	rc.Hosts = slices.Clone(rc.Hosts)
	slices.Sort(rc.Hosts)
	rc.Hosts = slices.Compact(rc.Hosts)
	if !slices.Contains(rc.Hosts, rc.CurrentHost) {
		return rc, &ConfigError{File: name, Msg: fmt.Sprintf("%s: current_host %q is not among the hosts %s",
			name, rc.CurrentHost, quoteList(rc.Hosts))}
	}
	return rc, nil
}

// quoteList formats names as "a", "b", "c".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
