// Package hyper describes, parses and validates the hyperparameters of the
// built-in algorithms.
//
// SageMaker hands a training job its hyperparameters as
// /opt/ml/input/config/hyperparameters.json, a JSON object whose values are
// strings (the HyperParameters map of CreateTrainingJob). Each algorithm
// declares a Schema, a list of Params with kind, bounds, enum values and
// defaults; Schema.ParseJSON (or Schema.Parse on an already decoded object)
// checks the input against it and returns typed Values, or the first problem
// as an *Error, one sentence naming the hyperparameter, its value and what
// was expected:
//
//	hyperparameter "k" = "0" is out of range: expected a positive integer (>= 1)
//
// An *Error is a client error: the training runtime writes it to the failure
// file with the "ClientError:" prefix.
//
// Values are normally strings, but JSON numbers and booleans are accepted as
// well. Names that SageMaker and the SDK inject (those starting with "_", and
// force_dense) are accepted and ignored; any other unknown name is an error
// that suggests the closest valid name.
package hyper

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the type of a hyperparameter's value.
type Kind int

const (
	// Int is an integer, written in decimal ("10"; a JSON number with an
	// integral value is accepted too). "10.5" and "1e3" are not integers.
	Int Kind = iota
	// Float is a finite float64, as strconv.ParseFloat reads it.
	Float
	// String is one of Enum (case-sensitive), or free text when Enum is empty.
	String
	// Bool is true or false: "true", "false", "True", "False", or a JSON boolean.
	Bool
	// List is a list of strings given as a string holding a JSON list, e.g.
	// "[\"msd\", \"ssd\"]". A bare single word ("msd") and Python's str(list)
	// form ("['msd', 'ssd']") are accepted too. Each element must be in Enum
	// when Enum is not empty; the list must not be empty; duplicates are
	// dropped, keeping the first occurrence.
	List
)

// String returns the kind's name, e.g. "Int".
func (k Kind) String() string {
	switch k {
	case Int:
		return "Int"
	case Float:
		return "Float"
	case String:
		return "String"
	case Bool:
		return "Bool"
	case List:
		return "List"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// MaxValueLen is the longest value, in characters, that SageMaker accepts
// for a hyperparameter.
const MaxValueLen = 256

// Param describes one hyperparameter.
type Param struct {
	Name     string
	Kind     Kind
	Required bool
	// Default is the default as the user would write it; "" means no default
	// (an optional parameter without a default is absent unless given).
	Default string
	// Auto means the literal value "auto" (any case) is accepted; then
	// Values.IsAuto is true.
	Auto bool
	// Enum lists the allowed values for String and List.
	Enum []string
	// Min and Max bound Int and Float values; nil means unbounded.
	Min, Max *float64
	// MinOpen and MaxOpen make the bound exclusive.
	MinOpen, MaxOpen bool
	// Doc is the expectation used in messages, e.g. "a positive integer".
	// When empty, one is derived from Kind, bounds, Enum and Auto.
	Doc string
}

// Schema is an algorithm's full set of hyperparameters.
type Schema struct {
	Params []Param
	// Check, when not nil, runs after every value parsed, for rules across
	// parameters (e.g. num_classes required when predictor_type is
	// multiclass). It returns an *Error or nil; any other error is wrapped
	// in an *Error carrying its message.
	Check func(Values) error
}

// Bound returns a pointer to v (for Min/Max literals).
func Bound(v float64) *float64 { return &v }

// Error is a hyperparameter problem: a client error.
type Error struct {
	Name  string // the hyperparameter ("" for a malformed file)
	Value string // the offending value as given ("" when missing)
	Msg   string // the full sentence
}

func (e *Error) Error() string { return e.Msg }

// ClientError reports that the problem lies with the user's configuration.
func (e *Error) ClientError() bool { return true }

// Errorf builds an *Error for name/value whose Msg is the formatted message,
// which should be a full sentence naming the hyperparameter (used by
// Schema.Check functions), e.g.
//
//	hyper.Errorf("num_classes", "", "hyperparameter %q is required when predictor_type is %q", "num_classes", pt)
func Errorf(name, value, format string, args ...any) *Error {
	return &Error{Name: name, Value: value, Msg: fmt.Sprintf(format, args...)}
}

// value is one parsed hyperparameter.
type value struct {
	raw  string
	auto bool
	i    int
	f    float64
	s    string
	b    bool
	l    []string
}

// Values are the parsed hyperparameters. The zero Values has no schema:
// every method but Map panics on it.
type Values struct {
	params   []Param
	idx      map[string]int
	set      map[string]value
	injected map[string]string // the ignored names given, as text
}

// Parse validates raw (the decoded hyperparameters.json: values are JSON
// strings, or numbers/booleans) against the schema, fills defaults, and
// returns the values. The first problem found is returned as an *Error:
// unknown names first (in sorted order), then missing required ones, then
// each value in schema order, then Check. Parse panics if the schema itself
// is broken (a duplicate name, a default that does not parse).
func (s *Schema) Parse(raw map[string]any) (Values, error) {
	v := Values{params: s.Params, idx: s.index(), set: make(map[string]value)}

	var unknown []string
	for name, x := range raw {
		if _, ok := v.idx[name]; ok {
			continue
		}
		if ignored(name) {
			if v.injected == nil {
				v.injected = make(map[string]string)
			}
			v.injected[name], _, _ = toText(x)
			continue
		}
		unknown = append(unknown, name)
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return Values{}, s.unknownError(unknown[0])
	}
	for _, p := range s.Params {
		if _, ok := raw[p.Name]; p.Required && !ok {
			return Values{}, &Error{Name: p.Name,
				Msg: fmt.Sprintf("hyperparameter %s is required: expected %s", quote(p.Name), expectation(&p))}
		}
	}
	for i := range s.Params {
		p := &s.Params[i]
		var def value
		hasDef := p.Default != ""
		if hasDef {
			var err *Error
			def, err = parseText(p, p.Default)
			if err != nil {
				panic(fmt.Sprintf("hyper: bad default for %q: %s", p.Name, err.Msg))
			}
		}
		if x, ok := raw[p.Name]; ok {
			val, err := parseAny(p, x)
			if err != nil {
				return Values{}, err
			}
			v.set[p.Name] = val
		} else if hasDef {
			v.set[p.Name] = def
		}
	}
	if s.Check != nil {
		if err := s.Check(v); err != nil {
			if e, ok := err.(*Error); ok {
				if e != nil {
					return Values{}, e
				}
			} else {
				return Values{}, &Error{Msg: err.Error()}
			}
		}
	}
	return v, nil
}

// ParseJSON is Parse on the bytes of hyperparameters.json. Empty input,
// "null" and "{}" are valid (only defaults apply). Malformed JSON, or JSON
// that is not an object, is an *Error.
func (s *Schema) ParseJSON(b []byte) (Values, error) {
	var raw map[string]any
	if len(strings.TrimSpace(string(b))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		var top any
		if err := dec.Decode(&top); err != nil {
			return Values{}, &Error{Msg: "hyperparameters.json is not valid JSON: " + err.Error()}
		}
		if _, err := dec.Token(); err == nil {
			return Values{}, &Error{Msg: "hyperparameters.json is not valid JSON: unexpected data after the top-level object"}
		} else if err != io.EOF {
			return Values{}, &Error{Msg: "hyperparameters.json is not valid JSON: " + err.Error()}
		}
		switch t := top.(type) {
		case nil:
		case map[string]any:
			raw = t
		default:
			return Values{}, &Error{Msg: "hyperparameters.json is not a JSON object of hyperparameter names to values"}
		}
	}
	return s.Parse(raw)
}

// index maps each name to its position, panicking on a broken schema.
func (s *Schema) index() map[string]int {
	idx := make(map[string]int, len(s.Params))
	for i, p := range s.Params {
		if p.Name == "" {
			panic("hyper: parameter without a name")
		}
		if _, dup := idx[p.Name]; dup {
			panic(fmt.Sprintf("hyper: duplicate parameter %q", p.Name))
		}
		if p.Kind < Int || p.Kind > List {
			panic(fmt.Sprintf("hyper: parameter %q has unknown kind %d", p.Name, int(p.Kind)))
		}
		idx[p.Name] = i
	}
	return idx
}

// ignored reports whether name is one SageMaker or the SDK injects, which is
// accepted and ignored.
func ignored(name string) bool {
	return strings.HasPrefix(name, "_") || name == "force_dense"
}

func (s *Schema) unknownError(name string) *Error {
	names := make([]string, len(s.Params))
	for i, p := range s.Params {
		names[i] = p.Name
	}
	slices.Sort(names)
	msg := fmt.Sprintf("hyperparameter %s is not recognized", quote(name))
	if best, ok := closest(name, names); ok {
		msg += fmt.Sprintf("; did you mean %s?", quote(best))
	} else {
		msg += "; valid names are " + strings.Join(names, ", ")
	}
	return &Error{Name: name, Msg: msg}
}

// source is where a value's text came from.
type source int

const (
	fromString source = iota
	fromNumber
	fromBool
	fromList
	fromOther // null, objects, lists of non-strings: never valid
)

// parseAny parses one decoded JSON value for p.
func parseAny(p *Param, x any) (value, *Error) {
	text, src, list := toText(x)
	if n := utf8.RuneCountInString(text); n > MaxValueLen {
		return value{}, &Error{Name: p.Name, Value: text,
			Msg: fmt.Sprintf("hyperparameter %s = %s is invalid: the value is %d characters long; at most %d are allowed",
				quote(p.Name), quote(text), n, MaxValueLen)}
	}
	return parse(p, text, src, list)
}

// parseText parses text as if given as a JSON string.
func parseText(p *Param, text string) (value, *Error) {
	return parseAny(p, text)
}

func toText(x any) (string, source, []string) {
	switch t := x.(type) {
	case string:
		return t, fromString, nil
	case json.Number:
		return string(t), fromNumber, nil
	case float64:
		return formatFloat(t), fromNumber, nil
	case float32:
		return formatFloat(float64(t)), fromNumber, nil
	case int:
		return strconv.Itoa(t), fromNumber, nil
	case int64:
		return strconv.FormatInt(t, 10), fromNumber, nil
	case int32:
		return strconv.FormatInt(int64(t), 10), fromNumber, nil
	case uint:
		return strconv.FormatUint(uint64(t), 10), fromNumber, nil
	case uint64:
		return strconv.FormatUint(t, 10), fromNumber, nil
	case uint32:
		return strconv.FormatUint(uint64(t), 10), fromNumber, nil
	case bool:
		return strconv.FormatBool(t), fromBool, nil
	case []string:
		b, _ := json.Marshal(t)
		return string(b), fromList, slices.Clone(t)
	case []any:
		l := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return jsonText(x), fromOther, nil
			}
			l = append(l, s)
		}
		return jsonText(x), fromList, l
	case nil:
		return "null", fromOther, nil
	}
	return jsonText(x), fromOther, nil
}

func jsonText(x any) string {
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprint(x)
	}
	return string(b)
}

// formatFloat writes f as encoding/json does.
func formatFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func parse(p *Param, text string, src source, list []string) (value, *Error) {
	v := value{raw: text}
	invalid := func(why string) (value, *Error) {
		return value{}, &Error{Name: p.Name, Value: text,
			Msg: fmt.Sprintf("hyperparameter %s = %s is invalid: %s", quote(p.Name), quote(text), why)}
	}
	expect := "expected " + expectation(p)
	if src == fromOther {
		return invalid(expect)
	}
	trimmed := strings.TrimSpace(text)
	if p.Auto && src == fromString && strings.EqualFold(trimmed, "auto") {
		v.auto = true
		if p.Kind == String {
			v.s = "auto"
		}
		return v, nil
	}
	switch p.Kind {
	case Int:
		if src != fromString && src != fromNumber {
			return invalid(expect)
		}
		n, err := strconv.Atoi(trimmed)
		if err != nil {
			if src != fromNumber {
				return invalid(expect)
			}
			// A JSON number such as 10.0 or 1e3 with an integral value.
			f, ferr := strconv.ParseFloat(trimmed, 64)
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return invalid(expect)
			}
			n = int(f)
			v.raw = strconv.Itoa(n)
		}
		if !inBounds(p, float64(n)) {
			return value{}, rangeError(p, text)
		}
		v.i = n
	case Float:
		if src != fromString && src != fromNumber {
			return invalid(expect)
		}
		f, err := strconv.ParseFloat(trimmed, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return invalid(expect)
		}
		if !inBounds(p, f) {
			return value{}, rangeError(p, text)
		}
		v.f = f
	case String:
		if src == fromList {
			return invalid(expect)
		}
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, text) {
			if src == fromString && slices.Contains(p.Enum, trimmed) {
				text = trimmed
			} else {
				why := "expected one of " + quoteList(p.Enum)
				if best, ok := closest(trimmed, p.Enum); ok {
					why += fmt.Sprintf("; did you mean %s?", quote(best))
				}
				return invalid(why)
			}
		}
		v.s = text
	case Bool:
		switch {
		case src == fromBool:
			v.b = text == "true"
		case src == fromString && (trimmed == "true" || trimmed == "True"):
			v.b = true
		case src == fromString && (trimmed == "false" || trimmed == "False"):
			v.b = false
		default:
			return invalid(expect)
		}
	case List:
		if src != fromList {
			var ok bool
			list, ok = splitList(trimmed)
			if !ok {
				return invalid(expect)
			}
		}
		if len(list) == 0 {
			return invalid("the list is empty; " + expect)
		}
		out := make([]string, 0, len(list))
		for _, e := range list {
			if len(p.Enum) > 0 && !slices.Contains(p.Enum, e) {
				why := fmt.Sprintf("element %s is not one of %s", quote(e), quoteList(p.Enum))
				if best, ok := closest(e, p.Enum); ok {
					why += fmt.Sprintf("; did you mean %s?", quote(best))
				}
				return invalid(why)
			}
			if len(p.Enum) == 0 && strings.TrimSpace(e) == "" {
				return invalid("the list has an empty element; " + expect)
			}
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
		v.l = out
	}
	return v, nil
}

// splitList reads a JSON list of strings, Python's str(list) form
// (['a', 'b'], [u'a'], [a, b]) or a bare single word.
func splitList(s string) ([]string, bool) {
	if !strings.HasPrefix(s, "[") {
		if s == "" || strings.ContainsAny(s, "[],'\"") {
			return nil, false
		}
		return []string{s}, true
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err == nil {
		return l, true
	}
	if !strings.HasSuffix(s, "]") {
		return nil, false
	}
	inner := strings.TrimSpace(s[1 : len(s)-1])
	if inner == "" {
		return []string{}, true
	}
	for _, e := range strings.Split(inner, ",") {
		e = strings.TrimSpace(e)
		if len(e) >= 3 && e[0] == 'u' && (e[1] == '\'' || e[1] == '"') {
			e = e[1:]
		}
		if len(e) >= 2 && (e[0] == '\'' || e[0] == '"') && e[len(e)-1] == e[0] {
			e = e[1 : len(e)-1]
		}
		if e == "" || strings.ContainsAny(e, "[]'\"") {
			return nil, false
		}
		l = append(l, e)
	}
	return l, true
}

func inBounds(p *Param, f float64) bool {
	if p.Min != nil && (f < *p.Min || p.MinOpen && f == *p.Min) {
		return false
	}
	if p.Max != nil && (f > *p.Max || p.MaxOpen && f == *p.Max) {
		return false
	}
	return true
}

func rangeError(p *Param, text string) *Error {
	why := expectation(p)
	if p.Doc != "" {
		if b := boundText(p); b != "" {
			why += " (" + b + ")"
		}
	}
	return &Error{Name: p.Name, Value: text,
		Msg: fmt.Sprintf("hyperparameter %s = %s is out of range: expected %s", quote(p.Name), quote(text), why)}
}

// boundText renders p's bounds: "in [0, 1]", "in (0, 1]", ">= 1", "< 1", or "".
func boundText(p *Param) string {
	num := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	switch {
	case p.Min != nil && p.Max != nil:
		lo, hi := "[", "]"
		if p.MinOpen {
			lo = "("
		}
		if p.MaxOpen {
			hi = ")"
		}
		return "in " + lo + num(*p.Min) + ", " + num(*p.Max) + hi
	case p.Min != nil:
		if p.MinOpen {
			return "> " + num(*p.Min)
		}
		return ">= " + num(*p.Min)
	case p.Max != nil:
		if p.MaxOpen {
			return "< " + num(*p.Max)
		}
		return "<= " + num(*p.Max)
	}
	return ""
}

// expectation is what a valid value looks like: p.Doc, or one derived from
// the kind.
func expectation(p *Param) string {
	if p.Doc != "" {
		return p.Doc
	}
	var s string
	switch p.Kind {
	case Int:
		s = "an integer"
	case Float:
		s = "a number"
	case String:
		if len(p.Enum) > 0 {
			s = "one of " + quoteList(p.Enum)
		} else {
			s = "a string"
		}
	case Bool:
		s = "true or false"
	case List:
		if len(p.Enum) > 0 {
			s = "a JSON list of one or more of " + quoteList(p.Enum)
		} else {
			s = "a JSON list of strings"
		}
	}
	if b := boundText(p); b != "" && (p.Kind == Int || p.Kind == Float) {
		s += " " + b
	}
	if p.Auto {
		s += ` or "auto"`
	}
	return s
}

// quote quotes s for a message, shortening it past 64 characters.
func quote(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return strconv.Quote(string(r[:max]) + "...")
	}
	return strconv.Quote(s)
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = quote(s)
	}
	return strings.Join(q, ", ")
}

// closest returns the candidate nearest to s (Levenshtein distance, ignoring
// case), if it is reasonably close: at most max(2, len(s)/3) edits, at most
// half of s edited, and fewer edits than the candidate is long. Ties go to
// the earlier candidate.
func closest(s string, candidates []string) (string, bool) {
	if utf8.RuneCountInString(s) > MaxValueLen {
		return "", false
	}
	ls := []rune(strings.ToLower(s))
	best, bestD := "", math.MaxInt
	for _, c := range candidates {
		lc := []rune(strings.ToLower(c))
		d := levenshtein(ls, lc)
		if d < bestD && d <= max(2, len(ls)/3) && 2*d <= len(ls) && d < len(lc) {
			best, bestD = c, d
		}
	}
	return best, bestD != math.MaxInt
}

func levenshtein(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// param returns the schema entry for name, panicking if there is none or,
// when kind >= 0, if it has another kind.
func (v Values) param(name string, kind Kind) *Param {
	i, ok := v.idx[name]
	if !ok {
		panic(fmt.Sprintf("hyper: no hyperparameter %q in the schema", name))
	}
	p := &v.params[i]
	if kind >= 0 && p.Kind != kind {
		panic(fmt.Sprintf("hyper: hyperparameter %q is %v, not %v", name, p.Kind, kind))
	}
	return p
}

// Has reports whether name has a value, given by the user or defaulted.
func (v Values) Has(name string) bool {
	v.param(name, -1)
	_, ok := v.set[name]
	return ok
}

// IsAuto reports whether name's value is "auto".
func (v Values) IsAuto(name string) bool {
	v.param(name, -1)
	return v.set[name].auto
}

// Int returns the value of the Int hyperparameter name (0 when absent or auto).
func (v Values) Int(name string) int {
	v.param(name, Int)
	return v.set[name].i
}

// Float returns the value of the Float hyperparameter name (0 when absent or auto).
func (v Values) Float(name string) float64 {
	v.param(name, Float)
	return v.set[name].f
}

// String returns the value of the String hyperparameter name ("" when
// absent, "auto" when auto).
func (v Values) String(name string) string {
	v.param(name, String)
	return v.set[name].s
}

// Bool returns the value of the Bool hyperparameter name (false when absent).
func (v Values) Bool(name string) bool {
	v.param(name, Bool)
	return v.set[name].b
}

// List returns a copy of the value of the List hyperparameter name (nil when
// absent or auto).
func (v Values) List(name string) []string {
	v.param(name, List)
	return slices.Clone(v.set[name].l)
}

// Raw returns name's value as text: as given (an integral JSON number for
// an Int in decimal), or the default; "" when absent.
func (v Values) Raw(name string) string {
	v.param(name, -1)
	return v.set[name].raw
}

// Injected returns the value, as text, of a name SageMaker or the SDK
// injects, which Parse accepts and otherwise ignores (a name starting with
// "_", or force_dense): a training job launched by automatic model tuning
// carries _tuning_objective_metric, for instance.
func (v Values) Injected(name string) (string, bool) {
	text, ok := v.injected[name]
	return text, ok
}

// Map returns every set value as text, by name (for logging the arguments
// provided). Ignored names are not included.
func (v Values) Map() map[string]string {
	m := make(map[string]string, len(v.set))
	for name, val := range v.set {
		m[name] = val.raw
	}
	return m
}

// With returns a copy with name set to the given textual value, parsed per
// the schema, for tests and for algorithms resolving "auto". Schema.Check
// does not run again. It panics if name is not in the schema or value is
// invalid.
func (v Values) With(name, text string) Values {
	p := v.param(name, -1)
	val, err := parseText(p, text)
	if err != nil {
		panic("hyper: With: " + err.Msg)
	}
	set := make(map[string]value, len(v.set)+1)
	for k, x := range v.set {
		set[k] = x
	}
	set[name] = val
	v.set = set
	return v
}
