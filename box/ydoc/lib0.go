package ydoc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

// The lib0 encoding Yjs uses: variable-length integers, length-prefixed
// strings and byte arrays, and the self-describing "any" values.

// ErrMalformed wraps every decoding error: the input is not a valid Yjs
// update (or state vector), whatever the detail.
var ErrMalformed = errors.New("ydoc: malformed input")

// maxAnyDepth bounds the nesting of decoded "any" values, so that a hostile
// update cannot exhaust the stack.
const maxAnyDepth = 64

type encoder struct{ buf []byte }

func (e *encoder) byte(b byte) { e.buf = append(e.buf, b) }

func (e *encoder) uvarint(n uint64) {
	for n >= 0x80 {
		e.buf = append(e.buf, byte(n)|0x80)
		n >>= 7
	}
	e.buf = append(e.buf, byte(n))
}

// varint is lib0's signed encoding: the first byte holds a continuation
// bit, a sign bit and six bits of magnitude.
func (e *encoder) varint(n int64) {
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	b := byte(u & 0x3f)
	if neg {
		b |= 0x40
	}
	u >>= 6
	if u > 0 {
		b |= 0x80
	}
	e.buf = append(e.buf, b)
	for u > 0 {
		b = byte(u & 0x7f)
		u >>= 7
		if u > 0 {
			b |= 0x80
		}
		e.buf = append(e.buf, b)
	}
}

func (e *encoder) bytes(b []byte) {
	e.uvarint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *encoder) string(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

type decoder struct {
	buf []byte
	pos int
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrMalformed, d.pos, fmt.Sprintf(format, args...))
}

func (d *decoder) remaining() int { return len(d.buf) - d.pos }

func (d *decoder) byte() (byte, error) {
	if d.pos >= len(d.buf) {
		return 0, d.errorf("unexpected end")
	}
	b := d.buf[d.pos]
	d.pos++
	return b, nil
}

// uvarint reads an unsigned integer of at most 53 bits, the largest a
// JavaScript number holds exactly; anything larger is refused.
func (d *decoder) uvarint() (uint64, error) {
	var n uint64
	for shift := uint(0); ; shift += 7 {
		if d.pos >= len(d.buf) {
			return 0, d.errorf("unexpected end in a number")
		}
		b := d.buf[d.pos]
		d.pos++
		if shift > 49 && b > 0x0f {
			return 0, d.errorf("number too large")
		}
		n |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return n, nil
		}
	}
}

// length reads a count of things that each take at least one byte of
// input, so that no count can make the decoder allocate more than the
// input's size.
func (d *decoder) length() (int, error) {
	n, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(d.remaining()) {
		return 0, d.errorf("length %d exceeds the %d bytes left", n, d.remaining())
	}
	return int(n), nil
}

func (d *decoder) varint() (int64, error) {
	b, err := d.byte()
	if err != nil {
		return 0, err
	}
	neg := b&0x40 != 0
	n := uint64(b & 0x3f)
	shift := uint(6)
	for b&0x80 != 0 {
		if b, err = d.byte(); err != nil {
			return 0, err
		}
		if shift > 48 {
			return 0, d.errorf("integer too large")
		}
		n |= uint64(b&0x7f) << shift
		shift += 7
	}
	if neg {
		return -int64(n), nil
	}
	return int64(n), nil
}

// fixed reads n bytes of a fixed-width number.
func (d *decoder) fixed(n int) ([]byte, error) {
	if d.remaining() < n {
		return nil, d.errorf("truncated %d-byte number", n)
	}
	b := d.buf[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *decoder) bytes() ([]byte, error) {
	n, err := d.length()
	if err != nil {
		return nil, err
	}
	b := d.buf[d.pos : d.pos+n : d.pos+n]
	d.pos += n
	return b, nil
}

// string reads a UTF-8 string. Invalid UTF-8 is refused, as Yjs's
// decoder (a fatal TextDecoder) refuses it: stored, it would make every
// Yjs client that receives the document throw.
func (d *decoder) string() (string, error) {
	b, err := d.bytes()
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", d.errorf("invalid UTF-8 in a string")
	}
	return string(b), nil
}

// capHint bounds the capacity reserved for n decoded elements: n is only
// known to be at most the bytes left, and reserving that much at every
// level of nesting would let a small update reserve a great deal.
func capHint(n int) int { return min(n, 1024) }

// Values of the "any" encoding. JSON-like values decode to nil, bool,
// string, []any, *Object, and numbers keep the kind they were written with
// (int64 for lib0's varInt, float32, float64, BigInt) so that re-encoding
// gives the same bytes.
type (
	// Undefined is JavaScript's undefined.
	Undefined struct{}
	// BigInt is a 64-bit JavaScript BigInt.
	BigInt int64
	// Object is a JavaScript object with its keys in their original
	// order.
	Object struct {
		Keys   []string
		Values []any
	}
)

// Get returns the value of key, or nil and false.
func (o *Object) Get(key string) (any, bool) {
	i := slices.Index(o.Keys, key)
	if i < 0 {
		return nil, false
	}
	return o.Values[i], true
}

// readAny decodes one lib0 "any" value.
func (d *decoder) readAny(depth int) (any, error) {
	if depth > maxAnyDepth {
		return nil, d.errorf("values nested deeper than %d", maxAnyDepth)
	}
	tag, err := d.byte()
	if err != nil {
		return nil, err
	}
	switch tag {
	case 127:
		return Undefined{}, nil
	case 126:
		return nil, nil
	case 125:
		return d.varint()
	case 124:
		b, err := d.fixed(4)
		if err != nil {
			return nil, err
		}
		return math.Float32frombits(binary.BigEndian.Uint32(b)), nil
	case 123:
		b, err := d.fixed(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case 122:
		b, err := d.fixed(8)
		if err != nil {
			return nil, err
		}
		return BigInt(int64(binary.BigEndian.Uint64(b))), nil
	case 121:
		return false, nil
	case 120:
		return true, nil
	case 119:
		return d.string()
	case 118:
		n, err := d.length()
		if err != nil {
			return nil, err
		}
		o := &Object{Keys: make([]string, 0, capHint(n)), Values: make([]any, 0, capHint(n))}
		for range n {
			k, err := d.string()
			if err != nil {
				return nil, err
			}
			v, err := d.readAny(depth + 1)
			if err != nil {
				return nil, err
			}
			o.Keys = append(o.Keys, k)
			o.Values = append(o.Values, v)
		}
		return o, nil
	case 117:
		n, err := d.length()
		if err != nil {
			return nil, err
		}
		a := make([]any, 0, capHint(n))
		for range n {
			v, err := d.readAny(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case 116:
		b, err := d.bytes()
		if err != nil {
			return nil, err
		}
		return slices.Clone(b), nil
	}
	return nil, d.errorf("unknown value tag %d", tag)
}

// writeAny encodes a value as lib0 does. Besides the decoded kinds above it
// takes Go values from the API: int, float64 (written as an integer when it
// is one, as JavaScript numbers are), map[string]any (keys sorted) and
// []byte.
func (e *encoder) writeAny(v any) {
	switch v := v.(type) {
	case nil:
		e.byte(126)
	case Undefined:
		e.byte(127)
	case bool:
		if v {
			e.byte(120)
		} else {
			e.byte(121)
		}
	case string:
		e.byte(119)
		e.string(v)
	case int64:
		e.writeNumber(float64(v))
	case int:
		e.writeNumber(float64(v))
	case float32:
		e.byte(124)
		e.buf = binary.BigEndian.AppendUint32(e.buf, math.Float32bits(v))
	case float64:
		e.writeNumber(v)
	case BigInt:
		e.byte(122)
		e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v))
	case []byte:
		e.byte(116)
		e.bytes(v)
	case []any:
		e.byte(117)
		e.uvarint(uint64(len(v)))
		for _, x := range v {
			e.writeAny(x)
		}
	case *Object:
		e.byte(118)
		e.uvarint(uint64(len(v.Keys)))
		for i, k := range v.Keys {
			e.string(k)
			e.writeAny(v.Values[i])
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.byte(118)
		e.uvarint(uint64(len(keys)))
		for _, k := range keys {
			e.string(k)
			e.writeAny(v[k])
		}
	default:
		e.byte(127)
	}
}

// writeNumber follows lib0: integers up to 2^31 as varInt, then float32
// when exact, else float64.
func (e *encoder) writeNumber(f float64) {
	if f == math.Trunc(f) && math.Abs(f) <= 1<<31-1 && !math.IsInf(f, 0) {
		e.byte(125)
		e.varint(int64(f))
		return
	}
	if float64(float32(f)) == f {
		e.byte(124)
		e.buf = binary.BigEndian.AppendUint32(e.buf, math.Float32bits(float32(f)))
		return
	}
	e.byte(123)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

// utf16Len returns the length of s in UTF-16 code units, the unit of every
// Yjs position. Invalid UTF-8 counts one unit per bad byte, as the
// replacement character it decodes to.
func utf16Len(s []byte) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		i += size
	}
	return n
}

// utf16Offset returns the byte offset in s of UTF-16 position off, and
// whether that position falls inside a surrogate pair (the middle of a
// 4-byte rune), in which case the offset is that rune's start.
func utf16Offset(s []byte, off int) (int, bool) {
	n := 0
	for i := 0; i < len(s); {
		if n == off {
			return i, false
		}
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r >= 0x10000 {
			if n+1 == off {
				return i, true
			}
			n += 2
		} else {
			n++
		}
		i += size
	}
	return len(s), false
}
