package ydoc

import (
	"encoding/json"
	"maps"
	"strings"
)

// Text is a Y.Text: a string with optional formatting attributes.
type Text struct{ t *Type }

// Type returns the underlying shared type.
func (t *Text) Type() *Type { return t.t }

// AsText views a nested type as text.
func (t *Type) AsText() *Text { return &Text{t} }

// Len returns the length in UTF-16 code units.
func (t *Text) Len() int { return t.t.length }

// String returns the text, without formatting.
func (t *Text) String() string {
	var b strings.Builder
	for it := t.t.start; it != nil; it = it.right {
		if !it.deleted {
			if cs, ok := it.content.(*contentString); ok {
				b.Write(cs.s)
			}
		}
	}
	return b.String()
}

// textPos is a position between two items of a text, with the formatting
// attributes in force there (JSON values by key).
type textPos struct {
	left, right *item
	index       int
	attrs       map[string]string
}

func (p *textPos) forward() {
	r := p.right
	if !r.deleted {
		if f, ok := r.content.(*contentFormat); ok {
			updateAttrs(p.attrs, f)
		} else if r.content.countable() {
			p.index += r.length
		}
	}
	p.left, p.right = r, r.right
}

func updateAttrs(attrs map[string]string, f *contentFormat) {
	if f.value == "null" {
		delete(attrs, f.key)
	} else {
		attrs[f.key] = f.value
	}
}

// findPos finds the position at index, splitting an item if index falls
// inside it. Without formatting, markers shorten the walk; with it, the
// walk starts at the beginning to know the attributes in force.
func (t *Text) findPos(tx *Transaction, index int) *textPos {
	p := &textPos{attrs: map[string]string{}}
	if !t.t.hasFormatting {
		p.left = t.t.findIndex(tx, index)
		if p.left == nil {
			p.right = t.t.start
		} else {
			p.right = p.left.right
		}
		p.index = index
		return p
	}
	p.right = t.t.start
	count := index
	for p.right != nil && count > 0 {
		r := p.right
		if !r.deleted {
			if f, ok := r.content.(*contentFormat); ok {
				updateAttrs(p.attrs, f)
			} else if r.content.countable() {
				if count < r.length {
					tx.doc.store.getCleanStart(tx, ID{r.id.Client, r.id.Clock + uint64(count)})
				}
				p.index += r.length
				count -= r.length
			}
		}
		p.left, p.right = r, r.right
	}
	return p
}

// Insert inserts s at index (UTF-16 units). The text takes the formatting
// in force at that position, as in Yjs.
func (t *Text) Insert(index int, s string) error {
	if s == "" {
		return nil
	}
	if index < 0 || index > t.t.length {
		return ErrOutOfRange
	}
	return t.t.doc.edit(func(tx *Transaction) error {
		p := t.findPos(tx, index)
		// Like Yjs, step over deleted items and formatting that changes
		// nothing, so the new text joins what follows the position.
		for p.right != nil && (p.right.deleted || isRedundantFormat(p.right, p.attrs)) {
			p.forward()
		}
		// Visible items starting at index now follow the new text.
		t.t.markersChanged(index)
		t.t.insertAfter(tx, p.left, newContentString(s))
		return nil
	})
}

func isRedundantFormat(it *item, attrs map[string]string) bool {
	f, ok := it.content.(*contentFormat)
	if !ok {
		return false
	}
	cur, has := attrs[f.key]
	if !has {
		cur = "null"
	}
	return cur == f.value
}

// Delete removes length UTF-16 units from index.
func (t *Text) Delete(index, length int) error {
	if index < 0 || length < 0 || index+length > t.t.length {
		return ErrOutOfRange
	}
	if length == 0 {
		return nil
	}
	return t.t.doc.edit(func(tx *Transaction) error {
		p := t.findPos(tx, index)
		t.t.markersChanged(index + 1)
		for length > 0 && p.right != nil {
			r := p.right
			if !r.deleted {
				switch r.content.(type) {
				case *contentString, *contentEmbed, *contentType:
					if length < r.length {
						tx.doc.store.getCleanStart(tx, ID{r.id.Client, r.id.Clock + uint64(length)})
					}
					length -= r.length
					r.delete(tx)
				}
			}
			p.forward()
		}
		return nil
	})
}

// DeltaOp is one run of a text's delta: inserted text (or an embed) and
// the attributes it carries.
type DeltaOp struct {
	Insert     any            `json:"insert"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Delta returns the text as a list of runs with their formatting, as
// Yjs's toDelta does.
func (t *Text) Delta() []DeltaOp {
	ops := []DeltaOp{}
	attrs := map[string]string{}
	var cur strings.Builder
	var curAttrs map[string]string
	flush := func() {
		if cur.Len() == 0 {
			return
		}
		ops = append(ops, DeltaOp{Insert: cur.String(), Attributes: decodeAttrs(curAttrs)})
		cur.Reset()
	}
	for it := t.t.start; it != nil; it = it.right {
		if it.deleted {
			continue
		}
		switch c := it.content.(type) {
		case *contentString:
			if cur.Len() == 0 {
				curAttrs = maps.Clone(attrs)
			}
			cur.Write(c.s)
		case *contentFormat:
			// Yjs ends a run at every format item, even one that changes
			// nothing.
			flush()
			updateAttrs(attrs, c)
		case *contentEmbed:
			flush()
			var v any
			json.Unmarshal([]byte(c.json), &v)
			ops = append(ops, DeltaOp{Insert: v, Attributes: decodeAttrs(attrs)})
		case *contentType:
			flush()
			ops = append(ops, DeltaOp{Insert: c.t.JSON(), Attributes: decodeAttrs(attrs)})
		}
	}
	flush()
	return ops
}

func decodeAttrs(attrs map[string]string) map[string]any {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		var x any
		json.Unmarshal([]byte(v), &x)
		out[k] = x
	}
	return out
}
