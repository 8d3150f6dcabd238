package ydoc

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// Content reference numbers, the low five bits of a struct's info byte.
const (
	refGC      = 0
	refDeleted = 1
	refJSON    = 2
	refBinary  = 3
	refString  = 4
	refEmbed   = 5
	refFormat  = 6
	refType    = 7
	refAny     = 8
	refDoc     = 9
	refSkip    = 10
)

// content is what an Item holds. Lengths count what Yjs counts: UTF-16
// code units for strings, elements for arrays, 1 for everything else.
type content interface {
	ref() byte
	length() int
	countable() bool
	// splice cuts the content at offset, keeps the left part and returns
	// the right part.
	splice(offset int) content
	// merge appends right (of the same kind) and reports whether it could.
	merge(right content) bool
	write(e *encoder, offset int)
}

type contentDeleted struct{ n int }

func (c *contentDeleted) ref() byte       { return refDeleted }
func (c *contentDeleted) length() int     { return c.n }
func (c *contentDeleted) countable() bool { return false }
func (c *contentDeleted) splice(off int) content {
	r := &contentDeleted{c.n - off}
	c.n = off
	return r
}
func (c *contentDeleted) merge(r content) bool { c.n += r.(*contentDeleted).n; return true }
func (c *contentDeleted) write(e *encoder, off int) {
	e.uvarint(uint64(c.n - off))
}

// contentJSON is the legacy JSON content: one JSON text per element.
type contentJSON struct{ vals []string }

func (c *contentJSON) ref() byte       { return refJSON }
func (c *contentJSON) length() int     { return len(c.vals) }
func (c *contentJSON) countable() bool { return true }
func (c *contentJSON) splice(off int) content {
	r := &contentJSON{slices.Clone(c.vals[off:])}
	c.vals = c.vals[:off:off]
	return r
}
func (c *contentJSON) merge(r content) bool {
	c.vals = append(c.vals, r.(*contentJSON).vals...)
	return true
}
func (c *contentJSON) write(e *encoder, off int) {
	e.uvarint(uint64(len(c.vals) - off))
	for _, v := range c.vals[off:] {
		e.string(v)
	}
}

type contentBinary struct{ b []byte }

func (c *contentBinary) ref() byte                 { return refBinary }
func (c *contentBinary) length() int               { return 1 }
func (c *contentBinary) countable() bool           { return true }
func (c *contentBinary) splice(int) content        { panic("ydoc: binary content cannot be split") }
func (c *contentBinary) merge(content) bool        { return false }
func (c *contentBinary) write(e *encoder, off int) { e.bytes(c.b) }

// contentString is text. s holds UTF-8 (so text is read without
// conversion); n caches its length in UTF-16 units.
type contentString struct {
	s []byte
	n int
}

// newContentString makes text content; invalid UTF-8 becomes U+FFFD, as
// in a JavaScript string.
func newContentString(s string) *contentString {
	b := []byte(strings.ToValidUTF8(s, "\uFFFD"))
	return &contentString{s: b, n: utf16Len(b)}
}

func (c *contentString) ref() byte       { return refString }
func (c *contentString) length() int     { return c.n }
func (c *contentString) countable() bool { return true }

// splice splits at a UTF-16 offset. A split inside a surrogate pair turns
// both halves into U+FFFD, as Yjs does, so that neither side holds half a
// character.
func (c *contentString) splice(off int) content {
	var i int
	var inPair bool
	if c.n == len(c.s) { // ASCII: units are bytes
		i = off
	} else {
		i, inPair = utf16Offset(c.s, off)
	}
	if inPair {
		left := append(slices.Clone(c.s[:i]), "\uFFFD"...)
		right := append([]byte("\uFFFD"), c.s[i+4:]...)
		r := &contentString{s: right, n: c.n - off}
		c.s, c.n = left, off
		return r
	}
	r := &contentString{s: c.s[i:len(c.s):len(c.s)], n: c.n - off}
	// The three-index slice makes a later append to the left part copy
	// instead of writing over the right part's bytes.
	c.s, c.n = c.s[:i:i], off
	return r
}

func (c *contentString) merge(r content) bool {
	rs := r.(*contentString)
	c.s = append(c.s, rs.s...)
	c.n += rs.n
	return true
}

func (c *contentString) write(e *encoder, off int) {
	if off == 0 {
		e.bytes(c.s)
		return
	}
	i, inPair := utf16Offset(c.s, off)
	if c.n == len(c.s) {
		i, inPair = off, false
	}
	if inPair {
		// Writing from the middle of a pair: Yjs slices the UTF-16 string,
		// leaving a lone surrogate, which its UTF-8 encoder writes as U+FFFD.
		rest := append([]byte("\uFFFD"), c.s[i+4:]...)
		e.bytes(rest)
		return
	}
	e.bytes(c.s[i:])
}

// contentEmbed is an embedded object in text, kept as its JSON text.
type contentEmbed struct{ json string }

func (c *contentEmbed) ref() byte                 { return refEmbed }
func (c *contentEmbed) length() int               { return 1 }
func (c *contentEmbed) countable() bool           { return true }
func (c *contentEmbed) splice(int) content        { panic("ydoc: embed cannot be split") }
func (c *contentEmbed) merge(content) bool        { return false }
func (c *contentEmbed) write(e *encoder, off int) { e.string(c.json) }

// contentFormat starts or ends a formatting attribute in text; value is
// JSON ("null" ends it).
type contentFormat struct{ key, value string }

func (c *contentFormat) ref() byte          { return refFormat }
func (c *contentFormat) length() int        { return 1 }
func (c *contentFormat) countable() bool    { return false }
func (c *contentFormat) splice(int) content { panic("ydoc: format cannot be split") }
func (c *contentFormat) merge(content) bool { return false }
func (c *contentFormat) write(e *encoder, off int) {
	e.string(c.key)
	e.string(c.value)
}

// contentType holds a nested shared type.
type contentType struct{ t *Type }

func (c *contentType) ref() byte          { return refType }
func (c *contentType) length() int        { return 1 }
func (c *contentType) countable() bool    { return true }
func (c *contentType) splice(int) content { panic("ydoc: type cannot be split") }
func (c *contentType) merge(content) bool { return false }
func (c *contentType) write(e *encoder, off int) {
	e.uvarint(uint64(c.t.kind))
	if c.t.kind == KindXmlElement || c.t.kind == KindXmlHook {
		e.string(c.t.nodeName)
	}
}

type contentAny struct{ vals []any }

func (c *contentAny) ref() byte       { return refAny }
func (c *contentAny) length() int     { return len(c.vals) }
func (c *contentAny) countable() bool { return true }
func (c *contentAny) splice(off int) content {
	r := &contentAny{slices.Clone(c.vals[off:])}
	c.vals = c.vals[:off:off]
	return r
}
func (c *contentAny) merge(r content) bool {
	c.vals = append(c.vals, r.(*contentAny).vals...)
	return true
}
func (c *contentAny) write(e *encoder, off int) {
	e.uvarint(uint64(len(c.vals) - off))
	for _, v := range c.vals[off:] {
		e.writeAny(v)
	}
}

// contentDoc is a sub-document reference: its guid and options.
type contentDoc struct {
	guid string
	opts any
}

func (c *contentDoc) ref() byte          { return refDoc }
func (c *contentDoc) length() int        { return 1 }
func (c *contentDoc) countable() bool    { return true }
func (c *contentDoc) splice(int) content { panic("ydoc: doc cannot be split") }
func (c *contentDoc) merge(content) bool { return false }
func (c *contentDoc) write(e *encoder, off int) {
	e.string(c.guid)
	e.writeAny(c.opts)
}

// readContent decodes the content of an item whose info byte is info.
func readContent(d *decoder, info byte) (content, error) {
	switch info & 0x1f {
	case refDeleted:
		n, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		if n == 0 || n > 1<<31 {
			return nil, d.errorf("deleted length %d", n)
		}
		return &contentDeleted{int(n)}, nil
	case refJSON:
		n, err := d.length()
		if err != nil {
			return nil, err
		}
		vals := make([]string, 0, capHint(n))
		for range n {
			s, err := d.string()
			if err != nil {
				return nil, err
			}
			// Yjs parses each with JSON.parse ("undefined" stands for
			// undefined).
			if s != "undefined" && !json.Valid([]byte(s)) {
				return nil, d.errorf("invalid JSON content")
			}
			vals = append(vals, s)
		}
		if n == 0 {
			return nil, d.errorf("empty JSON content")
		}
		return &contentJSON{vals}, nil
	case refBinary:
		b, err := d.bytes()
		if err != nil {
			return nil, err
		}
		return &contentBinary{slices.Clone(b)}, nil
	case refString:
		b, err := d.bytes()
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(b) {
			return nil, d.errorf("invalid UTF-8 in text")
		}
		c := &contentString{s: slices.Clip(slices.Clone(b))}
		c.n = utf16Len(c.s)
		if c.n == 0 {
			return nil, d.errorf("empty string content")
		}
		return c, nil
	case refEmbed:
		s, err := d.string()
		if err != nil {
			return nil, err
		}
		if !json.Valid([]byte(s)) {
			return nil, d.errorf("invalid JSON in an embed")
		}
		return &contentEmbed{s}, nil
	case refFormat:
		k, err := d.string()
		if err != nil {
			return nil, err
		}
		v, err := d.string()
		if err != nil {
			return nil, err
		}
		if !json.Valid([]byte(v)) {
			return nil, d.errorf("invalid JSON in a format")
		}
		return &contentFormat{k, v}, nil
	case refType:
		k, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		t := newType(Kind(k))
		switch t.kind {
		case KindArray, KindMap, KindText, KindXmlFragment, KindXmlText:
		case KindXmlElement, KindXmlHook:
			if t.nodeName, err = d.string(); err != nil {
				return nil, err
			}
		default:
			return nil, d.errorf("unknown type %d", k)
		}
		return &contentType{t}, nil
	case refAny:
		n, err := d.length()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, d.errorf("empty any content")
		}
		vals := make([]any, 0, capHint(n))
		for range n {
			v, err := d.readAny(0)
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
		}
		return &contentAny{vals}, nil
	case refDoc:
		g, err := d.string()
		if err != nil {
			return nil, err
		}
		o, err := d.readAny(0)
		if err != nil {
			return nil, err
		}
		return &contentDoc{g, o}, nil
	}
	return nil, d.errorf("unknown content %d", info&0x1f)
}

// jsonText encodes a Go value as the JSON text Yjs stores for embeds and
// formats.
func jsonText(v any) string {
	if v == nil {
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}
