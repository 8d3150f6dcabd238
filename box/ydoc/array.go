package ydoc

// Array is a Y.Array: a list of values.
type Array struct{ t *Type }

// Type returns the underlying shared type.
func (a *Array) Type() *Type { return a.t }

// AsArray views a nested type as an array.
func (t *Type) AsArray() *Array { return &Array{t} }

// Len returns the number of elements.
func (a *Array) Len() int { return a.t.length }

// Insert inserts values at index. JSON values next to each other share one
// item, as in Yjs.
func (a *Array) Insert(index int, values ...any) error {
	var contents []content
	var pack []any
	for _, v := range values {
		c, err := contentFor(v)
		if err != nil {
			return err
		}
		if ca, ok := c.(*contentAny); ok {
			pack = append(pack, ca.vals...)
			continue
		}
		if len(pack) > 0 {
			contents = append(contents, &contentAny{pack})
			pack = nil
		}
		contents = append(contents, c)
	}
	if len(pack) > 0 {
		contents = append(contents, &contentAny{pack})
	}
	if len(contents) == 0 {
		return nil
	}
	return a.t.doc.edit(func(tx *Transaction) error {
		return a.t.insertAt(tx, index, contents...)
	})
}

// Push appends values.
func (a *Array) Push(values ...any) error { return a.Insert(a.Len(), values...) }

// Delete removes n elements from index.
func (a *Array) Delete(index, n int) error {
	return a.t.doc.edit(func(tx *Transaction) error {
		return a.t.deleteAt(tx, index, n)
	})
}

// JSON returns the elements as plain Go values.
func (a *Array) JSON() []any {
	out := []any{}
	for it := a.t.start; it != nil; it = it.right {
		if it.deleted || !it.content.countable() {
			continue
		}
		out = append(out, contentValues(it.content)...)
	}
	return out
}
