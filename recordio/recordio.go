// Package recordio reads and writes MXNet's RecordIO framing (dmlc-core),
// the container of SageMaker's application/x-recordio-protobuf data. Each
// record on the wire is a little-endian uint32 magic 0xced7230a, a uint32
// whose low 29 bits are the payload length and high 3 bits a continuation
// flag (0 whole, 1 first, 2 middle, 3 last part of a split record), the
// payload, and zero padding to a 4-byte boundary. A record is split where its
// payload holds the magic at a 4-byte aligned offset; the magic itself is
// dropped there and restored on reading.
//
// The payloads are aialgs.data Record protobuf messages (package
// recordio/aialgs) in SageMaker's use, but this package moves bytes only.
package recordio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Magic starts every RecordIO part.
const Magic uint32 = 0xced7230a

const (
	lengthMask = 1<<29 - 1

	flagWhole  = 0
	flagFirst  = 1
	flagMiddle = 2
	flagLast   = 3
)

// DefaultMaxRecordSize caps one reassembled record unless Reader.MaxRecordSize
// says otherwise: a corrupt length must not become a huge allocation.
const DefaultMaxRecordSize = 64 << 20

// Errors wrapped by ParseError.
var (
	ErrBadMagic     = errors.New("bad magic number (want 0xced7230a)")
	ErrTruncated    = errors.New("input ends inside a record")
	ErrTooLarge     = errors.New("record is larger than the limit")
	ErrContinuation = errors.New("continuation flags out of order")
)

// ParseError is malformed RecordIO input: which record, where, and why.
type ParseError struct {
	Record int   // 0-based index of the record being read
	Offset int64 // byte offset in the stream where the problem was found
	Err    error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("recordio: record %d at byte offset %d: %v", e.Record, e.Offset, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// ClientError marks malformed input as the user's fault.
func (e *ParseError) ClientError() bool { return true }

// Reader reads whole records from a RecordIO stream.
type Reader struct {
	// MaxRecordSize caps one reassembled record in bytes; zero means
	// DefaultMaxRecordSize. Set it before the first Read.
	MaxRecordSize int

	r      *bufio.Reader
	off    int64 // bytes consumed
	record int   // index of the next record
	buf    []byte
	hdr    [8]byte // a field, not a local: io.ReadFull would make a local escape
	err    error
}

// NewReader returns a Reader reading from r. An in-memory r that tells
// its length (Len, as *bytes.Reader does: a request body) gets a buffer no
// larger than what it holds, not 64 KiB zeroed per request.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufferedReader(r)}
}

func bufferedReader(r io.Reader) *bufio.Reader {
	if br, ok := r.(*bufio.Reader); ok {
		return br
	}
	size := 1 << 16
	if l, ok := r.(interface{ Len() int }); ok {
		size = min(size, l.Len())
	}
	return bufio.NewReaderSize(r, size) // at least 16 bytes
}

// Offset returns the number of bytes consumed so far.
func (r *Reader) Offset() int64 { return r.off }

// Records returns the number of whole records read so far.
func (r *Reader) Records() int { return r.record }

// Read returns the payload of the next whole record, split parts
// reassembled. It returns io.EOF at a clean end of input and a *ParseError
// for malformed input; errors are sticky. The payload is valid until the next
// call to Read.
func (r *Reader) Read() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	p, err := r.read()
	if err != nil {
		r.err = err
		return nil, err
	}
	r.record++
	return p, nil
}

func (r *Reader) read() ([]byte, error) {
	max := r.MaxRecordSize
	if max <= 0 {
		max = DefaultMaxRecordSize
	}
	r.buf = r.buf[:0]
	hdr := r.hdr[:]
	for part := 0; ; part++ {
		start := r.off
		n, err := io.ReadFull(r.r, hdr)
		r.off += int64(n)
		if err != nil {
			if err == io.EOF && part == 0 {
				return nil, io.EOF
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, r.errorf(start, ErrTruncated)
			}
			return nil, r.errorf(start, err)
		}
		flag, length, err := partHeader(hdr, part)
		if err != nil {
			return nil, r.errorf(start, err)
		}
		if len(r.buf)+length > max {
			return nil, r.errorf(start, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(r.buf)+length, max))
		}
		padded := (length + 3) &^ 3
		at := len(r.buf)
		if err := r.fill(padded); err != nil {
			return nil, err
		}
		r.buf = r.buf[:at+length]
		if flag == flagWhole || flag == flagLast {
			return r.buf, nil
		}
		r.buf = binary.LittleEndian.AppendUint32(r.buf, Magic)
	}
}

// partHeader decodes the header of a record's part number part: its
// continuation flag and payload length, with the magic checked and the flag
// checked against part.
func partHeader(hdr []byte, part int) (flag uint32, length int, err error) {
	if m := binary.LittleEndian.Uint32(hdr[:4]); m != Magic {
		return 0, 0, fmt.Errorf("%w: found 0x%08x", ErrBadMagic, m)
	}
	word := binary.LittleEndian.Uint32(hdr[4:])
	flag, length = word>>29, int(word&lengthMask)
	switch {
	case part == 0 && (flag == flagMiddle || flag == flagLast),
		part > 0 && (flag == flagWhole || flag == flagFirst),
		flag > flagLast:
		return 0, 0, fmt.Errorf("%w: flag %d in part %d", ErrContinuation, flag, part)
	}
	return flag, length, nil
}

// fill appends n bytes of input to r.buf. It grows the buffer as bytes
// arrive, in chunks of at most 1 MiB, so a corrupt length costs no more
// memory than the input that backs it.
func (r *Reader) fill(n int) error {
	const chunk = 1 << 20
	for n > 0 {
		c := min(n, chunk)
		at := len(r.buf)
		if cap(r.buf)-at >= c {
			r.buf = r.buf[:at+c] // ReadFull overwrites it all: no zeroing
		} else {
			r.buf = append(r.buf, make([]byte, c)...)
		}
		got, err := io.ReadFull(r.r, r.buf[at:])
		r.off += int64(got)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return r.errorf(r.off, ErrTruncated)
			}
			return r.errorf(r.off, err)
		}
		n -= c
	}
	return nil
}

func (r *Reader) errorf(off int64, err error) error {
	return &ParseError{Record: r.record, Offset: off, Err: err}
}

// ReadAll reads every record until EOF and returns copies of the payloads.
func (r *Reader) ReadAll() ([][]byte, error) {
	var out [][]byte
	for {
		p, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, append([]byte(nil), p...))
	}
}

// Writer writes records in RecordIO framing, as MXNet's RecordIOWriter does:
// a payload holding the magic at a 4-byte aligned offset is split there.
type Writer struct {
	w   io.Writer
	hdr [8]byte
}

// NewWriter returns a Writer writing to w. Writes go straight to w: wrap w in
// a bufio.Writer for many small records.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

var padding [4]byte

// Write writes one record holding payload, which must be shorter than 2^29
// bytes.
func (w *Writer) Write(payload []byte) error {
	if len(payload) > lengthMask {
		return fmt.Errorf("recordio: record of %d bytes exceeds the format's limit of %d", len(payload), lengthMask)
	}
	done := 0 // start of the part not yet written
	for i := 0; i+4 <= len(payload); i += 4 {
		if binary.LittleEndian.Uint32(payload[i:]) != Magic {
			continue
		}
		flag := uint32(flagMiddle)
		if done == 0 {
			flag = flagFirst
		}
		if err := w.part(flag, payload[done:i]); err != nil {
			return err
		}
		done = i + 4
	}
	flag := uint32(flagWhole)
	if done > 0 {
		flag = flagLast
	}
	return w.part(flag, payload[done:])
}

func (w *Writer) part(flag uint32, p []byte) error {
	binary.LittleEndian.PutUint32(w.hdr[:4], Magic)
	binary.LittleEndian.PutUint32(w.hdr[4:], flag<<29|uint32(len(p)))
	if _, err := w.w.Write(w.hdr[:]); err != nil {
		return err
	}
	if _, err := w.w.Write(p); err != nil {
		return err
	}
	if pad := (4 - len(p)%4) % 4; pad > 0 {
		_, err := w.w.Write(padding[:pad])
		return err
	}
	return nil
}
