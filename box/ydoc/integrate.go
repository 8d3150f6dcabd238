package ydoc

import "fmt"

// errMissing is returned by getMissing's caller protocol: the client whose
// structs must arrive first.
type missing struct{ client uint64 }

// getMissing checks that everything the item refers to is in the store.
// If something from another client is missing it returns that client; if
// a reference is impossible (a hostile update) it returns an error.
// Otherwise it resolves the references to items, as Yjs's getMissing does.
func (it *item) getMissing(tx *Transaction, s *structStore) (*missing, error) {
	if it.kind != kindItem {
		return nil, nil
	}
	for _, ref := range []struct {
		id  ID
		has bool
	}{{it.origin, it.hasOrigin}, {it.rightOrigin, it.hasRightOrigin}, {it.parentID, it.parentRef == parentItem}} {
		if !ref.has {
			continue
		}
		if ref.id.Clock >= s.state(ref.id.Client) {
			if ref.id.Client == it.id.Client {
				return nil, fmt.Errorf("%w: item %d:%d refers to %d:%d, which its own client has not written", ErrMalformed, it.id.Client, it.id.Clock, ref.id.Client, ref.id.Clock)
			}
			return &missing{ref.id.Client}, nil
		}
	}
	if it.hasOrigin {
		it.left = s.getCleanEnd(tx, it.origin)
		it.origin = it.left.lastID()
	}
	if it.hasRightOrigin {
		it.right = s.getCleanStart(tx, it.rightOrigin)
		it.rightOrigin = it.right.id
	}
	switch {
	case it.left != nil && it.left.kind == kindGC, it.right != nil && it.right.kind == kindGC:
		it.parent = nil
	case it.parentRef == parentFromNeighbours:
		n := it.left
		if n == nil || n.kind != kindItem {
			n = it.right
		}
		if n != nil && n.kind == kindItem {
			it.parent, it.parentSub, it.hasParentSub = n.parent, n.parentSub, n.hasParentSub
		}
	case it.parentRef == parentItem:
		p := s.find(it.parentID)
		it.parent = nil
		if ct, ok := p.content.(*contentType); ok && p.kind == kindItem {
			it.parent = ct.t
		}
	case it.parentRef == parentRoot:
		it.parent = tx.doc.get(it.parentName, kindUnknown)
	}
	if it.parent != nil {
		it.parentRef = parentResolved
	}
	return nil, nil
}

// integrate inserts a resolved item into its parent with YATA's conflict
// resolution, exactly as Yjs 13.6 orders concurrent inserts, and adds it to
// the store. offset skips the first units, already present.
func (it *item) integrate(tx *Transaction, offset int) {
	s := tx.doc.store
	if it.kind != kindItem {
		if offset > 0 {
			it.id.Clock += uint64(offset)
			it.length -= offset
		}
		s.add(it)
		return
	}
	if offset > 0 {
		it.id.Clock += uint64(offset)
		it.left = s.getCleanEnd(tx, ID{it.id.Client, it.id.Clock - 1})
		it.origin, it.hasOrigin = it.left.lastID(), true
		it.content = it.content.splice(offset)
		it.length -= offset
	}
	p := it.parent
	if p == nil {
		// The parent was collected: keep the clock range as a GC struct.
		it.kind = kindGC
		it.content, it.left, it.right = nil, nil, nil
		s.add(it)
		return
	}
	if (it.left == nil && (it.right == nil || it.right.left != nil)) || (it.left != nil && it.left.right != it.right) {
		left := it.left
		var o *item
		switch {
		case left != nil:
			o = left.right
		case it.hasParentSub:
			o = p.itemMap[it.parentSub]
			for o != nil && o.left != nil {
				o = o.left
			}
		default:
			o = p.start
		}
		// conflicting ⊆ beforeOrigin: the items between the origin and o.
		conflicting := make(map[*item]struct{})
		beforeOrigin := make(map[*item]struct{})
		for o != nil && o != it.right {
			beforeOrigin[o] = struct{}{}
			conflicting[o] = struct{}{}
			if it.hasOrigin == o.hasOrigin && it.origin == o.origin {
				// Same origin: the lower client goes first.
				if o.id.Client < it.id.Client {
					left = o
					clear(conflicting)
				} else if it.hasRightOrigin == o.hasRightOrigin && it.rightOrigin == o.rightOrigin {
					break
				}
			} else if o.hasOrigin {
				oo := s.find(o.origin)
				if _, ok := beforeOrigin[oo]; !ok {
					break
				}
				if _, ok := conflicting[oo]; !ok {
					left = o
					clear(conflicting)
				}
			} else {
				break
			}
			o = o.right
		}
		it.left = left
	}
	if it.left != nil {
		it.right = it.left.right
		it.left.right = it
	} else {
		var r *item
		if it.hasParentSub {
			r = p.itemMap[it.parentSub]
			for r != nil && r.left != nil {
				r = r.left
			}
		} else {
			r = p.start
			p.start = it
		}
		it.right = r
	}
	if it.right != nil {
		it.right.left = it
	} else if it.hasParentSub {
		p.itemMap[it.parentSub] = it
		if it.left != nil {
			it.left.delete(tx)
		}
	}
	if !it.hasParentSub && it.content.countable() && !it.deleted {
		p.length += it.length
	}
	s.add(it)
	switch c := it.content.(type) {
	case *contentType:
		c.t.doc = tx.doc
		c.t.item = it
	case *contentDeleted:
		tx.deleteSet.add(it.id.Client, it.id.Clock, uint64(c.n))
		it.deleted = true
	case *contentFormat:
		p.hasFormatting = true
		p.markers = nil
	}
	tx.changed(p)
	if tx.remote() {
		p.markers = p.markers[:0]
	}
	if (p.item != nil && p.item.deleted) || (it.hasParentSub && it.right != nil) {
		it.delete(tx)
	}
}
