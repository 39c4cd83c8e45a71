package mxnet

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"syscall"
	"unsafe"
)

// Magic numbers, from MXNet's src/ndarray/ndarray.cc.
const (
	listMagic uint64 = 0x112      // kMXAPINDArrayListMagic
	v1Magic   uint32 = 0xF993FAC8 // NDARRAY_V1_MAGIC: int64 dims
	v2Magic   uint32 = 0xF993FAC9 // NDARRAY_V2_MAGIC: storage type
	v3Magic   uint32 = 0xF993FACA // NDARRAY_V3_MAGIC: NumPy shape semantics
)

// Limits that bound what a corrupt header can make Read allocate or do.
const (
	maxNDim     = 32      // NumPy's limit; MXNet's arrays stay far below
	maxElements = 1 << 31 // per array
	maxNameLen  = 1 << 20 // bytes
	chunkBytes  = 1 << 16 // data and names are read at most this much at a time
)

var le = binary.LittleEndian

// ReadFile reads the NDArray file at path.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err == nil && st.Mode().IsRegular() && st.Size() >= mapMinBytes {
		// Large models (a kNN index) are mapped rather than copied: loading
		// a 188 MB index took 130-150 ms by reading it, most of a cold start.
		mem, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
		if err == nil {
			d := &decoder{r: bytes.NewReader(mem), mem: mem, size: st.Size()}
			file, err := d.file()
			if err != nil {
				syscall.Munmap(mem)
			}
			return file, err
		}
	}
	d := newDecoder(f)
	if err == nil && st.Mode().IsRegular() {
		d.size = st.Size()
	}
	return d.file()
}

// mapMinBytes is the file size from which ReadFile maps instead of reading.
const mapMinBytes = 16 << 20

// Read reads one NDArray file from r, up to its end: data after the last
// name is an error. Errors about the content are *FormatError.
func Read(r io.Reader) (*File, error) {
	return newDecoder(r).file()
}

// nativeLittleEndian: float32 arrays can be read straight into memory.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

func newDecoder(r io.Reader) *decoder {
	return &decoder{r: bufio.NewReaderSize(r, chunkBytes), size: -1}
}

type decoder struct {
	r     io.ByteReader // also an io.Reader
	mem   []byte        // the whole input, when it is a mapped file
	size  int64         // total input bytes when known (a regular file), else -1
	off   int64
	where string
	buf   [8]byte
}

func (d *decoder) errAt(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Where: d.where, Msg: fmt.Sprintf(format, args...)}
}

// read fills p, naming what for a truncation error.
func (d *decoder) read(p []byte, what string) error {
	start := d.off
	n, err := io.ReadFull(d.r.(io.Reader), p)
	d.off += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		msg := fmt.Sprintf("reading %s: %v", what, err)
		if err == io.ErrUnexpectedEOF {
			msg = "input ends in " + what
		}
		return &FormatError{Offset: start, Where: d.where, Msg: msg, Err: err}
	}
	return nil
}

func (d *decoder) u32(what string) (uint32, error) {
	if err := d.read(d.buf[:4], what); err != nil {
		return 0, err
	}
	return le.Uint32(d.buf[:4]), nil
}

func (d *decoder) i32(what string) (int32, error) {
	v, err := d.u32(what)
	return int32(v), err
}

func (d *decoder) u64(what string) (uint64, error) {
	if err := d.read(d.buf[:8], what); err != nil {
		return 0, err
	}
	return le.Uint64(d.buf[:8]), nil
}

func (d *decoder) file() (*File, error) {
	magic, err := d.u64("file magic")
	if err != nil {
		return nil, err
	}
	if magic != listMagic {
		return nil, d.errAt(0, "bad file magic %#x, want %#x", magic, listMagic)
	}
	// MXNet writes 0 and never checks it on loading; neither do we.
	if _, err := d.u64("reserved field"); err != nil {
		return nil, err
	}
	countOff := d.off
	count, err := d.u64("array count")
	if err != nil {
		return nil, err
	}
	if count > math.MaxInt32 {
		return nil, d.errAt(countOff, "array count %d is too large", count)
	}
	f := &File{Arrays: make([]*NDArray, 0, min(count, 1024))}
	for i := range int(count) {
		d.where = fmt.Sprintf("array %d", i)
		a, err := d.array()
		if err != nil {
			return nil, err
		}
		f.Arrays = append(f.Arrays, a)
	}
	d.where = ""
	nameOff := d.off
	nnames, err := d.u64("name count")
	if err != nil {
		return nil, err
	}
	if nnames != 0 && nnames != count {
		return nil, d.errAt(nameOff, "%d names for %d arrays", nnames, count)
	}
	if nnames > 0 {
		f.Names = make([]string, 0, len(f.Arrays))
	}
	for i := range int(nnames) {
		d.where = fmt.Sprintf("name %d", i)
		lenOff := d.off
		n, err := d.u64("name length")
		if err != nil {
			return nil, err
		}
		if n > maxNameLen {
			return nil, d.errAt(lenOff, "name length %d exceeds the limit of %d bytes", n, maxNameLen)
		}
		b, err := d.bytes(int(n), fmt.Sprintf("name (%d bytes)", n))
		if err != nil {
			return nil, err
		}
		f.Names = append(f.Names, string(b))
	}
	d.where = ""
	if _, err := d.r.ReadByte(); err == nil {
		return nil, d.errAt(d.off, "unexpected data after the last name")
	} else if err != io.EOF {
		return nil, &FormatError{Offset: d.off, Msg: "reading past the last name: " + err.Error(), Err: err}
	}
	return f, nil
}

// bytes reads n bytes in chunks, so that a corrupt length fails at the end
// of the input instead of allocating it all first.
func (d *decoder) bytes(n int, what string) ([]byte, error) {
	out := make([]byte, 0, min(n, chunkBytes))
	for len(out) < n {
		k := min(n-len(out), chunkBytes)
		out = append(out, make([]byte, k)...)
		if err := d.read(out[len(out)-k:], what); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// array reads one array, whatever its version.
func (d *decoder) array() (*NDArray, error) {
	magicOff := d.off
	magic, err := d.u32("array magic")
	if err != nil {
		return nil, err
	}
	var shape []int
	var none bool
	switch magic {
	case v2Magic, v3Magic:
		stypeOff := d.off
		stype, err := d.i32("storage type")
		if err != nil {
			return nil, err
		}
		if stype != 0 {
			return nil, d.errAt(stypeOff, "storage type %d (%s) is not supported; only dense (0) is", stype, stypeName(stype))
		}
		shape, none, err = d.shape(magic == v3Magic)
		if err != nil {
			return nil, err
		}
	case v1Magic:
		shape, none, err = d.shape(false)
		if err != nil {
			return nil, err
		}
	default:
		// Before V1 the array began with its shape: uint32 ndim, uint32 dims.
		if magic > maxNDim {
			return nil, d.errAt(magicOff, "unknown array magic %#x", magic)
		}
		shape = make([]int, magic)
		for i := range shape {
			off := d.off
			v, err := d.u32("dimension")
			if err != nil {
				return nil, err
			}
			if v > maxElements {
				return nil, d.errAt(off, "dimension %d exceeds the limit of %d elements", v, maxElements)
			}
			shape[i] = int(v)
		}
		none = len(shape) == 0
		if !none {
			if err := checkCount(d, shape, magicOff); err != nil {
				return nil, err
			}
		}
	}
	if none {
		return &NDArray{}, nil
	}
	// Context: dev_type and dev_id. The data are in the file whatever the
	// device, so both are skipped.
	if err := d.read(d.buf[:8], "context"); err != nil {
		return nil, err
	}
	typeOff := d.off
	flag, err := d.i32("type flag")
	if err != nil {
		return nil, err
	}
	t := DType(flag)
	if !t.valid() {
		return nil, d.errAt(typeOff, "type flag %d is not supported", flag)
	}
	a := &NDArray{Shape: shape, DType: t}
	if len(shape) == 0 {
		// A V3 scalar (ndim 0) holds one value; it reads as shape (1).
		a.Shape = []int{1}
	}
	if err := d.data(a, a.Size()); err != nil {
		return nil, err
	}
	return a, nil
}

func stypeName(s int32) string {
	switch s {
	case -1:
		return "undefined"
	case 1:
		return "row_sparse"
	case 2:
		return "csr"
	}
	return "unknown"
}

// shape reads int32 ndim and int64 dims. It reports none for MXNet's empty
// array: ndim 0 outside NumPy semantics, ndim -1, or (NumPy semantics) a
// dim of -1.
func (d *decoder) shape(np bool) ([]int, bool, error) {
	ndimOff := d.off
	ndim, err := d.i32("ndim")
	if err != nil {
		return nil, false, err
	}
	switch {
	case ndim == -1:
		return nil, true, nil
	case ndim == 0:
		return []int{}, !np, nil
	case ndim < 0:
		return nil, false, d.errAt(ndimOff, "ndim %d is negative", ndim)
	case ndim > maxNDim:
		return nil, false, d.errAt(ndimOff, "ndim %d exceeds the limit of %d", ndim, maxNDim)
	}
	shape := make([]int, ndim)
	unknown := false
	for i := range shape {
		off := d.off
		v, err := d.u64("dimension")
		if err != nil {
			return nil, false, err
		}
		dim := int64(v)
		if np && dim == -1 {
			unknown = true
			continue
		}
		if dim < 0 {
			return nil, false, d.errAt(off, "dimension %d is negative", dim)
		}
		if dim > maxElements {
			return nil, false, d.errAt(off, "dimension %d exceeds the limit of %d elements", dim, maxElements)
		}
		shape[i] = int(dim)
	}
	if unknown {
		return nil, true, nil
	}
	if err := checkCount(d, shape, ndimOff); err != nil {
		return nil, false, err
	}
	return shape, false, nil
}

// checkCount checks that shape, whose dims are each in [0, maxElements],
// has at most maxElements elements.
func checkCount(d *decoder, shape []int, off int64) error {
	for _, s := range shape {
		if s == 0 {
			return nil
		}
	}
	n := int64(1)
	for _, s := range shape {
		n *= int64(s) // both factors ≤ 2^31, so no overflow
		if n > maxElements {
			return d.errAt(off, "shape %v has more than %d elements", shape, maxElements)
		}
	}
	return nil
}

// data reads n values of a.DType in chunks, growing the destination as the
// bytes arrive.
func (d *decoder) data(a *NDArray, n int) error {
	size := a.DType.size()
	per := chunkBytes / size
	// Allocate all n values at once when the input is known to hold them
	// (a file of known size); otherwise grow as bytes arrive, so a corrupt
	// header costs no more memory than the input behind it.
	capacity := min(n, per)
	if d.size >= 0 && int64(n)*int64(size) <= d.size-d.off {
		capacity = n
	}
	switch {
	case a.DType == Float32 || a.DType == Float16:
		a.Float32 = make([]float32, 0, capacity)
	case a.DType == Float64:
		a.Float64 = make([]float64, 0, capacity)
	default:
		a.Int64 = make([]int64, 0, capacity)
	}
	if a.DType == Float32 && d.mem != nil && nativeLittleEndian && n > 0 && d.off%4 == 0 &&
		int64(n)*4 <= int64(len(d.mem))-d.off {
		// A mapped file: the array is the mapping itself, no copy. The
		// mapping is private (copy-on-write) and never unmapped.
		a.Float32 = unsafe.Slice((*float32)(unsafe.Pointer(&d.mem[d.off])), n)
		_, err := d.r.(*bytes.Reader).Seek(int64(n)*4, io.SeekCurrent)
		d.off += int64(n) * 4
		return err
	}
	if a.DType == Float32 && capacity == n && nativeLittleEndian && n > 0 {
		// The file's bytes are the slice's bytes: read them in place.
		a.Float32 = a.Float32[:n]
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&a.Float32[0])), n*4)
		return d.read(raw, fmt.Sprintf("data (%d %s values, %d bytes)", n, a.DType, n*size))
	}
	what := ""
	buf := make([]byte, min(n, per)*size)
	for done := 0; done < n; {
		k := min(n-done, per)
		b := buf[:k*size]
		if what == "" {
			what = fmt.Sprintf("data (%d %s values, %d bytes)", n, a.DType, n*size)
		}
		if err := d.read(b, what); err != nil {
			return err
		}
		switch a.DType {
		case Float32:
			for i := range k {
				a.Float32 = append(a.Float32, math.Float32frombits(le.Uint32(b[4*i:])))
			}
		case Float16:
			for i := range k {
				a.Float32 = append(a.Float32, f16ToF32(le.Uint16(b[2*i:])))
			}
		case Float64:
			for i := range k {
				a.Float64 = append(a.Float64, math.Float64frombits(le.Uint64(b[8*i:])))
			}
		default:
			for i := range k {
				var v int64
				switch a.DType {
				case Uint8:
					v = int64(b[i])
				case Int8:
					v = int64(int8(b[i]))
				case Int32:
					v = int64(int32(le.Uint32(b[4*i:])))
				case Int64:
					v = int64(le.Uint64(b[8*i:]))
				}
				a.Int64 = append(a.Int64, v)
			}
		}
		done += k
	}
	return nil
}
