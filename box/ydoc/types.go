package ydoc

// Kind is the kind of a shared type, numbered as Yjs numbers them.
type Kind uint8

const (
	KindArray       Kind = 0
	KindMap         Kind = 1
	KindText        Kind = 2
	KindXmlElement  Kind = 3
	KindXmlFragment Kind = 4
	KindXmlHook     Kind = 5
	KindXmlText     Kind = 6
	// kindUnknown is a root type named by a remote update before anyone
	// asked for it by kind.
	kindUnknown Kind = 255
)

// Type is a shared type: a list of items (Array, Text, XML children) and a
// map of keys to their last item (Map, XML attributes, formatting-free
// metadata).
type Type struct {
	doc      *Doc
	kind     Kind
	rootName string // for root types
	nodeName string // for XmlElement and XmlHook
	item     *item  // the item holding a nested type; nil for a root

	start   *item
	itemMap map[string]*item
	length  int // countable, visible length of the list

	markers []marker
	// hasFormatting is set once a format item arrives: text positions
	// then depend on the attributes before them, and markers are off.
	hasFormatting bool
	// pendingInsert marks a new type already handed to an insertion.
	pendingInsert bool
}

func newType(k Kind) *Type { return &Type{kind: k, itemMap: make(map[string]*item)} }

// Kind returns the type's kind.
func (t *Type) Kind() Kind { return t.kind }

// marker caches the list index of an item, so that edits near the last
// edit do not walk the list from its start.
type marker struct {
	it    *item
	index int
}

const maxMarkers = 8

// markerForgotten is called when r is merged into l: a marker on r moves
// to l.
func (t *Type) markerForgotten(r, l *item) {
	for i := range t.markers {
		if t.markers[i].it == r {
			t.markers[i].it = l
			t.markers[i].index -= l.visibleLen()
		}
	}
}

// markersChanged drops the markers an edit at index may have moved:
// those at or after index. Callers pass the index of an insertion, or the
// index of a deletion plus one (an item starting where a deletion starts
// keeps its index).
func (t *Type) markersChanged(index int) {
	j := 0
	for _, m := range t.markers {
		if m.index < index {
			t.markers[j] = m
			j++
		}
	}
	t.markers = t.markers[:j]
}

// remember records that it starts at index.
func (t *Type) remember(it *item, index int) {
	if it == nil {
		return
	}
	for i := range t.markers {
		if t.markers[i].it == it {
			t.markers[i].index = index
			return
		}
	}
	if len(t.markers) == maxMarkers {
		copy(t.markers, t.markers[1:])
		t.markers = t.markers[:maxMarkers-1]
	}
	t.markers = append(t.markers, marker{it, index})
}

// seek returns the first item of the list and its index from which to walk
// to index: the closest marker at or before index, else the start.
func (t *Type) seek(index int) (*item, int) {
	best := -1
	for i, m := range t.markers {
		if m.index <= index && (best < 0 || m.index > t.markers[best].index) {
			best = i
		}
	}
	if best < 0 {
		return t.start, 0
	}
	m := t.markers[best]
	// A marker may sit on an item that was deleted since: its index is
	// still the count of visible units before it, so it stays usable.
	return m.it, m.index
}

// deleteChildren deletes everything in a type whose item is deleted.
func (t *Type) deleteChildren(tx *Transaction) {
	for it := t.start; it != nil; it = it.right {
		if !it.deleted {
			it.delete(tx)
		} else if it.id.Clock < tx.beforeState[it.id.Client] {
			tx.mergeStructs = append(tx.mergeStructs, it)
		}
	}
	for _, it := range t.itemMap {
		if !it.deleted {
			it.delete(tx)
		} else if it.id.Clock < tx.beforeState[it.id.Client] {
			tx.mergeStructs = append(tx.mergeStructs, it)
		}
	}
	delete(tx.changedTypes, t)
}

// gcChildren turns every child of a collected type into GC structs.
func (t *Type) gcChildren(s *structStore) {
	for it := t.start; it != nil; {
		next := it.right
		it.gc(s, true)
		it = next
	}
	t.start = nil
	for _, it := range t.itemMap {
		for it != nil {
			prev := it.left
			it.gc(s, true)
			it = prev
		}
	}
	t.itemMap = make(map[string]*item)
	t.markers = nil
}

// insertAfter inserts contents after left (nil: at the start) as new
// items of this document's client, and returns the last one.
func (t *Type) insertAfter(tx *Transaction, left *item, contents ...content) *item {
	d := tx.doc
	right := t.start
	if left != nil {
		right = left.right
	}
	for _, c := range contents {
		it := t.newLocalItem(d, left, right, c)
		it.integrate(tx, 0)
		left = it
	}
	return left
}

// newLocalItem makes an item of this document's client between left and
// right (either may be nil), with its origins.
func (t *Type) newLocalItem(d *Doc, left, right *item, c content) *item {
	it := &item{
		id:        ID{d.clientID, d.store.state(d.clientID)},
		length:    c.length(),
		left:      left,
		right:     right,
		parent:    t,
		parentRef: parentResolved,
		content:   c,
	}
	if left != nil {
		it.origin, it.hasOrigin = left.lastID(), true
	}
	if right != nil {
		it.rightOrigin, it.hasRightOrigin = right.id, true
	}
	return it
}

// findIndex returns the item after which index falls (nil at the start),
// splitting an item so that index falls between two.
func (t *Type) findIndex(tx *Transaction, index int) *item {
	if index == 0 {
		return nil
	}
	n, i := t.seek(index)
	// Step left to a visible item ending before index, as the walk below
	// needs the item in which index falls.
	for n != nil && i >= index {
		n = n.left
		for n != nil && (n.deleted || !n.content.countable()) {
			n = n.left
		}
		if n != nil {
			i -= n.length
		} else {
			i = 0
		}
	}
	if n == nil {
		n, i = t.start, 0
	}
	for ; n != nil; n = n.right {
		if n.deleted || !n.content.countable() {
			continue
		}
		if index-i <= n.length {
			if index-i < n.length {
				tx.doc.store.getCleanStart(tx, ID{n.id.Client, n.id.Clock + uint64(index-i)})
			}
			t.remember(n, i)
			return n
		}
		i += n.length
	}
	return nil
}

// insertAt inserts contents at a list index.
func (t *Type) insertAt(tx *Transaction, index int, contents ...content) error {
	if index < 0 || index > t.length {
		return ErrOutOfRange
	}
	left := t.findIndex(tx, index)
	t.markersChanged(index)
	t.insertAfter(tx, left, contents...)
	return nil
}

// deleteAt deletes length units from a list index.
func (t *Type) deleteAt(tx *Transaction, index, length int) error {
	if index < 0 || length < 0 || index+length > t.length {
		return ErrOutOfRange
	}
	if length == 0 {
		return nil
	}
	var n *item
	if index == 0 {
		n = t.start
	} else {
		left := t.findIndex(tx, index)
		n = left.right
	}
	t.markersChanged(index + 1)
	for length > 0 && n != nil {
		if !n.deleted && n.content.countable() {
			if length < n.length {
				tx.doc.store.getCleanStart(tx, ID{n.id.Client, n.id.Clock + uint64(length)})
			}
			length -= n.length
			n.delete(tx)
		}
		n = n.right
	}
	return nil
}

// mapSet sets key to content.
func (t *Type) mapSet(tx *Transaction, key string, c content) {
	it := t.newLocalItem(tx.doc, t.itemMap[key], nil, c)
	it.parentSub, it.hasParentSub = key, true
	it.integrate(tx, 0)
}

// mapGet returns the current item of key, if any.
func (t *Type) mapGet(key string) *item {
	it := t.itemMap[key]
	if it == nil || it.deleted {
		return nil
	}
	return it
}
