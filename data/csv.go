package data

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// maxCSVLine caps one CSV line: a longer line is an error, not a huge
// allocation.
const maxCSVLine = 64 << 20

// csvRow parses one non-blank line (without its line ending) of
// labelSize+cols columns into the builder: labels to bl.labels, features to
// a new dense row. lineNo is 1-based, for errors.
func csvRow(bl *builder, line []byte, lineNo, labelSize int) error {
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	// Parse and count the columns in one pass; any failure undoes the row
	// and redoes it the slow way, which names the error (a wrong count
	// first, as before).
	nl := len(bl.labels)
	bl.labels = append(bl.labels, make([]float32, labelSize)...)
	row := bl.denseRow()
	p, ok := csvFill(bl.labels[nl:], line, 0)
	if ok {
		p, ok = csvFill(row, line, p)
	}
	if ok && p == len(line)+1 {
		return nil
	}
	bl.unDenseRow()
	bl.labels = bl.labels[:nl]
	return csvRowSlow(bl, line, lineNo, labelSize)
}

// csvRowSlow is csvRow counting the columns first, then parsing each field
// with csvField: the reference the fast path must agree with, and the one
// that builds errors.
func csvRowSlow(bl *builder, line []byte, lineNo, labelSize int) error {
	cols := bl.cols
	want := labelSize + cols
	if got := bytes.Count(line, comma) + 1; got != want {
		return &DimensionError{Record: bl.b.Rows, Line: lineNo, Got: got, Want: want, LabelSize: labelSize}
	}
	nl := len(bl.labels)
	bl.labels = append(bl.labels, make([]float32, labelSize)...)
	labels := bl.labels[nl:]
	row := bl.denseRow()
	p := 0
	for c := 0; c < want; c++ {
		v, next, msg := csvField(line, p)
		if msg != "" {
			bl.unDenseRow()
			bl.labels = bl.labels[:nl]
			return &ParseError{Line: lineNo, Column: c + 1, Msg: msg}
		}
		p = next
		if c < labelSize {
			labels[c] = v
		} else {
			row[c-labelSize] = v
		}
	}
	return nil
}

// csvField parses the field starting at line[p:] and returns its value and
// the start of the next field. The common case ([-]digits[.digits] with a
// short mantissa) is parsed in place; anything else goes to parseFloat32.
func csvField(line []byte, p int) (float32, int, string) {
	start := p
	for p < len(line) && line[p] == ' ' {
		p++
	}
	neg := false
	if p < len(line) && line[p] == '-' {
		neg = true
		p++
	}
	// Digits before and after the point, counted from positions rather
	// than per character: the hot loop of every CSV request. m may wrap
	// past 19 digits; such fields take the slow path below.
	var m uint64
	d0 := p
	for ; p < len(line) && line[p]-'0' <= 9; p++ {
		m = m*10 + uint64(line[p]-'0')
	}
	nd, frac := p-d0, 0
	if p < len(line) && line[p] == '.' {
		p++
		f0 := p
		for ; p < len(line) && line[p]-'0' <= 9; p++ {
			m = m*10 + uint64(line[p]-'0')
		}
		frac = p - f0
		nd += frac
	}
	if nd > 0 && nd <= maxFastDigits && (p == len(line) || line[p] == ',') {
		if f, ok := fastFloat32(m, frac, neg); ok {
			return f, p + 1, ""
		}
	}
	end := len(line)
	if i := bytes.IndexByte(line[start:], ','); i >= 0 {
		end = start + i
	}
	v, msg := parseFloat32(trimSpace(line[start:end]))
	return v, end + 1, msg
}

var comma = []byte{','}

// blank reports whether a line holds only spaces.
func blank(line []byte) bool { return len(trimSpace(line)) == 0 }

// csvColumns counts the features of a line holding labelSize labels.
func csvColumns(line []byte, labelSize int) int {
	return bytes.Count(line, comma) + 1 - labelSize
}

// decodeCSV decodes a whole text/csv body: rows separated by \n or \r\n,
// blank lines skipped, labelSize leading label columns, a byte order mark
// at the start of a line dropped (see NewCSVReader).
func decodeCSV(body []byte, featureDim, labelSize int) (*Batch, error) {
	b := new(Batch)
	var bl builder
	bl.reset(b, featureDim)
	// One allocation for the rows: count lines first. A value and its
	// comma take 2 bytes, and the last value of a line has its newline.
	n := rowsBound(bytes.Count(body, newline)+1, featureDim, len(body)+1, 2)
	bl.dense = pooledDense(n * featureDim) // every value is written (csvRow)
	if labelSize > 0 {
		bl.labels = make([]float32, 0, n*labelSize)
	}
	for lineNo := 1; len(body) > 0; lineNo++ {
		var line []byte
		line, body, _ = bytes.Cut(body, newline)
		line = bytes.TrimPrefix(line, BOM)
		if blank(line) {
			continue
		}
		if err := csvRow(&bl, line, lineNo, labelSize); err != nil {
			return nil, err
		}
	}
	return bl.finish(labelSize), nil
}

// NewCSVReader returns a training reader of text/csv rows from r: each line
// holds labelSize label columns then featureDim feature columns, separated
// by commas, with \n or \r\n line endings; spaces around numbers and blank
// lines are ignored, and so is a UTF-8 byte order mark at the start of a
// line: Excel's "CSV UTF-8" starts every file with one, and the start of
// each file of a channel, of each S3 object in a Pipe-mode stream and of
// each RecordIO-wrapped payload is the start of a line. featureDim <= 0
// takes the width from the first row and enforces it after that. Batches
// are dense, with LabelSize labelSize (Labels nil when 0).
//
// Errors: a wrong column count is a *DimensionError naming the line and both
// counts; a field that is not a finite float32 is a *ParseError naming line,
// column and text; errors from r are returned as they are. Errors are
// sticky. The reader holds one mini-batch and reuses it (see BatchReader).
func NewCSVReader(r io.Reader, featureDim, labelSize int) BatchReader {
	if labelSize < 0 {
		labelSize = 0
	}
	return &csvReader{br: bufio.NewReaderSize(r, 1<<20), featureDim: featureDim, labelSize: labelSize}
}

type csvReader struct {
	br         *bufio.Reader
	featureDim int
	labelSize  int
	line       int // lines read
	rows       int // rows returned before the current batch
	long       []byte
	b          Batch
	bl         builder
	err        error
}

// readLine returns the next line without its \n; io.EOF when none is left.
// The line is valid until the next call.
func (r *csvReader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if err == bufio.ErrBufferFull {
		r.long = append(r.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(r.long) > maxCSVLine {
				return nil, &ParseError{Line: r.line + 1, Msg: "line is longer than " + strconv.Itoa(maxCSVLine) + " bytes"}
			}
			line, err = r.br.ReadSlice('\n')
			r.long = append(r.long, line...)
		}
		line = r.long
		if err == nil {
			return line[:len(line)-1], nil
		}
	}
	if err == io.EOF && len(line) > 0 {
		return line, nil
	}
	return nil, err
}

func (r *csvReader) Read(n int) (*Batch, error) {
	if r.err != nil {
		return nil, r.err
	}
	if n <= 0 {
		return nil, errors.New("data: Read needs a positive batch size")
	}
	started := false
	for r.b.Rows < n || !started {
		line, err := r.readLine()
		if err != nil {
			r.err = err
			if err == io.EOF && started && r.b.Rows > 0 {
				break
			}
			return nil, err
		}
		r.line++
		line = bytes.TrimPrefix(line, BOM)
		if blank(line) {
			continue
		}
		if r.featureDim <= 0 {
			r.featureDim = csvColumns(line, r.labelSize)
			if r.featureDim <= 0 {
				r.err = &DimensionError{Line: r.line, Got: r.featureDim + r.labelSize, Want: r.labelSize + 1, LabelSize: r.labelSize}
				return nil, r.err
			}
		}
		if !started {
			r.bl.reset(&r.b, r.featureDim)
			started = true
			// Size the buffers for a full batch once (bounded: n may mean "all").
			if need := n * r.featureDim; cap(r.bl.dense) < need && need <= 1<<24 {
				r.bl.dense = make([]float32, 0, need)
				r.bl.labels = make([]float32, 0, n*r.labelSize)
			}
		}
		if err := csvRow(&r.bl, line, r.line, r.labelSize); err != nil {
			if de, ok := err.(*DimensionError); ok {
				de.Record = r.rows + r.b.Rows // not the batch-relative index
			}
			r.err = err
			return nil, err
		}
	}
	r.rows += r.b.Rows
	return r.bl.finish(r.labelSize), nil
}
