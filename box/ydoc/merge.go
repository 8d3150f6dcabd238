package ydoc

import (
	"cmp"
	"fmt"
	"slices"
)

// The functions here work on encoded updates without a document, as
// Yjs's updates.js does: the journal merges a second of edits into one
// entry, and a box answers a state vector from stored updates.

// structReader yields the structs of one decoded update in order.
type structReader struct {
	structs []*item
	i       int
	ds      deleteSet
}

func newStructReader(update []byte, filterSkips bool) (*structReader, error) {
	d := &decoder{buf: update}
	sections, err := readSections(d)
	if err != nil {
		return nil, err
	}
	var refs []*item
	for _, s := range sections {
		refs = append(refs, s...)
	}
	ds, err := readDeleteSet(d)
	if err != nil {
		return nil, err
	}
	if filterSkips {
		refs = slices.DeleteFunc(refs, func(it *item) bool { return it.kind == kindSkip })
	}
	return &structReader{structs: refs, ds: ds}, nil
}

func (r *structReader) curr() *item {
	if r.i < len(r.structs) {
		return r.structs[r.i]
	}
	return nil
}

func (r *structReader) next() *item {
	r.i++
	return r.curr()
}

// structWriter writes structs, grouping consecutive ones of a client into
// one section, and prepends the section count at the end.
type structWriter struct {
	sections []section
	cur      encoder
	client   uint64
	written  int
}

type section struct {
	count int
	body  []byte
}

func (w *structWriter) write(it *item, offset int) {
	if w.written > 0 && w.client != it.id.Client {
		w.flush()
	}
	if w.written == 0 {
		w.client = it.id.Client
		w.cur.uvarint(it.id.Client)
		w.cur.uvarint(it.id.Clock + uint64(offset))
	}
	it.write(&w.cur, offset)
	w.written++
}

func (w *structWriter) flush() {
	if w.written > 0 {
		w.sections = append(w.sections, section{w.written, w.cur.buf})
		w.cur = encoder{}
		w.written = 0
	}
}

func (w *structWriter) finish(e *encoder) {
	w.flush()
	e.uvarint(uint64(len(w.sections)))
	for _, s := range w.sections {
		e.uvarint(uint64(s.count))
		e.buf = append(e.buf, s.body...)
	}
}

// sliceStruct returns the part of it from diff on.
func sliceStruct(it *item, diff int) *item {
	r := &item{id: ID{it.id.Client, it.id.Clock + uint64(diff)}, length: it.length - diff, kind: it.kind}
	if it.kind != kindItem {
		return r
	}
	r.origin, r.hasOrigin = ID{it.id.Client, it.id.Clock + uint64(diff) - 1}, true
	r.rightOrigin, r.hasRightOrigin = it.rightOrigin, it.hasRightOrigin
	r.parentRef, r.parentName, r.parentID = it.parentRef, it.parentName, it.parentID
	r.parent = it.parent
	r.parentSub, r.hasParentSub = it.parentSub, it.hasParentSub
	r.content = it.content.splice(diff)
	return r
}

// mergeDecoded joins decoded structs as Yjs's mergeUpdates does: GC and
// Skip runs merge, items never do (their neighbours are unknown).
func mergeDecoded(l, r *item) bool {
	if l.kind != r.kind || l.kind == kindItem {
		return false
	}
	l.length += r.length
	return true
}

// MergeUpdates merges updates into one, without a document, as Yjs's
// mergeUpdates does: the structs of all updates, deduplicated, with Skip
// structs over gaps, and the union of their delete sets.
func MergeUpdates(updates ...[]byte) ([]byte, error) {
	if len(updates) == 1 {
		return updates[0], nil
	}
	readers := make([]*structReader, 0, len(updates))
	for i, u := range updates {
		r, err := newStructReader(u, true)
		if err != nil {
			return nil, fmt.Errorf("merge: update %d: %w", i, err)
		}
		readers = append(readers, r)
	}
	all := slices.Clone(readers)
	var w structWriter
	type write struct {
		s      *item
		offset int
	}
	var cw *write
	for {
		readers = slices.DeleteFunc(readers, func(r *structReader) bool { return r.curr() == nil })
		slices.SortStableFunc(readers, func(a, b *structReader) int {
			x, y := a.curr(), b.curr()
			if x.id.Client == y.id.Client {
				if c := cmp.Compare(x.id.Clock, y.id.Clock); c != 0 {
					return c
				}
				if x.kind == y.kind {
					return 0
				}
				if x.kind == kindSkip {
					return 1
				}
				return -1
			}
			return cmp.Compare(y.id.Client, x.id.Client)
		})
		if len(readers) == 0 {
			break
		}
		rd := readers[0]
		first := rd.curr().id.Client
		if cw != nil {
			curr := rd.curr()
			iterated := false
			for curr != nil && curr.id.Clock+uint64(curr.length) <= cw.s.id.Clock+uint64(cw.s.length) && curr.id.Client >= cw.s.id.Client {
				curr = rd.next()
				iterated = true
			}
			if curr == nil || curr.id.Client != first || (iterated && curr.id.Clock > cw.s.id.Clock+uint64(cw.s.length)) {
				continue
			}
			if first != cw.s.id.Client {
				w.write(cw.s, cw.offset)
				cw = &write{curr, 0}
				rd.next()
			} else {
				end := cw.s.id.Clock + uint64(cw.s.length)
				if end < curr.id.Clock {
					if cw.s.kind == kindSkip {
						cw.s.length = int(curr.id.Clock + uint64(curr.length) - cw.s.id.Clock)
					} else {
						w.write(cw.s, cw.offset)
						cw = &write{&item{id: ID{first, end}, length: int(curr.id.Clock - end), kind: kindSkip}, 0}
					}
				} else {
					if diff := int(end - curr.id.Clock); diff > 0 {
						if cw.s.kind == kindSkip {
							cw.s.length -= diff
						} else {
							curr = sliceStruct(curr, diff)
						}
					}
					if !mergeDecoded(cw.s, curr) {
						w.write(cw.s, cw.offset)
						cw = &write{curr, 0}
						rd.next()
					}
				}
			}
		} else {
			cw = &write{rd.curr(), 0}
			rd.next()
		}
		for next := rd.curr(); next != nil && next.id.Client == first && next.id.Clock == cw.s.id.Clock+uint64(cw.s.length) && next.kind != kindSkip; next = rd.next() {
			w.write(cw.s, cw.offset)
			cw = &write{next, 0}
		}
	}
	if cw != nil {
		w.write(cw.s, cw.offset)
	}
	var e encoder
	w.finish(&e)
	ds := make(deleteSet)
	for _, r := range all {
		for c, rs := range r.ds {
			ds[c] = append(ds[c], rs...)
		}
	}
	ds.sortAndMerge()
	ds.write(&e)
	return e.buf, nil
}

// DiffUpdate returns the part of update that the holder of sv lacks, with
// the update's whole delete set, as Yjs's diffUpdate does.
func DiffUpdate(update []byte, sv StateVector) ([]byte, error) {
	r, err := newStructReader(update, false)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	var w structWriter
	for r.curr() != nil {
		curr := r.curr()
		client := curr.id.Client
		svClock := sv[client]
		if curr.kind == kindSkip {
			r.next()
			continue
		}
		if curr.id.Clock+uint64(curr.length) > svClock {
			w.write(curr, int(max(int64(svClock)-int64(curr.id.Clock), 0)))
			for next := r.next(); next != nil && next.id.Client == client; next = r.next() {
				w.write(next, 0)
			}
		} else {
			for next := r.curr(); next != nil && next.id.Client == client && next.id.Clock+uint64(next.length) <= svClock; next = r.next() {
			}
		}
	}
	var e encoder
	w.finish(&e)
	r.ds.write(&e)
	return e.buf, nil
}

// StateVectorFromUpdate returns the state vector of a document holding
// just this update: per client, the end of the first run that starts at
// clock 0 without gaps.
func StateVectorFromUpdate(update []byte) (StateVector, error) {
	r, err := newStructReader(update, false)
	if err != nil {
		return nil, fmt.Errorf("state vector: %w", err)
	}
	sv := make(StateVector)
	var client uint64
	var clock uint64
	stop := true
	for i, it := range r.structs {
		if i == 0 || it.id.Client != client {
			if i > 0 && clock > 0 {
				sv[client] = clock
			}
			client, clock = it.id.Client, 0
			stop = it.id.Clock != 0
		}
		if it.kind == kindSkip {
			stop = true
		}
		if !stop {
			clock = it.id.Clock + uint64(it.length)
		}
	}
	if len(r.structs) > 0 && clock > 0 {
		sv[client] = clock
	}
	return sv, nil
}
