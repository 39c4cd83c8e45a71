package data

import (
	"bytes"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of skipped JSON values.
const maxJSONDepth = 512

// jsonScanner is a small JSON reader for request bodies: it parses the
// instance layouts into typed scratch slices without encoding/json's
// reflection and without allocating per number.
type jsonScanner struct {
	buf  []byte
	pos  int
	base int // line offset for JSON Lines (lines before buf)
	what string
	inst int // instance index, for errors

	key []byte // unescaped key scratch

	vals  []float32
	keys  []uint64
	shape []uint64

	slowFloats bool // general path only (tests compare the two)
}

// errAt is a *ParseError at the scanner's position.
func (s *jsonScanner) errAt(msg string) error {
	line, col := 1, 1
	end := min(s.pos, len(s.buf))
	if i := bytes.LastIndexByte(s.buf[:end], '\n'); i >= 0 {
		line += bytes.Count(s.buf[:i], []byte{'\n'}) + 1
		col = end - i
	} else {
		col = end + 1
	}
	e := &ParseError{What: s.what, Record: s.inst, Line: line + s.base, Column: col, Msg: msg}
	return e
}

// errInst is a *ParseError naming the instance only.
func (s *jsonScanner) errInst(msg string) error {
	if s.what == "" {
		return &ParseError{Line: s.base + 1, Msg: msg}
	}
	return &ParseError{What: s.what, Record: s.inst, Msg: msg}
}

func (s *jsonScanner) ws() {
	for s.pos < len(s.buf) {
		// Every JSON space is at most ' ': one compare for the rest.
		if c := s.buf[s.pos]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return
		}
		s.pos++
	}
}

func (s *jsonScanner) peek() byte {
	s.ws()
	if s.pos < len(s.buf) {
		return s.buf[s.pos]
	}
	return 0
}

func (s *jsonScanner) describe() string {
	if s.pos >= len(s.buf) {
		return "unexpected end of JSON input"
	}
	c := s.buf[s.pos]
	if c < 0x20 || c >= 0x7f {
		return "invalid character " + strconv.QuoteRune(rune(c))
	}
	return "invalid character " + strconv.QuoteRune(rune(c))
}

func (s *jsonScanner) expect(c byte) error {
	if s.peek() != c {
		return s.errAt(s.describe() + ", expected " + strconv.QuoteRune(rune(c)))
	}
	s.pos++
	return nil
}

// str reads a string and returns its unescaped bytes (valid until the next
// call).
func (s *jsonScanner) str() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	start := s.pos
	for i := s.pos; i < len(s.buf); i++ {
		c := s.buf[i]
		if c == '"' {
			s.pos = i + 1
			return s.buf[start:i], nil
		}
		if c == '\\' || c < 0x20 {
			return s.strSlow(start)
		}
	}
	s.pos = len(s.buf)
	return nil, s.errAt("unexpected end of JSON input in string")
}

func (s *jsonScanner) strSlow(start int) ([]byte, error) {
	s.key = append(s.key[:0], s.buf[start:s.pos]...)
	for s.pos < len(s.buf) {
		c := s.buf[s.pos]
		switch {
		case c == '"':
			s.pos++
			return s.key, nil
		case c < 0x20:
			return nil, s.errAt("invalid control character in string")
		case c != '\\':
			s.key = append(s.key, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.buf) {
			break
		}
		e := s.buf[s.pos+1]
		s.pos += 2
		switch e {
		case '"', '\\', '/':
			s.key = append(s.key, e)
		case 'b':
			s.key = append(s.key, '\b')
		case 'f':
			s.key = append(s.key, '\f')
		case 'n':
			s.key = append(s.key, '\n')
		case 'r':
			s.key = append(s.key, '\r')
		case 't':
			s.key = append(s.key, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.errAt(`invalid \u escape in string`)
			}
			if utf16.IsSurrogate(r) {
				save := s.pos
				if s.pos+1 < len(s.buf) && s.buf[s.pos] == '\\' && s.buf[s.pos+1] == 'u' {
					s.pos += 2
					if r2, ok := s.hex4(); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							s.key = utf8.AppendRune(s.key, d)
							continue
						}
					}
				}
				s.pos = save
				r = utf8.RuneError
			}
			s.key = utf8.AppendRune(s.key, r)
		default:
			s.pos--
			return nil, s.errAt("invalid escape in string")
		}
	}
	s.pos = len(s.buf)
	return nil, s.errAt("unexpected end of JSON input in string")
}

func (s *jsonScanner) hex4() (rune, bool) {
	if s.pos+4 > len(s.buf) {
		return 0, false
	}
	var r rune
	for _, c := range s.buf[s.pos : s.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	s.pos += 4
	return r, true
}

// number returns the text of a JSON number (strict grammar).
func (s *jsonScanner) number() ([]byte, error) {
	s.ws()
	b, i := s.buf, s.pos
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	bad := func() ([]byte, error) {
		if i == start || i >= len(b) {
			return nil, s.errAt(s.describe() + ", expected a number")
		}
		s.pos = i
		return nil, s.errAt("invalid number " + strconv.Quote(string(b[start:min(i+1, len(b))])))
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return bad()
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return bad()
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return bad()
		}
	}
	s.pos = i
	return b[start:i], nil
}

// sep reads the ',' between elements (more) or the closing bracket of the
// array or object (done).
func (s *jsonScanner) sep(close byte) (more bool, err error) {
	switch s.peek() {
	case ',':
		s.pos++
		return true, nil
	case close:
		s.pos++
		return false, nil
	}
	return false, s.errAt(s.describe() + ", expected ',' or " + strconv.QuoteRune(rune(close)))
}

// arrayOf calls elem for each element of an array.
func (s *jsonScanner) arrayOf(elem func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		if more, err := s.sep(']'); !more {
			return err
		}
	}
}

// objectOf calls field for each key of an object; field must consume the
// value.
func (s *jsonScanner) objectOf(field func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		k, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(k); err != nil {
			return err
		}
		if more, err := s.sep('}'); !more {
			return err
		}
	}
}

// skip consumes any JSON value.
func (s *jsonScanner) skip(depth int) error {
	if depth > maxJSONDepth {
		return s.errAt("JSON nested too deeply")
	}
	switch c := s.peek(); {
	case c == '{':
		return s.objectOf(func([]byte) error { return s.skip(depth + 1) })
	case c == '[':
		return s.arrayOf(func() error { return s.skip(depth + 1) })
	case c == '"':
		_, err := s.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := s.number()
		return err
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(s.buf[s.pos:], []byte(lit)) {
			s.pos += len(lit)
			return nil
		}
	}
	return s.errAt(s.describe() + ", expected a JSON value")
}

// floats reads an array of numbers into s.vals. Each element is tried
// first by scanFloat32 (the common shapes, in one pass); anything else, an
// error included, by the general path from the element's start, so errors
// read the same either way.
func (s *jsonScanner) floats(name string) error {
	s.vals = s.vals[:0]
	if s.peek() != '[' {
		return s.errAt(strconv.Quote(name) + " must be an array of numbers")
	}
	s.pos++
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for {
		s.ws()
		if v, end, ok := scanFloat32(s.buf, s.pos); ok && !s.slowFloats {
			s.vals = append(s.vals, v)
			s.pos = end
		} else if err := s.float(name); err != nil {
			return err
		}
		if s.pos < len(s.buf) && s.buf[s.pos] == ',' { // sep, in line: most elements
			s.pos++
		} else if more, err := s.sep(']'); !more {
			return err
		}
	}
}

// float reads one number of the array name into s.vals: JSON's grammar,
// then parseFloat32.
func (s *jsonScanner) float(name string) error {
	t, start, err := s.element(name, "numbers")
	if err != nil {
		return err
	}
	v, msg := parseFloat32(t)
	if msg != "" {
		s.pos = start
		return s.errAt(msg)
	}
	s.vals = append(s.vals, v)
	return nil
}

// element reads the JSON number text of an element of the array name,
// and where it starts; anything but a number is an error saying the array
// must hold what.
func (s *jsonScanner) element(name, what string) (t []byte, start int, err error) {
	if c := s.peek(); c != '-' && (c < '0' || c > '9') {
		return nil, 0, s.errAt(strconv.Quote(name) + " must be an array of " + what)
	}
	start = s.pos
	t, err = s.number()
	return t, start, err
}

// uints reads an array of non-negative integers.
func (s *jsonScanner) uints(dst []uint64, name string) ([]uint64, error) {
	dst = dst[:0]
	if s.peek() != '[' {
		return dst, s.errAt(strconv.Quote(name) + " must be an array of non-negative integers")
	}
	err := s.arrayOf(func() error {
		t, start, err := s.element(name, "non-negative integers")
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(string(t), 10, 64)
		if err != nil {
			// Also accept integral floats such as 26.0.
			f, ferr := strconv.ParseFloat(string(t), 64)
			if ferr != nil || f < 0 || f != float64(uint64(f)) || f >= 1<<63 {
				s.pos = start
				return s.errAt(strconv.Quote(name) + " must hold non-negative integers, not " + string(t))
			}
			n = uint64(f)
		}
		dst = append(dst, n)
		return nil
	})
	return dst, err
}

// tensorObj reads {"keys": [...], "shape": [...], "values": [...]}.
func (s *jsonScanner) tensorObj() (sparse bool, err error) {
	s.vals, s.keys, s.shape = s.vals[:0], s.keys[:0], s.shape[:0]
	hasValues := false
	err = s.objectOf(func(k []byte) error {
		switch string(k) {
		case "values":
			hasValues = true
			return s.floats("values")
		case "keys":
			var err error
			s.keys, err = s.uints(s.keys, "keys")
			return err
		case "shape":
			var err error
			s.shape, err = s.uints(s.shape, "shape")
			return err
		}
		return s.skip(0)
	})
	if err != nil {
		return false, err
	}
	if !hasValues {
		return false, s.errInst(`"features" has no "values"`)
	}
	// Empty keys mean dense (the guide's dataElement example is
	// {"keys": [], "values": [...], "shape": [...]}); empty values with a
	// shape are an all-zero sparse row.
	return len(s.keys) > 0 || (len(s.vals) == 0 && len(s.shape) > 0), nil
}

// features reads a feature value: an array of numbers or a tensor object.
func (s *jsonScanner) features() (sparse bool, err error) {
	switch s.peek() {
	case '[':
		s.keys, s.shape = s.keys[:0], s.shape[:0]
		return false, s.floats("features")
	case '{':
		return s.tensorObj()
	}
	return false, s.errAt(`"features" must be an array of numbers or an object with "values"`)
}

// instance reads one instance object and appends its row to bl.
func (s *jsonScanner) instance(bl *builder) error {
	if s.peek() != '{' {
		return s.errAt(s.describe() + `, expected an instance object such as {"features": [...]}`)
	}
	found, sparse := false, false
	err := s.objectOf(func(k []byte) error {
		switch string(k) {
		case "features":
			found = true
			var err error
			sparse, err = s.features()
			return err
		case "data":
			if s.peek() != '{' {
				return s.errAt(`"data" must be an object such as {"features": {"values": [...]}}`)
			}
			return s.objectOf(func(k []byte) error {
				if string(k) != "features" {
					return s.skip(0)
				}
				found = true
				var err error
				sparse, err = s.features()
				return err
			})
		}
		return s.skip(0)
	})
	if err != nil {
		return err
	}
	if !found {
		return s.errInst(`has no "features" (expected {"features": [...]} or {"data": {"features": {"values": [...]}}})`)
	}
	return s.commit(bl, sparse)
}

// commit appends the scanned feature values as a row.
func (s *jsonScanner) commit(bl *builder, sparse bool) error {
	cols := bl.cols
	if !sparse {
		if len(s.vals) != cols {
			return &DimensionError{Record: s.inst, Got: len(s.vals), Want: cols}
		}
		bl.addDense(s.vals)
		return nil
	}
	if dim, counts := checkSparse(s.inst, s.shape, s.keys, len(s.vals), cols); dim != nil {
		return dim
	} else if counts != "" {
		return s.errInst("sparse features have " + counts)
	}
	if msg := bl.addSparse(s.keys, s.vals); msg != "" {
		return s.errInst(msg)
	}
	return nil
}

// decodeJSON decodes an application/json request {"instances": [...]}.
func decodeJSON(body []byte, featureDim int) (*Batch, error) {
	b := new(Batch)
	var bl builder
	bl.reset(b, featureDim)
	bl.dense = pooledRows(bytes.Count(body, featuresKey), featureDim, len(body), len("0,"))
	s := getScanner()
	defer putScanner(s)
	s.buf = body
	if s.peek() == 0 && s.pos == len(body) {
		return bl.finish(0), nil
	}
	if s.peek() != '{' {
		return nil, s.errAt(s.describe() + `, expected {"instances": [...]}`)
	}
	found := false
	err := s.objectOf(func(k []byte) error {
		if string(k) != "instances" {
			return s.skip(0)
		}
		if found {
			return s.errAt(`"instances" appears twice`)
		}
		found = true
		if s.peek() != '[' {
			return s.errAt(`"instances" must be an array of instances`)
		}
		err := s.arrayOf(func() error {
			s.what = "instance"
			err := s.instance(&bl)
			if err == nil {
				s.what = ""
				s.inst++
			}
			return err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.peek() != 0 || s.pos != len(body) {
		return nil, s.errAt(s.describe() + " after the top-level object")
	}
	if !found {
		return nil, &ParseError{Msg: `the request has no "instances" array`}
	}
	return bl.finish(0), nil
}

var (
	featuresKey = []byte(`"features"`)
	newline     = []byte{'\n'}
)

// scanners recycles jsonScanners, whose scratch slices (a row's values,
// a tensor's keys) would otherwise grow from nothing on every request.
var scanners = sync.Pool{New: func() any { return new(jsonScanner) }}

func getScanner() *jsonScanner { return scanners.Get().(*jsonScanner) }

// putScanner resets s, keeping its scratch, and pools it. Nothing a
// decode returns aliases the scratch: the builder copies every row.
func putScanner(s *jsonScanner) {
	*s = jsonScanner{key: s.key[:0], vals: s.vals[:0], keys: s.keys[:0], shape: s.shape[:0]}
	scanners.Put(s)
}

// decodeJSONLines decodes an application/jsonlines request: one instance
// object per line.
func decodeJSONLines(body []byte, featureDim int) (*Batch, error) {
	b := new(Batch)
	var bl builder
	bl.reset(b, featureDim)
	bl.dense = pooledRows(bytes.Count(body, newline)+1, featureDim, len(body), len("0,"))
	s := getScanner()
	defer putScanner(s)
	for lineNo := 0; len(body) > 0; lineNo++ {
		var line []byte
		line, body, _ = bytes.Cut(body, newline)
		if blank(line) {
			continue
		}
		s.buf, s.pos, s.base = line, 0, lineNo
		if err := s.instance(&bl); err != nil {
			return nil, err
		}
		if s.peek() != 0 || s.pos != len(line) {
			return nil, s.errAt(s.describe() + " after the instance object")
		}
		s.inst++
	}
	return bl.finish(0), nil
}
