package ydoc

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrOutOfRange is returned for an index or length beyond a type's end.
var ErrOutOfRange = errors.New("ydoc: index out of range")

// toJSON turns a stored value into plain Go JSON values: numbers become
// float64, objects map[string]any, nested types their own JSON.
func toJSON(v any) any {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case float32:
		return float64(v)
	case BigInt:
		return float64(v)
	case Undefined:
		return nil
	case *Object:
		m := make(map[string]any, len(v.Keys))
		for i, k := range v.Keys {
			m[k] = toJSON(v.Values[i])
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = toJSON(x)
		}
		return out
	}
	return v
}

// contentValues returns the JSON values an item holds.
func contentValues(c content) []any {
	switch c := c.(type) {
	case *contentAny:
		out := make([]any, len(c.vals))
		for i, v := range c.vals {
			out[i] = toJSON(v)
		}
		return out
	case *contentJSON:
		out := make([]any, len(c.vals))
		for i, s := range c.vals {
			var v any
			if s != "undefined" {
				json.Unmarshal([]byte(s), &v)
			}
			out[i] = v
		}
		return out
	case *contentBinary:
		return []any{c.b}
	case *contentEmbed:
		var v any
		json.Unmarshal([]byte(c.json), &v)
		return []any{v}
	case *contentString:
		out := make([]any, 0, c.n)
		for _, r := range string(c.s) {
			out = append(out, string(r))
		}
		return out
	case *contentType:
		return []any{c.t.JSON()}
	case *contentDoc:
		return []any{map[string]any{"guid": c.guid}}
	}
	return nil
}

// JSON returns the type's content as plain Go values: a string for text,
// a map for maps, a slice for arrays.
func (t *Type) JSON() any {
	switch t.kind {
	case KindText, KindXmlText:
		return (&Text{t}).String()
	case KindMap:
		return (&Map{t}).JSON()
	}
	return (&Array{t}).JSON()
}

// contentFor turns a Go value given to the API into item content.
func contentFor(v any) (content, error) {
	switch v := v.(type) {
	case []byte:
		return &contentBinary{append([]byte(nil), v...)}, nil
	case *Type:
		if v.doc != nil || v.item != nil || v.pendingInsert {
			return nil, errors.New("ydoc: a shared type can be inserted only once")
		}
		v.pendingInsert = true
		return &contentType{v}, nil
	}
	if err := checkValue(v, 0); err != nil {
		return nil, err
	}
	return &contentAny{[]any{v}}, nil
}

func checkValue(v any, depth int) error {
	if depth > maxAnyDepth {
		return fmt.Errorf("ydoc: value nested deeper than %d", maxAnyDepth)
	}
	switch v := v.(type) {
	case nil, bool, string, int, int64, float64, float32, BigInt, Undefined, []byte:
		return nil
	case []any:
		for _, x := range v {
			if err := checkValue(x, depth+1); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		for _, x := range v {
			if err := checkValue(x, depth+1); err != nil {
				return err
			}
		}
		return nil
	case *Object:
		for _, x := range v.Values {
			if err := checkValue(x, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("ydoc: cannot store a %T", v)
}

// NewText, NewMap and NewArray make types to nest in a map or an array.
func NewText() *Type  { return newType(KindText) }
func NewMap() *Type   { return newType(KindMap) }
func NewArray() *Type { return newType(KindArray) }
