// Package mxnet reads and writes MXNet NDArray files, the format of
// mx.nd.save and mx.nd.load: a list of dense arrays, optionally with one
// name per array (a dict).
//
// File layout (all integers little endian):
//
//	uint64 0x112 (kMXAPINDArrayListMagic), uint64 reserved (0),
//	uint64 count, count arrays,
//	uint64 name count (0 or count), each name as uint64 length + bytes.
//
// Each array, as MXNet's NDArray::Save writes it (V2):
//
//	uint32 0xF993FAC9, int32 storage type (0 dense),
//	int32 ndim, ndim int64 dims,
//	then, unless ndim is 0: int32 dev_type, int32 dev_id, int32 type flag,
//	and the values, row-major, little endian.
//
// Read also accepts V3 arrays (0xF993FACA, NumPy shape semantics: ndim -1 or
// a dim of -1 is an unknown, empty array and ndim 0 is a scalar), V1 arrays
// (0xF993FAC8: no storage type) and pre-V1 arrays, whose first uint32 is ndim
// and whose dims are uint32. Write always writes V2, dense, on cpu(0).
package mxnet

import (
	"fmt"
	"math"
)

// DType is an MXNet type flag.
type DType int32

// MXNet type flags (mshadow's kFloat32 ... kInt64).
const (
	Float32 DType = 0
	Float64 DType = 1
	Float16 DType = 2
	Uint8   DType = 3
	Int32   DType = 4
	Int8    DType = 5
	Int64   DType = 6
)

var dtypeNames = [...]string{"float32", "float64", "float16", "uint8", "int32", "int8", "int64"}

// String returns the NumPy name of t, such as "float32".
func (t DType) String() string {
	if t.valid() {
		return dtypeNames[t]
	}
	return fmt.Sprintf("DType(%d)", int32(t))
}

func (t DType) valid() bool { return t >= Float32 && t <= Int64 }

// size is the number of bytes of one stored value.
func (t DType) size() int {
	switch t {
	case Float64, Int64:
		return 8
	case Float32, Int32:
		return 4
	case Float16:
		return 2
	default:
		return 1
	}
}

// isInt reports whether values of type t live in NDArray.Int64.
func (t DType) isInt() bool { return t == Uint8 || t == Int32 || t == Int8 || t == Int64 }

// NDArray is one dense array: its shape, type and values.
//
// Exactly one of Float32, Float64 and Int64 holds the values, row-major,
// according to DType: Float32 for Float32 and Float16 (float16 values are
// widened exactly on reading and rounded to nearest even on writing),
// Float64 for Float64, and Int64 for Uint8, Int32, Int8 and Int64.
//
// An array with no Shape and no values is MXNet's empty ("none") array,
// which MXNet saves as ndim 0 with no type or data.
type NDArray struct {
	Shape []int
	DType DType

	Float32 []float32
	Float64 []float64
	Int64   []int64
}

// Size returns the number of elements: the product of Shape, or 0 for an
// empty array with no Shape.
func (a *NDArray) Size() int {
	if len(a.Shape) == 0 {
		return 0
	}
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// AsFloat32 returns the values as float32. For Float32 and Float16 arrays it
// returns a.Float32 itself; otherwise it returns a converted copy.
func (a *NDArray) AsFloat32() []float32 {
	switch {
	case a.DType == Float32 || a.DType == Float16:
		return a.Float32
	case a.DType == Float64:
		out := make([]float32, len(a.Float64))
		for i, v := range a.Float64 {
			out[i] = float32(v)
		}
		return out
	default:
		out := make([]float32, len(a.Int64))
		for i, v := range a.Int64 {
			out[i] = float32(v)
		}
		return out
	}
}

// NewFloat32 returns a Float32 array of the given shape holding data (not
// copied). It panics if a dimension is negative or len(data) is not the
// product of shape.
func NewFloat32(data []float32, shape ...int) *NDArray {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("mxnet: NewFloat32: negative dimension in shape %v", shape))
		}
		n *= d
	}
	if len(data) != n {
		panic(fmt.Sprintf("mxnet: NewFloat32: %d values for shape %v (%d elements)", len(data), shape, n))
	}
	return &NDArray{Shape: append([]int(nil), shape...), DType: Float32, Float32: data}
}

// File is the content of an NDArray file: arrays, with names (a dict) or
// without (a list).
type File struct {
	Arrays []*NDArray
	// Names is nil for a list; for a dict it has one name per array.
	// MXNet cannot tell an empty dict from an empty list; both read as a list.
	Names []string
}

// Get returns the first array named name.
func (f *File) Get(name string) (*NDArray, bool) {
	for i, n := range f.Names {
		if n == name && i < len(f.Arrays) {
			return f.Arrays[i], true
		}
	}
	return nil, false
}

// FormatError reports a malformed or truncated NDArray file.
type FormatError struct {
	Offset int64  // byte offset of the field at fault
	Where  string // the part being read, such as "array 1" or "name 0"; empty for the file header
	Msg    string
	Err    error // underlying error, such as io.ErrUnexpectedEOF; may be nil
}

func (e *FormatError) Error() string {
	if e.Where != "" {
		return fmt.Sprintf("mxnet: %s at offset %d: %s", e.Where, e.Offset, e.Msg)
	}
	return fmt.Sprintf("mxnet: offset %d: %s", e.Offset, e.Msg)
}

func (e *FormatError) Unwrap() error { return e.Err }

// ClientError reports that the error comes from the data given, not from a
// fault of the program.
func (e *FormatError) ClientError() bool { return true }

// float16 conversion (IEEE 754 binary16).

func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0:
		// Zero or subnormal: mant * 2^-24, exact in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		m := uint16(mant >> 13)
		if m == 0 {
			m = 0x200
		}
		return sign | 0x7c00 | m
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to infinity: correct
	}
	return sign | uint16(h)
}
