package ydoc

// ID names one unit of content: the client that created it and that
// client's clock at the time.
type ID struct {
	Client uint64
	Clock  uint64
}

// item is a struct of the document: an Item holding content, or a GC
// (content garbage-collected, only its length remembered), or a Skip (a gap
// in an update, never part of a document).
type item struct {
	id     ID
	length int
	kind   structKind

	// For items only.
	origin, rightOrigin       ID
	hasOrigin, hasRightOrigin bool
	left, right               *item
	parent                    *Type
	parentSub                 string
	hasParentSub              bool
	content                   content
	deleted                   bool
	keep                      bool

	// As decoded and not yet integrated: where the parent is named.
	parentName string
	parentID   ID
	parentRef  parentRef
}

type structKind uint8

const (
	kindItem structKind = iota
	kindGC
	kindSkip
)

// parentRef says how a decoded item names its parent.
type parentRef uint8

const (
	parentFromNeighbours parentRef = iota // copied from the left or right item
	parentRoot                            // parentName: a root type
	parentItem                            // parentID: the item holding the type
	parentResolved                        // parent is set
)

func (it *item) lastID() ID { return ID{it.id.Client, it.id.Clock + uint64(it.length) - 1} }

func (it *item) isDeleted() bool { return it.kind != kindItem || it.deleted }

func (it *item) countable() bool { return it.kind == kindItem && it.content.countable() }

// visibleLen is what the item adds to its parent's length.
func (it *item) visibleLen() int {
	if it.deleted || !it.content.countable() {
		return 0
	}
	return it.length
}

// split cuts it at diff, returning the new right part, which the caller
// inserts into the struct store after it.
func (it *item) split(tx *Transaction, diff int) *item {
	r := &item{
		id:             ID{it.id.Client, it.id.Clock + uint64(diff)},
		length:         it.length - diff,
		kind:           kindItem,
		origin:         ID{it.id.Client, it.id.Clock + uint64(diff) - 1},
		hasOrigin:      true,
		left:           it,
		right:          it.right,
		rightOrigin:    it.rightOrigin,
		hasRightOrigin: it.hasRightOrigin,
		parent:         it.parent,
		parentRef:      it.parentRef,
		parentSub:      it.parentSub,
		hasParentSub:   it.hasParentSub,
		content:        it.content.splice(diff),
		deleted:        it.deleted,
		keep:           it.keep,
	}
	it.right = r
	if r.right != nil {
		r.right.left = r
	}
	if tx != nil {
		tx.mergeStructs = append(tx.mergeStructs, r)
	}
	if r.hasParentSub && r.right == nil && r.parent != nil {
		r.parent.itemMap[r.parentSub] = r
	}
	it.length = diff
	return r
}

// trimFront drops the first n units of a decoded, not yet integrated item:
// the rest starts after them, so its origin is their last unit.
func (it *item) trimFront(n int) {
	it.id.Clock += uint64(n)
	it.origin, it.hasOrigin = ID{it.id.Client, it.id.Clock - 1}, true
	it.content = it.content.splice(n)
	it.length -= n
}

// mergeWith appends right to it when both are one run of content, as Yjs
// does after each transaction to keep the store small.
func (it *item) mergeWith(r *item) bool {
	if it.kind != r.kind {
		return false
	}
	if it.kind != kindItem {
		it.length += r.length
		return true
	}
	if !(r.hasOrigin && r.origin == it.lastID() &&
		it.right == r &&
		it.hasRightOrigin == r.hasRightOrigin && it.rightOrigin == r.rightOrigin &&
		it.id.Client == r.id.Client && it.id.Clock+uint64(it.length) == r.id.Clock &&
		it.deleted == r.deleted &&
		it.content.ref() == r.content.ref() &&
		it.content.merge(r.content)) {
		return false
	}
	if p := it.parent; p != nil {
		p.markerForgotten(r, it)
	}
	if r.keep {
		it.keep = true
	}
	it.right = r.right
	if it.right != nil {
		it.right.left = it
	}
	it.length += r.length
	return true
}

// delete marks the item deleted within tx.
func (it *item) delete(tx *Transaction) {
	if it.deleted {
		return
	}
	p := it.parent
	if it.content.countable() && !it.hasParentSub {
		p.length -= it.length
	}
	it.deleted = true
	tx.deleteSet.add(it.id.Client, it.id.Clock, uint64(it.length))
	tx.changed(p)
	if tx.remote() {
		p.markers = p.markers[:0]
	}
	if ct, ok := it.content.(*contentType); ok {
		ct.t.deleteChildren(tx)
	}
}

// gc drops the content of a deleted item: it becomes Deleted content of
// the same length, or a GC struct when its parent is gone too.
func (it *item) gc(s *structStore, parentGCd bool) {
	if ct, ok := it.content.(*contentType); ok {
		ct.t.gcChildren(s)
	}
	if parentGCd {
		it.kind = kindGC
		it.content = nil
		it.left, it.right, it.parent = nil, nil, nil
		return
	}
	it.content = &contentDeleted{it.length}
}

// write encodes the item from offset on (a diff may start inside it).
func (it *item) write(e *encoder, offset int) {
	switch it.kind {
	case kindGC:
		e.byte(refGC)
		e.uvarint(uint64(it.length - offset))
		return
	case kindSkip:
		e.byte(refSkip)
		e.uvarint(uint64(it.length - offset))
		return
	}
	origin, hasOrigin := it.origin, it.hasOrigin
	if offset > 0 {
		origin, hasOrigin = ID{it.id.Client, it.id.Clock + uint64(offset) - 1}, true
	}
	info := it.content.ref() & 0x1f
	if hasOrigin {
		info |= 0x80
	}
	if it.hasRightOrigin {
		info |= 0x40
	}
	if it.hasParentSub {
		info |= 0x20
	}
	e.byte(info)
	if hasOrigin {
		e.uvarint(origin.Client)
		e.uvarint(origin.Clock)
	}
	if it.hasRightOrigin {
		e.uvarint(it.rightOrigin.Client)
		e.uvarint(it.rightOrigin.Clock)
	}
	if !hasOrigin && !it.hasRightOrigin {
		switch {
		case it.parentRef == parentResolved && it.parent.item == nil:
			e.uvarint(1)
			e.string(it.parent.rootName)
		case it.parentRef == parentResolved:
			e.uvarint(0)
			e.uvarint(it.parent.item.id.Client)
			e.uvarint(it.parent.item.id.Clock)
		case it.parentRef == parentRoot:
			e.uvarint(1)
			e.string(it.parentName)
		default:
			e.uvarint(0)
			e.uvarint(it.parentID.Client)
			e.uvarint(it.parentID.Clock)
		}
		if it.hasParentSub {
			e.string(it.parentSub)
		}
	}
	it.content.write(e, offset)
}
