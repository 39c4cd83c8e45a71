package trainer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/sagebrush-ml/sagebrush/algorithms"
	"github.com/sagebrush-ml/sagebrush/data"
	"github.com/sagebrush-ml/sagebrush/recordio"
)

// Input modes of a channel (TrainingInputMode).
const (
	FileMode = "File"
	PipeMode = "Pipe"
)

// DataError is channel data the trainer itself cannot read: a corrupt gzip
// stream, or a channel directory that is missing. It is a client error.
type DataError struct {
	Channel string
	File    string // path relative to the channel directory; "" for a pipe or the channel as a whole
	Err     error
}

func (e *DataError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("channel %q, file %q: %v", e.Channel, e.File, e.Err)
	}
	return fmt.Sprintf("channel %q: %v", e.Channel, e.Err)
}

func (e *DataError) Unwrap() error { return e.Err }

// ClientError reports that the data is at fault.
func (e *DataError) ClientError() bool { return true }

// PipeTimeoutError reports that a Pipe-mode FIFO never appeared. It is an
// algorithm error (SageMaker, not the user, creates the FIFOs).
type PipeTimeoutError struct {
	Channel string
	Epoch   int
	Path    string
	Wait    time.Duration
}

func (e *PipeTimeoutError) Error() string {
	return fmt.Sprintf("channel %q: the Pipe-mode FIFO %s for epoch %d did not appear within %v",
		e.Channel, e.Path, e.Epoch, e.Wait)
}

// channel is an algorithms.Channel over File-mode files or Pipe-mode FIFOs.
type channel struct {
	name       string
	dataDir    string // R/input/data
	mode       string // FileMode or PipeMode
	gzip       bool   // CompressionType Gzip
	unwrap     bool   // RecordWrapperType RecordIO: each object arrives as one RecordIO record
	mt         data.MediaType
	featureDim int
	pipeWait   time.Duration
	runCtx     context.Context // cancelled on SIGTERM
}

var _ algorithms.Channel = (*channel)(nil)

// Name returns the channel's name.
func (c *channel) Name() string { return c.name }

// text reports whether the content type is line-oriented, so that files are
// joined with a newline.
func (c *channel) text() bool { return !strings.Contains(c.mt.Type, "recordio") }

// lines reports whether the bytes of the channel's files or pipe are its
// text lines themselves, not RecordIO records wrapping them
// (RecordWrapperType RecordIO): only then are lines counted and a missing
// final newline added. (The CSV reader drops a byte order mark at the
// start of any line, so every file's, object's and payload's.)
func (c *channel) lines() bool { return c.text() && !c.unwrap }

// dir is the File-mode directory of the channel.
func (c *channel) dir() string { return filepath.Join(c.dataDir, c.name) }

// checkDir reports a missing File-mode channel directory as a *DataError.
func (c *channel) checkDir() error {
	fi, err := os.Stat(c.dir())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &DataError{Channel: c.name, Err: fmt.Errorf("the File-mode channel directory %s does not exist", c.dir())}
	case err != nil:
		return err
	case !fi.IsDir():
		return &DataError{Channel: c.name, Err: fmt.Errorf("%s is not a directory", c.dir())}
	}
	return nil
}

// Open starts pass epoch over the channel. File mode re-reads every file of
// the channel directory; Pipe mode waits for the FIFO <channel>_<epoch> and
// reads it. Reads stop with ctx.Err() once ctx (or the job) is cancelled.
func (c *channel) Open(ctx context.Context, epoch int) (data.BatchReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	stopRun := context.AfterFunc(c.runCtx, cancel)
	fail := func(err error) (data.BatchReadCloser, error) {
		stopRun()
		cancel()
		if cerr := c.runCtx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}

	var (
		src    io.ReadCloser
		stream io.Reader
		files  *multiFile // File-mode text: names the file of a bad line
		err    error
	)
	switch c.mode {
	case PipeMode:
		var f *os.File
		f, err = c.openPipe(ctx, epoch)
		if err != nil {
			return fail(err)
		}
		src, stream = f, f
		if c.gzip {
			stream = &gunzip{src: f, channel: c.name}
		}
	default:
		if err := c.checkDir(); err != nil {
			return fail(err)
		}
		var m *multiFile
		m, err = c.openFiles()
		if err != nil {
			return fail(err)
		}
		src, stream = m, m
		if c.lines() {
			files = m
		}
	}
	if c.unwrap {
		stream = recordio.NewPayloads(stream, c.text())
	}
	// Closing the source unblocks a read blocked on a FIFO.
	stopClose := context.AfterFunc(ctx, func() { src.Close() })
	br, err := data.NewTrainingReader(&ctxReader{ctx: ctx, r: stream}, c.mt, c.featureDim)
	if err != nil {
		stopClose()
		src.Close()
		if cerr := ctx.Err(); cerr != nil {
			return fail(cerr)
		}
		return fail(c.wrapIn(files, err))
	}
	return &channelReader{c: c, ctx: ctx, br: br, files: files, close: func() error {
		stopClose()
		stopRun()
		cancel()
		return src.Close()
	}}, nil
}

// wrapIn is wrap, naming also the file of files (nil in Pipe mode) and the
// line in it where err has a line of the channel's concatenated text.
func (c *channel) wrapIn(files *multiFile, err error) error {
	if files == nil {
		return c.wrap(err)
	}
	var pe *data.ParseError
	var de *data.DimensionError
	switch {
	case errors.As(err, &pe) && pe.Line > 0:
		if file, line, ok := files.locate(pe.Line); ok {
			e := *pe
			e.Line = line
			return fmt.Errorf("channel %q, file %q: %w", c.name, file, &e)
		}
	case errors.As(err, &de) && de.Line > 0:
		if file, line, ok := files.locate(de.Line); ok {
			e := *de
			e.Line = line
			return fmt.Errorf("channel %q, file %q: %w", c.name, file, &e)
		}
	}
	return c.wrap(err)
}

// wrap names the channel in err unless it already does.
func (c *channel) wrap(err error) error {
	var de *DataError
	if errors.As(err, &de) {
		return err
	}
	return fmt.Errorf("channel %q: %w", c.name, err)
}

// openPipe waits for the FIFO of epoch to appear, then opens it (which
// blocks until SageMaker opens its end for writing).
func (c *channel) openPipe(ctx context.Context, epoch int) (*os.File, error) {
	path := filepath.Join(c.dataDir, fmt.Sprintf("%s_%d", c.name, epoch))
	deadline := time.Now().Add(c.pipeWait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := os.Stat(path)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if !time.Now().Before(deadline) {
			return nil, &PipeTimeoutError{Channel: c.name, Epoch: epoch, Path: path, Wait: c.pipeWait}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.Open(path)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		return r.f, r.err
	case <-ctx.Done():
		// Release the open blocked waiting for a writer by briefly being
		// the writer ourselves, then drop whatever it opened.
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		go func() {
			if r := <-done; r.f != nil {
				r.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// openFiles lists the channel's files for one pass.
func (c *channel) openFiles() (*multiFile, error) {
	dir := c.dir()
	var rel []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == dir {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		mode := d.Type()
		if mode&fs.ModeSymlink != 0 {
			fi, err := os.Stat(path)
			if err != nil {
				return nil // a dangling link is not a data file
			}
			mode = fi.Mode().Type()
		}
		if mode.IsRegular() {
			r, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			rel = append(rel, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing channel %q: %w", c.name, err)
	}
	slices.Sort(rel)
	return &multiFile{c: c, rel: rel}, nil
}

// multiFile is the concatenation of a channel's files, each gunzipped when
// the channel is compressed. For text channels a newline separates a file
// that does not end in one from the next. Close may be called concurrently
// with Read.
type multiFile struct {
	c   *channel
	rel []string
	i   int // next file

	// For text lines (c.lines): newlines passed so far, and before each
	// file opened, so that a line of the concatenation can be named by
	// file (locate).
	lines  int
	starts []int

	r         io.Reader // current file's reader; nil between files
	last      byte
	pendingNL bool

	mu     sync.Mutex
	cur    *os.File
	closed bool
}

func (m *multiFile) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if m.r == nil {
			if m.pendingNL {
				m.pendingNL = false
				p[0] = '\n'
				m.lines++
				return 1, nil
			}
			if m.i == len(m.rel) {
				return 0, io.EOF
			}
			f, err := os.Open(filepath.Join(m.c.dir(), m.rel[m.i]))
			if err != nil {
				return 0, err
			}
			m.mu.Lock()
			if m.closed {
				m.mu.Unlock()
				f.Close()
				return 0, os.ErrClosed
			}
			m.cur = f
			m.starts = append(m.starts, m.lines)
			m.mu.Unlock()
			m.r = f
			if m.c.gzip {
				m.r = &gunzip{src: f, channel: m.c.name, file: m.rel[m.i]}
			}
			m.last = '\n'
		}
		n, err := m.r.Read(p)
		if n > 0 {
			m.last = p[n-1]
			if m.c.lines() {
				m.lines += bytes.Count(p[:n], newline)
			}
		}
		if err == io.EOF {
			m.mu.Lock()
			m.cur.Close()
			m.cur = nil
			m.mu.Unlock()
			m.r = nil
			m.i++
			// Wrapped records carry their own separators (recordio.Payloads).
			m.pendingNL = m.c.lines() && m.last != '\n'
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

var newline = []byte{'\n'}

// locate names the file holding line (1-based) of the concatenation read
// so far, and its line there.
func (m *multiFile) locate(line int) (file string, fileLine int, ok bool) {
	for i := len(m.starts) - 1; i >= 0; i-- {
		if m.starts[i] < line {
			return m.rel[i], line - m.starts[i], true
		}
	}
	return "", 0, false
}

// Close closes the current file; later reads fail.
func (m *multiFile) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	if m.cur != nil {
		err := m.cur.Close()
		m.cur = nil
		return err
	}
	return nil
}

// gunzip decompresses src on the fly, reading the gzip header at the first
// Read (an empty stream is empty, not an error). Corrupt gzip data is a
// *DataError; errors of src itself pass through.
type gunzip struct {
	src     io.Reader
	channel string
	file    string
	z       *gzip.Reader
	srcErr  error
}

func (g *gunzip) Read(p []byte) (int, error) {
	if g.z == nil {
		z, err := gzip.NewReader(recordErr{g})
		if err == io.EOF {
			return 0, io.EOF
		}
		if err != nil {
			return 0, g.fail(err)
		}
		g.z = z
	}
	n, err := g.z.Read(p)
	if err != nil && err != io.EOF {
		return n, g.fail(err)
	}
	return n, err
}

func (g *gunzip) fail(err error) error {
	if g.srcErr != nil && errors.Is(err, g.srcErr) {
		return err
	}
	return &DataError{Channel: g.channel, File: g.file, Err: fmt.Errorf("CompressionType is Gzip but the data does not decompress: %w", err)}
}

// recordErr remembers the last non-EOF error of the gzip source, to tell
// I/O failures from corrupt data.
type recordErr struct{ g *gunzip }

func (r recordErr) Read(p []byte) (int, error) {
	n, err := r.g.src.Read(p)
	if err != nil && err != io.EOF {
		r.g.srcErr = err
	}
	return n, err
}

// ctxReader fails with ctx.Err() once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		if cerr := r.ctx.Err(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

// channelReader is the BatchReadCloser of one pass.
type channelReader struct {
	c     *channel
	ctx   context.Context
	br    data.BatchReader
	files *multiFile // File-mode text, to name the file of a bad line
	once  sync.Once
	close func() error
	err   error
}

func (r *channelReader) Read(n int) (*data.Batch, error) {
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	b, err := r.br.Read(n)
	if err != nil && err != io.EOF {
		if cerr := r.ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, r.c.wrapIn(r.files, err)
	}
	return b, err
}

// Close ends the pass, closing the file or FIFO (reading early is allowed).
func (r *channelReader) Close() error {
	r.once.Do(func() {
		r.err = r.close()
		if errors.Is(r.err, os.ErrClosed) {
			r.err = nil
		}
	})
	return r.err
}
