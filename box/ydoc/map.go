package ydoc

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// Map is a Y.Map: keys to values, the last write winning.
type Map struct{ t *Type }

// Type returns the underlying shared type.
func (m *Map) Type() *Type { return m.t }

// AsMap views a nested type as a map.
func (t *Type) AsMap() *Map { return &Map{t} }

// Set sets key to v: nil, bool, a number, a string, []any, map[string]any,
// []byte, or a new type from NewText, NewMap or NewArray.
func (m *Map) Set(key string, v any) error {
	if !utf8.ValidString(key) {
		return fmt.Errorf("ydoc: map key %q is not valid UTF-8", key)
	}
	c, err := contentFor(v)
	if err != nil {
		return err
	}
	return m.t.doc.edit(func(tx *Transaction) error {
		m.t.mapSet(tx, key, c)
		return nil
	})
}

// Delete removes key.
func (m *Map) Delete(key string) error {
	return m.t.doc.edit(func(tx *Transaction) error {
		if it := m.t.mapGet(key); it != nil {
			it.delete(tx)
		}
		return nil
	})
}

// Get returns the value of key.
func (m *Map) Get(key string) (any, bool) {
	it := m.t.mapGet(key)
	if it == nil {
		return nil, false
	}
	if ct, ok := it.content.(*contentType); ok {
		return ct.t, true
	}
	vals := contentValues(it.content)
	return vals[len(vals)-1], true
}

// Keys returns the keys with a value, sorted.
func (m *Map) Keys() []string {
	var keys []string
	for k, it := range m.t.itemMap {
		if !it.deleted {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// JSON returns the map as plain Go values.
func (m *Map) JSON() map[string]any {
	out := make(map[string]any)
	for k, it := range m.t.itemMap {
		if it.deleted {
			continue
		}
		vals := contentValues(it.content)
		out[k] = vals[len(vals)-1]
	}
	return out
}
