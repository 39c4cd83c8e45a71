package mxnet

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// WriteFile writes f to path atomically: to path+".tmp", synced, then
// renamed over path.
func WriteFile(path string, f *File) (err error) {
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	if err := Write(out, f); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename durable; not all systems can sync a directory.
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}

// Write writes f in MXNet's format, each array as V2, dense, on cpu(0).
// It checks every array before writing anything: a shape that does not
// match the values, an unknown DType, or an integer out of its type's range
// is an error.
func Write(w io.Writer, f *File) error {
	if f.Names != nil && len(f.Names) != len(f.Arrays) {
		return fmt.Errorf("mxnet: %d names for %d arrays", len(f.Names), len(f.Arrays))
	}
	for i, a := range f.Arrays {
		if err := check(a); err != nil {
			return fmt.Errorf("mxnet: array %d: %w", i, err)
		}
	}
	bw := bufio.NewWriterSize(w, chunkBytes)
	e := &encoder{w: bw}
	e.u64(listMagic)
	e.u64(0)
	e.u64(uint64(len(f.Arrays)))
	for _, a := range f.Arrays {
		e.array(a)
	}
	e.u64(uint64(len(f.Names)))
	for _, n := range f.Names {
		e.u64(uint64(len(n)))
		e.write([]byte(n))
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

// check reports why a cannot be written.
func check(a *NDArray) error {
	if a == nil {
		return fmt.Errorf("nil array")
	}
	if !a.DType.valid() {
		return fmt.Errorf("unsupported %v", a.DType)
	}
	if len(a.Shape) > maxNDim {
		return fmt.Errorf("ndim %d exceeds the limit of %d", len(a.Shape), maxNDim)
	}
	for _, s := range a.Shape {
		if s < 0 {
			return fmt.Errorf("shape %v has a negative dimension", a.Shape)
		}
	}
	n := len(a.Float32) + len(a.Float64) + len(a.Int64)
	if len(a.Shape) == 0 {
		if n != 0 {
			return fmt.Errorf("%d values but no shape", n)
		}
		return nil
	}
	var have int
	switch {
	case a.DType == Float32 || a.DType == Float16:
		have = len(a.Float32)
	case a.DType == Float64:
		have = len(a.Float64)
	default:
		have = len(a.Int64)
	}
	if have != n {
		return fmt.Errorf("%v array holds values in a field other than its own", a.DType)
	}
	want := int64(1)
	for _, s := range a.Shape {
		if s == 0 {
			want = 0
			break
		}
	}
	for _, s := range a.Shape {
		if want == 0 {
			break
		}
		if int64(s) > math.MaxInt64/want {
			return fmt.Errorf("shape %v overflows", a.Shape)
		}
		want *= int64(s)
	}
	if int64(have) != want {
		return fmt.Errorf("%d values for shape %v (%d elements)", have, a.Shape, want)
	}
	var lo, hi int64
	switch a.DType {
	case Uint8:
		lo, hi = 0, math.MaxUint8
	case Int8:
		lo, hi = math.MinInt8, math.MaxInt8
	case Int32:
		lo, hi = math.MinInt32, math.MaxInt32
	default:
		return nil
	}
	for i, v := range a.Int64 {
		if v < lo || v > hi {
			return fmt.Errorf("value %d at index %d is out of range for %v", v, i, a.DType)
		}
	}
	return nil
}

type encoder struct {
	w   *bufio.Writer
	buf [8]byte
	err error
}

func (e *encoder) write(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}

func (e *encoder) u32(v uint32) {
	le.PutUint32(e.buf[:4], v)
	e.write(e.buf[:4])
}

func (e *encoder) u64(v uint64) {
	le.PutUint64(e.buf[:8], v)
	e.write(e.buf[:8])
}

func (e *encoder) array(a *NDArray) {
	e.u32(v2Magic)
	e.u32(0) // storage type: dense
	e.u32(uint32(len(a.Shape)))
	for _, s := range a.Shape {
		e.u64(uint64(s))
	}
	if len(a.Shape) == 0 {
		return // empty array: no context, type or data
	}
	e.u32(1) // dev_type: cpu
	e.u32(0) // dev_id
	e.u32(uint32(a.DType))
	size := a.DType.size()
	per := chunkBytes / size
	n := a.Size()
	buf := make([]byte, min(n, per)*size)
	for done := 0; done < n && e.err == nil; {
		k := min(n-done, per)
		b := buf[:k*size]
		for i := range k {
			j := done + i
			switch a.DType {
			case Float32:
				le.PutUint32(b[4*i:], math.Float32bits(a.Float32[j]))
			case Float16:
				le.PutUint16(b[2*i:], f32ToF16(a.Float32[j]))
			case Float64:
				le.PutUint64(b[8*i:], math.Float64bits(a.Float64[j]))
			case Uint8, Int8:
				b[i] = byte(a.Int64[j])
			case Int32:
				le.PutUint32(b[4*i:], uint32(a.Int64[j]))
			case Int64:
				le.PutUint64(b[8*i:], uint64(a.Int64[j]))
			}
		}
		e.write(b)
		done += k
	}
}
