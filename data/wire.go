package data

import (
	"encoding/binary"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// wireRecord is a hand-written decoder for the common encoding of an
// aialgs.data.Record: the training hot path, where proto.Unmarshal's
// reflection and map allocation cost more than the data. It reads only
// features["values"] and label["values"]; on anything it does not expect (a
// repeated map key, an unpacked repeated field, a Bytes value, a malformed
// varint) it declines, and the caller falls back to proto.Unmarshal, which
// stays the reference.
type wireRecord struct{}

// wireTensor locates one tensor inside the payload.
type wireTensor struct {
	present bool
	kind    protowire.Number // 2 float32, 3 float64, 7 int32 (Value's oneof)
	values  []byte           // packed values
	keys    []byte           // packed varints
	shape   []byte           // packed varints
}

// Field numbers of the aialgs.data messages.
const (
	recordFeatures = 1
	recordLabel    = 2
	mapKey         = 1
	mapValue       = 2
	valueFloat32   = 2
	valueFloat64   = 3
	valueInt32     = 7
	tensorValues   = 1
	tensorKeys     = 2
	tensorShape    = 3
)

// parse finds features["values"] and label["values"] in a Record payload.
// ok is false when the fast path declines.
func (wireRecord) parse(b []byte) (features, label wireTensor, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return features, label, false
		}
		b = b[n:]
		if typ != protowire.BytesType {
			return features, label, false
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return features, label, false
		}
		b = b[n:]
		switch num {
		case recordFeatures, recordLabel:
			key, t, ok := parseEntry(v)
			if !ok {
				return features, label, false
			}
			if key != "values" { // other names are rare: proto validates them
				return features, label, false
			}
			dst := &features
			if num == recordLabel {
				dst = &label
			}
			if dst.present { // a repeated key: merge rules are proto's business
				return features, label, false
			}
			*dst = t
		case 3, 4, 5: // uid, metadata, configuration: not used
		default:
			return features, label, false
		}
	}
	return features, label, true
}

// parseEntry reads one map<string, Value> entry.
func parseEntry(b []byte) (key string, t wireTensor, ok bool) {
	var value []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return "", t, false
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return "", t, false
		}
		b = b[n:]
		switch num {
		case mapKey:
			if string(v) == "values" { // compared without allocating
				key = "values"
			} else {
				key = "other"
			}
		case mapValue:
			if value != nil {
				return "", t, false
			}
			value = v
		default:
			return "", t, false
		}
	}
	if key != "values" {
		return key, t, true
	}
	t.present = true
	if value == nil {
		return key, t, false // an empty Value: let proto report it
	}
	// Value: exactly one tensor field.
	for len(value) > 0 {
		num, typ, n := protowire.ConsumeTag(value)
		if n < 0 || typ != protowire.BytesType || t.kind != 0 {
			return "", t, false
		}
		value = value[n:]
		v, n := protowire.ConsumeBytes(value)
		if n < 0 {
			return "", t, false
		}
		value = value[n:]
		switch num {
		case valueFloat32, valueFloat64, valueInt32:
			t.kind = num
		default:
			return "", t, false
		}
		if !parseTensor(v, &t) || !wellFormed(t) {
			return "", t, false
		}
	}
	if t.kind == 0 {
		return "", t, false
	}
	return key, t, true
}

// parseTensor reads a tensor whose repeated fields are packed, each once.
func parseTensor(b []byte, t *wireTensor) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return false
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		var dst *[]byte
		switch num {
		case tensorValues:
			dst = &t.values
		case tensorKeys:
			dst = &t.keys
		case tensorShape:
			dst = &t.shape
		default:
			return false
		}
		if *dst != nil {
			return false
		}
		*dst = v[:len(v):len(v)]
	}
	return true
}

// wellFormed checks what convert relies on: whole fixed-width values and
// complete varints, as proto.Unmarshal would insist.
func wellFormed(t wireTensor) bool {
	switch t.kind {
	case valueFloat32:
		if len(t.values)%4 != 0 {
			return false
		}
	case valueFloat64:
		if len(t.values)%8 != 0 {
			return false
		}
	case valueInt32:
		if !allVarints(t.values) {
			return false
		}
	}
	return allVarints(t.keys) && allVarints(t.shape)
}

func allVarints(b []byte) bool {
	for len(b) > 0 {
		_, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

// convert turns a located tensor into float32 values (in *vals' storage) and,
// when keys/shape are not nil, its keys and shape. A malformed packed field
// yields what parsed so far; parse already checked the framing, and a short
// float field is caught by the width checks of the caller.
func (wireRecord) convert(t wireTensor, vals *[]float32, keys, shape *[]uint64) ([]float32, []uint64, []uint64) {
	out := (*vals)[:0]
	switch t.kind {
	case valueFloat32:
		out = slices.Grow(out, len(t.values)/4)[:len(t.values)/4]
		float32sFrom(out, t.values) // decode checks finiteness, naming the value
	case valueFloat64:
		for b := t.values; len(b) >= 8; b = b[8:] {
			out = append(out, float32(math.Float64frombits(binary.LittleEndian.Uint64(b))))
		}
	case valueInt32:
		for b := t.values; len(b) > 0; {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				break
			}
			out = append(out, float32(int32(v)))
			b = b[n:]
		}
	}
	*vals = out
	var k, s []uint64
	if keys != nil {
		k = varints((*keys)[:0], t.keys)
		*keys = k
	}
	if shape != nil {
		s = varints((*shape)[:0], t.shape)
		*shape = s
	}
	return out, k, s
}

// float32sFrom decodes len(dst) little-endian float32s from b (at least
// 4·len(dst) bytes) into dst, two per 8-byte load, and reports whether all
// are finite: an exponent of all ones plus one sets the sign bit of its
// half, and nothing carries between the halves.
func float32sFrom(dst []float32, b []byte) bool {
	const expMask, expOne, signs = 0x7f8000007f800000, 0x0080000000800000, 0x8000000080000000
	b = b[:4*len(dst)]
	var acc uint64
	i := 0
	for ; i+2 <= len(dst); i += 2 {
		x := binary.LittleEndian.Uint64(b[4*i:])
		acc |= x&expMask + expOne
		dst[i] = math.Float32frombits(uint32(x))
		dst[i+1] = math.Float32frombits(uint32(x >> 32))
	}
	if i < len(dst) {
		x := uint64(binary.LittleEndian.Uint32(b[4*i:]))
		acc |= x&expMask + expOne
		dst[i] = math.Float32frombits(uint32(x))
	}
	return acc&signs == 0
}

func varints(dst []uint64, b []byte) []uint64 {
	for len(b) > 0 {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			break
		}
		dst = append(dst, v)
		b = b[n:]
	}
	return dst
}
