package ydoc

import (
	"fmt"
	"slices"
)

// maxClock bounds clocks and lengths to what a JavaScript number holds
// exactly, so that arithmetic on them never overflows.
const maxClock = 1 << 53

// refList is one client's decoded structs, consumed from i on.
type refList struct {
	i    int
	refs []*item
}

// readSections decodes the struct part of an update: one section per
// client, each a run of structs with consecutive clocks, in the order of
// the update. Root parents are named, not created: they are looked up when
// an item integrates.
func readSections(d *decoder) ([][]*item, error) {
	n, err := d.length()
	if err != nil {
		return nil, err
	}
	sections := make([][]*item, 0, n)
	for range n {
		count, err := d.length()
		if err != nil {
			return nil, err
		}
		client, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		clock, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		refs := make([]*item, 0, capHint(count))
		for range count {
			it, err := readStruct(d, client, clock)
			if err != nil {
				return nil, err
			}
			clock += uint64(it.length)
			if clock > maxClock {
				return nil, d.errorf("clock beyond 2^53")
			}
			refs = append(refs, it)
		}
		if len(refs) > 0 {
			sections = append(sections, refs)
		}
	}
	return sections, nil
}

// readStructs decodes the struct part of an update by client.
func readStructs(d *decoder) (map[uint64]*refList, error) {
	sections, err := readSections(d)
	if err != nil {
		return nil, err
	}
	clients := make(map[uint64]*refList, len(sections))
	for _, refs := range sections {
		client := refs[0].id.Client
		if _, dup := clients[client]; dup {
			return nil, d.errorf("client %d appears twice", client)
		}
		clients[client] = &refList{refs: refs}
	}
	return clients, nil
}

func readStruct(d *decoder, client, clock uint64) (*item, error) {
	info, err := d.byte()
	if err != nil {
		return nil, err
	}
	it := &item{id: ID{client, clock}}
	switch info & 0x1f {
	case refGC, refSkip:
		it.kind = kindGC
		if info&0x1f == refSkip {
			it.kind = kindSkip
		}
		n, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		if n == 0 || n > maxClock {
			return nil, d.errorf("struct length %d", n)
		}
		it.length = int(n)
		return it, nil
	}
	readID := func() (ID, error) {
		c, err := d.uvarint()
		if err != nil {
			return ID{}, err
		}
		k, err := d.uvarint()
		return ID{c, k}, err
	}
	if info&0x80 != 0 {
		if it.origin, err = readID(); err != nil {
			return nil, err
		}
		it.hasOrigin = true
	}
	if info&0x40 != 0 {
		if it.rightOrigin, err = readID(); err != nil {
			return nil, err
		}
		it.hasRightOrigin = true
	}
	if info&0xc0 == 0 {
		pi, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		if pi == 1 {
			if it.parentName, err = d.string(); err != nil {
				return nil, err
			}
			it.parentRef = parentRoot
		} else {
			if it.parentID, err = readID(); err != nil {
				return nil, err
			}
			it.parentRef = parentItem
		}
		if info&0x20 != 0 {
			if it.parentSub, err = d.string(); err != nil {
				return nil, err
			}
			it.hasParentSub = true
		}
	}
	if it.content, err = readContent(d, info); err != nil {
		return nil, err
	}
	it.length = it.content.length()
	return it, nil
}

// pendingStructs are structs that wait for others, per client in clock
// order, with the lowest missing clock per client. They are kept decoded:
// a box receiving a journal out of order may hold many, and re-encoding
// them at every update (as Yjs does) would make that quadratic.
type pendingStructs struct {
	missing StateVector
	refs    map[uint64][]*item
}

// add merges more waiting structs in, dropping clocks already held.
func (p *pendingStructs) add(rest *pendingStructs) {
	for c, clock := range rest.missing {
		if m, ok := p.missing[c]; !ok || m > clock {
			p.missing[c] = clock
		}
	}
	for c, rs := range rest.refs {
		all := slices.DeleteFunc(append(p.refs[c], rs...), func(it *item) bool { return it.kind == kindSkip })
		slices.SortStableFunc(all, func(a, b *item) int { return cmpClock(a.id.Clock, b.id.Clock) })
		out := all[:0]
		var end uint64
		for _, it := range all {
			switch {
			case len(out) > 0 && it.id.Clock+uint64(it.length) <= end:
				continue
			case len(out) > 0 && it.id.Clock < end && it.kind == kindItem:
				it.trimFront(int(end - it.id.Clock))
			case len(out) > 0 && it.id.Clock < end:
				it.length -= int(end - it.id.Clock)
				it.id.Clock = end
			}
			out = append(out, it)
			end = it.id.Clock + uint64(it.length)
		}
		p.refs[c] = out
	}
}

func cmpClock(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ApplyUpdate integrates an update (format v1). Structs whose dependencies
// have not arrived wait and are integrated when they do; applying an
// update twice changes nothing. A malformed update returns an error
// wrapping ErrMalformed and leaves the document as it was.
func (d *Doc) ApplyUpdate(update []byte) error {
	refs, ds, err := decodeUpdate(update)
	if err != nil {
		return err
	}
	// Inside a local transaction too, what integrates here comes from
	// elsewhere: position markers must not trust it.
	d.applying++
	defer func() { d.applying-- }()
	_, err = d.transact(false, func(tx *Transaction) error {
		return d.applyDecoded(tx, refs, ds)
	})
	return err
}

// Covers reports whether the document holds all that update would bring:
// every struct in it, and each of its deletions done. Applying such an
// update changes nothing, so whoever keeps a log of updates can tell one
// it has kept already. Structs waiting for their dependencies are not
// held. A malformed update returns an error wrapping ErrMalformed.
func (d *Doc) Covers(update []byte) (bool, error) {
	refs, ds, err := decodeUpdate(update)
	if err != nil {
		return false, err
	}
	for client, rl := range refs {
		state := d.store.state(client)
		for _, it := range rl.refs {
			if it.kind != kindSkip && it.id.Clock+uint64(it.length) > state {
				return false, nil
			}
		}
	}
	for client, rs := range ds {
		structs := d.store.clients[client]
		state := d.store.state(client)
		for _, r := range rs {
			end := r.clock + r.len
			if r.len == 0 || end > maxClock || end < r.clock {
				continue // what ApplyUpdate skips too
			}
			if end > state {
				return false, nil
			}
			for i := findIndex(structs, r.clock); i < len(structs) && structs[i].id.Clock < end; i++ {
				if !structs[i].isDeleted() {
					return false, nil
				}
			}
		}
	}
	return true, nil
}

// CheckUpdate reports whether ApplyUpdate would accept update, without a
// document: it decodes it whole and checks its references, as ApplyUpdate
// does before it changes anything.
func CheckUpdate(update []byte) error {
	_, _, err := decodeUpdate(update)
	return err
}

func decodeUpdate(update []byte) (map[uint64]*refList, deleteSet, error) {
	dec := &decoder{buf: update}
	refs, err := readStructs(dec)
	if err != nil {
		return nil, nil, fmt.Errorf("update: %w", err)
	}
	ds, err := readDeleteSet(dec)
	if err != nil {
		return nil, nil, fmt.Errorf("update: %w", err)
	}
	if err := checkRefs(refs); err != nil {
		return nil, nil, fmt.Errorf("update: %w", err)
	}
	return refs, ds, nil
}

// checkRefs refuses, before anything changes, references that can never
// be satisfied: an item whose origins lie in its own client's future
// within the same update, which would otherwise wait forever.
func checkRefs(refs map[uint64]*refList) error {
	for client, rl := range refs {
		for _, it := range rl.refs {
			if it.kind != kindItem {
				continue
			}
			for _, ref := range []struct {
				id  ID
				has bool
			}{{it.origin, it.hasOrigin}, {it.rightOrigin, it.hasRightOrigin}, {it.parentID, it.parentRef == parentItem}} {
				if ref.has && ref.id.Client == client && ref.id.Clock >= it.id.Clock {
					return fmt.Errorf("%w: item %d:%d refers to its own client's later clock %d", ErrMalformed, client, it.id.Clock, ref.id.Clock)
				}
			}
		}
	}
	return nil
}

func (d *Doc) applyDecoded(tx *Transaction, refs map[uint64]*refList, ds deleteSet) error {
	s := d.store
	rest, err := d.integrateStructs(tx, refs)
	if err != nil {
		return err
	}
	retry := false
	if d.pending != nil {
		for c, clock := range d.pending.missing {
			if clock < s.state(c) {
				retry = true
				break
			}
		}
		if rest != nil {
			d.pending.add(rest)
		}
	} else {
		d.pending = rest
	}
	unapplied := d.applyDeleteSet(tx, ds)
	if len(d.pendingDS) > 0 {
		old := d.pendingDS
		d.pendingDS = nil
		unapplied2 := d.applyDeleteSet(tx, old)
		for c, rs := range unapplied2 {
			unapplied[c] = append(unapplied[c], rs...)
		}
		unapplied.sortAndMerge()
	}
	d.pendingDS = unapplied
	if retry && d.pending != nil {
		refs := make(map[uint64]*refList, len(d.pending.refs))
		for c, rs := range d.pending.refs {
			refs[c] = &refList{refs: rs}
		}
		d.pending = nil
		return d.applyDecoded(tx, refs, nil)
	}
	return nil
}

// integrateStructs integrates decoded structs in causal order, as Yjs's
// integrateStructs does, and returns those that must wait.
func (d *Doc) integrateStructs(tx *Transaction, refs map[uint64]*refList) (*pendingStructs, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	s := d.store
	ids := make([]uint64, 0, len(refs))
	for c := range refs {
		ids = append(ids, c)
	}
	slices.Sort(ids)
	nextTarget := func() *refList {
		for len(ids) > 0 {
			rl := refs[ids[len(ids)-1]]
			if rl.i < len(rl.refs) {
				return rl
			}
			ids = ids[:len(ids)-1]
		}
		return nil
	}
	cur := nextTarget()
	if cur == nil {
		return nil, nil
	}
	rest := make(map[uint64][]*item)
	missingSV := make(StateVector)
	updateMissing := func(client, clock uint64) {
		if m, ok := missingSV[client]; !ok || m > clock {
			missingSV[client] = clock
		}
	}
	var stack []*item
	state := make(map[uint64]uint64)
	stateOf := func(c uint64) uint64 {
		v, ok := state[c]
		if !ok {
			v = s.state(c)
			state[c] = v
		}
		return v
	}
	addStackToRest := func() {
		for _, it := range stack {
			c := it.id.Client
			if rl, ok := refs[c]; ok {
				rl.i--
				rest[c] = slices.Clone(rl.refs[rl.i:])
				delete(refs, c)
				rl.i, rl.refs = 0, nil
			} else {
				rest[c] = []*item{it}
			}
			ids = slices.DeleteFunc(ids, func(x uint64) bool { return x == c })
		}
		stack = stack[:0]
	}
	head := cur.refs[cur.i]
	cur.i++
	for {
		if head.kind != kindSkip {
			local := stateOf(head.id.Client)
			if head.id.Clock > local {
				// A struct of the same client is missing.
				stack = append(stack, head)
				updateMissing(head.id.Client, head.id.Clock-1)
				addStackToRest()
			} else {
				if offset := int(local - head.id.Clock); offset > 0 && offset < head.length && head.kind == kindItem {
					// The start is already here: what remains follows it,
					// whatever the original origin was. Yjs waits for that
					// origin all the same; cutting first means a struct
					// never waits for something it no longer needs.
					head.trimFront(offset)
				}
				miss, err := head.getMissing(tx, s)
				if err != nil {
					return nil, err
				}
				if miss != nil {
					stack = append(stack, head)
					rl := refs[miss.client]
					if rl == nil || rl.i == len(rl.refs) {
						updateMissing(miss.client, s.state(miss.client))
						addStackToRest()
					} else {
						head = rl.refs[rl.i]
						rl.i++
						continue
					}
				} else if offset := int(local - head.id.Clock); offset == 0 || offset < head.length {
					head.integrate(tx, offset)
					state[head.id.Client] = head.id.Clock + uint64(head.length)
				}
			}
		}
		switch {
		case len(stack) > 0:
			head = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		case cur != nil && cur.i < len(cur.refs):
			head = cur.refs[cur.i]
			cur.i++
		default:
			cur = nextTarget()
			if cur == nil {
				// Structs moved aside with their client but already held
				// (a peer resending, or claiming, clocks the store has)
				// are dropped rather than kept pending forever.
				for c, rs := range rest {
					state := s.state(c)
					// Skips only mark gaps; writeRefLists writes them
					// again, and kept they would hide content arriving
					// later for their range.
					rs = slices.DeleteFunc(rs, func(it *item) bool {
						return it.kind == kindSkip || it.id.Clock+uint64(it.length) <= state
					})
					if len(rs) == 0 {
						delete(rest, c)
					} else {
						rest[c] = rs
					}
				}
				if len(rest) == 0 {
					return nil, nil
				}
				return &pendingStructs{missing: missingSV, refs: rest}, nil
			}
			head = cur.refs[cur.i]
			cur.i++
		}
	}
}

// writeRefLists encodes structs that could not be integrated yet, with
// Skip structs over the gaps between them.
func writeRefLists(e *encoder, lists map[uint64][]*item) {
	e.uvarint(uint64(len(lists)))
	for _, c := range sortedClients(lists) {
		refs := lists[c]
		var withGaps []*item
		for i, it := range refs {
			if i > 0 {
				end := refs[i-1].id.Clock + uint64(refs[i-1].length)
				if it.id.Clock > end {
					withGaps = append(withGaps, &item{id: ID{c, end}, length: int(it.id.Clock - end), kind: kindSkip})
				}
			}
			withGaps = append(withGaps, it)
		}
		e.uvarint(uint64(len(withGaps)))
		e.uvarint(c)
		e.uvarint(withGaps[0].id.Clock)
		for _, it := range withGaps {
			it.write(e, 0)
		}
	}
}

// applyDeleteSet deletes what ds names and returns the ranges that name
// structs not yet received.
func (d *Doc) applyDeleteSet(tx *Transaction, ds deleteSet) deleteSet {
	s := d.store
	unapplied := make(deleteSet)
	for _, c := range sortedClients(ds) {
		state := s.state(c)
		for _, r := range ds[c] {
			clock, end := r.clock, r.clock+r.len
			if end > maxClock || end < clock {
				continue
			}
			if clock >= state {
				unapplied.add(c, clock, end-clock)
				continue
			}
			if state < end {
				unapplied.add(c, state, end-state)
			}
			structs := s.clients[c]
			i := findIndex(structs, clock)
			it := structs[i]
			if !it.isDeleted() && it.id.Clock < clock {
				r := it.split(tx, int(clock-it.id.Clock))
				structs = slices.Insert(structs, i+1, r)
				s.clients[c] = structs
				i++
			}
			for i < len(structs) {
				it = structs[i]
				i++
				if it.id.Clock >= end {
					break
				}
				if !it.isDeleted() {
					if end < it.id.Clock+uint64(it.length) {
						r := it.split(tx, int(end-it.id.Clock))
						structs = slices.Insert(structs, i, r)
						s.clients[c] = structs
					}
					it.delete(tx)
				}
			}
		}
	}
	return unapplied
}

// writeStructs writes every struct the state vector sv lacks, clients
// highest first, as Yjs's writeClientsStructs does.
func (d *Doc) writeStructs(e *encoder, sv StateVector) {
	s := d.store
	todo := make(map[uint64]uint64)
	for c, clock := range sv {
		if s.state(c) > clock {
			todo[c] = clock
		}
	}
	for c := range s.clients {
		if _, ok := sv[c]; !ok {
			todo[c] = 0
		}
	}
	e.uvarint(uint64(len(todo)))
	for _, c := range sortedClients(todo) {
		structs := s.clients[c]
		clock := max(todo[c], structs[0].id.Clock)
		start := findIndex(structs, clock)
		e.uvarint(uint64(len(structs) - start))
		e.uvarint(c)
		e.uvarint(clock)
		structs[start].write(e, int(clock-structs[start].id.Clock))
		for _, it := range structs[start+1:] {
			it.write(e, 0)
		}
	}
}

// EncodeStateAsUpdate encodes everything the holder of state vector sv
// lacks (nil: the whole document), with the document's whole delete set,
// as Yjs's encodeStateAsUpdate does.
func (d *Doc) EncodeStateAsUpdate(sv StateVector) []byte {
	var e encoder
	d.writeStructs(&e, sv)
	deleteSetFromStore(d.store).write(&e)
	update := e.buf
	var parts [][]byte
	if len(d.pendingDS) > 0 {
		var pe encoder
		pe.uvarint(0)
		d.pendingDS.write(&pe)
		parts = append(parts, pe.buf)
	}
	if d.pending != nil {
		var pe encoder
		writeRefLists(&pe, d.pending.refs)
		pe.uvarint(0)
		if diff, err := DiffUpdate(pe.buf, sv); err == nil {
			parts = append(parts, diff)
		}
	}
	if len(parts) > 0 {
		if merged, err := MergeUpdates(append([][]byte{update}, parts...)...); err == nil {
			return merged
		}
	}
	return update
}
