package recordio

import (
	"bufio"
	"encoding/binary"
	"io"
)

// Payloads reads the payloads of a RecordIO stream's records one after
// another as one byte stream, split parts joined and padding skipped. Unlike
// Reader it never holds a whole record: each part's payload is read straight
// into the caller's buffer, so records of any size pass (SageMaker's
// RecordWrapperType RecordIO wraps a whole S3 object in one record).
type Payloads struct {
	r       *bufio.Reader
	endLine bool
	off     int64  // bytes consumed
	record  int    // index of the record being read
	part    int    // parts of that record begun; 0 between records
	inPart  bool   // the payload or padding of a part is being read
	flag    uint32 // continuation flag of the part
	left    int    // payload bytes of the part not yet returned
	pad     int    // padding bytes after them
	empty   bool   // the record has yielded no byte yet
	last    byte   // the record's last byte so far
	pend    []byte // bytes owed to the caller: a restored magic or '\n'
	spare   [4]byte
	hdr     [8]byte
	err     error
}

// NewPayloads returns a Payloads reading from r. With endLine a newline
// follows each non-empty record that does not end in one, so that text
// objects do not run together.
func NewPayloads(r io.Reader, endLine bool) *Payloads {
	return &Payloads{r: bufferedReader(r), endLine: endLine}
}

// Read reads payload bytes into b. It returns io.EOF at a clean end of input,
// after the last whole record, and a *ParseError (as Reader's) for malformed
// input, possibly after part of the record it belongs to; errors are sticky.
func (p *Payloads) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if len(b) == 0 {
		return 0, nil
	}
	for {
		switch {
		case len(p.pend) > 0:
			n := copy(b, p.pend)
			p.pend = p.pend[n:]
			return n, nil
		case p.left > 0:
			n, err := p.r.Read(b[:min(len(b), p.left)])
			p.off += int64(n)
			p.left -= n
			if n > 0 {
				p.last, p.empty = b[n-1], false
			}
			if err == io.EOF {
				if n > 0 {
					return n, nil // EOF again at the next Read
				}
				err = ErrTruncated
			}
			if err != nil {
				return n, p.fail(p.off, err)
			}
			if n > 0 {
				return n, nil
			}
		case p.pad > 0:
			n, err := p.r.Discard(p.pad)
			p.off += int64(n)
			p.pad -= n
			if err != nil {
				if err == io.EOF {
					err = ErrTruncated
				}
				return 0, p.fail(p.off, err)
			}
		case p.inPart:
			p.inPart = false
			if p.flag == flagFirst || p.flag == flagMiddle {
				// The writer dropped the magic where it split the record.
				p.pend = binary.LittleEndian.AppendUint32(p.spare[:0], Magic)
				p.last, p.empty = p.pend[3], false
				continue
			}
			p.record++
			p.part = 0
			if p.endLine && !p.empty && p.last != '\n' {
				p.pend = append(p.spare[:0], '\n')
			}
		default:
			if p.part == 0 {
				p.empty = true
			}
			if err := p.header(); err != nil {
				return 0, err
			}
		}
	}
}

// header reads the header of the next part.
func (p *Payloads) header() error {
	start := p.off
	n, err := io.ReadFull(p.r, p.hdr[:])
	p.off += int64(n)
	if err != nil {
		if err == io.EOF && p.part == 0 {
			p.err = io.EOF
			return io.EOF
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = ErrTruncated
		}
		return p.fail(start, err)
	}
	flag, length, err := partHeader(p.hdr[:], p.part)
	if err != nil {
		return p.fail(start, err)
	}
	p.part++
	p.inPart = true
	p.flag, p.left, p.pad = flag, length, (4-length%4)%4
	return nil
}

func (p *Payloads) errorf(off int64, err error) error {
	return &ParseError{Record: p.record, Offset: off, Err: err}
}

func (p *Payloads) fail(off int64, err error) error {
	p.err = p.errorf(off, err)
	return p.err
}
