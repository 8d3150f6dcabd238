// Package ydoc is a Yjs-compatible CRDT document: it decodes, integrates
// and encodes Yjs updates (format v1) with the same conflict resolution as
// yjs 13.6, so that the box can answer a client's state vector with exactly
// what it misses, merge edits from browsers and other boxes, render a pad's
// text and rebuild a document from stored updates.
//
// # Units
//
// Positions and lengths count UTF-16 code units, as Yjs does: an emoji
// outside the Basic Multilingual Plane counts 2.
//
// # Differences from a Yjs client
//
// A Yjs client whose code has asked for a Y.Text deletes formatting marks
// that remote updates made redundant, in a transaction of its own (Yjs's
// cleanupYTextAfterTransaction). A Doc does not, like the documents of a
// y-websocket server, which never ask for the text: what it holds is
// exactly the union of the updates it received. Undo, snapshots, XML
// editing and sub-document loading are not implemented; their content is
// kept and re-encoded unchanged.
//
// # Concurrency
//
// A Doc is not safe for concurrent use; its owner serialises access.
//
// # Who may import it
//
// Anything: it has no dependency on HTTP, storage or the network.
package ydoc

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// Options configure a Doc. The zero value is a document with a random
// client ID and garbage collection on.
type Options struct {
	// ClientID identifies this document's own edits. Zero picks a random
	// 32-bit one, as Yjs does.
	ClientID uint64
	// NoGC keeps the content of deleted items (Yjs's gc: false), which
	// old versions need.
	NoGC bool
}

// Doc is a Yjs document.
type Doc struct {
	clientID uint64
	gc       bool
	store    *structStore
	share    map[string]*Type
	tx       *Transaction

	pending   *pendingStructs
	pendingDS deleteSet

	onUpdate []func(update []byte)

	// applying counts ApplyUpdate calls in progress, which may run
	// inside a local transaction.
	applying int
	// wantUpdate counts Transact calls in progress, whose caller wants
	// the transaction's update even without listeners.
	wantUpdate int
}

// NewDoc returns an empty document.
func NewDoc(opts Options) *Doc {
	id := opts.ClientID
	if id == 0 {
		id = randomClientID()
	}
	return &Doc{clientID: id, gc: !opts.NoGC, store: newStructStore(), share: make(map[string]*Type)}
}

func randomClientID() uint64 {
	var b [4]byte
	rand.Read(b[:])
	return uint64(binary.LittleEndian.Uint32(b[:]))
}

// ClientID returns the ID of this document's own edits.
func (d *Doc) ClientID() uint64 { return d.clientID }

// OnUpdate registers f to receive the update of every transaction that
// changed the document (local edits and applied updates alike), as Yjs's
// 'update' event does.
func (d *Doc) OnUpdate(f func(update []byte)) { d.onUpdate = append(d.onUpdate, f) }

// get returns the root type name, creating it with kind if it does not
// exist; a root first created with another kind (or by a remote update,
// which does not say) takes kind.
func (d *Doc) get(name string, kind Kind) *Type {
	t, ok := d.share[name]
	if !ok {
		t = newType(kind)
		t.doc = d
		t.rootName = name
		d.share[name] = t
		return t
	}
	if t.kind == kindUnknown {
		t.kind = kind
	}
	return t
}

// Text returns the root Y.Text called name.
func (d *Doc) Text(name string) *Text { return &Text{d.get(name, KindText)} }

// Map returns the root Y.Map called name.
func (d *Doc) Map(name string) *Map { return &Map{d.get(name, KindMap)} }

// Array returns the root Y.Array called name.
func (d *Doc) Array(name string) *Array { return &Array{d.get(name, KindArray)} }

// Transaction groups changes: observers and the update are produced once,
// when the outermost transaction ends.
type Transaction struct {
	doc          *Doc
	deleteSet    deleteSet
	beforeState  StateVector
	mergeStructs []*item
	local        bool
	changedTypes map[*Type]struct{}
}

// remote reports whether what the transaction integrates now comes from
// another document.
func (tx *Transaction) remote() bool { return !tx.local || tx.doc.applying > 0 }

func (tx *Transaction) changed(t *Type) {
	if tx.changedTypes == nil {
		tx.changedTypes = make(map[*Type]struct{})
	}
	tx.changedTypes[t] = struct{}{}
}

// Transact runs f in a transaction and returns the resulting update (nil
// if nothing changed). Nested calls join the outer transaction and return
// nil.
func (d *Doc) Transact(f func(tx *Transaction)) []byte {
	d.wantUpdate++
	defer func() { d.wantUpdate-- }()
	update, _ := d.transact(true, func(tx *Transaction) error { f(tx); return nil })
	return update
}

// edit runs one local change, in the current transaction if there is one.
func (d *Doc) edit(f func(tx *Transaction) error) error {
	_, err := d.transact(true, f)
	return err
}

func (d *Doc) transact(local bool, f func(tx *Transaction) error) ([]byte, error) {
	if d.tx != nil {
		return nil, f(d.tx)
	}
	tx := &Transaction{doc: d, deleteSet: make(deleteSet), beforeState: d.store.stateVector(), local: local}
	d.tx = tx
	// Even if f panics, the transaction ends: a document stuck in a dead
	// transaction would silently drop every later update.
	defer func() { d.tx = nil }()
	err := f(tx)
	d.tx = nil
	return d.cleanup(tx), err
}

// cleanup ends a transaction as Yjs does: garbage-collect deleted content,
// merge what can be merged, and encode the transaction's update.
func (d *Doc) cleanup(tx *Transaction) []byte {
	s := d.store
	ds := tx.deleteSet
	ds.sortAndMerge()
	afterState := s.stateVector()
	if d.gc {
		d.gcDeleteSet(ds)
	}
	d.mergeDeleteSet(ds)
	for client, clock := range afterState {
		before := tx.beforeState[client]
		if before == clock {
			continue
		}
		structs := s.clients[client]
		first := max(findIndex(structs, before), 1)
		if before >= clock {
			first = len(structs)
		}
		for i := len(structs) - 1; i >= first; {
			i -= 1 + s.mergeWithLefts(client, i)
			structs = s.clients[client]
		}
	}
	for i := len(tx.mergeStructs) - 1; i >= 0; i-- {
		id := tx.mergeStructs[i].id
		structs := s.clients[id.Client]
		pos := findIndex(structs, id.Clock)
		if pos+1 < len(structs) {
			if s.mergeWithLefts(id.Client, pos+1) > 1 {
				continue
			}
		}
		if pos > 0 {
			s.mergeWithLefts(id.Client, pos)
		}
	}
	changed := len(ds) > 0
	for c, clock := range afterState {
		if tx.beforeState[c] != clock {
			changed = true
		}
	}
	// Encoding the update costs as much as the change: only when someone
	// asked for it, as Yjs does.
	if !changed || (len(d.onUpdate) == 0 && d.wantUpdate == 0) {
		return nil
	}
	var e encoder
	d.writeStructs(&e, tx.beforeState)
	ds.write(&e)
	for _, f := range d.onUpdate {
		f(e.buf)
	}
	return e.buf
}

// mergeWithLefts merges structs[pos] into its left neighbours while they
// form one run, and returns how many it merged away.
func (s *structStore) mergeWithLefts(client uint64, pos int) int {
	structs := s.clients[client]
	i := pos
	for ; i > 0; i-- {
		l, r := structs[i-1], structs[i]
		if l.isDeleted() != r.isDeleted() || l.kind != r.kind || !l.mergeWith(r) {
			break
		}
		if r.kind == kindItem && r.hasParentSub && r.parent != nil && r.parent.itemMap[r.parentSub] == r {
			r.parent.itemMap[r.parentSub] = l
		}
	}
	merged := pos - i
	if merged > 0 {
		s.clients[client] = append(structs[:pos+1-merged], structs[pos+1:]...)
	}
	return merged
}

func (d *Doc) gcDeleteSet(ds deleteSet) {
	s := d.store
	for c, rs := range ds {
		structs := s.clients[c]
		for di := len(rs) - 1; di >= 0; di-- {
			r := rs[di]
			end := r.clock + r.len
			for si := findIndex(structs, r.clock); si < len(structs) && structs[si].id.Clock < end; si++ {
				it := structs[si]
				if it.kind == kindItem && it.deleted && !it.keep {
					it.gc(s, false)
				}
			}
			structs = s.clients[c]
		}
	}
}

func (d *Doc) mergeDeleteSet(ds deleteSet) {
	s := d.store
	for c, rs := range ds {
		for di := len(rs) - 1; di >= 0; di-- {
			r := rs[di]
			structs := s.clients[c]
			si := min(len(structs)-1, 1+findIndex(structs, r.clock+r.len-1))
			for si > 0 && s.clients[c][si].id.Clock >= r.clock {
				si -= 1 + s.mergeWithLefts(c, si)
			}
		}
	}
}

// ErrPending is not an error of the update: it reports that some of it
// waits for updates it depends on (see Doc.Pending).
var ErrPending = errors.New("ydoc: waiting for missing updates")

// Pending reports whether structs or deletions wait for updates that have
// not arrived.
func (d *Doc) Pending() bool { return d.pending != nil || len(d.pendingDS) > 0 }

// StateVector returns the next expected clock of every client.
func (d *Doc) StateVector() StateVector { return d.store.stateVector() }

// EncodeStateVector encodes the state vector as Yjs does.
func (d *Doc) EncodeStateVector() []byte { return EncodeStateVector(d.StateVector()) }

// EncodeStateVector encodes sv, highest client first.
func EncodeStateVector(sv StateVector) []byte {
	var e encoder
	e.uvarint(uint64(len(sv)))
	for _, c := range sortedClients(sv) {
		e.uvarint(c)
		e.uvarint(sv[c])
	}
	return e.buf
}

// DecodeStateVector decodes a state vector.
func DecodeStateVector(b []byte) (StateVector, error) {
	d := &decoder{buf: b}
	n, err := d.length()
	if err != nil {
		return nil, fmt.Errorf("state vector: %w", err)
	}
	sv := make(StateVector, n)
	for range n {
		c, err := d.uvarint()
		if err != nil {
			return nil, fmt.Errorf("state vector: %w", err)
		}
		clock, err := d.uvarint()
		if err != nil {
			return nil, fmt.Errorf("state vector: %w", err)
		}
		sv[c] = clock
	}
	return sv, nil
}
